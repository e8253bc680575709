package kingdee

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/syncgate/syncgate/mocks/internal/jsonw"
)

// intParam reads a number that may arrive as a JSON number or a string.
func intParam(raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if strings.TrimSpace(s) == "" {
			return 0, nil
		}
		return strconv.Atoi(strings.TrimSpace(s))
	}
	var n int
	err := json.Unmarshal(raw, &n)
	return n, err
}

// filterFromArray turns the array form [{"Left":"(","FieldName":…,"Compare":"67","Value":…,"Right":")","Logic":0}]
// into FilterString text.
func filterFromArray(raw json.RawMessage) (string, error) {
	var items []struct {
		Left, FieldName, Compare, Right string
		Value                           any
		Logic                           int
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return "", err
	}
	ops := map[string]string{"67": "=", "83": "<>", "17": ">", "16": ">=", "21": "<", "22": "<=", "=": "=", ">": ">", "<": "<", ">=": ">=", "<=": "<=", "<>": "<>"}
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			if items[i-1].Logic == 1 {
				b.WriteString(" or ")
			} else {
				b.WriteString(" and ")
			}
		}
		op, ok := ops[it.Compare]
		if !ok {
			return "", fmt.Errorf("unknown Compare %q", it.Compare)
		}
		val := fmt.Sprint(it.Value)
		if _, isNum := it.Value.(float64); !isNum {
			val = "'" + strings.ReplaceAll(val, "'", "''") + "'"
		}
		fmt.Fprintf(&b, "%s%s %s %s%s", it.Left, it.FieldName, op, val, it.Right)
	}
	return b.String(), nil
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return nil
		}
		return x.In(gmt8).Format("2006-01-02T15:04:05.999")
	case string:
		if x == "" {
			return " " // Kingdee sends a blank for empty text
		}
	}
	return v
}

func (s *Server) query(c echo.Context, endpoint string, env envelope) error {
	fail := func(code int, msg string) error {
		return c.JSON(http.StatusOK, wrapIfQuery(endpoint, failure(endpoint, code, "", msg, 0)))
	}
	data, _, err := env.data()
	if err != nil {
		return fail(8, err.Error())
	}
	var form, keysText, order string
	_ = json.Unmarshal(data["formid"], &form)
	_ = json.Unmarshal(data["fieldkeys"], &keysText)
	_ = json.Unmarshal(data["orderstring"], &order)
	if form == "" {
		return fail(5, "表单Id为空")
	}
	if !strings.EqualFold(form, "BD_Customer") {
		return fail(4, fmt.Sprintf("标识为“%s”的业务对象不存在，或者被删除", form))
	}
	var keys []string
	for _, k := range strings.Split(keysText, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return fail(8, "FieldKeys不能为空")
	}
	probe := &customer{}
	hasEntry := false
	for _, k := range keys {
		if entryFields[k] {
			hasEntry = true
			continue
		}
		if _, ok := probe.get(k); !ok {
			return fail(9, fmt.Sprintf("元数据中标识为%s的字段不存在", k))
		}
	}
	filterText := ""
	if raw := data["filterstring"]; len(raw) > 0 && raw[0] == '[' {
		if filterText, err = filterFromArray(raw); err != nil {
			return fail(4, "过滤条件错误: "+err.Error())
		}
	} else {
		_ = json.Unmarshal(raw, &filterText)
	}
	filter, err := parseFilter(filterText)
	if err != nil {
		return fail(4, "过滤条件错误: "+err.Error())
	}
	fields := map[string]bool{}
	filter.fields(fields)
	for f := range fields {
		if _, ok := probe.get(f); !ok && !entryFields[f] {
			return fail(9, fmt.Sprintf("元数据中标识为%s的字段不存在", f))
		}
	}
	startRow, err1 := intParam(data["startrow"])
	limit, err2 := intParam(data["limit"])
	top, err3 := intParam(data["toprowcount"])
	if err1 != nil || err2 != nil || err3 != nil || startRow < 0 || limit < 0 || top < 0 {
		return fail(8, "StartRow/Limit/TopRowCount 参数错误")
	}
	end := -1 // exclusive end row, -1: none
	if limit > 0 {
		end = startRow + limit
	}
	if top > 0 && (end < 0 || top < end) {
		end = top // TopRowCount is an absolute end row
	}

	isEntry := make([]bool, len(keys))
	for j, k := range keys {
		isEntry[j] = entryFields[k]
	}
	if endpoint == EndpointQuery && !prettyJSON(c) {
		// Rows as arrays, encoded by hand: the bytes encoding/json gives for [][]any, newline included.
		buf := jsonw.GetBuffer()
		defer jsonw.PutBuffer(buf)
		b := append(*buf, '[')
		first := true
		s.rows(filter, hasEntry, order, startRow, end, func(cu *customer, a *address) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, '[')
			for j, k := range keys {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendValue(b, rowValue(cu, a, k, isEntry[j]))
			}
			b = append(b, ']')
		})
		b = append(b, "]\n"...)
		*buf = b
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
	}
	rows := [][]any{}
	s.rows(filter, hasEntry, order, startRow, end, func(cu *customer, a *address) {
		row := make([]any, len(keys))
		for j, k := range keys {
			row[j] = jsonValue(rowValue(cu, a, k, isEntry[j]))
		}
		rows = append(rows, row)
	})
	if endpoint == EndpointBillQuery {
		objs := make([]map[string]any, len(rows))
		for i, r := range rows {
			o := make(map[string]any, len(keys))
			for j, k := range keys {
				o[k] = r[j]
			}
			objs[i] = o
		}
		return c.JSON(http.StatusOK, objs)
	}
	return c.JSON(http.StatusOK, rows)
}

