// Package greatonce is a mock Greatonce OMS open-API gateway (vendors.md §2): POST /api/api.do with
// the system parameters in the query string, MD5 signature over the raw body, a ±10 minute timestamp
// window, greatonce.distributor.single.sync with add/update semantics, a configurable rate limit, and
// a control plane under /_mock/.
package greatonce

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/syncgate/syncgate/mocks/internal/ctl"
	"github.com/syncgate/syncgate/mocks/internal/fault"
)

// Config configures the mock.
type Config struct {
	AppKey, Secret, CustomerID string
	// RatePerSecond is the quota: a token bucket refilled at this many calls per second (0:
	// unlimited); a call beyond it is answered 访问过于频繁. The gateway is not told the quota.
	RatePerSecond float64
	// Burst is the bucket's size (0: a tenth of RatePerSecond, at least 1).
	Burst int
	// RateLimit429 answers rate limiting with HTTP 429 and Retry-After instead of an HTTP 200 body.
	RateLimit429 bool
	Seed         uint64
	Now          func() time.Time
	LogSize      int
}

// DefaultConfig returns demo credentials.
func DefaultConfig() Config {
	return Config{AppKey: "syncgate-demo", Secret: "go-demo-secret", CustomerID: "C001", Seed: 1}
}

// Distributor is a stored distributor.
type Distributor struct {
	ActionType             string    `json:"actionType"`
	Address                string    `json:"address"`
	BalanceDeductType      string    `json:"balance_deduct_type"`
	DistributorCode        string    `json:"distributorCode"`
	DistributorCompanyName string    `json:"distributorCompanyName"`
	DistributorName        string    `json:"distributorName"`
	Mobile                 string    `json:"mobile"`
	Contact                string    `json:"contact"`
	DistributorLevelName   string    `json:"distributorLevelName"`
	Updates                int       `json:"updates"`
	UpdatedAt              time.Time `json:"updatedAt"`
}

// Server is the mock; it is an http.Handler.
type Server struct {
	cfg     Config
	e       *echo.Echo
	faults  *fault.Injector
	stats   *ctl.Stats
	limiter atomic.Pointer[rate.Limiter] // nil: unlimited; SetQuota swaps it while calls are served
	// accepted and throttled count business calls let through and refused by the quota.
	accepted, throttled atomic.Int64

	mu    sync.RWMutex
	dists map[string]*Distributor
}

// MethodDistributorSync is the one business method.
const MethodDistributorSync = "greatonce.distributor.single.sync"

// New returns a mock with no distributors.
func New(cfg Config) *Server {
	d := DefaultConfig()
	if cfg.AppKey == "" {
		cfg.AppKey, cfg.Secret, cfg.CustomerID = d.AppKey, d.Secret, d.CustomerID
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LogSize <= 0 {
		cfg.LogSize = 1000
	}
	s := &Server{cfg: cfg, faults: fault.New(cfg.Seed), stats: ctl.NewStats(cfg.LogSize), dists: map[string]*Distributor{}}
	s.SetQuota(cfg.RatePerSecond, cfg.Burst)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/api/api.do", s.handle)
	g := e.Group("/_mock")
	ctl.Mount(g, s.stats, s.faults, cfg.Seed, ctl.Hooks{
		Reset: func() {
			s.mu.Lock()
			s.dists = map[string]*Distributor{}
			s.mu.Unlock()
			s.accepted.Store(0)
			s.throttled.Store(0)
		},
		Seed: func(int, uint64) {},
	})
	g.GET("/quota", func(c echo.Context) error { return c.JSON(http.StatusOK, s.Quota()) })
	g.POST("/quota", func(c echo.Context) error {
		var q Quota
		if err := c.Bind(&q); err != nil || q.Rate < 0 || q.Burst < 0 {
			return c.JSON(http.StatusBadRequest, map[string]any{"error": "want {\"rate\": calls per second >= 0, \"burst\": >= 0}"})
		}
		s.SetQuota(q.Rate, q.Burst)
		return c.JSON(http.StatusOK, s.Quota())
	})
	g.GET("/distributors", func(c echo.Context) error { return c.JSON(http.StatusOK, s.Distributors()) })
	s.e = e
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Distributors returns every distributor, by code.
func (s *Server) Distributors() []Distributor {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Distributor, 0, len(s.dists))
	for _, d := range s.dists {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DistributorCode < out[j].DistributorCode })
	return out
}

// Sign computes the Qimen-style signature: UPPER(hex(MD5(secret + sorted non-empty params (key+value,
// sign excluded) + body + secret))).
func Sign(secret string, params url.Values, body []byte) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "sign" && params.Get(k) != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := md5.New()
	io.WriteString(h, secret)
	for _, k := range keys {
		io.WriteString(h, k+params.Get(k))
	}
	h.Write(body)
	io.WriteString(h, secret)
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

func answer(c echo.Context, ok bool, msg string) error {
	flag, code := "success", "0"
	if !ok {
		flag, code = "failure", "1"
	}
	return c.JSON(http.StatusOK, map[string]any{"flag": flag, "code": code, "status": flag, "message": msg})
}

var gmt8 = time.FixedZone("GMT+8", 8*3600)

