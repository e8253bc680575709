package kingdee

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
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
	data, _, err := env.data(false)
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

	rows := s.rows(filter, keys, hasEntry, order, startRow, end)
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
// address when entry fields are asked for, rows [start, end).
func (s *Server) rows(filter *node, keys []string, hasEntry bool, order string, start, end int) [][]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := [][]any{}
	n := 0 // rows produced so far, before paging
	emit := func(c *customer) bool {
		if !filter.eval(func(f string) any {
			v, _ := c.get(f)
			return v
		}) {
			return true
		}
		addrs := []*address{nil}
		if hasEntry && len(c.Addresses) > 0 {
			addrs = addrs[:0]
			for i := range c.Addresses {
				addrs = append(addrs, &c.Addresses[i])
			}
		}
		for _, a := range addrs {
			if end >= 0 && n >= end {
				return false
			}
			if n >= start {
				row := make([]any, len(keys))
				for i, k := range keys {
					if entryFields[k] {
						if a != nil {
							row[i] = jsonValue(a.get(k))
						} else {
							row[i] = " "
						}
						continue
					}
					v, _ := c.get(k)
					row[i] = jsonValue(v)
				}
				out = append(out, row)
			}
			n++
		}
		return true
	}
	indexed := func(f string) bool { return f == "FCUSTID" || f == "FNumber" || f == "F_out_id" }
	if field, vals, ok := filter.keyLookup(indexed); ok {
		var cands []*customer
		seen := map[int64]bool{}
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
		sort.Slice(cands, func(i, j int) bool { return customerLess(order)(cands[i], cands[j]) })
		if isIndexOrder(order) {
			sort.Slice(cands, func(i, j int) bool {
				return less(entry{cands[i].Modified, cands[i]}, entry{cands[j].Modified, cands[j]})
			})
		}
		for _, c := range cands {
			if !emit(c) {
				break
			}
		}
		return out
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
		return out
	}
	all := make([]*customer, 0, len(s.custs))
	for _, c := range s.custs {
		all = append(all, c)
	}
	lessFn := customerLess(order)
	sort.Slice(all, func(i, j int) bool { return lessFn(all[i], all[j]) })
	for _, c := range all {
		if !emit(c) {
			break
		}
	}
	return out
}
