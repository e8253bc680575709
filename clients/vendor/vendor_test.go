package vendor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func fastOptions(hook Hook) Options {
	return Options{
		Vendor: "test", Transport: Transport{Timeout: 2 * time.Second, MaxAttempts: 4, MaxElapsed: 5 * time.Second,
			BackoffInitial: time.Millisecond, BackoffMax: 2 * time.Millisecond, Hook: hook},
	}
}

type hookLog struct {
	mu sync.Mutex
	as []Attempt
}

func (h *hookLog) hook(_ context.Context, a Attempt) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.as = append(h.as, a)
}

func (h *hookLog) all() []Attempt {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Attempt(nil), h.as...)
}

// okCheck accepts any body equal to "ok" and calls everything else permanent.
func okCheck(resp *Response) error {
	if string(resp.Body) == "ok" {
		return nil
	}
	return &Error{Kind: Permanent, Code: "bad", Message: string(resp.Body)}
}

func get(ctx context.Context, c *Client, url string) (string, error) {
	return Retry(ctx, c, "op", func(ctx context.Context, call *Call) (string, error) {
		resp, err := call.Do(ctx, Request{Op: "op", URL: url, Body: []byte("req")}, okCheck)
		if err != nil {
			return "", err
		}
		return string(resp.Body), nil
	})
}

func TestErrorTextAndKinds(t *testing.T) {
	base := &Error{Vendor: "kingdee", Op: "BatchSave", Kind: Permanent, Code: "11", Message: "字段[客户名称]是必录字段", HTTPStatus: 200}
	got := base.Error()
	want := "kingdee BatchSave: permanent (HTTP 200) code 11: 字段[客户名称]是必录字段"
	if got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("sync: %w", base)
	if !IsPermanent(wrapped) || IsTransient(wrapped) || IsReauth(wrapped) {
		t.Fatalf("classification through wrapping broken")
	}
	cause := errors.New("boom")
	tr := &Error{Vendor: "zhilong", Kind: Transient, Err: cause}
	if !IsTransient(tr) || !errors.Is(tr, cause) {
		t.Fatalf("transient/unwrap broken")
	}
	if KindOf(context.Canceled) != 0 || IsTransient(nil) {
		t.Fatalf("unclassified errors must have kind 0")
	}
	if (&Error{Kind: Reauth}).Kind.String() != "reauth" {
		t.Fatal("kind name")
	}
}

func TestRetryRecoversFromTransientStatusesAndNumbersAttempts(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(http.StatusBadGateway)
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	defer srv.Close()
	var h hookLog
	reg := prometheus.NewRegistry()
	opts := fastOptions(h.hook)
	opts.Registerer = reg
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := get(context.Background(), c, srv.URL)
	if err != nil || got != "ok" {
		t.Fatalf("got %q, %v", got, err)
	}
	as := h.all()
	if len(as) != 3 {
		t.Fatalf("hook saw %d attempts, want 3", len(as))
	}
	for i, a := range as {
		if a.Attempt != i+1 || a.Operation != "op" || a.Vendor != "test" || string(a.Request) != "req" {
			t.Fatalf("attempt %d = %+v", i, a)
		}
	}
	if as[0].HTTPStatus != 502 || !IsTransient(as[0].Err) || as[1].HTTPStatus != 429 || as[2].Err != nil {
		t.Fatalf("attempt outcomes wrong: %+v", as)
	}
	if v := testutil.ToFloat64(c.metrics.attempts.WithLabelValues("test", "op", "transient")); v != 2 {
		t.Fatalf("transient attempts metric = %v", v)
	}
	if v := testutil.ToFloat64(c.metrics.retries.WithLabelValues("test", "op")); v != 2 {
		t.Fatalf("retries metric = %v", v)
	}
	if v := testutil.ToFloat64(c.metrics.calls.WithLabelValues("test", "op", "ok")); v != 1 {
		t.Fatalf("calls metric = %v", v)
	}
	// A second client on the same registry shares the collectors.
	if _, err := New(opts); err != nil {
		t.Fatalf("second client on same registry: %v", err)
	}
}

