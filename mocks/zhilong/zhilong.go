// Package zhilong is a mock of the Zhilong business platform (a RuoYi system, vendors.md §3): /login
// with expiring bearer tokens, /api/agentInfo/list over an update-time window with pageNum/pageSize
// query parameters and RuoYi's "reasonable" paging (past the last page answers the last page), errors
// as HTTP 200 with a body code, and a control plane under /_mock/.
package zhilong

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncgate/syncgate/mocks/internal/ctl"
	"github.com/syncgate/syncgate/mocks/internal/fault"
	"github.com/syncgate/syncgate/mocks/internal/gen"
	"github.com/syncgate/syncgate/mocks/internal/jsonw"
)

// Config configures the mock.
type Config struct {
	Username, Password string
	// TokenTTL is the sliding token lifetime (default 30 minutes).
	TokenTTL time.Duration
	// Reasonable makes a pageNum past the last page answer the last page (RuoYi's default); false
	// answers an empty page.
	Reasonable bool
	Seed       uint64
	Now        func() time.Time
	LogSize    int
}

// DefaultConfig returns demo credentials.
func DefaultConfig() Config {
	return Config{Username: "syncgate", Password: "zl-demo-pass", TokenTTL: 30 * time.Minute, Reasonable: true, Seed: 1}
}

// Agent is one agent: the fields the mock models; every other seed field is serialised as well.
type Agent struct {
	AgentID, AgentName, AgentLevelID, AgentLevelName, Mobile, HouseAddress, Remark string
	LegalPerson, ContractPerson, Email, AgentStatus                                string
	CreateTime, UpdateTime                                                         time.Time
}

const timeLayout = "2006-01-02 15:04:05"

var gmt8 = time.FixedZone("GMT+8", 8*3600)

// Server is the mock; it is an http.Handler.
type Server struct {
	cfg    Config
	e      *echo.Echo
	faults *fault.Injector
	stats  *ctl.Stats

	mu      sync.RWMutex
	agents  []*Agent // sorted by (UpdateTime, AgentID)
	byID    map[string]*Agent
	tokens  map[string]time.Time
	nextID  int
	lastMod time.Time
}

// New returns a mock with no agents.
func New(cfg Config) *Server {
	d := DefaultConfig()
	if cfg.Username == "" {
		cfg.Username, cfg.Password = d.Username, d.Password
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = d.TokenTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LogSize <= 0 {
		cfg.LogSize = 1000
	}
	s := &Server{cfg: cfg, faults: fault.New(cfg.Seed), stats: ctl.NewStats(cfg.LogSize)}
	s.reset()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/login", s.login)
	e.POST("/api/agentInfo/list", s.list)
	g := e.Group("/_mock")
	ctl.Mount(g, s.stats, s.faults, cfg.Seed, ctl.Hooks{Reset: s.reset, Seed: s.Seed,
		Modify: func(k int, seed uint64) any { return s.Modify(k, seed) },
		Add:    func(n int, seed uint64) any { return s.Add(n, seed) }})
	g.GET("/agents", func(c echo.Context) error { return c.JSON(http.StatusOK, s.Agents()) })
	s.e = e
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

func (s *Server) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agents, s.byID, s.tokens, s.nextID = nil, map[string]*Agent{}, map[string]time.Time{}, 1
}

func generate(g *gen.Gen, id int, t time.Time) *Agent {
	lvl := g.IntN(3)
	return &Agent{
		AgentID: fmt.Sprintf("AG%07d", id), AgentName: g.Company(), AgentLevelID: strconv.Itoa(lvl + 1),
		AgentLevelName: []string{"金牌代理", "银牌代理", "普通代理"}[lvl], Mobile: g.Mobile(), HouseAddress: g.Address(),
		Remark: "", LegalPerson: g.Person(), ContractPerson: g.Person(), Email: fmt.Sprintf("agent%d@example.cn", id),
		AgentStatus: "1", CreateTime: t, UpdateTime: t,
	}
}

// Seed replaces the data with n generated agents.
func (s *Server) Seed(n int, seed uint64) {
	s.reset()
	g := gen.New(seed, time.Date(2026, 3, 1, 9, 0, 0, 0, gmt8))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.agents = make([]*Agent, 0, n)
	for i := range n {
		a := generate(g, i+1, g.Time(i, n))
		s.agents = append(s.agents, a)
		s.byID[a.AgentID] = a
	}
	s.nextID = n + 1
	s.sortLocked()
}

func (s *Server) sortLocked() {
	sort.SliceStable(s.agents, func(i, j int) bool {
		a, b := s.agents[i], s.agents[j]
		if !a.UpdateTime.Equal(b.UpdateTime) {
			return a.UpdateTime.Before(b.UpdateTime)
		}
		return a.AgentID < b.AgentID
	})
}

func (s *Server) nowLocked() time.Time {
	t := s.cfg.Now().In(gmt8).Truncate(time.Second)
	if t.Before(s.lastMod) {
		t = s.lastMod
	}
	s.lastMod = t
	return t
}

// Agents returns every agent in (updateTime, agentId) order.
func (s *Server) Agents() []Agent {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Agent, len(s.agents))
	for i, a := range s.agents {
		out[i] = *a
	}
	return out
}

