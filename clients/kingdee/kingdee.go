// Package kingdee is the client for the Kingdee K/3 Cloud (金蝶云星空) Web
// API: password login with session reuse (or the optional signature-header
// mode), ExecuteBillQuery as a paging iterator with tolerant row decoding,
// Save/BatchSave with per-item results, and a FilterString builder.
package kingdee

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
)

// VendorName labels Kingdee in errors, metrics and audit records.
const VendorName = "kingdee"

// Service names (the URL is {BaseURL}{Service}.common.kdsvc).
const (
	ServiceValidateUser     = "Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser"
	ServiceExecuteBillQuery = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery"
	ServiceSave             = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save"
	ServiceBatchSave        = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.BatchSave"
)

// Operation names used in errors, metrics and audit records.
const (
	OpLogin            = "ValidateUser"
	OpExecuteBillQuery = "ExecuteBillQuery"
	OpSave             = "Save"
	OpBatchSave        = "BatchSave"
)

// sessionCookie is the session cookie and header name.
const sessionCookie = "kdservice-sessionid"

// Config configures a [Client]. Zero values take the vendor package defaults.
type Config struct {
	// BaseURL is the site root, usually ending in "/k3cloud/".
	BaseURL string
	// AcctID (data center id), Username, Password and LCID (default 2052) log in.
	AcctID, Username, Password string
	LCID                       int
	// AppID and AppSecret switch on the signature-header mode (no login call);
	// OrgNum goes into X-Kd-Appdata (default "0").
	AppID, AppSecret, OrgNum string
	// Transport holds the timeout, rate limit, retry, pool, metrics and
	// audit-hook settings, passed to the shared vendor layer as they are. Its
	// Hook receives every HTTP attempt; login bodies are redacted.
	vendor.Transport
	// Now supplies signature timestamps; defaults to time.Now.
	Now func() time.Time
}

// Client calls Kingdee. It is safe for concurrent use; one session is shared
// and renewed once when the server reports it lost (MsgCode 1).
type Client struct {
	cfg  Config
	base string
	path string // URL path of base, for signatures
	vc   *vendor.Client

	mu       sync.Mutex // guards session fields; held during a login
	sid      string     // kdservice-sessionid
	aspSID   string     // ASP.NET_SessionId, if the server set one
	gen      uint64     // incremented whenever the session changes
	loggedIn bool
}

// New validates cfg and builds a Client. It does not log in.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("kingdee: BaseURL is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("kingdee: BaseURL %q is not an absolute URL", cfg.BaseURL)
	}
	if cfg.AppID != "" {
		if cfg.AppSecret == "" {
			return nil, errors.New("kingdee: AppSecret is required with AppID")
		}
		if _, err := ClientSecret(cfg.AppID); err != nil {
			return nil, err
		}
	} else if cfg.AcctID == "" || cfg.Username == "" {
		return nil, errors.New("kingdee: AcctID and Username are required")
	}
	if cfg.LCID == 0 {
		cfg.LCID = 2052
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	vc, err := vendor.New(vendor.Options{Vendor: VendorName, Transport: cfg.Transport})
	if err != nil {
		return nil, fmt.Errorf("kingdee: %w", err)
	}
	base := strings.TrimRight(cfg.BaseURL, "/") + "/"
	bu, _ := url.Parse(base)
	return &Client{cfg: cfg, base: base, path: bu.Path, vc: vc}, nil
}

func (c *Client) signMode() bool { return c.cfg.AppID != "" }

// Login opens a session with ValidateUser (replacing any cached one). In
// signature mode it does nothing: every request is signed instead.
func (c *Client) Login(ctx context.Context) error {
	if c.signMode() {
		return nil
	}
	_, err := vendor.Retry(ctx, c.vc, OpLogin, func(ctx context.Context, call *vendor.Call) (struct{}, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return struct{}{}, c.loginLocked(ctx, call)
	})
	return err
}

// loginResult is the part of the ValidateUser answer the client reads.
type loginResult struct {
	Message         *string         `json:"Message"`
	LoginResultType json.RawMessage `json:"LoginResultType"`
	KDSVCSessionID  string          `json:"KDSVCSessionId"`
	Context         *struct {
		SessionID string `json:"SessionId"`
	} `json:"Context"`
}