func TestRetryStopsOnPermanentAndOnMaxAttempts(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/perm" {
			fmt.Fprint(w, "duplicate")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, err := New(fastOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = get(context.Background(), c, srv.URL+"/perm")
	if !IsPermanent(err) || n.Load() != 1 {
		t.Fatalf("permanent: err=%v calls=%d", err, n.Load())
	}
	n.Store(0)
	_, err = get(context.Background(), c, srv.URL+"/down")
	var ve *Error
	if !errors.As(err, &ve) || ve.Kind != Transient || ve.HTTPStatus != 503 || n.Load() != 4 {
		t.Fatalf("max attempts: err=%v calls=%d", err, n.Load())
	}
}

func TestRetryAfterIsHonouredAndBoundedByMaxElapsed(t *testing.T) {
	var n atomic.Int32
	var times []time.Time
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		if r.URL.Path == "/long" {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	c, err := New(fastOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(context.Background(), c, srv.URL); err != nil {
		t.Fatal(err)
	}
	if gap := times[1].Sub(times[0]); gap < 900*time.Millisecond {
		t.Fatalf("retried after %v, want >= 1s Retry-After", gap)
	}
	// Retry-After beyond MaxElapsed (5s): give up at once with the 429.
	start := time.Now()
	_, err = get(context.Background(), c, srv.URL+"/long")
	var ve *Error
	if !errors.As(err, &ve) || ve.HTTPStatus != 429 || ve.RetryAfter != time.Minute || ve.Code != "rate_limited" || !IsThrottled(err) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("waited %v although Retry-After exceeds MaxElapsed", time.Since(start))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"0":                             0,
		"-1":                            0,
		"junk":                          0,
		"Mon, 01 Jan 2024 00:00:10 GMT": 10 * time.Second,
		"Sun, 31 Dec 2023 23:00:00 GMT": 0,
	}
	for in, want := range cases {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestTransportFaultsAreTransientAndRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1: // hang past the attempt timeout
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		case 2: // drop the connection
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		case 3: // truncated body: promise more than we send
			w.Header().Set("Content-Length", "100")
			fmt.Fprint(w, `{"trunc`)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			fmt.Fprint(w, "ok")
		}
	}))
	defer srv.Close()
	var h hookLog
	opts := fastOptions(h.hook)
	opts.Timeout = 150 * time.Millisecond
	opts.MaxAttempts = 5
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(context.Background(), c, srv.URL); err != nil {
		t.Fatal(err)
	}
	as := h.all()
	if len(as) != 4 {
		t.Fatalf("attempts = %d", len(as))
	}
	var ve *Error
	if !errors.As(as[0].Err, &ve) || ve.Code != "timeout" || ve.Kind != Transient {
		t.Fatalf("hang: %v", as[0].Err)
	}
	for i := 1; i < 3; i++ {
		if !IsTransient(as[i].Err) {
			t.Fatalf("attempt %d: %v not transient", i+1, as[i].Err)
		}
	}
}

func TestCallerCancellationIsNotAVendorFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client hanging up
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	}))
	defer srv.Close()
	c, err := New(fastOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = get(ctx, c, srv.URL)
	if !errors.Is(err, context.DeadlineExceeded) || IsTransient(err) || IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestErrorsNeverContainTheURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	c, err := New(fastOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = get(context.Background(), c, "http://"+addr+"/api?sign=TOPSECRET&appKey=KEY")
	if !IsTransient(err) {
		t.Fatalf("refused connection should be transient: %v", err)
	}
	if strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(err.Error(), "KEY") {
		t.Fatalf("error leaks query string: %v", err)
	}
}

func TestRateLimiterSpacesAttempts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	opts := fastOptions(nil)
	opts.RatePerSecond = 20
	opts.Burst = 1
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := get(context.Background(), c, srv.URL); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// 6 attempts at 20/s with burst 1: at least 5 gaps of 50 ms.
	if el := time.Since(start); el < 240*time.Millisecond {
		t.Fatalf("6 calls at 20/s took %v", el)
	}
}

func TestHookRedaction(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"code":200,"token":"jwt-secret","nested":{"SessionId":"sid-secret","keep":"x"}}`)
	}))
	defer srv.Close()
	var h hookLog
	c, err := New(fastOptions(h.hook))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Retry(context.Background(), c, "login", func(ctx context.Context, call *Call) (*Response, error) {
		return call.Do(ctx, Request{
			Op: "login", URL: srv.URL, Body: []byte(`{"password":"pw-secret"}`),
			AuditRequest:   RedactJSON([]byte(`{"password":"pw-secret","username":"u"}`), "password"),
			RedactResponse: RedactFunc("token", "sessionid"),
		}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	a := h.all()[0]
	for _, secret := range []string{"pw-secret", "jwt-secret", "sid-secret"} {
		if strings.Contains(string(a.Request)+string(a.Response), secret) {
			t.Fatalf("audit leaks %s: %s / %s", secret, a.Request, a.Response)
		}
	}
	if !strings.Contains(string(a.Response), `"keep":"x"`) || !strings.Contains(string(a.Request), `"username":"u"`) {
		t.Fatalf("redaction removed too much: %s / %s", a.Request, a.Response)
	}
}

func TestRedactJSON(t *testing.T) {
	if got := string(RedactJSON([]byte(`[{"Token":"a","n":1,"t":null}]`), "token", "t")); got != `[{"Token":"***","n":1,"t":null}]` {
		t.Fatalf("got %s", got)
	}
	if got := string(RedactJSON([]byte(`{"token":"abc`), "token")); strings.Contains(got, "abc") {
		t.Fatalf("truncated body leaked: %s", got)
	}
}

