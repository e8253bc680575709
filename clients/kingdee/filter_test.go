package kingdee

import (
	"encoding/json"
	"fmt"
	"math"
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
		{Like("FName", "%'x"), `FName like '%''x'`},
		{And(Filter{}, Eq("FA", json.Number("7"))), `FA = 7`},
		{And(), ``},
		{IsNull("F_out_id"), `F_out_id is null`},
		{Gt("FCUSTID", uint32(5)), `FCUSTID > 5`},
	}
	for _, tc := range cases {
		got, err := tc.f.Build()
		if err != nil || got != tc.want {
			t.Errorf("got %q (%v), want %q", got, err, tc.want)
		}
	}
	bad := []Filter{
		Eq("FNumber = 'x' or 1=1 --", "v"), Eq("", 1), Eq("F..X", 1), Eq("1F", 1),
		Eq("FA", struct{}{}), Eq("FA", math.NaN()), In("FA"), Eq("FA", json.Number("1 or 1=1")),
		And(Eq("FA", 1), Eq("bad name", 2)),
	}
	for i, f := range bad {
		if _, err := f.Build(); err == nil {
			t.Errorf("bad filter %d built: %s", i, f)
		}
		if !strings.HasPrefix(f.String(), "<invalid filter") {
			t.Errorf("bad filter %d String() = %q", i, f)
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

func FuzzFilterValuesStayQuoted(f *testing.F) {
	for _, seed := range [][2]string{
		{"plain", "x"}, {"O'Brien", "' or '1'='1"}, {"''", "'"}, {"a' and FX = 'b", ") or (1=1"},
		{"张三'); drop table --", "\\'"}, {"", " "},
	} {
		f.Add(seed[0], seed[1], int64(42))
	}
	f.Fuzz(func(t *testing.T, a, b string, n int64) {
		if strings.ContainsRune(a+b, '\x00') {
			t.Skip()
		}
		ts := time.Unix(n%4e9, 0)
		flt := Or(
			And(Eq("FNumber", a), Gte("FModifyDate", ts), Ne("FCUSTID", n)),
			In("FUseOrgId.FNumber", a, b),
			Like("FName", b),
		)
		s, err := flt.Build()
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseFilter(s)
		if err != nil {
			t.Fatalf("filter %q does not parse: %v", s, err)
		}
		want := fmt.Sprintf("(or (and (= FNumber str:%q) (>= FModifyDate str:%q) (<> FCUSTID num:%q)) (in FUseOrgId.FNumber str:%q str:%q) (like FName str:%q))",
			a, FormatTime(ts), fmt.Sprint(n), a, b, b)
		if got != want {
			t.Fatalf("structure changed by data:\nfilter %s\ngot    %s\nwant   %s", s, got, want)
		}
	})
}
