// Package kingdee is a mock Kingdee K/3 Cloud Web API (see ../../shared/spec/vendors.md §1): password,
// app-secret and signature-header logins with sliding sessions, ExecuteBillQuery and BillQuery on
// BD_Customer with a real FilterString parser, Save and BatchSave, the three body envelopes, errors in
// the real shapes, and a control plane under /_mock/ with fault injection.
package kingdee

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncgate/syncgate/mocks/internal/ctl"
	"github.com/syncgate/syncgate/mocks/internal/fault"
	"github.com/syncgate/syncgate/mocks/internal/gen"
)

// Config configures the mock.
type Config struct {
	AcctID, Username, Password string
	// AppID and AppSecret are accepted by LoginByAppSecret and the signature-header mode.
	AppID, AppSecret string
	// SessionTTL is the sliding session lifetime (default 20 minutes).
	SessionTTL time.Duration
	// Seed drives the data generator and the fault RNG.
	Seed uint64
	// Now is the mock's clock (default time.Now).
	Now func() time.Time
	// LogSize bounds the request log (default 1000).
	LogSize int
}

// DefaultConfig returns demo credentials (the official SDK sample's signature credentials included).
func DefaultConfig() Config {
	return Config{
		AcctID: "5db25ac8d2b819", Username: "webapi", Password: "kd-demo-pass",
		AppID: "204399_72epSbtEQMC92Vwt2d3LRa9LRqSc1tqJ", AppSecret: "fb7d46647ac346dbb5fcd45b65512a45",
		SessionTTL: 20 * time.Minute, Seed: 1,
	}
}

// Server is the mock; it is an http.Handler.
type Server struct {
	cfg    Config
	e      *echo.Echo
	faults *fault.Injector

	mu       sync.RWMutex
	custs    map[int64]*customer
	byNumber map[string]*customer
	byOutID  map[string]*customer
	ix       index
	nextID   int64
	nextNum  int
	lastMod  time.Time

	sessionMu sync.Mutex // guards sessions, loseAfter and calls
	sessions  map[string]time.Time
	loseAfter int // session lost after this many business calls (0: off)
	calls     int

	stats *ctl.Stats
}