func TestMalformedDetectsHTML(t *testing.T) {
	e := Malformed(&Response{Status: 200, Body: []byte("\n<html><head><title>502 Bad Gateway</title></head></html>")}, "decode", errors.New("x"))
	if e.Kind != Transient || e.Code != "html_body" || !strings.Contains(e.Message, "502 Bad Gateway") {
		t.Fatalf("%+v", e)
	}
	if FormatDateTime(time.Date(2024, 1, 1, 4, 0, 0, 0, time.UTC)) != "2024-01-01 12:00:00" {
		t.Fatal("GMT+8 formatting")
	}
}

func TestReadBodyWhateverTheAnnouncedLength(t *testing.T) {
	for _, c := range []struct {
		body     string
		declared int64
		limit    int64
		want     string
	}{
		{"hello", 5, 100, "hello"},
		{"hello", -1, 100, "hello"},
		{"hello", 2, 100, "hello"},  // longer than announced: read it all
		{"hello", 50, 100, "hello"}, // shorter than announced
		{"hello", 5, 3, "hel"},      // the limit wins
		{"hello", 2, 3, "hel"},
		{"", 0, 100, ""},
	} {
		// Whatever the size of the last body (the hint for a body of unknown length), all of it is read.
		for _, hint := range []int64{0, 1, 5, 4096} {
			got, err := readBody(&http.Response{Body: io.NopCloser(strings.NewReader(c.body)), ContentLength: c.declared}, c.limit, hint)
			if err != nil || string(got) != c.want {
				t.Errorf("%+v, hint %d: got %q, %v", c, hint, got, err)
			}
		}
	}
	// A long body of unknown length, read with the hint of the last one, fits its first buffer.
	long := strings.Repeat("x", 3<<20)
	got, _ := readBody(&http.Response{Body: io.NopCloser(strings.NewReader(long)), ContentLength: -1}, 1<<30, int64(len(long)))
	if string(got) != long || cap(got) > len(long)*5/4 {
		t.Errorf("3 MiB body with its size as the hint: read %d bytes into a buffer of %d", len(got), cap(got))
	}
	read := func(hint int64) float64 {
		return testing.AllocsPerRun(5, func() {
			readBody(&http.Response{Body: io.NopCloser(strings.NewReader(long)), ContentLength: -1}, 1<<30, hint)
		})
	}
	// Four: the reader, the response, the limit and the one buffer (without a hint, ReadAll grows its
	// buffer some twenty times).
	if with, without := read(int64(len(long))), read(0); with > 4 || without <= with {
		t.Errorf("3 MiB body of unknown length: %.0f allocations with its size as the hint, %.0f without", with, without)
	}
}

// The client reads a streamed body (no Content-Length) of an operation with the size of that
// operation's last body as the hint.
func TestClientHintsBodySizeByOperation(t *testing.T) {
	page := strings.Repeat("y", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // chunked: no Content-Length
		io.WriteString(w, page)
	}))
	defer srv.Close()
	c, err := New(Options{Vendor: "v"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := Retry(context.Background(), c, "page", func(ctx context.Context, call *Call) (struct{}, error) {
			_, err := call.Do(ctx, Request{Op: "page", URL: srv.URL}, func(resp *Response) error {
				if string(resp.Body) != page {
					return fmt.Errorf("body of %d bytes", len(resp.Body))
				}
				return nil
			})
			return struct{}{}, err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.bodySize("page").Load(); got != int64(len(page)) {
		t.Errorf("hint for page: %d, want %d", got, len(page))
	}
	if got := c.bodySize("other").Load(); got != 0 {
		t.Errorf("hint for an operation never called: %d", got)
	}
}
