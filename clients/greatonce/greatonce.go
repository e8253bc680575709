// Package greatonce is the client for the Greatonce OMS (巨益OMS) open API:
// signed POSTs to {base}/api/api.do with the system parameters in the query
// string and the bare business object as the body.
package greatonce

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
)

// VendorName labels Greatonce in errors, metrics and audit records.
const VendorName = "greatonce"

// Config configures a [Client]. Zero values take the vendor package defaults.
type Config struct {
	// BaseURL is the customer deployment's root; "/api/api.do" is appended.
	BaseURL string
	// AppKey, Secret and CustomerID are the open-API credentials.
	AppKey, Secret, CustomerID string
	// Transport holds the timeout, rate limit, retry, pool, metrics and
	// audit-hook settings, passed to the shared vendor layer as they are. Its
	// Hook receives every HTTP attempt (bodies only; never the query string).
	vendor.Transport
	// Now supplies the timestamp system parameter; defaults to time.Now.
	Now func() time.Time
	// Version, if set, is sent as the optional "v" system parameter.
	Version string
}

// Client calls the Greatonce open API. It is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	vc       *vendor.Client
}

// New validates cfg and builds a Client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" || cfg.AppKey == "" || cfg.Secret == "" {
		return nil, errors.New("greatonce: BaseURL, AppKey and Secret are required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("greatonce: BaseURL %q is not an absolute URL", cfg.BaseURL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	vc, err := vendor.New(vendor.Options{Vendor: VendorName, Transport: cfg.Transport})
	if err != nil {
		return nil, fmt.Errorf("greatonce: %w", err)
	}
	return &Client{cfg: cfg, endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/api/api.do", vc: vc}, nil
}

// Sign computes the Qimen-style signature: upper-case hex MD5 of
// secret + (sorted non-empty params except "sign", each key then value,
// no separators) + body + secret. body must be the exact bytes sent.
func Sign(secret string, params url.Values, body []byte) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "sign" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := md5.New()
	h.Write([]byte(secret))
	for _, k := range keys {
		v := params.Get(k)
		if v == "" {
			continue
		}
		h.Write([]byte(k))
		h.Write([]byte(v))
	}
	h.Write(body)
	h.Write([]byte(secret))
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// Call sends body (already marshalled JSON; signed byte for byte as sent)
// to the API method and returns the whole response envelope on success.
// Each retry is re-signed with a fresh timestamp. Failures are *vendor.Error:
// rate limiting, HTTP 429/5xx, a stale timestamp and undecodable bodies are
// transient; everything else the gateway rejects is permanent.
func (c *Client) Call(ctx context.Context, method string, body []byte) (json.RawMessage, error) {
	return vendor.Retry(ctx, c.vc, method, func(ctx context.Context, call *vendor.Call) (json.RawMessage, error) {
		params := url.Values{
			"appKey":      {c.cfg.AppKey},
			"customerId":  {c.cfg.CustomerID},
			"method":      {method},
			"timestamp":   {vendor.FormatDateTime(c.cfg.Now())},
			"format":      {"json"},
			"sign_method": {"md5"},
		}
		if c.cfg.Version != "" {
			params.Set("v", c.cfg.Version)
		}
		if c.cfg.CustomerID == "" {
			params.Del("customerId")
		}
		params.Set("sign", Sign(c.cfg.Secret, params, body))
		resp, err := call.Do(ctx, vendor.Request{
			Op:     method,
			URL:    c.endpoint + "?" + params.Encode(),
			Header: http.Header{"Content-Type": {"application/json;charset=utf-8"}, "Accept": {"application/json"}},
			Body:   body,
		}, checkEnvelope)
		if err != nil {
			return nil, err
		}
		return json.RawMessage(vendor.TrimBody(resp.Body)), nil
	})
}

// envelope is the gateway answer: code (string or number), flag, status, message.
type envelope struct {
	Code    json.RawMessage `json:"code"`
	Flag    json.RawMessage `json:"flag"`
	Status  json.RawMessage `json:"status"`
	Message json.RawMessage `json:"message"`
	Msg     json.RawMessage `json:"msg"`
}

// scalar renders a JSON string, number or bool as text; null/absent is "".
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	return string(raw)
}

// checkEnvelope classifies a gateway response.
func checkEnvelope(resp *vendor.Response) error {
	body := vendor.TrimBody(resp.Body)
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return vendor.Malformed(resp, "undecodable response envelope", err)
	}
	code, flag, status := scalar(env.Code), strings.ToLower(scalar(env.Flag)), strings.ToLower(scalar(env.Status))
	msg := scalar(env.Message)
	if msg == "" {
		msg = scalar(env.Msg)
	}
	var ok bool
	switch {
	case code != "":
		ok = code == "0"
	case flag != "":
		ok = flag == "success"
	case status != "":
		ok = status == "success" || status == "ok" || status == "0" || status == "true" || status == "200"
	default:
		return vendor.Malformed(resp, "response has no code, flag or status", nil)
	}
	if ok && resp.Status < 300 {
		return nil
	}
	if code == "" {
		code = flag
		if code == "" {
			code = status
		}
	}
	return &vendor.Error{Kind: classify(resp.Status, msg), Code: code, Message: msg, HTTPStatus: resp.Status,
		RetryAfter: vendor.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Throttled:  resp.Status == http.StatusTooManyRequests || strings.Contains(msg, MsgRateLimited)}
}

// Messages the gateway sends that the client acts on.
const (
	MsgRateLimited    = "访问过于频繁"
	MsgStaleTimestamp = "时间戳已过期"
	MsgAlreadyExists  = "分销商编码已存在"
	MsgNotFound       = "分销商不存在"
	MsgBadSign        = "签名错误"
)

// classify decides retryability by HTTP status and message, not by code.
func classify(httpStatus int, msg string) vendor.Kind {
	if httpStatus == http.StatusTooManyRequests || httpStatus >= 500 {
		return vendor.Transient
	}
	// Gateway answers that can succeed when retried (a retry is re-signed
	// with a fresh timestamp, which cures a stale one).
	for _, m := range [...]string{MsgRateLimited, MsgStaleTimestamp, "系统繁忙", "服务繁忙", "请稍后再试", "稍后重试", "超时"} {
		if strings.Contains(msg, m) {
			return vendor.Transient
		}
	}
	return vendor.Permanent
}

// IsAlreadyExists reports whether err is the gateway's "distributor code
// already exists" answer to an add.
func IsAlreadyExists(err error) bool { return hasMessage(err, MsgAlreadyExists) }

// IsNotFound reports whether err is the gateway's "distributor does not
// exist" answer to an update.
func IsNotFound(err error) bool { return hasMessage(err, MsgNotFound) }

func hasMessage(err error, m string) bool {
	var ve *vendor.Error
	return errors.As(err, &ve) && ve.Vendor == VendorName && strings.Contains(ve.Message, m)
}