// New returns a mock with no data; seed it through the control plane or Seed.
func New(cfg Config) *Server {
	d := DefaultConfig()
	if cfg.AcctID == "" {
		cfg.AcctID = d.AcctID
	}
	if cfg.Username == "" {
		cfg.Username, cfg.Password = d.Username, d.Password
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = d.SessionTTL
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
	e.POST("/k3cloud/:service", s.dispatch)
	s.control(e.Group("/_mock"))
	s.e = e
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// reset empties the data (under mu) and the sessions (under sessionMu, which guards them: authorised
// and openSession read and write them under that lock alone).
func (s *Server) reset() {
	s.mu.Lock()
	s.custs, s.byNumber, s.byOutID = map[int64]*customer{}, map[string]*customer{}, map[string]*customer{}
	s.ix = index{}
	s.nextID, s.nextNum = 900001, 1
	s.mu.Unlock()
	s.sessionMu.Lock()
	s.sessions = map[string]time.Time{}
	s.loseAfter, s.calls = 0, 0
	s.sessionMu.Unlock()
}

// Seed replaces the data with n generated customers.
func (s *Server) Seed(n int, seed uint64) {
	s.reset()
	g := gen.New(seed, time.Date(2026, 3, 1, 9, 0, 0, 0, gmt8))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ix.entries = make([]entry, 0, n)
	for i := range n {
		s.insertLocked(generate(g, i, n))
	}
	s.nextNum = n + 1
	// New customers get ids after the seeded ones (seeded ids are 100001…100000+n).
	s.nextID = max(s.nextID, int64(100001+n))
}

func (s *Server) insertLocked(c *customer) {
	s.custs[c.ID] = c
	s.byNumber[c.Number] = c
	if c.OutID != "" {
		s.byOutID[c.OutID] = c
	}
	s.ix.add(c)
}

// nowLocked is the mock clock at millisecond precision, never going backwards. Records changed in the
// same millisecond share their FModifyDate, as on a real server.
func (s *Server) nowLocked() time.Time {
	t := s.cfg.Now().In(gmt8).Truncate(time.Millisecond)
	if t.Before(s.lastMod) {
		t = s.lastMod
	}
	s.lastMod = t
	return t
}

const (
	svcValidateUser     = "kingdee.bos.webapi.servicesstub.authservice.validateuser"
	svcLoginByAppSecret = "kingdee.bos.webapi.servicesstub.authservice.loginbyappsecret"
	svcExecuteBillQuery = "kingdee.bos.webapi.servicesstub.dynamicformservice.executebillquery"
	svcBillQuery        = "kingdee.bos.webapi.servicesstub.dynamicformservice.billquery"
	svcSave             = "kingdee.bos.webapi.servicesstub.dynamicformservice.save"
	svcBatchSave        = "kingdee.bos.webapi.servicesstub.dynamicformservice.batchsave"
)

// Endpoint names used by counts, logs and faults.
const (
	EndpointLogin     = "ValidateUser"
	EndpointQuery     = "ExecuteBillQuery"
	EndpointBillQuery = "BillQuery"
	EndpointSave      = "Save"
	EndpointBatchSave = "BatchSave"
)

func (s *Server) dispatch(c echo.Context) error {
	svc := strings.ToLower(strings.TrimSuffix(c.Param("service"), ".common.kdsvc"))
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	var endpoint string
	switch svc {
	case svcValidateUser, svcLoginByAppSecret:
		endpoint = EndpointLogin
	case svcExecuteBillQuery:
		endpoint = EndpointQuery
	case svcBillQuery:
		endpoint = EndpointBillQuery
	case svcSave:
		endpoint = EndpointSave
	case svcBatchSave:
		endpoint = EndpointBatchSave
	default:
		return c.String(http.StatusNotFound, "<html><body>404 - "+c.Param("service")+" not found</body></html>")
	}
	rec := s.stats.Begin(endpoint, body)
	f, faulty := s.faults.Pick(endpoint)
	if faulty {
		switch f.Kind {
		case fault.SessionLost:
			s.stats.End(rec, http.StatusOK, "fault: "+f.Kind)
			return s.sessionLost(c, endpoint)
		case fault.LockConflict:
			s.stats.End(rec, http.StatusOK, "fault: "+f.Kind)
			return c.JSON(http.StatusOK, failure(endpoint, 13, "", "网络控制冲突：对象正在被其他用户操作，请稍后再试", 0))
		case fault.RateLimit:
			s.stats.End(rec, http.StatusOK, "fault: "+f.Kind)
			return c.JSON(http.StatusOK, failure(endpoint, 14, "", "接口调用次数超过限制，请稍后再试", 0))
		}
		if fault.Apply(c.Response().Writer, c.Request(), f) {
			s.stats.End(rec, 0, "fault: "+f.Kind)
			return nil
		}
	}
	w := &capture{ResponseWriter: c.Response().Writer}
	defer func() { s.stats.End(rec, w.status, w.body.String()) }()
	// An answer fault (commit_delay, commit_drop, invalid_utf8) lets the call run, its write
	// committed, and then acts on the answer; the log shows what was sent.
	hw, finish := fault.Hold(w, c.Request(), f)
	defer finish()
	c.Response().Writer = hw

	if endpoint == EndpointSave || endpoint == EndpointBatchSave {
		env, err := decodeSaveEnvelope(body)
		if err != nil {
			return c.JSON(http.StatusOK, failure(endpoint, 8, "", "参数格式错误: "+err.Error(), 0))
		}
		if !s.authorised(c) {
			return s.sessionLost(c, endpoint)
		}
		return s.save(c, endpoint, env)
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		return c.JSON(http.StatusOK, wrapIfQuery(endpoint, failure(endpoint, 8, "", "参数格式错误: "+err.Error(), 0)))
	}
	if endpoint == EndpointLogin {
		return s.login(c, svc, env)
	}
	if !s.authorised(c) {
		return s.sessionLost(c, endpoint)
	}
	return s.query(c, endpoint, env)
}

func (s *Server) sessionLost(c echo.Context, endpoint string) error {
	return c.JSON(http.StatusOK, wrapIfQuery(endpoint, failure(endpoint, 1, "", "会话信息已丢失，请重新登录", 0)))
}

// failure is the ResponseStatus error object.
func failure(_ string, code int, field, msg string, dindex int) map[string]any {
	return map[string]any{"Result": map[string]any{"ResponseStatus": map[string]any{
		"ErrorCode": 500, "IsSuccess": false,
		"Errors":         []any{map[string]any{"FieldName": nullable(field), "Message": msg, "DIndex": dindex}},
		"SuccessEntitys": []any{}, "SuccessMessages": []any{}, "MsgCode": code,
	}}}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// wrapIfQuery wraps query errors as [[…]], as the real ExecuteBillQuery does.
func wrapIfQuery(endpoint string, v any) any {
	if endpoint == EndpointQuery || endpoint == EndpointBillQuery {
		return [][]any{{v}}
	}
	return v
}

func newSessionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) openSession(c echo.Context) string {
	sid := newSessionID()
	s.sessionMu.Lock()
	s.sessions[sid] = s.cfg.Now().Add(s.cfg.SessionTTL)
	s.sessionMu.Unlock()
	c.SetCookie(&http.Cookie{Name: "kdservice-sessionid", Value: sid, Path: "/"})
	c.SetCookie(&http.Cookie{Name: "ASP.NET_SessionId", Value: sid[:24], Path: "/"})
	return sid
}

func (s *Server) login(c echo.Context, svc string, env envelope) error {
	var ok bool
	var user string
	if svc == svcLoginByAppSecret {
		// parameters: [acctId, userName, appId, appSecret, lcid] or named keys
		p := env.strings("acctid", "username", "appid", "appsecret")
		user = p[1]
		ok = p[0] == s.cfg.AcctID && p[1] == s.cfg.Username && p[2] == s.cfg.AppID && p[3] == s.cfg.AppSecret
	} else {
		p := env.strings("acctid", "username", "password")
		user = p[1]
		ok = p[0] == s.cfg.AcctID && p[1] == s.cfg.Username && p[2] == s.cfg.Password
	}
	if !ok {
		return c.JSON(http.StatusOK, map[string]any{"Message": "用户名或密码错误", "MessageCode": nil, "LoginResultType": -1,
			"Context": nil, "KDSVCSessionId": nil, "IsSuccessByAPI": false})
	}
	sid := s.openSession(c)
	return c.JSON(http.StatusOK, map[string]any{"Message": nil, "MessageCode": "CheckPasswordPolicy", "LoginResultType": 1,
		"Context":        map[string]any{"UserName": user, "SessionId": sid, "DBid": s.cfg.AcctID, "LogLocale": "zh-CN"},
		"KDSVCSessionId": sid, "IsSuccessByAPI": true})
}

// authorised checks the session (cookie, kdservice-sessionid or SID header) or the signature headers,
// sliding the session's expiry. "Session lost after N calls" is applied here.
func (s *Server) authorised(c echo.Context) bool {
	s.sessionMu.Lock()
	defer s.sessionMu.Unlock()
	s.calls++
	if s.loseAfter > 0 && s.calls > s.loseAfter {
		s.loseAfter, s.calls = 0, 0
		s.sessions = map[string]time.Time{}
		return false
	}
	req := c.Request()
	if req.Header.Get("X-Api-Signature") != "" {
		if !verifySignature(req, s.cfg, s.cfg.Now()) {
			return false
		}
		if _, err := req.Cookie("kdservice-sessionid"); err != nil {
			sid := newSessionID()
			s.sessions[sid] = s.cfg.Now().Add(s.cfg.SessionTTL)
			c.SetCookie(&http.Cookie{Name: "kdservice-sessionid", Value: sid, Path: "/"})
		}
		return true
	}
	var sid string
	if ck, err := req.Cookie("kdservice-sessionid"); err == nil {
		sid = ck.Value
	}
	if v := req.Header.Get("kdservice-sessionid"); v != "" {
		sid = v
	}
	if v := req.Header.Get("SID"); v != "" {
		sid = v
	}
	exp, ok := s.sessions[sid]
	now := s.cfg.Now()
	if !ok || now.After(exp) {
		delete(s.sessions, sid)
		return false
	}
	s.sessions[sid] = now.Add(s.cfg.SessionTTL)
	return true
}

// envelope is a decoded request body in any of the three shapes.
type envelope struct {
	named  map[string]json.RawMessage // lower-cased keys
	params []json.RawMessage
}

func decodeEnvelope(body []byte) (envelope, error) {
	var env envelope
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return env, fmt.Errorf("body is not a JSON object")
	}
	env.named = map[string]json.RawMessage{}
	for k, v := range top {
		env.named[strings.ToLower(k)] = v
	}
	if raw, ok := env.named["parameters"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil { // legacy .NET: parameters is a JSON array in a string
			raw = json.RawMessage(s)
		}
		if err := json.Unmarshal(raw, &env.params); err != nil {
			return env, fmt.Errorf("parameters is not an array")
		}
	}
	return env, nil
}

// strings reads login fields by name or by position.
func (env envelope) strings(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		var raw json.RawMessage
		if env.params != nil && i < len(env.params) {
			raw = env.params[i]
		} else {
			raw = env.named[n]
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = strings.Trim(string(raw), `"`)
		}
		out[i] = s
	}
	return out
}

// data returns a query's "data" object (possibly sent as a JSON string) and the form id. (Save bodies
// are read by saveEnvelope.)
func (env envelope) data() (map[string]json.RawMessage, string, error) {
	var raw json.RawMessage
	form := ""
	switch {
	case env.params != nil:
		if len(env.params) < 1 {
			return nil, "", fmt.Errorf("parameters needs [data]")
		}
		raw = env.params[0]
	default:
		raw = env.named["data"]
		_ = json.Unmarshal(env.named["formid"], &form)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "", fmt.Errorf("data is not an object")
	}
	out := map[string]json.RawMessage{}
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out, form, nil
}

// capture records the status and body for the request log.
type capture struct {
	http.ResponseWriter
	status int
	body   strings.Builder
}

func (c *capture) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }

// Unwrap gives http.ResponseController the underlying writer.
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.body.Len() < 2048 {
		c.body.Write(b[:min(len(b), 2048-c.body.Len())])
	}
	return c.ResponseWriter.Write(b)
}