func (s *Server) handle(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	q := c.Request().URL.Query()
	rec := s.stats.Begin(q.Get("method"), body)
	f, faulty := s.faults.Pick(q.Get("method"))
	if faulty {
		if f.Kind == fault.RateLimit {
			s.stats.End(rec, http.StatusOK, "fault: rate_limit")
			return s.rateLimited(c)
		}
		if fault.Apply(c.Response().Writer, c.Request(), f) {
			s.stats.End(rec, 0, "fault: "+f.Kind)
			return nil
		}
	}
	// An answer fault (commit_delay, commit_drop, invalid_utf8): the call runs, its write committed,
	// then the fault acts on the answer.
	w, finish := fault.Hold(c.Response().Writer, c.Request(), f)
	defer finish()
	c.Response().Writer = w
	status, msg := s.process(q, body)
	if status == http.StatusTooManyRequests {
		s.stats.End(rec, status, msg)
		return s.rateLimited(c)
	}
	s.stats.End(rec, http.StatusOK, msg)
	return answer(c, status == 0, msg)
}

func (s *Server) rateLimited(c echo.Context) error {
	if s.cfg.RateLimit429 {
		c.Response().Header().Set("Retry-After", "1")
		return c.JSON(http.StatusTooManyRequests, map[string]any{"flag": "failure", "code": "429", "status": "failure", "message": "访问过于频繁"})
	}
	return answer(c, false, "访问过于频繁")
}

// process validates and executes one call; status 0 is success, 1 failure, 429 rate limited.
func (s *Server) process(q url.Values, body []byte) (int, string) {
	for _, p := range []string{"appKey", "method", "timestamp", "sign"} {
		if q.Get(p) == "" {
			return 1, "缺少必要参数: " + p
		}
	}
	if q.Get("appKey") != s.cfg.AppKey {
		return 1, "appKey不存在"
	}
	ts, err := time.ParseInLocation("2006-01-02 15:04:05", q.Get("timestamp"), gmt8)
	if err != nil || s.cfg.Now().Sub(ts).Abs() > 10*time.Minute {
		return 1, "时间戳已过期"
	}
	if !strings.EqualFold(Sign(s.cfg.Secret, q, body), q.Get("sign")) {
		return 1, "签名错误"
	}
	if q.Get("method") != MethodDistributorSync {
		return 1, "接口不存在"
	}
	if l := s.limiter.Load(); l != nil && !l.Allow() {
		s.throttled.Add(1)
		return http.StatusTooManyRequests, "访问过于频繁"
	}
	s.accepted.Add(1)
	var d Distributor
	if err := json.Unmarshal(body, &d); err != nil {
		return 1, "请求体格式错误"
	}
	switch {
	case d.ActionType != "add" && d.ActionType != "update":
		return 1, "actionType 只能是 add 或 update"
	case strings.TrimSpace(d.DistributorCode) == "":
		return 1, "分销商编码不能为空"
	case strings.TrimSpace(d.DistributorName) == "":
		return 1, "分销商名称不能为空"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.dists[d.DistributorCode]
	switch {
	case d.ActionType == "add" && exists:
		return 1, "分销商编码已存在"
	case d.ActionType == "update" && !exists:
		return 1, "分销商不存在"
	}
	d.UpdatedAt = s.cfg.Now()
	if exists {
		d.Updates = old.Updates + 1
		keepAbsent(&d, old, body)
	}
	s.dists[d.DistributorCode] = &d
	return 0, "成功"
}

// keepAbsent gives an update the old values of the optional fields its body leaves out
// ([inferred]: an update changes the fields it names; vendors.md lists none as required but
// actionType, distributorCode and distributorName).
func keepAbsent(d, old *Distributor, body []byte) {
	var present map[string]json.RawMessage
	if json.Unmarshal(body, &present) != nil {
		return
	}
	for name, f := range map[string]struct{ dst, src *string }{
		"address": {&d.Address, &old.Address}, "balance_deduct_type": {&d.BalanceDeductType, &old.BalanceDeductType},
		"distributorCompanyName": {&d.DistributorCompanyName, &old.DistributorCompanyName},
		"mobile":                 {&d.Mobile, &old.Mobile}, "contact": {&d.Contact, &old.Contact},
		"distributorLevelName": {&d.DistributorLevelName, &old.DistributorLevelName},
	} {
		if _, ok := present[name]; !ok {
			*f.dst = *f.src
		}
	}
}

// Quota is the mock's quota and what it has counted since start-up or the last reset: business
// calls that passed the quota check (Accepted) and calls refused with 访问过于频繁 (Throttled).
type Quota struct {
	Rate      float64 `json:"rate"`
	Burst     int     `json:"burst"`
	Accepted  int64   `json:"accepted"`
	Throttled int64   `json:"throttled"`
}

// Quota returns the current quota and counts.
func (s *Server) Quota() Quota {
	q := Quota{Accepted: s.accepted.Load(), Throttled: s.throttled.Load()}
	if l := s.limiter.Load(); l != nil {
		q.Rate, q.Burst = float64(l.Limit()), l.Burst()
	}
	return q
}

// SetRate changes the quota at run time (0: unlimited), with the default burst.
func (s *Server) SetRate(perSecond float64) { s.SetQuota(perSecond, 0) }

// SetQuota changes the quota at run time: perSecond calls per second (0: unlimited) with a bucket
// of burst calls (0: a tenth of perSecond, at least 1).
func (s *Server) SetQuota(perSecond float64, burst int) {
	if perSecond <= 0 {
		s.limiter.Store(nil)
		return
	}
	if burst <= 0 {
		burst = max(1, int(perSecond/10))
	}
	s.limiter.Store(rate.NewLimiter(rate.Limit(perSecond), burst))
}
