package kingdee

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFilterRendering(t *testing.T) {
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) // 08:00 in GMT+8
	cases := []struct {
		f    Filter
		want string
	}{
		{Eq("FNumber", "O'Brien"), `FNumber = 'O''Brien'`},
		{And(Gte("FModifyDate", mod), Eq("FForbidStatus", "A")), `FModifyDate >= '2024-01-01 08:00:00' and FForbidStatus = 'A'`},
		{And(Eq("FA", 1), Or(Eq("FB", int64(2)), Lt("FC", 2.5))), `FA = 1 and (FB = 2 or FC < 2.5)`},
		{Or(And(Eq("FA", 1), Eq("FB", 2)), Ne("FC", true)), `(FA = 1 and FB = 2) or FC <> '1'`},
		{In("FUseOrgId.FNumber", "100", "1'0"), `FUseOrgId.FNumber in ('100', '1''0')`},
		{In("FCUSTID", int64(1), 2), `FCUSTID in (1, 2)`},
		{Like("FName", "%'x"), `FName like '%''x'`},
		{And(Filter{}, Eq("FA", json.Number("7"))), `FA = 7`},
		{Eq("FA", json.Number("1e3")), `FA = 1000`},
		{And(), ``},
		{IsNull("F_out_id"), `F_out_id is null`},
		{Gt("FCUSTID", uint32(5)), `FCUSTID > 5`},
		{Lte("FModifyDate", mod.Add(5*time.Millisecond+999*time.Microsecond)), `FModifyDate <= '2024-01-01 08:00:00.005'`},
		{Gte("FModifyDate", mod.Add(999*time.Microsecond)), `FModifyDate >= '2024-01-01 08:00:00'`},
		{Group(Eq("FA", 1)), `FA = 1`},
		{And(Eq("FA", 1), Group(In("FB", "x"))), `FA = 1 and (FB in ('x'))`},
		{And(Eq("FA", 1), Group(Or(Eq("FB", 2), Eq("FC", 3)))), `FA = 1 and (FB = 2 or FC = 3)`},
		{And(Eq("FA", 1), Group(Filter{})), `FA = 1`},
		{And(And(Eq("FA", 1), Eq("FB", 2)), Eq("FC", 3)), `FA = 1 and FB = 2 and FC = 3`},
		{Or(Eq("FA", 1), Or(Eq("FB", 2), Eq("FC", 3))), `FA = 1 or FB = 2 or FC = 3`},
		{And(Group(And(Eq("FA", 1), Eq("FB", 2))), Eq("FC", 3)), `(FA = 1 and FB = 2) and FC = 3`},
	}
	for _, tc := range cases {
		got, err := tc.f.Build()
		if err != nil || got != tc.want {
			t.Errorf("got %q (%v), want %q", got, err, tc.want)
		}
	}
	bad := []struct {
		f    Filter
		want string // in the error
	}{
		{Eq("FNumber = 'x' or 1=1 --", "v"), "bad field name"}, {Eq("", 1), "empty field name"},
		{Eq("F..X", 1), "bad field name"}, {Eq("1F", 1), "bad field name"}, {Like("F A", "x"), "bad field name"},
		{IsNull("F-A"), "bad field name"}, {In("F A", 1), "bad field name"},
		{Eq("FA", math.NaN()), "non-finite"}, {Gt("FA", math.Inf(1)), "non-finite"}, {Lte("FA", float32(math.Inf(-1))), "non-finite"},
		{In("FA", 1.0, math.NaN()), "value 1"}, {In[string]("FA"), "no values"},
		{Eq("FA", json.Number("1 or 1=1")), "not a number"}, {Ne("FA", json.Number("NaN")), "not a number"},
		{Eq("FA", json.Number("0x1p4")), "not a number"}, {Eq("FA", json.Number("Inf")), "not a number"}, {Eq("FA", json.Number("1e999")), "out of range"},
		{Eq("FA", json.Number(" 1")), "not a number"}, {Eq("FA", json.Number("")), "not a number"},
		{And(Eq("FA", 1), Eq("bad name", 2)), "bad field name"}, {Or(Eq("FA", 1), In[int64]("FB")), "no values"},
		{Group(In[int]("FA")), "no values"}, {And(Group(Or(Eq("FA", 1), Gt("FB", math.NaN()))), Eq("FC", 1)), "non-finite"},
	}
	for i, tc := range bad {
		got, err := tc.f.Build()
		if err == nil || got != "" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bad filter %d: got %q, error %v, want an error about %q", i, got, err, tc.want)
		}
	}
}

// --- a small parser for the FilterString subset, used to prove that values
// never escape their quotes.

type tok struct {
	kind string // ident, str, num, op, kw, punct
	text string
}

