package kingdee

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/syncgate/syncgate/clients/vendor"
)

// DefaultPageSize is the page size [Client.Rows] uses when Query.Limit is 0
// (2000 suits older servers; newer ones accept up to 10000).
const DefaultPageSize = 2000

// Query is an ExecuteBillQuery request.
type Query struct {
	// FormID is the business object, e.g. "BD_Customer".
	FormID string
	// FieldKeys are the columns; rows are keyed by these exact strings
	// (dots included, e.g. "FUseOrgId.FNumber").
	FieldKeys []string
	// Filter is the FilterString, made with the builder ([Eq], [In], [And], ...); the zero
	// Filter reads every row.
	Filter Filter
	// OrderBy is the OrderString, e.g. "FModifyDate ASC, FCUSTID ASC".
	OrderBy string
	// StartRow is the 0-based first row.
	StartRow int
	// Limit is the page size; 0 means no limit for QueryPage and
	// [DefaultPageSize] for Rows.
	Limit int
	// TopRowCount is an absolute end row (0 = no cap). QueryPage sends it as
	// is; Rows enforces it itself (see [Client.Rows]).
	TopRowCount int
}

// queryData is the ExecuteBillQuery "data" object.
type queryData struct {
	FormID       string `json:"FormId"`
	FieldKeys    string `json:"FieldKeys"`
	FilterString string `json:"FilterString"`
	OrderString  string `json:"OrderString"`
	TopRowCount  int    `json:"TopRowCount"`
	StartRow     int    `json:"StartRow"`
	Limit        int    `json:"Limit"`
	SubSystemID  string `json:"SubSystemId"`
}

// Row is one result row keyed by the query's FieldKeys strings. Values are
// string, json.Number, bool or nil as the server sent them; read them with
// the tolerant helpers.
type Row map[string]any

// QueryPage runs one ExecuteBillQuery call and returns its rows.
func (c *Client) QueryPage(ctx context.Context, q Query) ([]Row, error) {
	if q.FormID == "" || len(q.FieldKeys) == 0 {
		return nil, &vendor.Error{Vendor: VendorName, Op: OpExecuteBillQuery, Kind: vendor.Permanent,
			Code: "invalid_request", Message: "FormID and FieldKeys are required"}
	}
	filter, err := q.Filter.Build()
	if err != nil { // a client-side mistake: never sent
		return nil, &vendor.Error{Vendor: VendorName, Op: OpExecuteBillQuery, Kind: vendor.Permanent,
			Code: "invalid_filter", Message: "the filter cannot be built", Err: err}
	}
	body, err := json.Marshal(map[string]any{"data": queryData{
		FormID: q.FormID, FieldKeys: strings.Join(q.FieldKeys, ","), FilterString: filter, OrderString: q.OrderBy,
		TopRowCount: q.TopRowCount, StartRow: q.StartRow, Limit: q.Limit,
	}})
	if err != nil {
		return nil, fmt.Errorf("kingdee: marshal query: %w", err)
	}
	return vendor.Retry(ctx, c.vc, OpExecuteBillQuery, func(ctx context.Context, call *vendor.Call) ([]Row, error) {
		var rows []Row
		err := c.invoke(ctx, call, OpExecuteBillQuery, ServiceExecuteBillQuery, body, func(resp *vendor.Response) error {
			var err error
			rows, err = decodeRows(resp, q.FieldKeys)
			return err
		})
		return rows, err
	})
}

// decodeRows parses an ExecuteBillQuery answer: rows as arrays in FieldKeys
// order, or an error status (usually wrapped as [[{"Result":...}]]).
func decodeRows(resp *vendor.Response, keys []string) ([]Row, error) {
	body := vendor.TrimBody(resp.Body)
	if err := checkFailureLayers(resp, body); err != nil {
		return nil, err
	}
	// A page of rows holding text, numbers, booleans and nulls (every successful answer) is read in
	// one pass; anything else (an error status, an object among the values, a malformed body) takes
	// the general path below, which decides exactly as before.
	if rows, ok := scanRows(body, keys); ok {
		return rows, nil
	}
	return decodeRowsGeneral(resp, body, keys)
}

