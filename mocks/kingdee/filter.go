package kingdee

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// node is a parsed FilterString.
type node struct {
	op     string // "and", "or", "not", "cmp", "in", "like", "null", "true"
	kids   []*node
	field  string
	cmp    string
	vals   []literal
	negate bool
	set    *inSet // an "in" node's values as sets, built on first use (see inLookup)
}

type literal struct {
	s     string
	num   float64
	isNum bool

	// s read as a datetime and as a number, parsed on first use: a filter is evaluated once per
	// record, and parsing the same literal for every record was most of a query's cost.
	timeDone, floatDone bool
	t                   time.Time
	tOK                 bool
	f                   float64
	fOK                 bool
}

// time is the literal as a datetime (parseTime), ok=false when it is not one.
func (l *literal) time() (time.Time, bool) {
	if !l.timeDone {
		t, err := parseTime(l.s)
		l.t, l.tOK, l.timeDone = t, err == nil, true
	}
	return l.t, l.tOK
}

// float is the literal as a number: a number token, or a string that parses as one.
func (l *literal) float() (float64, bool) {
	if l.isNum {
		return l.num, true
	}
	if !l.floatDone {
		f, err := strconv.ParseFloat(l.s, 64)
		l.f, l.fOK, l.floatDone = f, err == nil, true
	}
	return l.f, l.fOK
}

// inSet holds an "in" list for lookups: text values, and the values that read as numbers (any NaN
// among them equals every number, as compare has it).
type inSet struct {
	strs   map[string]struct{}
	nums   map[float64]struct{}
	numNaN bool
}

// inLookup decides "value in (list)" through the sets for text and integer values, exactly as
// comparing the value with each literal would; ok=false for other kinds of value.
func (n *node) inLookup(v any) (hit, ok bool) {
	switch v.(type) {
	case string, int64:
	default:
		return false, false
	}
	if n.set == nil {
		set := &inSet{strs: make(map[string]struct{}, len(n.vals)), nums: make(map[float64]struct{}, len(n.vals))}
		for i := range n.vals {
			l := &n.vals[i]
			set.strs[l.s] = struct{}{}
			if f, ok := l.float(); ok {
				if math.IsNaN(f) {
					set.numNaN = true
				}
				set.nums[f] = struct{}{}
			}
		}
		n.set = set
	}
	switch x := v.(type) {
	case string: // compare: strings.Compare(x, l.s)
		_, hit = n.set.strs[x]
	case int64: // compare: numerically against literals that read as numbers (no other can equal)
		_, hit = n.set.nums[float64(x)]
		hit = hit || n.set.numNaN
	}
	return hit, true
}

type token struct {
	kind string // ident, str, num, op, lp, rp, comma, eof
	text string
	pos  int
}

func lex(src string) ([]token, error) {
	var out []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{"lp", "(", i})
			i++
		case c == ')':
			out = append(out, token{"rp", ")", i})
			i++
		case c == ',':
			out = append(out, token{"comma", ",", i})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, fmt.Errorf("unterminated string at %d", i)
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			out = append(out, token{"str", b.String(), i})
			i = j + 1
		case strings.ContainsRune("=<>!", rune(c)):
			j := i + 1
			if j < len(src) && strings.ContainsRune("=>", rune(src[j])) {
				j++
			}
			op := src[i:j]
			if op == "!" {
				return nil, fmt.Errorf("unexpected ! at %d", i)
			}
			out = append(out, token{"op", op, i})
			i = j
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			out = append(out, token{"num", src[i:j], i})
			i = j
		case c == '_' || c == '.' || c < 128 && unicode.IsLetter(rune(c)):
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] == '.' || src[j] < 128 && (unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j])))) {
				j++
			}
			out = append(out, token{"ident", src[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return append(out, token{"eof", "", len(src)}), nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }
func (p *parser) kw(k string) bool {
	t := p.peek()
	return t.kind == "ident" && strings.EqualFold(t.text, k)
}

// parseFilter parses the FilterString subset clients send: comparisons (= <> != > >= < <=), in (…),
// like, is [not] null, and/or/not, parentheses, quoted strings with ” escapes, numbers, dotted fields.
func parseFilter(src string) (*node, error) {
	if strings.TrimSpace(src) == "" {
		return &node{op: "true"}, nil
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	}
	return n, nil
}

func (p *parser) or() (*node, error) {
	n, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.kw("or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		n = &node{op: "or", kids: []*node{n, r}}
	}
	return n, nil
}

func (p *parser) and() (*node, error) {
	n, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.kw("and") {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		n = &node{op: "and", kids: []*node{n, r}}
	}
	return n, nil
}

func (p *parser) unary() (*node, error) {
	if p.kw("not") {
		p.next()
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &node{op: "not", kids: []*node{n}}, nil
	}
	if p.peek().kind == "lp" {
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != "rp" {
			return nil, fmt.Errorf("expected ) at %d", t.pos)
		}
		return n, nil
	}
	f := p.next()
	if f.kind != "ident" {
		return nil, fmt.Errorf("expected a field at %d, got %q", f.pos, f.text)
	}
	n := &node{field: f.text}
	switch {
	case p.kw("not") || p.kw("in"):
		if p.kw("not") {
			p.next()
			n.negate = true
		}
		if !p.kw("in") {
			return nil, fmt.Errorf("expected in at %d", p.peek().pos)
		}
		p.next()
		n.op = "in"
		if t := p.next(); t.kind != "lp" {
			return nil, fmt.Errorf("expected ( at %d", t.pos)
		}
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
			t := p.next()
			if t.kind == "rp" {
				break
			}
			if t.kind != "comma" {
				return nil, fmt.Errorf("expected , or ) at %d", t.pos)
			}
		}
	case p.kw("like"):
		p.next()
		n.op = "like"
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.vals = []literal{v}
	case p.kw("is"):
		p.next()
		n.op = "null"
		if p.kw("not") {
			p.next()
			n.negate = true
		}
		if !p.kw("null") {
			return nil, fmt.Errorf("expected null at %d", p.peek().pos)
		}
		p.next()
	default:
		t := p.next()
		if t.kind != "op" {
			return nil, fmt.Errorf("expected an operator after %s at %d", f.text, t.pos)
		}
		n.op, n.cmp = "cmp", t.text
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.vals = []literal{v}
	}
	return n, nil
}

func (p *parser) value() (literal, error) {
	t := p.next()
	switch t.kind {
	case "str":
		return literal{s: t.text}, nil
	case "num":
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return literal{}, fmt.Errorf("bad number %q at %d", t.text, t.pos)
		}
		return literal{s: t.text, num: f, isNum: true}, nil
	}
	return literal{}, fmt.Errorf("expected a value at %d, got %q", t.pos, t.text)
}