func lex(s string) ([]tok, error) {
	var out []tok
	rs := []byte(s) // bytes, so invalid UTF-8 round-trips exactly
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == ' ':
			i++
		case r == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(rs) {
					return nil, fmt.Errorf("unterminated string")
				}
				if rs[i] == '\'' {
					if i+1 < len(rs) && rs[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(rs[i])
				i++
			}
			out = append(out, tok{"str", b.String()})
		case r == '(' || r == ')' || r == ',':
			out = append(out, tok{"punct", string(rune(r))})
			i++
		case strings.IndexByte("<>=", r) >= 0:
			j := i + 1
			if j < len(rs) && (rs[j] == '=' || r == '<' && rs[j] == '>') {
				j++
			}
			out = append(out, tok{"op", string(rs[i:j])})
			i = j
		case r == '-' || isDigit(r):
			j := i + 1
			for j < len(rs) && (isDigit(rs[j]) || rs[j] == '.') {
				j++
			}
			out = append(out, tok{"num", string(rs[i:j])})
			i = j
		case r == '_' || isLetter(r):
			j := i + 1
			for j < len(rs) && (rs[j] == '_' || rs[j] == '.' || isLetter(rs[j]) || isDigit(rs[j])) {
				j++
			}
			w := string(rs[i:j])
			switch strings.ToLower(w) {
			case "and", "or", "in", "like", "is", "null":
				out = append(out, tok{"kw", strings.ToLower(w)})
			default:
				out = append(out, tok{"ident", w})
			}
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", r, i)
		}
	}
	return out, nil
}

func isDigit(b byte) bool  { return b >= '0' && b <= '9' }
func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

type parser struct {
	ts []tok
	i  int
}

func (p *parser) peek() tok {
	if p.i < len(p.ts) {
		return p.ts[p.i]
	}
	return tok{}
}
func (p *parser) next() tok { t := p.peek(); p.i++; return t }

// expr returns an S-expression rendering of the parsed filter.
func (p *parser) expr() (string, error) { return p.chain("or", p.term) }
func (p *parser) term() (string, error) { return p.chain("and", p.factor) }

func (p *parser) chain(kw string, sub func() (string, error)) (string, error) {
	first, err := sub()
	if err != nil {
		return "", err
	}
	parts := []string{first}
	for p.peek() == (tok{"kw", kw}) {
		p.next()
		s, err := sub()
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	if len(parts) == 1 {
		return first, nil
	}
	return "(" + kw + " " + strings.Join(parts, " ") + ")", nil
}

func (p *parser) value() (string, error) {
	t := p.next()
	if t.kind != "str" && t.kind != "num" {
		return "", fmt.Errorf("want value, got %v", t)
	}
	return fmt.Sprintf("%s:%q", t.kind, t.text), nil
}

func (p *parser) factor() (string, error) {
	if p.peek() == (tok{"punct", "("}) {
		p.next()
		s, err := p.expr()
		if err != nil {
			return "", err
		}
		if p.next() != (tok{"punct", ")"}) {
			return "", fmt.Errorf("missing )")
		}
		return s, nil
	}
	f := p.next()
	if f.kind != "ident" {
		return "", fmt.Errorf("want field, got %v", f)
	}
	switch op := p.next(); {
	case op == (tok{"kw", "is"}):
		if p.next() != (tok{"kw", "null"}) {
			return "", fmt.Errorf("missing null after is")
		}
		return fmt.Sprintf("(null %s)", f.text), nil
	case op.kind == "op" || op == (tok{"kw", "like"}):
		v, err := p.value()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("(%s %s %s)", op.text, f.text, v), nil
	case op == (tok{"kw", "in"}):
		if p.next() != (tok{"punct", "("}) {
			return "", fmt.Errorf("missing ( after in")
		}
		var vs []string
		for {
			v, err := p.value()
			if err != nil {
				return "", err
			}
			vs = append(vs, v)
			if t := p.next(); t == (tok{"punct", ")"}) {
				break
			} else if t != (tok{"punct", ","}) {
				return "", fmt.Errorf("bad in list")
			}
		}
		return fmt.Sprintf("(in %s %s)", f.text, strings.Join(vs, " ")), nil
	default:
		return "", fmt.Errorf("want operator, got %v", op)
	}
}

func parseFilter(s string) (string, error) {
	ts, err := lex(s)
	if err != nil {
		return "", err
	}
	p := &parser{ts: ts}
	out, err := p.expr()
	if err != nil {
		return "", err
	}
	if p.i != len(ts) {
		return "", fmt.Errorf("trailing tokens after %d of %d", p.i, len(ts))
	}
	return out, nil
}

// fuzzFilter uses every constructor, with text a and b and a number n in every kind of value.
func fuzzFilter(a, b string, n int64) (Filter, time.Time) {
	ts := time.UnixMilli(n % 4e12)
	return Or(
		And(Eq("FNumber", a), Gte("FModifyDate", ts), Ne("FCUSTID", n)),
		In("FUseOrgId.FNumber", a, b),
		Like("FName", b),
		Group(Gt("FCUSTID", float64(n)/8)),
		And(Lt("FCreateDate", ts), Lte("FCUSTID", json.Number(strconv.FormatInt(n, 10))), Eq("FDocumentStatus", n%2 == 0)),
		And(IsNull("FDescription"), In("FCUSTID", n, n+1), Ne("FName", uint8(n))),
	), ts
}

// fuzzWant is the structure fuzzFilter must parse to, whatever its values.
func fuzzWant(a, b string, n int64, ts time.Time) string {
	num := func(v any) string { return fmt.Sprintf("num:%q", fmt.Sprint(v)) }
	return fmt.Sprintf("(or (and (= FNumber str:%q) (>= FModifyDate str:%q) (<> FCUSTID %s)) (in FUseOrgId.FNumber str:%q str:%q) (like FName str:%q)"+
		" (> FCUSTID %s) (and (< FCreateDate str:%q) (<= FCUSTID %s) (= FDocumentStatus str:%q)) (and (null FDescription) (in FCUSTID %s %s) (<> FName %s)))",
		a, timeText(ts), num(n), a, b, b,
		num(strconv.FormatFloat(float64(n)/8, 'f', -1, 64)), timeText(ts), num(n), map[bool]string{true: "1", false: "0"}[n%2 == 0],
		num(n), num(n+1), num(uint8(n)))
}

func FuzzFilterValuesStayQuoted(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed.a, seed.b, seed.n)
	}
	f.Fuzz(func(t *testing.T, a, b string, n int64) {
		if strings.ContainsRune(a+b, '\x00') {
			t.Skip()
		}
		flt, ts := fuzzFilter(a, b, n)
		s, err := flt.Build()
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseFilter(s)
		if err != nil {
			t.Fatalf("filter %q does not parse: %v", s, err)
		}
		if want := fuzzWant(a, b, n, ts); got != want {
			t.Fatalf("structure changed by data:\nfilter %s\ngot    %s\nwant   %s", s, got, want)
		}
	})
}