// loginLocked performs one ValidateUser attempt; c.mu must be held.
func (c *Client) loginLocked(ctx context.Context, call *vendor.Call) error {
	payload := map[string]any{"acctid": c.cfg.AcctID, "username": c.cfg.Username, "password": c.cfg.Password, "lcid": c.cfg.LCID}
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("kingdee: marshal login: %w", err)
	}
	var sid, asp string
	_, err = call.Do(ctx, vendor.Request{
		Op: OpLogin, URL: c.base + ServiceValidateUser + ".common.kdsvc",
		Header:         http.Header{"Content-Type": {"application/json;charset=utf-8"}},
		Body:           body,
		AuditRequest:   vendor.RedactJSON(body, "password"),
		RedactResponse: vendor.RedactFunc("KDSVCSessionId", "SessionId", "Token", "UserToken", "AccessToken"),
	}, func(resp *vendor.Response) error {
		trimmed := vendor.TrimBody(resp.Body)
		if err := checkFailureLayers(resp, trimmed); err != nil {
			return err
		}
		var lr loginResult
		if err := json.Unmarshal(trimmed, &lr); err != nil {
			return vendor.Malformed(resp, "undecodable login answer", err)
		}
		if st := rawScalar(lr.LoginResultType); st != "1" {
			msg := "login rejected"
			if lr.Message != nil && *lr.Message != "" {
				msg = *lr.Message
			}
			if st == "" {
				return vendor.Malformed(resp, "login answer has no LoginResultType", nil)
			}
			return &vendor.Error{Kind: vendor.Permanent, Code: "LoginResultType=" + st, Message: msg}
		}
		sid = lr.KDSVCSessionID
		if sid == "" && lr.Context != nil {
			sid = lr.Context.SessionID
		}
		for _, ck := range (&http.Response{Header: resp.Header}).Cookies() {
			switch ck.Name {
			case sessionCookie:
				if sid == "" {
					sid = ck.Value
				}
			case "ASP.NET_SessionId":
				asp = ck.Value
			}
		}
		if sid == "" {
			return vendor.Malformed(resp, "login answer has no session id", nil)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.sid, c.aspSID, c.loggedIn = sid, asp, true
	c.gen++
	return nil
}

// session returns the headers that authenticate a business call and the
// session generation they belong to, logging in first if needed.
func (c *Client) session(ctx context.Context, call *vendor.Call, path string) (http.Header, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := http.Header{"Content-Type": {"application/json;charset=utf-8"}}
	if c.signMode() {
		ts := unixSeconds(c.cfg.Now().Unix())
		sh, err := SignHeaders(SignParams{AppID: c.cfg.AppID, AppSecret: c.cfg.AppSecret, AcctID: c.cfg.AcctID,
			Username: c.cfg.Username, LCID: c.cfg.LCID, OrgNum: c.cfg.OrgNum, Path: path, Timestamp: ts, Nonce: ts})
		if err != nil {
			return nil, 0, err
		}
		for k, v := range sh {
			h[k] = v
		}
	} else if !c.loggedIn {
		if err := c.loginLocked(ctx, call); err != nil {
			return nil, 0, err
		}
	}
	if c.sid != "" {
		h.Set(sessionCookie, c.sid)
		cookie := sessionCookie + "=" + c.sid
		if c.aspSID != "" {
			cookie += "; ASP.NET_SessionId=" + c.aspSID
		}
		h.Set("Cookie", cookie)
	}
	return h, c.gen, nil
}

// remember keeps a session cookie the server set on a signed request.
func (c *Client) remember(resp *vendor.Response) {
	if !c.signMode() || resp == nil {
		return
	}
	for _, ck := range (&http.Response{Header: resp.Header}).Cookies() {
		if ck.Name == sessionCookie && ck.Value != "" {
			c.mu.Lock()
			if c.sid != ck.Value {
				c.sid = ck.Value
				c.gen++
			}
			c.mu.Unlock()
		}
	}
}

// renew drops the session of generation gen (unless another goroutine has
// already replaced it) and, in password mode, logs in again.
func (c *Client) renew(ctx context.Context, call *vendor.Call, gen uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil
	}
	c.sid, c.aspSID, c.loggedIn = "", "", false
	c.gen++
	if c.signMode() {
		return nil
	}
	return c.loginLocked(ctx, call)
}

// invoke sends one business call within a retry loop: it authenticates,
// sends body to service, and on MsgCode 1 (session lost) renews the
// session once and replays. check decodes a successful answer.
func (c *Client) invoke(ctx context.Context, call *vendor.Call, op, service string, body []byte, check vendor.Check) error {
	path := c.path + service + ".common.kdsvc"
	send := func() (uint64, error) {
		h, gen, err := c.session(ctx, call, path)
		if err != nil {
			return 0, err
		}
		resp, err := call.Do(ctx, vendor.Request{Op: op, URL: c.base + service + ".common.kdsvc", Header: h, Body: body}, check)
		c.remember(resp)
		return gen, err
	}
	gen, err := send()
	if !vendor.IsReauth(err) {
		return err
	}
	if err := c.renew(ctx, call, gen); err != nil {
		return err
	}
	_, err = send()
	return err
}
