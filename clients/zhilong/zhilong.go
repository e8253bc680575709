// Package zhilong is the client for the Zhilong business platform
// (植隆业务中台, RuoYi-based): password login for a bearer token, re-login on
// body code 401, and the update-time window over /api/agentInfo/list.
package zhilong

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
)

// VendorName labels Zhilong in errors, metrics and audit records.
const VendorName = "zhilong"

// Operation names used in errors, metrics and audit records.
const (
	OpLogin = "login"
	OpList  = "agentInfo.list"
)

// MsgRateLimited is what RuoYi's rate limiter answers (with body code 500): "访问过于频繁，请稍候再试".
const MsgRateLimited = "访问过于频繁"

// DefaultPageSize is used by [Client.Agents] when pageSize is not positive.
const DefaultPageSize = 100

// Config configures a [Client]. Zero values take the vendor package defaults.
type Config struct {
	// BaseURL is the platform root; "/login" and "/api/agentInfo/list" are appended.
	BaseURL string
	// Username and Password are the login credentials.
	Username, Password string
	// Transport holds the timeout, rate limit, retry, pool, metrics and
	// audit-hook settings, passed to the shared vendor layer as they are. Its
	// Hook receives every HTTP attempt; login bodies are redacted.
	vendor.Transport
}

// Client calls the Zhilong platform. It is safe for concurrent use; one
// token is shared and refreshed once when the server rejects it.
type Client struct {
	cfg  Config
	base string
	vc   *vendor.Client

	mu    sync.Mutex // guards token and gen; held during a login
	token string
	gen   uint64 // incremented on every successful login
}

// New validates cfg and builds a Client. It does not log in.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" || cfg.Username == "" {
		return nil, errors.New("zhilong: BaseURL and Username are required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("zhilong: BaseURL %q is not an absolute URL", cfg.BaseURL)
	}
	vc, err := vendor.New(vendor.Options{Vendor: VendorName, Transport: cfg.Transport})
	if err != nil {
		return nil, fmt.Errorf("zhilong: %w", err)
	}
	return &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), vc: vc}, nil
}

// decode parses a RuoYi body in one pass (see decodeEnvelope) and
// classifies a non-200 body code. withRows decodes the rows as agents, with
// room reserved for sizeHint of them.
func decode(op string, resp *vendor.Response, withRows bool, sizeHint int) (*envelope, error) {
	r, err := decodeEnvelope(vendor.TrimBody(resp.Body), withRows, sizeHint)
	if err != nil {
		return nil, vendor.Malformed(resp, "undecodable response", err)
	}
	code := strings.Trim(strings.TrimSpace(r.code), `"`)
	if code == "" || code == "null" {
		return nil, vendor.Malformed(resp, "response has no code", nil)
	}
	if code == "200" {
		return r, nil
	}
	e := &vendor.Error{Code: code, Message: r.msg}
	switch {
	case code == "401":
		e.Kind = vendor.Reauth
	case code == "403":
		e.Kind = vendor.Permanent
	case op == OpLogin && (strings.Contains(r.msg, "密码") || strings.Contains(r.msg, "用户")):
		e.Kind = vendor.Permanent // wrong user or password: retrying cannot help
	case code == "429" || code == "500" || code == "502" || code == "503" || code == "504":
		// RuoYi answers rate limiting ("访问过于频繁") and server exceptions with body code 500.
		e.Kind = vendor.Transient
		e.Throttled = code == "429" || strings.Contains(r.msg, MsgRateLimited)
	default:
		e.Kind = vendor.Permanent
	}
	return nil, e
}

// Login fetches a new token, replacing any cached one.
func (c *Client) Login(ctx context.Context) error {
	_, err := vendor.Retry(ctx, c.vc, OpLogin, func(ctx context.Context, call *vendor.Call) (struct{}, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return struct{}{}, c.loginLocked(ctx, call)
	})
	return err
}