// prettyJSON reports whether echo's c.JSON would indent the answer (debug mode or ?pretty); the
// hand-encoded answers step aside then.
func prettyJSON(c echo.Context) bool {
	_, pretty := c.QueryParams()["pretty"]
	return pretty || c.Echo().Debug
}

// rowValue is the value of field key in the row of customer c and address a (nil: no address row),
// before jsonValue: entry fields of a customer without an address row answer " ".
func rowValue(c *customer, a *address, key string, entry bool) any {
	if entry {
		if a != nil {
			return a.get(key)
		}
		return " "
	}
	v, _ := c.get(key)
	return v
}

// appendValue appends jsonValue(v) as encoding/json would encode it.
func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return append(dst, "null"...)
		}
		// Digits, '-', 'T', ':' and '.': nothing to escape.
		return append(x.In(gmt8).AppendFormat(append(dst, '"'), "2006-01-02T15:04:05.999"), '"')
	case string:
		if x == "" {
			return append(dst, `" "`...)
		}
	}
	return jsonw.Value(dst, v)
}

func customerLess(order string) func(a, b *customer) bool {
	type key struct {
		field string
		desc  bool
	}
	var ks []key
	for _, part := range strings.Split(order, ",") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		ks = append(ks, key{f[0], len(f) > 1 && strings.EqualFold(f[1], "desc")})
	}
	return func(a, b *customer) bool {
		for _, k := range ks {
			va, _ := a.get(k.field)
			vb, _ := b.get(k.field)
			c := compareValues(va, vb)
			if c != 0 {
				return c < 0 != k.desc
			}
		}
		return a.ID < b.ID
	}
}

func compareValues(a, b any) int {
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y) // what comparing fmt.Sprint of both gives
		}
	case int64:
		y, _ := b.(int64)
		return cmpFloat(float64(x), float64(y))
	case time.Time:
		y, _ := b.(time.Time)
		return x.Compare(y)
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func isIndexOrder(order string) bool {
	o := strings.ToLower(strings.Join(strings.Fields(order), " "))
	return o == "" || o == "fmodifydate asc, fcustid asc" || o == "fmodifydate, fcustid" || o == "fmodifydate asc,fcustid asc" || o == "fmodifydate asc"
}

// rows evaluates a query: candidates from an index when the filter allows, rows in order, one row per
// address when entry fields are asked for, rows [start, end). It calls row for each, under the read
// lock (a nil address: the customer's row without an address).
func (s *Server) rows(filter *node, hasEntry bool, order string, start, end int, row func(c *customer, a *address)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0 // rows produced so far, before paging
	emit := func(c *customer) bool {
		if !filter.eval(func(f string) any {
			v, _ := c.get(f)
			return v
		}) {
			return true
		}
		if !hasEntry || len(c.Addresses) == 0 {
			if end >= 0 && n >= end {
				return false
			}
			if n >= start {
				row(c, nil)
			}
			n++
			return true
		}
		for i := range c.Addresses {
			if end >= 0 && n >= end {
				return false
			}
			if n >= start {
				row(c, &c.Addresses[i])
			}
			n++
		}
		return true
	}
	indexed := func(f string) bool { return f == "FCUSTID" || f == "FNumber" || f == "F_out_id" }
	if field, vals, ok := filter.keyLookup(indexed); ok {
		var cands []*customer
		seen := make(map[int64]bool, len(vals))
		for _, v := range vals {
			var c *customer
			switch field {
			case "FCUSTID":
				id, _ := strconv.ParseInt(v.s, 10, 64)
				c = s.custs[id]
			case "FNumber":
				c = s.byNumber[v.s]
			case "F_out_id":
				c = s.byOutID[v.s]
			}
			if c != nil && !seen[c.ID] {
				seen[c.ID] = true
				cands = append(cands, c)
			}
		}
		// Both orders are total (ties end on FCUSTID), so any sort gives the same sequence.
		if isIndexOrder(order) {
			slices.SortFunc(cands, func(a, b *customer) int {
				return cmpEntry(entry{a.Modified, a}, entry{b.Modified, b})
			})
		} else {
			lessFn := customerLess(order)
			slices.SortFunc(cands, func(a, b *customer) int { return cmpLess(lessFn, a, b) })
		}
		for _, c := range cands {
			if !emit(c) {
				break
			}
		}
		return
	}
	if isIndexOrder(order) {
		i := 0
		if t, ok := filter.lowerBound("FModifyDate"); ok {
			i = s.ix.from(t)
		}
		for ; i < len(s.ix.entries); i++ {
			e := s.ix.entries[i]
			if e.stale() {
				continue
			}
			if !emit(e.c) {
				break
			}
		}
		return
	}
	all := make([]*customer, 0, len(s.custs))
	for _, c := range s.custs {
		all = append(all, c)
	}
	lessFn := customerLess(order)
	slices.SortFunc(all, func(a, b *customer) int { return cmpLess(lessFn, a, b) })
	for _, c := range all {
		if !emit(c) {
			break
		}
	}
}

// cmpLess turns a strict "less" into a three-way comparison.
func cmpLess(less func(a, b *customer) bool, a, b *customer) int {
	switch {
	case less(a, b):
		return -1
	case less(b, a):
		return 1
	}
	return 0
}

// cmpEntry is less as a three-way comparison.
func cmpEntry(a, b entry) int {
	if c := a.mod.Compare(b.mod); c != 0 {
		return c
	}
	return cmp.Compare(a.c.ID, b.c.ID)
}
