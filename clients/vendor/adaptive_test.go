package vendor

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time      { return f.t }
func (f *fakeClock) add(d time.Duration) { f.t = f.t.Add(d) }
func near(got, want float64) bool        { return math.Abs(got-want) < 1e-9 }
func throttled() error                   { return &Error{Kind: Transient, Code: "rate_limited", Throttled: true} }
func retryAfter(d time.Duration) error {
	return &Error{Kind: Transient, Code: "http_status", RetryAfter: d}
}

func TestAdaptiveArithmetic(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	a := NewAdaptive(100, 0, 1, clk.now)
	if a.Rate() != 100 {
		t.Fatalf("initial %v", a.Rate())
	}
	// Slow start: each paced success adds the gain; an unpaced one (the caller was the bottleneck)
	// and other failures change nothing.
	a.Observe(clk.now(), true, nil)
	a.Observe(clk.now(), true, nil)
	a.Observe(clk.now(), false, nil)
	a.Observe(clk.now(), true, &Error{Kind: Transient, Code: "network"})
	if want := 100.0 + 2*AdaptiveSlowStartGain; !near(a.Rate(), want) {
		t.Fatalf("slow start: %v, want %v", a.Rate(), want)
	}
	// A throttling answer: multiplicative decrease, W remembered.
	clk.add(time.Second)
	sent := clk.now()
	a.Observe(sent, false, throttled())
	w := 100.0 + 2*AdaptiveSlowStartGain
	if want := w * AdaptiveBeta; !near(a.Rate(), want) || a.Decreases() != 1 {
		t.Fatalf("decrease: %v (%d), want %v", a.Rate(), a.Decreases(), want)
	}
	// An attempt sent before that decrease is not a second signal; one sent after it is.
	a.Observe(sent.Add(-time.Millisecond), false, throttled())
	if a.Decreases() != 1 {
		t.Fatalf("in-flight attempt decreased again: %d", a.Decreases())
	}
	// Additive increase: + AdaptiveIncrease·W/rate per paced success.
	r := a.Rate()
	a.Observe(clk.now(), true, nil)
	if want := r + AdaptiveIncrease*w/r; !near(a.Rate(), want) {
		t.Fatalf("additive increase: %v, want %v", a.Rate(), want)
	}
	// A Retry-After (here on a 503) decreases too.
	clk.add(time.Second)
	r = a.Rate()
	a.Observe(clk.now(), false, retryAfter(time.Second))
	if want := r * AdaptiveBeta; !near(a.Rate(), want) || a.Decreases() != 2 {
		t.Fatalf("Retry-After: %v, want %v", a.Rate(), want)
	}
	// Climbing back past W without a throttle: slow start again (the quota has risen).
	w = r
	for a.Rate() <= w {
		a.Observe(clk.now(), true, nil)
	}
	r = a.Rate()
	a.Observe(clk.now(), true, nil)
	if !near(a.Rate(), r+AdaptiveSlowStartGain) {
		t.Fatalf("probing past W: %v → %v, want +%v", r, a.Rate(), AdaptiveSlowStartGain)
	}
	// Floor and ceiling.
	for range 200 {
		clk.add(time.Second)
		a.Observe(clk.now(), false, throttled())
	}
	if a.Rate() != DefaultAdaptiveMin {
		t.Fatalf("floor: %v", a.Rate())
	}
	// Unpaced start: no rate until the first throttle, then Beta × the rate of answers measured.
	u := NewAdaptive(0, 0, 1, clk.now)
	if !math.IsInf(u.Rate(), 1) {
		t.Fatalf("unpaced start: %v", u.Rate())
	}
	start := clk.now()
	for range 1000 { // 1000 answers in 1.25 s: a window of 1 s (800/s), then 200 in 0.25 s
		clk.add(1250 * time.Microsecond)
		u.Observe(clk.now(), false, nil)
	}
	clk.add(time.Millisecond)
	u.Observe(clk.now(), false, throttled())
	if got := u.Rate(); got < 750*AdaptiveBeta || got > 850*AdaptiveBeta {
		t.Fatalf("first throttle after %v unpaced: rate %v, want about %v", clk.now().Sub(start), got, 800*AdaptiveBeta)
	}
	c := NewAdaptive(0, 10, 1, clk.now)
	if c.Rate() != 10 {
		t.Fatalf("initial capped by the ceiling: %v", c.Rate())
	}
	c.Observe(clk.now(), true, nil)
	if c.Rate() != 10 {
		t.Fatalf("ceiling: %v", c.Rate())
	}
	if float64(c.lim.Limit()) != c.Rate() {
		t.Fatalf("limiter %v, rate %v", c.lim.Limit(), c.Rate())
	}
}

