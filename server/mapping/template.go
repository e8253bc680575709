package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Template is a compiled template: literal text and {{…}} expressions, concatenated.
type Template struct {
	src   string
	parts []part
}

type part struct {
	lit  string
	expr *expr // nil for a literal
}

// expr is `IDENT [MODIFIER] (| FUNC[:ARG[,ARG…]])*`; a space-separated modifier is a call too.
type expr struct {
	ident string
	pos   Pos
	calls []call
}

type call struct {
	name string
	args []string
	pos  Pos
}

// Pos is a 1-based line and column inside a template.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// SyntaxError is a template error at a position.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

// posAt converts a byte offset into a line and a column (in runes).
func posAt(src string, off int) Pos {
	line, col := 1, 1
	for _, r := range src[:off] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return Pos{line, col}
}

// ParseTemplate parses template text. Everything outside {{ }} is literal; a lone "}}" is literal too.
func ParseTemplate(src string) (*Template, error) {
	t := &Template{src: src}
	i := 0
	for i < len(src) {
		j := strings.Index(src[i:], "{{")
		if j < 0 {
			t.parts = append(t.parts, part{lit: src[i:]})
			break
		}
		if j > 0 {
			t.parts = append(t.parts, part{lit: src[i : i+j]})
		}
		start := i + j
		end := strings.Index(src[start+2:], "}}")
		if end < 0 {
			return nil, &SyntaxError{posAt(src, start), "unclosed {{"}
		}
		inner := src[start+2 : start+2+end]
		e, err := parseExpr(src, start+2, inner)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, part{expr: e})
		i = start + 2 + end + 2
	}
	return t, nil
}

// lexer over one {{…}} body.
type lexer struct {
	src  string // whole template, for positions
	base int    // offset of body in src
	body string
	i    int
}

func (l *lexer) pos() Pos { return posAt(l.src, l.base+l.i) }

func (l *lexer) skipSpace() {
	for l.i < len(l.body) {
		r, n := utf8.DecodeRuneInString(l.body[l.i:])
		if !unicode.IsSpace(r) {
			return
		}
		l.i += n
	}
}

func isIdentRune(r rune) bool {
	return r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func (l *lexer) ident() string {
	start := l.i
	for l.i < len(l.body) {
		r, n := utf8.DecodeRuneInString(l.body[l.i:])
		if !isIdentRune(r) {
			break
		}
		l.i += n
	}
	return l.body[start:l.i]
}

// arg reads a quoted string ("…" with \" and \\ escapes) or a bare word up to , | or space.
func (l *lexer) arg() (string, error) {
	if l.i < len(l.body) && l.body[l.i] == '"' {
		p := l.pos()
		var b strings.Builder
		l.i++
		for l.i < len(l.body) {
			c := l.body[l.i]
			switch c {
			case '\\':
				if l.i+1 >= len(l.body) {
					return "", &SyntaxError{p, "unterminated string"}
				}
				b.WriteByte(l.body[l.i+1])
				l.i += 2
			case '"':
				l.i++
				return b.String(), nil
			default:
				b.WriteByte(c)
				l.i++
			}
		}
		return "", &SyntaxError{p, "unterminated string"}
	}
	start := l.i
	for l.i < len(l.body) && !strings.ContainsRune(",| \t\n", rune(l.body[l.i])) {
		l.i++
	}
	if start == l.i {
		return "", &SyntaxError{l.pos(), "expected an argument"}
	}
	return l.body[start:l.i], nil
}

func parseExpr(src string, base int, body string) (*expr, error) {
	l := &lexer{src: src, base: base, body: body}
	l.skipSpace()
	e := &expr{pos: l.pos()}
	e.ident = l.ident()
	if e.ident == "" {
		return nil, &SyntaxError{l.pos(), "expected a field or variable name"}
	}
	l.skipSpace()
	// Seed form: {{VAR datetime}} — a bare word after the name is a modifier.
	if l.i < len(l.body) && l.body[l.i] != '|' {
		c := call{pos: l.pos()}
		if c.name = l.ident(); c.name == "" {
			return nil, &SyntaxError{l.pos(), fmt.Sprintf("unexpected %q", l.body[l.i:])}
		}
		e.calls = append(e.calls, c)
		l.skipSpace()
	}
	for l.i < len(l.body) {
		if l.body[l.i] != '|' {
			return nil, &SyntaxError{l.pos(), fmt.Sprintf("unexpected %q, want | and a function", l.body[l.i:])}
		}
		l.i++
		l.skipSpace()
		c := call{pos: l.pos()}
		if c.name = l.ident(); c.name == "" {
			return nil, &SyntaxError{l.pos(), "expected a function name after |"}
		}
		if l.i < len(l.body) && l.body[l.i] == ':' {
			l.i++
			for {
				a, err := l.arg()
				if err != nil {
					return nil, err
				}
				c.args = append(c.args, a)
				if l.i < len(l.body) && l.body[l.i] == ',' {
					l.i++
					continue
				}
				break
			}
		}
		e.calls = append(e.calls, c)
		l.skipSpace()
	}
	return e, nil
}

// String renders the template back to source form (canonical spacing).
func (t *Template) String() string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		b.WriteString("{{")
		b.WriteString(p.expr.ident)
		for _, c := range p.expr.calls {
			b.WriteString("|")
			b.WriteString(c.name)
			for i, a := range c.args {
				if i == 0 {
					b.WriteString(":")
				} else {
					b.WriteString(",")
				}
				b.WriteString(quoteArg(a))
			}
		}
		b.WriteString("}}")
	}
	return b.String()
}

