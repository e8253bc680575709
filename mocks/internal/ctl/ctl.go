// Package ctl is the mock vendors' shared control plane: per-endpoint request counts, a bounded
// request log, and the /_mock/ routes every mock serves (reset, seed, counts, log, faults); each mock
// adds its own state and change routes.
package ctl

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncgate/syncgate/mocks/internal/fault"
)

// Entry is one logged request.
type Entry struct {
	Seq      int64     `json:"seq"`
	Endpoint string    `json:"endpoint"`
	At       time.Time `json:"at"`
	Request  string    `json:"request"`
	Status   int       `json:"status"`
	Response string    `json:"response"`
}

// Stats counts requests per endpoint and keeps the last N in a log.
type Stats struct {
	mu     sync.Mutex
	counts map[string]int64
	log    []*Entry
	size   int
	seq    int64
}

// NewStats keeps the last size requests.
func NewStats(size int) *Stats { return &Stats{counts: map[string]int64{}, size: size} }

// Begin counts and logs a request; End completes its entry.
func (s *Stats) Begin(endpoint string, body []byte) *Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[endpoint]++
	s.seq++
	req := string(body[:min(len(body), 2048)]) // a copy of the prefix only, not of the whole body
	e := &Entry{Seq: s.seq, Endpoint: endpoint, At: time.Now(), Request: req}
	s.log = append(s.log, e)
	if len(s.log) > s.size {
		s.log = s.log[len(s.log)-s.size:]
	}
	return e
}

// End records the answer.
func (s *Stats) End(e *Entry, status int, response string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Status, e.Response = status, response
}

// Reset clears counts and log.
func (s *Stats) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts, s.log = map[string]int64{}, nil
}

// Counts returns a copy of the per-endpoint counts.
func (s *Stats) Counts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Log returns a copy of the logged requests, oldest first.
func (s *Stats) Log() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, len(s.log))
	for i, e := range s.log {
		out[i] = *e
	}
	return out
}

// Hooks are a mock's own parts of the control plane.
type Hooks struct {
	Reset func()
	Seed  func(n int, seed uint64)
	// Modify changes k source records and Add creates n; both return the changed ids (nil: the mock
	// has no source records, and the routes are not mounted).
	Modify, Add func(n int, seed uint64) any
	// Fault lets a mock handle vendor-specific fault settings (e.g. Kingdee's session lost after N
	// calls); return true when it handled the rule.
	Fault func(r fault.Rule) bool
}

// Mount serves reset, seed, counts, log and faults under g.
//
//	POST /reset                       data, counts, log, sessions and faults back to empty
//	POST /seed?n=N&seed=S             replace the data with N generated records
//	GET  /counts                      {"Endpoint": n, …}
//	GET  /log                         the last requests
//	POST /faults  {rule}              add a fault rule (see fault.Rule)
//	DELETE /faults                    remove every rule
//	POST /modify?k=K&seed=S           change K source records (when the mock has source records)
//	POST /add?n=N&seed=S              add N source records (likewise)
func Mount(g *echo.Group, st *Stats, inj *fault.Injector, seed uint64, h Hooks) {
	g.POST("/reset", func(c echo.Context) error {
		h.Reset()
		st.Reset()
		inj.Clear(seed)
		return c.JSON(http.StatusOK, map[string]any{"ok": true})
	})
	g.POST("/seed", func(c echo.Context) error {
		n, err := strconv.Atoi(c.QueryParam("n"))
		if err != nil || n < 0 || n > 10_000_000 {
			return c.JSON(http.StatusBadRequest, map[string]any{"error": "n must be 0..10000000"})
		}
		sd, _ := strconv.ParseUint(c.QueryParam("seed"), 10, 64)
		h.Seed(n, sd)
		return c.JSON(http.StatusOK, map[string]any{"ok": true, "n": n})
	})
	g.GET("/counts", func(c echo.Context) error { return c.JSON(http.StatusOK, st.Counts()) })
	g.GET("/log", func(c echo.Context) error { return c.JSON(http.StatusOK, st.Log()) })
	g.POST("/faults", func(c echo.Context) error {
		var r fault.Rule
		if err := c.Bind(&r); err != nil {
			return c.JSON(http.StatusBadRequest, map[string]any{"error": err.Error()})
		}
		if h.Fault != nil && h.Fault(r) {
			return c.JSON(http.StatusOK, map[string]any{"ok": true})
		}
		if err := inj.Set(r); err != nil {
			return c.JSON(http.StatusBadRequest, map[string]any{"error": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]any{"ok": true})
	})
	g.DELETE("/faults", func(c echo.Context) error {
		inj.Clear(seed)
		return c.JSON(http.StatusOK, map[string]any{"ok": true})
	})
	for path, fn := range map[string]func(int, uint64) any{"/modify?k": h.Modify, "/add?n": h.Add} {
		if fn == nil {
			continue
		}
		route, param, _ := strings.Cut(path, "?")
		g.POST(route, func(c echo.Context) error {
			n, err := strconv.Atoi(c.QueryParam(param))
			if err != nil || n < 0 {
				return c.JSON(http.StatusBadRequest, map[string]any{"error": param + " must be a non-negative number"})
			}
			sd, _ := strconv.ParseUint(c.QueryParam("seed"), 10, 64)
			return c.JSON(http.StatusOK, map[string]any{"ids": fn(n, sd)})
		})
	}
}
