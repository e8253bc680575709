package vendor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Defaults applied by [New] to zero-valued [Options] fields.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMaxAttempts    = 5
	DefaultMaxElapsed     = 2 * time.Minute
	DefaultBackoffInitial = 200 * time.Millisecond
	DefaultBackoffMax     = 10 * time.Second
	DefaultMaxConns       = 16
	DefaultMaxBodyBytes   = 256 << 20
)

// Attempt describes one HTTP attempt to a vendor, for the audit trail.
type Attempt struct {
	// Vendor and Operation name the call, e.g. "kingdee" and "BatchSave".
	Vendor, Operation string
	// Attempt is the 1-based number of this HTTP attempt for Operation within
	// one logical call (retries and replays after a re-login count up).
	Attempt int
	// Request and Response are the bodies sent and received; login bodies are
	// redacted, and no query string (signatures, app keys) is ever included.
	Request, Response []byte
	// HTTPStatus is the response status, 0 when no response arrived.
	HTTPStatus int
	// Err is the classified outcome of the attempt, nil on success.
	Err error
	// Duration is the attempt's wall time, excluding the rate-limiter wait.
	Duration time.Duration
	// Start is when the request was sent.
	Start time.Time
}

// Hook receives every HTTP attempt, including retries and re-logins. It is
// called synchronously on the calling goroutine and must not retain the byte
// slices beyond the call unless it copies them.
type Hook func(ctx context.Context, a Attempt)

// Transport holds the settings a vendor client's [Config] passes to its
// [Client] as they are: timeouts, rate limit, retries, connection pool,
// metrics and the audit hook. The vendor clients embed it in their Config.
// Zero values take the Default* constants.
type Transport struct {
	// Timeout bounds each HTTP attempt, including reading the body.
	Timeout time.Duration
	// RateMode picks the pacing: [RateAdaptive] (the default, also for "")
	// finds and follows the vendor's allowed rate with an [Adaptive] limiter;
	// [RateFixed] paces at RatePerSecond.
	RateMode RateMode
	// RatePerSecond is, in fixed mode, the cap on attempts per second across
	// the client (all goroutines), 0 or less meaning unlimited; in adaptive
	// mode, the rate the limiter starts from (0 or less: unpaced until the
	// vendor first throttles, see [Adaptive]). Burst defaults to 1.
	RatePerSecond float64
	Burst         int
	// RateMax caps the adaptive limiter's rate (0 or less: no ceiling); the
	// fixed mode ignores it.
	RateMax float64
	// MaxAttempts caps attempts per logical call (1 = no retries).
	MaxAttempts int
	// MaxElapsed caps the total time spent retrying one logical call.
	MaxElapsed time.Duration
	// BackoffInitial and BackoffMax shape the exponential backoff (factor 2,
	// ±50 % jitter) between attempts; tests set them tiny.
	BackoffInitial, BackoffMax time.Duration
	// MaxConns sizes the connection pool per host (idle and active).
	MaxConns int
	// Registerer receives the Prometheus collectors; nil disables metrics.
	Registerer prometheus.Registerer
	// Hook, if set, is called for every HTTP attempt, retries and re-logins
	// included (see [Attempt] for what it carries).
	Hook Hook
	// HTTPClient replaces the pooled client built from MaxConns. Its Timeout
	// should be zero: per-attempt timeouts come from Timeout.
	HTTPClient *http.Client
}

// Options configures a [Client]: the vendor's name, its [Transport]
// settings and the response size cap. Zero values take the Default*
// constants.
type Options struct {
	// Vendor names the vendor in errors, metrics and audit records.
	Vendor string
	Transport
	// MaxBodyBytes caps a response body; larger bodies fail as malformed.
	MaxBodyBytes int64
}

// Client is the shared transport of one vendor client: it rate-limits,
// times out, sends, reads, classifies, measures and audits HTTP attempts.
// It is safe for concurrent use.
type Client struct {
	opts     Options
	http     *http.Client
	limiter  *rate.Limiter
	adaptive *Adaptive // nil in fixed mode
	metrics  *metrics
	// bodySizes holds, per operation, the size of its last response body (op → *atomic.Int64):
	// where the server announces no Content-Length (a streamed page), the next body of that
	// operation is read into a buffer of about that size instead of one grown from 512 bytes.
	bodySizes sync.Map
}