func TestParseRateMode(t *testing.T) {
	for in, want := range map[string]RateMode{"": RateAdaptive, "adaptive": RateAdaptive, "fixed": RateFixed} {
		if got, err := ParseRateMode(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseRateMode("auto"); err == nil {
		t.Error("auto accepted")
	}
	if _, err := New(Options{Vendor: "x", Transport: Transport{RateMode: "auto"}}); err == nil {
		t.Error("New accepted rate mode auto")
	}
}

// TestClientFeedsAdaptiveLimiter: a 429 answer through the client slows the adaptive limiter down;
// the fixed mode keeps its rate.
func TestClientFeedsAdaptiveLimiter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	for _, mode := range []RateMode{RateAdaptive, RateFixed} {
		c, err := New(Options{Vendor: "x", Transport: Transport{RateMode: mode, RatePerSecond: 40}})
		if err != nil {
			t.Fatal(err)
		}
		before := c.Rate()
		call := &Call{c: c, attempts: map[string]int{}}
		if _, err := call.Do(context.Background(), Request{Op: "op", URL: srv.URL}, nil); !IsThrottled(err) {
			t.Fatalf("%s: %v", mode, err)
		}
		if mode == RateAdaptive && !(c.Rate() < before) {
			t.Errorf("adaptive: rate %v after a 429, was %v", c.Rate(), before)
		}
		if mode == RateFixed && (c.Rate() != 40 || c.Adaptive() != nil) {
			t.Errorf("fixed: rate %v", c.Rate())
		}
	}
}

// TestThrottledAttemptsDoNotUseUpRetries: throttling answers do not count against MaxAttempts (only
// MaxElapsed bounds them), so a call throttled more often than MaxAttempts still gets through;
// other transient failures still do count.
func TestThrottledAttemptsDoNotUseUpRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case r.URL.Path == "/throttled" && n <= 7:
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/failing":
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	c, err := New(Options{Vendor: "x", Transport: Transport{RateMode: RateFixed, MaxAttempts: 3, MaxElapsed: 10 * time.Second,
		BackoffInitial: time.Millisecond, BackoffMax: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(path string) error {
		_, err := Retry(context.Background(), c, "op", func(ctx context.Context, call *Call) (*Response, error) {
			return call.Do(ctx, Request{Op: "op", URL: srv.URL + path}, nil)
		})
		return err
	}
	if err := send("/throttled"); err != nil || calls.Load() != 8 {
		t.Fatalf("throttled 7 times with MaxAttempts 3: %v after %d calls", err, calls.Load())
	}
	calls.Store(0)
	if err := send("/failing"); err == nil || calls.Load() != 3 {
		t.Fatalf("502 every time: %v after %d calls, want an error after 3", err, calls.Load())
	}
}

// TestAdaptiveGrowsOnlyWhileUsed: successes that did not wait raise the rate only while the answers
// of the last second come at half the rate or more (RFC 7661); a slow caller does not inflate it.
func TestAdaptiveGrowsOnlyWhileUsed(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	slow := NewAdaptive(100, 0, 1, clk.now)
	for range 30 { // 10 answers per second for 3 s
		clk.add(100 * time.Millisecond)
		slow.Observe(clk.now(), false, nil)
	}
	if slow.Rate() != 100 {
		t.Fatalf("a caller at 10/s raised the rate to %v", slow.Rate())
	}
	busy := NewAdaptive(100, 0, 1, clk.now)
	for range 200 { // 60 answers per second
		clk.add(time.Second / 60)
		busy.Observe(clk.now(), false, nil)
	}
	if !(busy.Rate() > 100) {
		t.Fatalf("a caller at 60/s of 100/s left the rate at %v", busy.Rate())
	}
}

// TestAdaptiveRetriesThrottledWithoutBackoff: in adaptive mode a throttled attempt (no Retry-After)
// is retried when the slowed limiter lets it through, not after the backoff (here longer than
// MaxElapsed, so a backoff would give the call up); fixed mode still backs off.
func TestAdaptiveRetriesThrottledWithoutBackoff(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	for _, mode := range []RateMode{RateAdaptive, RateFixed} {
		calls.Store(0)
		c, err := New(Options{Vendor: "x", Transport: Transport{RateMode: mode, RatePerSecond: 1000, MaxAttempts: 5,
			MaxElapsed: 5 * time.Second, BackoffInitial: time.Minute, BackoffMax: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Retry(context.Background(), c, "op", func(ctx context.Context, call *Call) (*Response, error) {
			return call.Do(ctx, Request{Op: "op", URL: srv.URL}, nil)
		})
		if mode == RateAdaptive && (err != nil || calls.Load() != 3) {
			t.Fatalf("adaptive: %v after %d calls, want success on the third", err, calls.Load())
		}
		if mode == RateFixed && (!IsThrottled(err) || calls.Load() != 1) {
			t.Fatalf("fixed: %v after %d calls, want the throttle given up (backoff past MaxElapsed)", err, calls.Load())
		}
	}
}
