// Package fault injects deterministic faults into the mock vendors' endpoints.
package fault

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Kinds of fault. Vendor-specific kinds (session lost, lock conflict, rate limit, token expiry) are
// answered by the mock that owns the endpoint; the generic ones by Apply.
const (
	Latency      = "latency"       // add LatencyMS before answering normally
	HTTP500      = "http500"       // HTTP 500 with a short text body
	HTTP502      = "http502"       // HTTP 502 with an HTML gateway page
	Hang         = "hang"          // hold the request until the client gives up
	Drop         = "drop"          // close the connection without an answer
	Truncated    = "truncated"     // a JSON body cut in half
	HTML         = "html"          // HTTP 200 with an HTML error page
	SessionLost  = "session_lost"  // Kingdee: MsgCode 1 (also triggered by AfterCalls)
	LockConflict = "lock_conflict" // Kingdee: MsgCode 13
	RateLimit    = "rate_limit"    // the vendor's rate-limit answer (Kingdee: MsgCode 14, call limit)
	TokenExpiry  = "token_expiry"  // Zhilong: every issued token stops working

	// The answer kinds let the call go on (a write is performed and committed) and then act on its
	// answer: see Hold.
	CommitDelay = "commit_delay" // answer only after LatencyMS (0: never; the client gives up first)
	CommitDrop  = "commit_drop"  // close the connection instead of answering
	InvalidUTF8 = "invalid_utf8" // answer with every non-ASCII character's bytes made invalid UTF-8
)

// Rule switches one fault on for one endpoint. A rule fires on a call when Count > 0 (the next Count
// calls) or, with Count == 0, with probability Rate under the injector's seeded RNG. After > 0 lets
// that many calls pass first.
type Rule struct {
	Endpoint  string  `json:"endpoint"`
	Kind      string  `json:"kind"`
	Rate      float64 `json:"rate,omitempty"`
	Count     int     `json:"count,omitempty"`
	After     int     `json:"after,omitempty"`
	LatencyMS int     `json:"latency_ms,omitempty"`
}

// Injector holds the active rules. It is safe for concurrent use.
type Injector struct {
	mu    sync.Mutex
	rng   *rand.Rand
	rules []*active
}

type active struct {
	Rule
	seen, fired int
}

// New returns an injector whose random choices follow seed.
func New(seed uint64) *Injector {
	return &Injector{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Set adds a rule; Clear removes all rules (and reseeds).
func (in *Injector) Set(r Rule) error {
	switch r.Kind {
	case Latency, HTTP500, HTTP502, Hang, Drop, Truncated, HTML, SessionLost, LockConflict, RateLimit, TokenExpiry,
		CommitDelay, CommitDrop, InvalidUTF8:
	default:
		return fmt.Errorf("unknown fault kind %q", r.Kind)
	}
	if r.Rate < 0 || r.Rate > 1 || r.Count < 0 || r.After < 0 {
		return fmt.Errorf("fault %s: rate must be in [0,1], count and after non-negative", r.Kind)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = append(in.rules, &active{Rule: r})
	return nil
}

// Clear removes every rule and reseeds the RNG.
func (in *Injector) Clear(seed uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = nil
	in.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Pick returns the fault that fires for this call of endpoint, if any.
func (in *Injector) Pick(endpoint string) (Rule, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.rules {
		if r.Endpoint != endpoint && r.Endpoint != "*" {
			continue
		}
		r.seen++
		if r.seen <= r.After {
			continue
		}
		fire := false
		if r.Count > 0 {
			fire = r.fired < r.Count
		} else {
			fire = in.rng.Float64() < r.Rate
		}
		if fire {
			r.fired++
			return r.Rule, true
		}
	}
	return Rule{}, false
}

// Apply answers the generic faults and reports whether it wrote the response. Latency sleeps and
// lets the call go on; so do the answer kinds (CommitDelay, CommitDrop, InvalidUTF8), which Hold
// applies to the answer.
func Apply(w http.ResponseWriter, r *http.Request, f Rule) bool {
	switch f.Kind {
	case Latency:
		select {
		case <-time.After(time.Duration(f.LatencyMS) * time.Millisecond):
		case <-r.Context().Done():
		}
		return false
	case HTTP500:
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	case HTTP502:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>")
	case Hang:
		<-r.Context().Done()
	case Drop:
		drop(w)
	case Truncated:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"Result":{"ResponseStatus":{"IsSuccess":tr`)
	case HTML:
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!DOCTYPE html><html><head><title>服务器错误</title></head><body><h1>Server Error in '/' Application.</h1></body></html>")
	default:
		return false
	}
	return true
}

// drop closes the connection without an answer, reaching it through any writers that wrap it (by
// their Unwrap methods).
func drop(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// Hold returns the writer a call's handler should answer into and the function to run once the
// handler has returned. For the answer kinds the writer buffers the answer, and finish delivers it as
// f says: CommitDelay after LatencyMS (never, with 0, or once the client has gone: the answer is then
// lost), CommitDrop not at all (the connection is closed), InvalidUTF8 with each byte that starts a
// non-ASCII character replaced by 0xFF (JSON syntax is ASCII, so the body stays well-formed JSON whose
// strings are invalid UTF-8; an ASCII-only answer is unchanged). The call itself runs in full first,
// so a write it makes is committed whatever the client then sees. For any other kind Hold returns w
// and a finish that does nothing.
func Hold(w http.ResponseWriter, r *http.Request, f Rule) (_ http.ResponseWriter, finish func()) {
	switch f.Kind {
	case CommitDelay, CommitDrop, InvalidUTF8:
	default:
		return w, func() {}
	}
	h := &held{ResponseWriter: w}
	return h, func() {
		switch f.Kind {
		case CommitDelay:
			// The server notices a client that leaves only once the request body is consumed.
			_, _ = io.Copy(io.Discard, r.Body)
			var after <-chan time.Time
			if f.LatencyMS > 0 {
				after = time.After(time.Duration(f.LatencyMS) * time.Millisecond)
			}
			select {
			case <-after:
			case <-r.Context().Done():
				return // the client gave up: nobody to answer
			}
		case CommitDrop:
			drop(w)
			return
		case InvalidUTF8:
			b := h.body.Bytes()
			for i, c := range b {
				if c >= 0xC0 { // a UTF-8 lead byte
					b[i] = 0xFF
				}
			}
		}
		if h.status != 0 {
			w.WriteHeader(h.status)
		}
		_, _ = w.Write(h.body.Bytes())
	}
}

// held buffers an answer for Hold; headers go to the underlying writer (sent with the answer).
type held struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (h *held) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *held) Write(b []byte) (int, error) { return h.body.Write(b) }

// Unwrap gives http.ResponseController the underlying writer.
func (h *held) Unwrap() http.ResponseWriter { return h.ResponseWriter }
