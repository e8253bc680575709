package zhilong

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/syncgate/syncgate/clients/vendor"
)

// This file keeps the encoding/json + reflection decoder that the jsontext
// decoder replaced, unchanged in behaviour, as the reference the tests and
// the fuzz test compare against.

// refRuoYi is the RuoYi AjaxResult / TableDataInfo envelope.
type refRuoYi struct {
	Code  json.RawMessage   `json:"code"`
	Msg   string            `json:"msg"`
	Token string            `json:"token"`
	Total json.RawMessage   `json:"total"`
	Rows  []json.RawMessage `json:"rows"`
}

// refDecode parses a RuoYi body and classifies a non-200 body code.
func refDecode(op string, resp *vendor.Response) (*refRuoYi, error) {
	var r refRuoYi
	if err := json.Unmarshal(vendor.TrimBody(resp.Body), &r); err != nil {
		return nil, vendor.Malformed(resp, "undecodable response", err)
	}
	code := strings.Trim(string(bytes.TrimSpace(r.Code)), `"`)
	if code == "" || code == "null" {
		return nil, vendor.Malformed(resp, "response has no code", nil)
	}
	if code == "200" {
		return &r, nil
	}
	e := &vendor.Error{Code: code, Message: r.Msg}
	switch {
	case code == "401":
		e.Kind = vendor.Reauth
	case code == "403":
		e.Kind = vendor.Permanent
	case op == OpLogin && (strings.Contains(r.Msg, "密码") || strings.Contains(r.Msg, "用户")):
		e.Kind = vendor.Permanent
	case code == "429" || code == "500" || code == "502" || code == "503" || code == "504":
		e.Kind = vendor.Transient
	default:
		e.Kind = vendor.Permanent
	}
	return nil, e
}

// refDecodeList is what Page did with a list answer.
func refDecodeList(resp *vendor.Response) ([]Agent, int, error) {
	r, err := refDecode(OpList, resp)
	if err != nil {
		return nil, 0, err
	}
	total, err := refParseTotal(r.Total)
	if err != nil {
		return nil, 0, vendor.Malformed(resp, "bad total", err)
	}
	rows := make([]Agent, len(r.Rows))
	for i, raw := range r.Rows {
		if err := refDecodeAgent(raw, &rows[i]); err != nil {
			return nil, 0, vendor.Malformed(resp, fmt.Sprintf("bad agent row %d", i), err)
		}
	}
	return rows, total, nil
}

// refParseTotal reads total sent as a number or a string.
func refParseTotal(raw json.RawMessage) (int, error) {
	s := strings.Trim(string(bytes.TrimSpace(raw)), `"`)
	if s == "" || s == "null" {
		return 0, errors.New("total missing")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("total %q is not a count", s)
	}
	return int(n), nil
}

// refAgentFields maps JSON names to struct field indexes of Agent.
func refAgentFields() map[string]int {
	t := reflect.TypeFor[Agent]()
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

var refAgentFieldIndex = sync.OnceValue(refAgentFields)

// refDecodeAgent fills a from one JSON row tolerantly (see [Agent]).
func refDecodeAgent(raw json.RawMessage, a *Agent) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	if obj == nil {
		return errors.New("row is null")
	}
	fields := refAgentFieldIndex()
	v := reflect.ValueOf(a).Elem()
	for name, val := range obj {
		i, ok := fields[name]
		if !ok {
			continue
		}
		f := v.Field(i)
		val = bytes.TrimSpace(val)
		switch f.Interface().(type) {
		case json.RawMessage:
			if len(val) > 0 && string(val) != "null" {
				f.SetBytes(append([]byte(nil), val...))
			}
		case string:
			f.SetString(refText(val))
		}
	}
	a.Raw = append(json.RawMessage(nil), raw...)
	return nil
}

// refFields is the reflection version of Agent.Fields.
func refFields(a Agent) map[string]any {
	v := reflect.ValueOf(a)
	out := make(map[string]any, len(refAgentFieldIndex()))
	for name, i := range refAgentFieldIndex() {
		switch x := v.Field(i).Interface().(type) {
		case string:
			out[name] = x
		case json.RawMessage:
			var dec any
			if len(x) > 0 {
				_ = json.Unmarshal(x, &dec)
			}
			out[name] = dec
		}
	}
	return out
}

// refText renders a JSON value as the string the seed expects.
func refText(val json.RawMessage) string {
	if len(val) == 0 || string(val) == "null" {
		return ""
	}
	if val[0] == '"' {
		if len(val) >= 2 && val[len(val)-1] == '"' && bytes.IndexByte(val, '\\') < 0 {
			return string(val[1 : len(val)-1])
		}
		var s string
		if json.Unmarshal(val, &s) == nil {
			return s
		}
	}
	return string(val)
}