// decodeRowsGeneral is decodeRows for any body: error statuses first, then rows of any JSON values.
func decodeRowsGeneral(resp *vendor.Response, body []byte, keys []string) ([]Row, error) {
	if st, ok := unwrapError(body); ok {
		return nil, st.err()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw [][]any
	if err := dec.Decode(&raw); err != nil {
		return nil, vendor.Malformed(resp, "undecodable query rows", err)
	}
	if dec.More() {
		return nil, vendor.Malformed(resp, "trailing data after query rows", nil)
	}
	rows := make([]Row, len(raw))
	for i, vals := range raw {
		if len(vals) != len(keys) {
			return nil, vendor.Malformed(resp, fmt.Sprintf("row %d has %d values for %d field keys", i, len(vals), len(keys)), nil)
		}
		r := make(Row, len(keys))
		for j, k := range keys {
			r[k] = vals[j]
		}
		rows[i] = r
	}
	return rows, nil
}

// scanRows reads body as an array of rows of len(keys) scalar values, decoded as encoding/json
// with UseNumber decodes them (text, json.Number, bool, nil); ok is false for any other body. It
// uses the jsontext tokenizer (see clients/zhilong/decode.go for the choice): one pass, no
// reflection, one map per row.
func scanRows(body []byte, keys []string) (rows []Row, ok bool) {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	if dec.PeekKind() != '[' {
		return nil, false
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, false
	}
	for dec.PeekKind() != ']' {
		if dec.PeekKind() != '[' {
			return nil, false
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, false
		}
		r := make(Row, len(keys))
		n := 0
		for dec.PeekKind() != ']' {
			v, err := dec.ReadValue()
			if err != nil || n >= len(keys) {
				return nil, false
			}
			val, ok := scalar(v)
			if !ok {
				return nil, false
			}
			r[keys[n]] = val
			n++
		}
		if _, err := dec.ReadToken(); err != nil || n != len(keys) {
			return nil, false
		}
		rows = append(rows, r)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, false
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, false
	}
	if rows == nil {
		rows = []Row{}
	}
	return rows, true
}

// scalar decodes a JSON text, number, boolean or null as encoding/json with UseNumber does; ok is
// false for an object or array.
func scalar(v jsontext.Value) (any, bool) {
	switch v.Kind() {
	case '"':
		if s := v[1 : len(v)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
			return string(s), true
		}
		var s string // escapes or invalid UTF-8: exactly as encoding/json unquotes
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, false
		}
		return s, true
	case '0':
		return json.Number(v), true
	case 't':
		return true, true
	case 'f':
		return false, true
	case 'n':
		return nil, true
	}
	return nil, false
}

// Rows streams the query's rows page by page: StartRow advances by Limit
// until a page comes back shorter than requested. TopRowCount, an absolute
// end row on the server that empties pages whose StartRow lies beyond it,
// is never sent while paging: Rows shortens the last page and stops at it
// itself. After an error it yields the error and stops.
func (c *Client) Rows(ctx context.Context, q Query) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		limit := q.Limit
		if limit <= 0 {
			limit = DefaultPageSize
		}
		end := q.TopRowCount
		for start := q.StartRow; end <= 0 || start < end; start += limit {
			page := q
			page.StartRow, page.Limit, page.TopRowCount = start, limit, 0
			if end > 0 && end-start < limit {
				page.Limit = end - start
			}
			rows, err := c.QueryPage(ctx, page)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range rows {
				if !yield(r, nil) {
					return
				}
			}
			if len(rows) < page.Limit {
				return
			}
		}
	}
}

// String returns the value as text: "" for absent, null and blank (the
// server's " " for empty), numbers in their JSON form, bools as true/false.
func (r Row) String(key string) string {
	switch v := r[key].(type) {
	case nil:
		return ""
	case string:
		if strings.TrimSpace(v) == "" {
			return ""
		}
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Int64 returns an integer sent as a number or a string; absent, null and
// blank give 0 and no error.
func (r Row) Int64(key string) (int64, error) {
	s := strings.TrimSpace(r.String(key))
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != float64(int64(f)) {
		return 0, fmt.Errorf("kingdee: %s = %q is not an integer", key, s)
	}
	return int64(f), nil
}

// Float64 returns a number sent as a number or a string; absent, null and
// blank give 0 and no error.
func (r Row) Float64(key string) (float64, error) {
	s := strings.TrimSpace(r.String(key))
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("kingdee: %s = %q is not a number", key, s)
	}
	return f, nil
}

// Bool reads a check box sent as true/false, 1/0 or "1"/"0"; blank is false.
func (r Row) Bool(key string) (bool, error) {
	switch s := strings.ToLower(strings.TrimSpace(r.String(key))); s {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, fmt.Errorf("kingdee: %s = %q is not a boolean", key, s)
	}
}

// Time parses a datetime sent without a zone ("2024-04-11T23:52:02.583"
// or "2024-04-11 23:52:02") as GMT+8; an explicit zone is honoured.
// Absent, null and blank give the zero time and no error.
func (r Row) Time(key string) (time.Time, error) {
	s := strings.TrimSpace(r.String(key))
	if s == "" {
		return time.Time{}, nil
	}
	return ParseTime(s)
}

// ParseTime parses a Kingdee datetime (see [Row.Time]) with the vendors'
// shared parser, [vendor.ParseDateTime]; a blank string gives the zero time.
func ParseTime(s string) (time.Time, error) {
	t, err := vendor.ParseDateTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("kingdee: %w", err)
	}
	return t, nil
}
