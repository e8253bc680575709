package kingdee

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/syncgate/syncgate/clients/vendor"
)

// MsgCode values the client acts on (see the spec's table).
const (
	MsgCodeContextLost     = 1
	MsgCodeValidation      = 11
	MsgCodeNetworkConflict = 13
	MsgCodeCallLimit       = 14
)

// responseStatus is Result.ResponseStatus.
type responseStatus struct {
	ErrorCode       json.RawMessage `json:"ErrorCode"`
	IsSuccess       json.RawMessage `json:"IsSuccess"`
	Errors          []statusError   `json:"Errors"`
	SuccessEntitys  []successEntity `json:"SuccessEntitys"`
	SuccessMessages json.RawMessage `json:"SuccessMessages"`
	MsgCode         json.RawMessage `json:"MsgCode"`
}

type statusError struct {
	FieldName *string         `json:"FieldName"`
	Message   string          `json:"Message"`
	DIndex    json.RawMessage `json:"DIndex"`
}

type successEntity struct {
	ID     json.RawMessage `json:"Id"`
	Number json.RawMessage `json:"Number"`
	DIndex json.RawMessage `json:"DIndex"`
}

// resultEnvelope is {"Result":{"ResponseStatus":{...},"Id":..,"Number":..}}.
type resultEnvelope struct {
	Result *struct {
		ResponseStatus *responseStatus `json:"ResponseStatus"`
		ID             json.RawMessage `json:"Id"`
		Number         json.RawMessage `json:"Number"`
	} `json:"Result"`
}

// rawScalar renders a JSON scalar (string, number, bool) as text; null or
// absent gives "".
func rawScalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return strings.TrimSpace(s)
		}
	}
	return string(raw)
}

func rawInt(raw json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(rawScalar(raw), 10, 64)
	return n, err == nil
}

func (s *responseStatus) msgCode() int {
	n, _ := rawInt(s.MsgCode)
	return int(n)
}

func (s *responseStatus) success() bool {
	v := strings.ToLower(rawScalar(s.IsSuccess))
	return v == "true" || v == "1"
}

// message joins the error messages.
func (s *responseStatus) message() string {
	var ms []string
	for _, e := range s.Errors {
		if m := strings.TrimSpace(e.Message); m != "" {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, "; ")
}

// kindOf classifies a MsgCode (and the session-lost message, which some
// servers send with another code).
func kindOf(code int, msg string) vendor.Kind {
	switch {
	case code == MsgCodeContextLost || strings.Contains(msg, "会话信息已丢失"):
		return vendor.Reauth
	case code == MsgCodeNetworkConflict || code == MsgCodeCallLimit:
		return vendor.Transient
	default:
		return vendor.Permanent
	}
}

// statusError builds the whole-call error of a failed ResponseStatus.
func (s *responseStatus) err() *vendor.Error {
	code := s.msgCode()
	msg := s.message()
	return &vendor.Error{Kind: kindOf(code, msg), Code: strconv.Itoa(code), Message: msg, Throttled: code == MsgCodeCallLimit}
}

// checkFailureLayers recognises the failure layers around the JSON API:
// `response_error:` bodies, HTML pages, empty bodies, ShowErrMsg objects and
// other non-200 statuses. It returns nil when body may be a normal answer.
func checkFailureLayers(resp *vendor.Response, body []byte) error {
	if bytes.HasPrefix(body, []byte("response_error:")) {
		msg := strings.TrimSpace(string(body[len("response_error:"):]))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return &vendor.Error{Kind: vendor.Transient, Code: "response_error", Message: msg}
	}
	if resp.Status != http.StatusOK {
		msg := showErrMessage(body)
		if msg == "" {
			msg = "unexpected HTTP status (wrong data center id?)"
		}
		// 429 and 5xx were already classified transient by the vendor layer
		// (which keeps this message); other statuses, such as 404 for an
		// unknown data center, will not heal by retrying.
		return &vendor.Error{Kind: vendor.Permanent, Code: "http_status", Message: msg}
	}
	switch {
	case len(body) == 0:
		return vendor.Malformed(resp, "empty body", nil)
	case vendor.LooksLikeHTML(body):
		return vendor.Malformed(resp, "", nil)
	}
	return nil
}

// showErrMessage extracts the message of a {"actionname":"ShowErrMsg",...}
// object, if body is one.
func showErrMessage(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return findMessage(m, 0)
}

func findMessage(v any, depth int) string {
	m, ok := v.(map[string]any)
	if !ok || depth > 3 {
		return ""
	}
	for k, x := range m {
		if s, ok := x.(string); ok && strings.EqualFold(k, "message") && s != "" {
			return s
		}
	}
	for _, x := range m {
		if s := findMessage(x, depth+1); s != "" {
			return s
		}
	}
	return ""
}

// unwrapError returns the ResponseStatus of an error answer: either a
// {"Result":...} object or the same wrapped as [[{...}]] (ExecuteBillQuery).
func unwrapError(body []byte) (*responseStatus, bool) {
	b := bytes.TrimSpace(body)
	for len(b) > 0 && b[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(b, &arr) != nil || len(arr) != 1 {
			return nil, false
		}
		b = bytes.TrimSpace(arr[0])
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var env resultEnvelope
	if json.Unmarshal(b, &env) != nil || env.Result == nil || env.Result.ResponseStatus == nil {
		return nil, false
	}
	return env.Result.ResponseStatus, true
}