// fields lists every field the filter references.
func (n *node) fields(out map[string]bool) {
	if n.field != "" {
		out[n.field] = true
	}
	for _, k := range n.kids {
		k.fields(out)
	}
}

// getter returns a record's value for a field key.
type getter func(field string) any

func (n *node) eval(get getter) bool {
	switch n.op {
	case "true":
		return true
	case "and":
		return n.kids[0].eval(get) && n.kids[1].eval(get)
	case "or":
		return n.kids[0].eval(get) || n.kids[1].eval(get)
	case "not":
		return !n.kids[0].eval(get)
	case "null":
		v := get(n.field)
		isNull := v == nil || v == "" || v == " "
		return isNull != n.negate
	case "in":
		v := get(n.field)
		if len(n.vals) > 4 {
			if hit, ok := n.inLookup(v); ok {
				return hit != n.negate
			}
		}
		for i := range n.vals {
			if compare(v, &n.vals[i]) == 0 {
				return !n.negate
			}
		}
		return n.negate
	case "like":
		return like(fmt.Sprint(get(n.field)), n.vals[0].s)
	case "cmp":
		c := compare(get(n.field), &n.vals[0])
		switch n.cmp {
		case "=":
			return c == 0
		case "<>", "!=":
			return c != 0
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		}
	}
	return false
}

// compare orders a record value against a literal: numbers numerically, times as times, else text.
func compare(v any, l *literal) int {
	switch x := v.(type) {
	case int64:
		f, ok := l.float()
		if !ok {
			return strings.Compare(strconv.FormatInt(x, 10), l.s)
		}
		return cmpFloat(float64(x), f)
	case time.Time:
		t, ok := l.time()
		if !ok {
			return strings.Compare(x.Format(timeLayout), l.s)
		}
		return x.Compare(t)
	case string:
		return strings.Compare(x, l.s)
	case bool:
		s := "0"
		if x {
			s = "1"
		}
		return strings.Compare(s, strings.TrimSpace(l.s))
	case nil:
		return strings.Compare("", l.s)
	default:
		return strings.Compare(fmt.Sprint(x), l.s)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// like matches SQL LIKE with % and _.
func like(s, pat string) bool {
	rs, rp := []rune(s), []rune(pat)
	var m func(i, j int) bool
	m = func(i, j int) bool {
		for j < len(rp) {
			switch rp[j] {
			case '%':
				for k := i; k <= len(rs); k++ {
					if m(k, j+1) {
						return true
					}
				}
				return false
			case '_':
				if i >= len(rs) {
					return false
				}
			default:
				if i >= len(rs) || rs[i] != rp[j] {
					return false
				}
			}
			i, j = i+1, j+1
		}
		return i == len(rs)
	}
	return m(0, 0)
}

// lowerBound is the smallest FModifyDate the filter can accept, when the filter says (used to start
// scanning the sorted index there instead of at the beginning).
func (n *node) lowerBound(field string) (time.Time, bool) {
	switch n.op {
	case "and":
		a, okA := n.kids[0].lowerBound(field)
		b, okB := n.kids[1].lowerBound(field)
		switch {
		case okA && okB:
			if a.After(b) {
				return a, true
			}
			return b, true
		case okA:
			return a, true
		case okB:
			return b, true
		}
	case "or":
		a, okA := n.kids[0].lowerBound(field)
		b, okB := n.kids[1].lowerBound(field)
		if okA && okB {
			if a.Before(b) {
				return a, true
			}
			return b, true
		}
	case "cmp":
		if strings.EqualFold(n.field, field) && (n.cmp == ">" || n.cmp == ">=" || n.cmp == "=") {
			if t, err := parseTime(n.vals[0].s); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// keyLookup returns the values of a top-level "field in (…)" or "field = …" on an indexed field.
func (n *node) keyLookup(indexed func(string) bool) (string, []literal, bool) {
	switch n.op {
	case "in":
		if !n.negate && indexed(n.field) {
			return n.field, n.vals, true
		}
	case "cmp":
		if n.cmp == "=" && indexed(n.field) {
			return n.field, n.vals, true
		}
	case "and":
		if f, v, ok := n.kids[0].keyLookup(indexed); ok {
			return f, v, true
		}
		return n.kids[1].keyLookup(indexed)
	}
	return "", nil, false
}