// loginLocked performs one login attempt; c.mu must be held.
func (c *Client) loginLocked(ctx context.Context, call *vendor.Call) error {
	body, err := json.Marshal(map[string]string{"username": c.cfg.Username, "password": c.cfg.Password, "code": "", "uuid": ""})
	if err != nil {
		return fmt.Errorf("zhilong: marshal login: %w", err)
	}
	var token string
	_, err = call.Do(ctx, vendor.Request{
		Op: OpLogin, URL: c.base + "/login",
		Header:         http.Header{"Content-Type": {"application/json;charset=utf-8"}},
		Body:           body,
		AuditRequest:   vendor.RedactJSON(body, "password"),
		RedactResponse: vendor.RedactFunc("token"),
	}, func(resp *vendor.Response) error {
		r, err := decode(OpLogin, resp, false, 0)
		if err != nil {
			return err
		}
		if r.token == "" {
			return vendor.Malformed(resp, "login answer has no token", nil)
		}
		token = r.token
		return nil
	})
	if err != nil {
		return err
	}
	c.token = token
	c.gen++
	return nil
}

// currentToken returns the cached token, logging in first when there is none.
func (c *Client) currentToken(ctx context.Context, call *vendor.Call) (string, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == "" {
		if err := c.loginLocked(ctx, call); err != nil {
			return "", 0, err
		}
	}
	return c.token, c.gen, nil
}

// renewToken logs in again unless another goroutine already replaced the
// token that failed (generation gen).
func (c *Client) renewToken(ctx context.Context, call *vendor.Call, gen uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen && c.token != "" {
		return nil
	}
	c.token = ""
	return c.loginLocked(ctx, call)
}

// authed runs one API attempt with the token; on body code 401 it logs in
// again once and replays.
func (c *Client) authed(ctx context.Context, call *vendor.Call, attempt func(token string) error) error {
	token, gen, err := c.currentToken(ctx, call)
	if err != nil {
		return err
	}
	err = attempt(token)
	if !vendor.IsReauth(err) {
		return err
	}
	if err := c.renewToken(ctx, call, gen); err != nil {
		return err
	}
	token, _, err = c.currentToken(ctx, call)
	if err != nil {
		return err
	}
	return attempt(token)
}

// Window is an update-time window, inclusive at both ends on the server.
type Window struct {
	Start, End time.Time
}

// Page fetches one page (pageNum from 1) of agents updated within w and the
// server's total for the window. Note the server's "reasonable" paging: a
// pageNum past the last page returns the last page again.
func (c *Client) Page(ctx context.Context, w Window, pageNum, pageSize int) ([]Agent, int, error) {
	if pageNum < 1 || pageSize < 1 {
		return nil, 0, &vendor.Error{Vendor: VendorName, Op: OpList, Kind: vendor.Permanent, Code: "invalid_request",
			Message: fmt.Sprintf("pageNum and pageSize must be positive, got %d and %d", pageNum, pageSize)}
	}
	body, err := json.Marshal(map[string]string{
		"updateTimeStart": vendor.FormatDateTime(w.Start),
		"updateTimeEnd":   vendor.FormatDateTime(w.End),
	})
	if err != nil {
		return nil, 0, fmt.Errorf("zhilong: marshal window: %w", err)
	}
	return c.PageBody(ctx, body, pageNum, pageSize)
}

// PageBody is Page with the request body given as is (a JSON object: the window, and whatever
// else the caller's request template says), for callers that build the body themselves.
func (c *Client) PageBody(ctx context.Context, body []byte, pageNum, pageSize int) ([]Agent, int, error) {
	if pageNum < 1 || pageSize < 1 {
		return nil, 0, &vendor.Error{Vendor: VendorName, Op: OpList, Kind: vendor.Permanent, Code: "invalid_request",
			Message: fmt.Sprintf("pageNum and pageSize must be positive, got %d and %d", pageNum, pageSize)}
	}
	q := url.Values{"pageNum": {strconv.Itoa(pageNum)}, "pageSize": {strconv.Itoa(pageSize)}}
	type page struct {
		rows  []Agent
		total int
	}
	p, err := vendor.Retry(ctx, c.vc, OpList, func(ctx context.Context, call *vendor.Call) (page, error) {
		var out page
		err := c.authed(ctx, call, func(token string) error {
			_, err := call.Do(ctx, vendor.Request{
				Op: OpList, URL: c.base + "/api/agentInfo/list?" + q.Encode(),
				Header: http.Header{"Content-Type": {"application/json;charset=utf-8"}, "Authorization": {"Bearer " + token}},
				Body:   body,
			}, func(resp *vendor.Response) error {
				rows, total, err := decodeList(resp, pageSize)
				if err != nil {
					return err
				}
				out = page{rows: rows, total: total}
				return nil
			})
			return err
		})
		return out, err
	})
	if err != nil {
		return nil, 0, err
	}
	return p.rows, p.total, nil
}