var fuzzSeeds = []struct {
	a, b string
	n    int64
}{
	{"plain", "x", 42}, {"O'Brien", "' or '1'='1", -7}, {"''", "'", 0}, {"a' and FX = 'b", ") or (1=1", 1<<62 + 3},
	{"张三'); drop table --", "\\'", -1 << 63}, {"", " ", 1_700_000_000_123}, {"%", "_%", 1<<63 - 1},
}

func TestFilterTimeKeepsMilliseconds(t *testing.T) {
	ms := time.Date(2024, 1, 1, 0, 0, 0, 123_456_789, time.UTC)
	got, err := Gt("FModifyDate", ms).Build()
	if want := `FModifyDate > '2024-01-01 08:00:00.123'`; err != nil || got != want {
		t.Fatalf("got %q (%v), want %q", got, err, want)
	}
}

func TestTextIsOneGroup(t *testing.T) {
	cases := []struct {
		f    Filter
		want string
	}{
		{Text("FUseOrgId.FNumber = '101'"), `(FUseOrgId.FNumber = '101')`},
		{Text("  FA = 1 or FB = 2 "), `(FA = 1 or FB = 2)`},
		{And(Eq("FDocumentStatus", "C"), Text("FA = 1 or FB = 2"), Gt("FCUSTID", 7)), `FDocumentStatus = 'C' and (FA = 1 or FB = 2) and FCUSTID > 7`},
		{Or(Eq("FX", 1), Text("FA = 1 and FB = 2")), `FX = 1 or (FA = 1 and FB = 2)`},
		{Text("FName = 'O''Brien (x' and (FB in (1, 2))"), `(FName = 'O''Brien (x' and (FB in (1, 2)))`},
		{Text("FName like '%--%' or FName = '/*'"), `(FName like '%--%' or FName = '/*')`},
		{Text("FQty = -1"), `(FQty = -1)`},
	}
	for _, tc := range cases {
		got, err := tc.f.Build()
		if err != nil || got != tc.want {
			t.Errorf("got %q (%v), want %q", got, err, tc.want)
		}
	}
	bad := []struct {
		text, want string
	}{
		{"", "empty condition"}, {" \t\n", "empty condition"},
		{"FA = 1) or (FB = 2", "closes no '('"}, {"(FA = 1", "not closed"}, {"FA in (1, (2)", "not closed"},
		{"FName = 'open", "unclosed quote"}, {"FName = 'O''Brien", "unclosed quote"},
		{"FA = 1 -- and more", "comment"}, {"FA = 1 /* x */", "comment"},
	}
	for _, tc := range bad {
		_, err := Text(tc.text).Build()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Text(%q): error %v, want one containing %q", tc.text, err, tc.want)
		}
		// A failing part fails any filter it is joined into.
		if _, err := And(Eq("FA", 1), Text(tc.text)).Build(); err == nil {
			t.Errorf("And(…, Text(%q)) built", tc.text)
		}
	}
}