// Modify changes k agents (chosen under seed): a new address and level, update time now.
func (s *Server) Modify(k int, seed uint64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := gen.New(seed, time.Now())
	idx := make([]int, len(s.agents))
	for i := range idx {
		idx[i] = i
	}
	for i := len(idx) - 1; i > 0; i-- {
		j := g.IntN(i + 1)
		idx[i], idx[j] = idx[j], idx[i]
	}
	var ids []string
	now := s.nowLocked()
	for _, i := range idx[:min(k, len(idx))] {
		a := s.agents[i]
		a.HouseAddress = g.Address()
		a.Remark = "资料已更新"
		a.UpdateTime = now
		ids = append(ids, a.AgentID)
	}
	s.sortLocked()
	return ids
}

// Add creates n agents updated now.
func (s *Server) Add(n int, seed uint64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := gen.New(seed, time.Now())
	now := s.nowLocked()
	var ids []string
	for range n {
		a := generate(g, s.nextID, now)
		s.nextID++
		s.agents = append(s.agents, a)
		s.byID[a.AgentID] = a
		ids = append(ids, a.AgentID)
	}
	s.sortLocked()
	return ids
}

func ruoyi(c echo.Context, code int, msg string) error {
	return c.JSON(http.StatusOK, map[string]any{"msg": msg, "code": code})
}

func (s *Server) login(c echo.Context) error {
	body, _ := io.ReadAll(c.Request().Body)
	rec := s.stats.Begin("login", body)
	defer s.stats.End(rec, http.StatusOK, "")
	var req struct{ Username, Password string }
	if json.Unmarshal(body, &req) != nil || req.Username != s.cfg.Username || req.Password != s.cfg.Password {
		return ruoyi(c, 500, "用户不存在/密码错误")
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "eyJhbGciOiJIUzUxMiJ9." + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = s.cfg.Now().Add(s.cfg.TokenTTL)
	s.mu.Unlock()
	return c.JSON(http.StatusOK, map[string]any{"msg": "操作成功", "code": 200, "token": tok})
}

func (s *Server) authorised(c echo.Context) bool {
	h := c.Request().Header.Get("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) {
		return false
	}
	tok := h[len(p):]
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	now := s.cfg.Now()
	if !ok || now.After(exp) {
		delete(s.tokens, tok)
		return false
	}
	s.tokens[tok] = now.Add(s.cfg.TokenTTL)
	return true
}

func (s *Server) list(c echo.Context) error {
	body, _ := io.ReadAll(c.Request().Body)
	rec := s.stats.Begin("agentInfo/list", body)
	f, faulty := s.faults.Pick("agentInfo/list")
	if faulty {
		switch f.Kind {
		case fault.RateLimit:
			s.stats.End(rec, http.StatusOK, "fault: rate_limit")
			return ruoyi(c, 500, "访问过于频繁，请稍候再试")
		case fault.TokenExpiry:
			s.mu.Lock()
			s.tokens = map[string]time.Time{}
			s.mu.Unlock()
		default:
			if fault.Apply(c.Response().Writer, c.Request(), f) {
				s.stats.End(rec, 0, "fault: "+f.Kind)
				return nil
			}
		}
	}
	defer s.stats.End(rec, http.StatusOK, "")
	// An answer fault (commit_delay, commit_drop, invalid_utf8) acts on the page once it is made.
	w, finish := fault.Hold(c.Response().Writer, c.Request(), f)
	defer finish()
	c.Response().Writer = w
	if !s.authorised(c) {
		return ruoyi(c, 401, "请求访问：/api/agentInfo/list，认证失败，无法访问系统资源")
	}
	var req struct {
		UpdateTimeStart, UpdateTimeEnd string
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return ruoyi(c, 500, "请求参数格式错误")
		}
	}
	pageNum, pageSize := 1, 10
	if v := c.QueryParam("pageNum"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return ruoyi(c, 500, "pageNum 参数错误")
		}
		pageNum = max(n, 1)
	}
	if v := c.QueryParam("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return ruoyi(c, 500, "pageSize 参数错误")
		}
		pageSize = n
	}
	start, end := time.Time{}, time.Time{}
	var err error
	if req.UpdateTimeStart != "" {
		if start, err = time.ParseInLocation(timeLayout, req.UpdateTimeStart, gmt8); err != nil {
			return ruoyi(c, 500, "updateTimeStart 格式错误")
		}
	}
	if req.UpdateTimeEnd != "" {
		if end, err = time.ParseInLocation(timeLayout, req.UpdateTimeEnd, gmt8); err != nil {
			return ruoyi(c, 500, "updateTimeEnd 格式错误")
		}
	}
	s.mu.RLock()
	lo := sort.Search(len(s.agents), func(i int) bool { return !s.agents[i].UpdateTime.Before(start) })
	hi := len(s.agents)
	if !end.IsZero() {
		hi = sort.Search(len(s.agents), func(i int) bool { return s.agents[i].UpdateTime.After(end) })
	}
	total := max(hi-lo, 0)
	pages := (total + pageSize - 1) / pageSize
	if pageNum > pages && s.cfg.Reasonable && pages > 0 {
		pageNum = pages
	}
	from := lo + (pageNum-1)*pageSize
	// Written by hand (agent rows from a template, see appendJSON): reflection over the 86 fields
	// cost more than the rest of the call.
	to := min(from+pageSize, hi)
	buf := jsonw.GetBuffer()
	defer jsonw.PutBuffer(buf)
	b := append(*buf, `{"total":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"rows":[`...)
	for i := from; i < to; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = s.agents[i].appendJSON(b)
	}
	b = append(b, `],"code":200,"msg":"查询成功"}`...)
	s.mu.RUnlock()
	*buf = b
	return c.JSONBlob(http.StatusOK, b)
}