// Agents streams every agent updated within w, page by page. It stops when
// pageNum*pageSize reaches the server's total (as reported by the latest
// page), never on an empty page, because a pageNum past the last page
// returns the last page again. After an error it yields the error and stops.
func (c *Client) Agents(ctx context.Context, w Window, pageSize int) iter.Seq2[Agent, error] {
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	return func(yield func(Agent, error) bool) {
		for pageNum := 1; ; pageNum++ {
			rows, total, err := c.Page(ctx, w, pageNum, pageSize)
			if err != nil {
				yield(Agent{}, err)
				return
			}
			// Rows beyond total (a page that overlaps the end) are not expected,
			// but never yield more than total rows in all.
			if seen := (pageNum - 1) * pageSize; seen+len(rows) > total {
				rows = rows[:max(0, total-seen)]
			}
			for _, a := range rows {
				if !yield(a, nil) {
					return
				}
			}
			if pageNum*pageSize >= total {
				return
			}
		}
	}
}

// decodeList decodes an agentInfo/list answer of about sizeHint rows.
func decodeList(resp *vendor.Response, sizeHint int) ([]Agent, int, error) {
	r, err := decode(OpList, resp, true, sizeHint)
	if err != nil {
		return nil, 0, err
	}
	total, err := parseTotal(r.total)
	if err != nil {
		return nil, 0, vendor.Malformed(resp, "bad total", err)
	}
	if r.badRow >= 0 {
		return nil, 0, vendor.Malformed(resp, fmt.Sprintf("bad agent row %d", r.badRow), r.rowErr)
	}
	return r.rows, total, nil
}

// parseTotal reads total (raw JSON) sent as a number or a string.
func parseTotal(raw string) (int, error) {
	s := strings.Trim(strings.TrimSpace(raw), `"`)
	if s == "" || s == "null" {
		return 0, errors.New("total missing")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("total %q is not a count", s)
	}
	return int(n), nil
}

// Fields returns the agent's fields by their JSON names, as a map of strings (the seed types every
// field as a string; the two object fields, agentIdArray and params, are decoded JSON: nil when
// absent or null). It reads the decoded struct, so callers need not parse Raw again.
func (a *Agent) Fields() map[string]any {
	out := make(map[string]any, len(agentFieldTable))
	for i := range agentFieldTable {
		f := &agentFieldTable[i]
		if f.str != nil {
			out[f.name] = *f.str(a)
		} else {
			out[f.name] = decodeRaw(*f.raw(a))
		}
	}
	return out
}

// Field returns one field by its JSON name, as [Agent.Fields] has it; ok is false for a name the
// seed does not list.
func (a *Agent) Field(name string) (v any, ok bool) {
	i, ok := agentFieldIndex[name]
	if !ok {
		return nil, false
	}
	if f := &agentFieldTable[i]; f.str != nil {
		return *f.str(a), true
	} else {
		return decodeRaw(*f.raw(a)), true
	}
}

// decodeRaw decodes a raw JSON field as encoding/json decodes into an any;
// empty gives nil. The values RuoYi sends most, {} and [], skip the decoder.
func decodeRaw(raw json.RawMessage) any {
	switch string(raw) {
	case "":
		return nil
	case "{}":
		return map[string]any{}
	case "[]":
		return []any{}
	}
	var v any
	_ = json.Unmarshal(raw, &v) // as before: on a (never expected) error, whatever was decoded
	return v
}

// UpdatedAt parses the agent's updateTime (`yyyy-MM-dd HH:mm:ss`, GMT+8).
func (a Agent) UpdatedAt() (time.Time, error) {
	return ParseTime(a.UpdateTime)
}

// ParseTime parses a Zhilong datetime (`yyyy-MM-dd HH:mm:ss` in GMT+8; an
// ISO form with "T", fractions or an explicit zone is accepted too) with the
// vendors' shared parser, [vendor.ParseDateTime]. The empty string gives the
// zero time and no error.
func ParseTime(s string) (time.Time, error) {
	t, err := vendor.ParseDateTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("zhilong: %w", err)
	}
	return t, nil
}