// New builds a Client from opts, applying defaults.
func New(opts Options) (*Client, error) {
	if opts.Vendor == "" {
		return nil, errors.New("vendor: Options.Vendor is required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxElapsed <= 0 {
		opts.MaxElapsed = DefaultMaxElapsed
	}
	if opts.BackoffInitial <= 0 {
		opts.BackoffInitial = DefaultBackoffInitial
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.BackoffMax < opts.BackoffInitial {
		opts.BackoffMax = opts.BackoffInitial
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Burst <= 0 {
		opts.Burst = 1
	}
	mode, err := ParseRateMode(string(opts.RateMode))
	if err != nil {
		return nil, fmt.Errorf("vendor %s: %w", opts.Vendor, err)
	}
	opts.RateMode = mode
	var adaptive *Adaptive
	var limiter *rate.Limiter
	if mode == RateAdaptive {
		adaptive = NewAdaptive(opts.RatePerSecond, opts.RateMax, opts.Burst, nil)
		limiter = adaptive.lim
	} else {
		limit := rate.Inf
		if opts.RatePerSecond > 0 {
			limit = rate.Limit(opts.RatePerSecond)
		}
		limiter = rate.NewLimiter(limit, opts.Burst)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: NewHTTPTransport(opts.MaxConns)}
	}
	return &Client{opts: opts, http: hc, limiter: limiter, adaptive: adaptive, metrics: m}, nil
}

// NewHTTPTransport returns an HTTP transport whose pool keeps up to maxConns
// connections per host, idle and active, so a sync running maxConns calls
// in parallel reuses its connections instead of dialling new ones.
func NewHTTPTransport(maxConns int) *http.Transport {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxConns * 2,
		MaxIdleConnsPerHost:   maxConns,
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Vendor returns the vendor name the client was built for.
func (c *Client) Vendor() string { return c.opts.Vendor }

// Options returns the effective options (defaults applied).
func (c *Client) Options() Options { return c.opts }

// Rate returns the current pace in calls per second: the adaptive limiter's
// rate, or the fixed rate (+Inf when unlimited).
func (c *Client) Rate() float64 {
	if c.adaptive != nil {
		return c.adaptive.Rate()
	}
	return float64(c.limiter.Limit())
}

// Adaptive returns the adaptive limiter, nil in fixed mode.
func (c *Client) Adaptive() *Adaptive { return c.adaptive }

// Request is one HTTP attempt to send.
type Request struct {
	// Op names the operation for errors, metrics and audit ("login", "BatchSave", ...).
	Op string
	// Method defaults to POST.
	Method string
	// URL is the full URL. It never appears in errors or audit records, so
	// it may carry signatures in its query string.
	URL string
	// Header is sent as is (set Content-Type here).
	Header http.Header
	// Body is sent byte for byte.
	Body []byte
	// AuditRequest, when non-nil, replaces Body in the audit record (use it
	// for login bodies with the password masked).
	AuditRequest []byte
	// RedactResponse, when set, rewrites the response body before it reaches
	// the audit hook (use it to mask tokens and session ids).
	RedactResponse func([]byte) []byte
}

// Response is a fully read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Check inspects a response whose body was read in full and returns nil on
// success or a classified *Error. It is not called when the transport failed.
type Check func(resp *Response) error

// Call numbers the HTTP attempts of one logical call. Retry creates it.
type Call struct {
	c        *Client
	attempts map[string]int
}

// Do sends one HTTP attempt: it waits for the rate limiter (and feeds the
// outcome back to it in adaptive mode), applies the
// per-attempt timeout, reads the whole body, classifies transport and HTTP
// failures (network errors, timeouts, 429, 5xx, bodies cut short), then runs
// check on what arrived, reports the attempt to the hook and to the metrics,
// and returns the response with the classified error.
//
// A cancelled or expired ctx returns ctx's error unclassified (it is not a
// vendor failure and must not be retried).
func (call *Call) Do(ctx context.Context, req Request, check Check) (*Response, error) {
	call.attempts[req.Op]++
	return call.c.do(ctx, call.attempts[req.Op], req, check)
}

func (c *Client) do(ctx context.Context, attempt int, req Request, check Check) (*Response, error) {
	waited, err := waitLimiter(ctx, c.limiter)
	if err != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil {
			return nil, fmt.Errorf("%s %s: waiting for rate limiter: %w", c.opts.Vendor, req.Op, ctxErr)
		}
		return nil, fmt.Errorf("%s %s: rate limiter: %w", c.opts.Vendor, req.Op, err)
	}
	start := time.Now()
	resp, err := c.send(ctx, req)
	if check != nil {
		if err == nil {
			err = check(resp)
		} else if se, ok := err.(*Error); ok && resp != nil && (se.Code == "http_status" || se.Code == "rate_limited") {
			// Keep the transient HTTP classification but take the vendor's own
			// code and message from the body when the check can read them.
			var ce *Error
			if errors.As(check(resp), &ce) {
				if ce.Message != "" && ce.Code != "malformed_body" && ce.Code != "html_body" {
					se.Message = ce.Message
					if ce.Code != "" {
						se.Code = ce.Code
					}
				}
			}
		}
	}
	if err != nil {
		var ve *Error
		if errors.As(err, &ve) {
			if ve.Vendor == "" {
				ve.Vendor = c.opts.Vendor
			}
			if ve.Op == "" {
				ve.Op = req.Op
			}
			if ve.HTTPStatus == 0 && resp != nil {
				ve.HTTPStatus = resp.Status
			}
		}
	}
	d := time.Since(start)
	if c.adaptive != nil && context.Cause(ctx) == nil {
		c.adaptive.Observe(start, waited, err)
	}
	c.metrics.observeAttempt(c.opts.Vendor, req.Op, err, d)
	if c.opts.Hook != nil {
		a := Attempt{
			Vendor: c.opts.Vendor, Operation: req.Op, Attempt: attempt,
			Request: req.Body, Err: err, Duration: d, Start: start,
		}
		if req.AuditRequest != nil {
			a.Request = req.AuditRequest
		}
		if resp != nil {
			a.HTTPStatus = resp.Status
			a.Response = resp.Body
			if req.RedactResponse != nil {
				a.Response = req.RedactResponse(resp.Body)
			}
		}
		c.opts.Hook(ctx, a)
	}
	return resp, err
}

// send performs the HTTP exchange and classifies transport-level failures.
// On a failure after the status line arrived it still returns the partial
// response so the hook sees what came back.
func (c *Client) send(ctx context.Context, req Request) (*Response, error) {
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(actx, method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		// The URL may hold secrets: do not include it.
		return nil, &Error{Vendor: c.opts.Vendor, Op: req.Op, Kind: Permanent, Code: "bad_request", Message: "cannot build HTTP request"}
	}
	for k, vs := range req.Header {
		hreq.Header[k] = append([]string(nil), vs...)
	}
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return nil, c.transportError(ctx, req.Op, 0, err)
	}
	defer hresp.Body.Close()
	resp := &Response{Status: hresp.StatusCode, Header: hresp.Header}
	size := c.bodySize(req.Op)
	body, err := readBody(hresp, c.opts.MaxBodyBytes+1, size.Load())
	size.Store(int64(len(body)))
	resp.Body = body
	if err != nil {
		return resp, c.transportError(ctx, req.Op, hresp.StatusCode, err)
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		resp.Body = body[:c.opts.MaxBodyBytes]
		return resp, &Error{Vendor: c.opts.Vendor, Op: req.Op, Kind: Permanent, Code: "body_too_large",
			HTTPStatus: hresp.StatusCode, Message: fmt.Sprintf("response body exceeds %d bytes", c.opts.MaxBodyBytes)}
	}
	if err := c.statusError(req.Op, resp); err != nil {
		return resp, err
	}
	return resp, nil
}

// bodySize is the last response body size of op.
func (c *Client) bodySize(op string) *atomic.Int64 {
	if v, ok := c.bodySizes.Load(op); ok {
		return v.(*atomic.Int64)
	}
	v, _ := c.bodySizes.LoadOrStore(op, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// readBody reads at most limit bytes of the body, into a buffer sized by Content-Length when the
// server sent one, or else by hint (the size of the operation's last body; 0: none), a little
// larger: a page of a few MB read into a buffer grown from 512 bytes is reallocated, copied and
// cleared a dozen times (12% of a SyncAgents run's CPU). A body longer than expected grows the
// buffer as it is read.
func readBody(hresp *http.Response, limit, hint int64) ([]byte, error) {
	r := io.LimitReader(hresp.Body, limit)
	n := hresp.ContentLength
	if n <= 0 || n >= limit {
		if hint <= 0 {
			return io.ReadAll(r)
		}
		n = min(hint+hint/8+512, limit)
	}
	buf := make([]byte, 0, n+1) // +1: the read that sees EOF needs no growth
	for {
		if len(buf) == cap(buf) { // longer than announced
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// transportError classifies a failure to send or to read the body. The
// caller's own cancellation stays an unclassified context error; everything
// else (per-attempt timeout, refused or dropped connection, truncated body)
// is transient. *url.Error is unwrapped so the URL (which may carry a
// signature) never reaches the message.
func (c *Client) transportError(ctx context.Context, op string, status int, err error) error {
	if ctxErr := context.Cause(ctx); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", c.opts.Vendor, op, ctxErr)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	code := "network"
	if errors.Is(err, context.DeadlineExceeded) {
		code = "timeout"
		err = fmt.Errorf("attempt timed out after %s", c.opts.Timeout)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		code = "timeout"
	}
	return &Error{Vendor: c.opts.Vendor, Op: op, Kind: Transient, Code: code, HTTPStatus: status, Err: err}
}

// statusError classifies HTTP-level failures that need no vendor knowledge:
// 429 and 5xx are transient (with Retry-After if sent). Other statuses are
// left to the vendor's Check, which knows the vendor's error bodies.
func (c *Client) statusError(op string, resp *Response) error {
	if resp.Status == http.StatusTooManyRequests || resp.Status >= 500 {
		e := &Error{Vendor: c.opts.Vendor, Op: op, Kind: Transient, Code: "http_status",
			HTTPStatus: resp.Status, Message: http.StatusText(resp.Status)}
		if resp.Status == http.StatusTooManyRequests {
			e.Code, e.Throttled = "rate_limited", true
		}
		e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return e
	}
	return nil
}

// ParseRetryAfter reads a Retry-After header value (delta seconds or an
// HTTP date) relative to now; it returns 0 when absent or unparseable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// Malformed returns a transient error for a body that could not be decoded
// (truncated JSON, an HTML error page, an unexpected shape). The body itself
// is not included; the audit hook has it.
func Malformed(resp *Response, what string, err error) *Error {
	e := &Error{Kind: Transient, Code: "malformed_body", Message: what, Err: err}
	if resp != nil {
		e.HTTPStatus = resp.Status
		if LooksLikeHTML(resp.Body) {
			e.Code = "html_body"
			e.Message = "HTML page instead of JSON"
			if t := htmlTitle(resp.Body); t != "" {
				e.Message += " (" + t + ")"
			}
			e.Err = nil
		}
	}
	return e
}

// LooksLikeHTML reports whether body starts (after whitespace and a BOM)
// with an HTML tag.
func LooksLikeHTML(body []byte) bool {
	b := TrimBody(body)
	return len(b) > 0 && b[0] == '<'
}

// TrimBody strips a UTF-8 BOM and surrounding whitespace.
func TrimBody(body []byte) []byte {
	b := bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\xef\xbb\xbf"))
	return bytes.TrimSpace(b)
}

func htmlTitle(body []byte) string {
	lower := bytes.ToLower(body)
	i := bytes.Index(lower, []byte("<title>"))
	if i < 0 {
		return ""
	}
	rest := body[i+len("<title>"):]
	j := bytes.Index(bytes.ToLower(rest), []byte("</title>"))
	if j < 0 || j > 200 {
		return ""
	}
	return strings.TrimSpace(string(rest[:j]))
}