// Constant reports whether the template has no expressions.
func (t *Template) Constant() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// function is a template function: it transforms a value given its arguments.
type function struct {
	minArgs, maxArgs int
	fn               func(v any, args []string, maps map[string]map[string]string) (any, error)
}

// javaLayout converts yyyy-MM-dd HH:mm:ss style layouts (what the vendors' docs use) to Go's.
func javaLayout(s string) string {
	r := strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05", "SSS", "000")
	return r.Replace(s)
}

var functions = map[string]function{
	"datetime": {0, 0, func(v any, _ []string, _ map[string]map[string]string) (any, error) {
		return formatTime(v, "2006-01-02 15:04:05")
	}},
	"date": {0, 1, func(v any, a []string, _ map[string]map[string]string) (any, error) {
		layout := "2006-01-02"
		if len(a) == 1 {
			layout = javaLayout(a[0])
		}
		return formatTime(v, layout)
	}},
	"trim": {0, 0, func(v any, _ []string, _ map[string]map[string]string) (any, error) {
		return strings.TrimSpace(text(v)), nil
	}},
	"upper": {0, 0, func(v any, _ []string, _ map[string]map[string]string) (any, error) {
		return strings.ToUpper(text(v)), nil
	}},
	"lower": {0, 0, func(v any, _ []string, _ map[string]map[string]string) (any, error) {
		return strings.ToLower(text(v)), nil
	}},
	"default": {1, 1, func(v any, a []string, _ map[string]map[string]string) (any, error) {
		if strings.TrimSpace(text(v)) == "" {
			return a[0], nil
		}
		return v, nil
	}},
	"substring": {1, 2, func(v any, a []string, _ map[string]map[string]string) (any, error) {
		r := []rune(text(v))
		start, err := strconv.Atoi(a[0])
		if err != nil || start < 0 {
			return nil, fmt.Errorf("substring: start %q is not a non-negative number", a[0])
		}
		end := len(r)
		if len(a) == 2 {
			n, err := strconv.Atoi(a[1])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("substring: length %q is not a non-negative number", a[1])
			}
			end = min(start+n, len(r))
		}
		if start >= len(r) {
			return "", nil
		}
		return string(r[start:end]), nil
	}},
	"map": {1, 1, func(v any, a []string, maps map[string]map[string]string) (any, error) {
		m := maps[a[0]]
		if out, ok := m[text(v)]; ok {
			return out, nil
		}
		if out, ok := m["*"]; ok {
			return out, nil
		}
		return v, nil
	}},
}

func formatTime(v any, layout string) (any, error) {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return "", nil
		}
		return t.In(gmt8).Format(layout), nil
	case string:
		if strings.TrimSpace(t) == "" {
			return "", nil
		}
		for _, l := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02"} {
			if pt, err := time.ParseInLocation(l, t, gmt8); err == nil {
				return pt.Format(layout), nil
			}
		}
		if pt, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return pt.In(gmt8).Format(layout), nil
		}
		return nil, fmt.Errorf("%q is not a date/time", t)
	default:
		return nil, fmt.Errorf("%v is not a date/time", v)
	}
}

// gmt8 is the vendors' zone (China Standard Time), fixed so no tzdata is needed.
var gmt8 = time.FixedZone("GMT+8", 8*3600)

// text renders a source value as the vendors expect text: numbers without exponents, whole numbers
// without a fraction, nil as "".
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.In(gmt8).Format("2006-01-02 15:04:05")
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

// quoteArg quotes a function argument the way the lexer reads it back.
func quoteArg(a string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
}
