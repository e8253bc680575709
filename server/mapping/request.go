package mapping

import (
	"fmt"
	"strconv"
	"strings"
)

// KeysetOrder is the only OrderString a keyset read can page with: (FModifyDate, FCUSTID) ascending,
// the order its cursor condition continues from.
const KeysetOrder = "FModifyDate ASC, FCUSTID ASC"

// keysetRequestCheck checks a keyset-paged flow's source.request (customers: the ExecuteBillQuery
// parameters) for what its read can do with it. The request is rendered once, with the page size and
// a start row of 0 (the only variables it may use, see requestVars), so its values are checked here
// as they will be rendered:
//   - Limit: blank or 0 (the configured page size), or a whole number of rows per page;
//   - StartRow and TopRowCount: blank or 0 — a keyset read continues from its cursor, not from a row
//     number;
//   - OrderString: blank or [KeysetOrder] (spaces and letter case aside);
//   - FieldKeys: comma-separated header source fields of the flow (not sub-record fields, which
//     would turn one row per customer into one per address).
//
// FilterString and FormId are taken as rendered; the flow checks the filter's text when it starts.
func (c *compiler) keysetRequestCheck(s *Spec) {
	src := lookup(c.root, "source")
	compiled := map[string]*compiledField{}
	for i := range s.request {
		compiled[s.request[i].name] = &s.request[i]
	}
	// Every variable it may use, at a value that shows a misplaced one: a page size where a start
	// row belongs renders as a number that is not 0.
	vars := Vars{PageSize: 1000, StartRow: 0}
	for i, fd := range c.f.Source.Request {
		cf := compiled[fd.Name]
		if cf == nil {
			continue // reported already
		}
		n := item(lookup(src, "request"), i)
		at := orNode(lookup(n, "template"), n)
		problem := func(format string, args ...any) {
			pr := &Problem{File: c.name, Section: "request", Field: fd.Name, Msg: fmt.Sprintf(format, args...)}
			if at != nil {
				pr.Line, pr.Col = at.Line, at.Column
			}
			c.problems = append(c.problems, pr)
		}
		v, _, err := cf.render(nil, vars)
		if err != nil {
			problem("%v", err)
			continue
		}
		text := strings.TrimSpace(fmt.Sprint(v))
		switch fd.Name {
		case "Limit":
			if n, err := strconv.Atoi(text); text != "" && (err != nil || n < 0) {
				problem("%q is not a page size (a whole number of rows; blank or 0: the configured page size)", text)
			}
		case "StartRow", "TopRowCount":
			if text != "" && text != "0" {
				problem("renders %q: keyset paging reads from the cursor; StartRow/TopRowCount are not supported (leave it blank or 0)", text)
			}
		case "OrderString":
			if text != "" && !strings.EqualFold(normalOrder(text), KeysetOrder) {
				problem("%q: keyset paging needs the order %q (or leave it blank)", text, KeysetOrder)
			}
		case "FieldKeys":
			for _, k := range SplitFieldKeys(text) {
				switch {
				case c.sc.source[k]:
				case c.sc.entry[k]:
					problem("%q is a sub-record field: list it under source.entry_fields", k)
				default:
					problem("%q is not a %s source field%s", k, c.f.Flow, c.suggest(k))
				}
			}
		}
	}
}

// normalOrder writes an OrderString with one space between words and ", " between its terms.
func normalOrder(s string) string {
	terms := strings.Split(s, ",")
	for i, t := range terms {
		terms[i] = strings.Join(strings.Fields(t), " ")
	}
	return strings.Join(terms, ", ")
}

// SplitFieldKeys splits a comma-separated FieldKeys list, trimming spaces and dropping empty items.
func SplitFieldKeys(s string) []string {
	var out []string
	for k := range strings.SplitSeq(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}
