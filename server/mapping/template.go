package mapping

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is a 1-based line and column (in characters) inside a template.
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// SyntaxError is a template syntax error at a position in the template.
type SyntaxError struct {
	Pos Pos
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

// Template is a parsed template: literal text and {{…}} actions, concatenated in order.
type Template struct {
	nodes []node
}

// node is one piece of a template: literal text (action == nil) or an action.
type node struct {
	text   string
	action *action
}

// action is `{{name [modifier] (| call)*}}`; the seed's space-separated modifier is stored as a call.
type action struct {
	name  string
	pos   Pos
	calls []call
}

// call is one function application: `name` or `name:arg,arg…`.
type call struct {
	name string
	args []string
	pos  Pos
}

// ParseTemplate parses template text. Everything outside {{ }} is literal text (a lone "}}" too);
// inside, the grammar is
//
//	action   = "{{" name [ modifier ] { "|" call } "}}"
//	modifier = name                      (seed form: {{LAST_SYNC_TIME datetime}})
//	call     = name [ ":" arg { "," arg } ]
//	arg      = quoted string ("…" with \" and \\) | bare word (up to , | space or }})
//	name     = letters, digits, "_" and "." (FUseOrgId.FName)
//
// with spaces allowed between tokens.
func ParseTemplate(src string) (*Template, error) {
	p := &parser{lex: lexer{src: src, line: 1, col: 1}}
	return p.parse()
}

// lexer walks the template text, tracking line and column.
type lexer struct {
	src       string
	off       int
	line, col int
}

func (l *lexer) pos() Pos { return Pos{l.line, l.col} }

func (l *lexer) eof() bool { return l.off >= len(l.src) }

func (l *lexer) peek() rune {
	if l.eof() {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.off:])
	return r
}

func (l *lexer) hasPrefix(s string) bool { return strings.HasPrefix(l.src[l.off:], s) }

func (l *lexer) advance() rune {
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	l.off += n
	if r == '\n' {
		l.line, l.col = l.line+1, 1
	} else {
		l.col++
	}
	return r
}

func (l *lexer) skipSpace() {
	for !l.eof() && unicode.IsSpace(l.peek()) {
		l.advance()
	}
}

func isNameRune(r rune) bool {
	return r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// name lexes a name; empty when the next character cannot start one.
func (l *lexer) name() string {
	start := l.off
	for !l.eof() && isNameRune(l.peek()) {
		l.advance()
	}
	return l.src[start:l.off]
}

// arg lexes a function argument: a quoted string or a bare word.
func (l *lexer) arg() (string, error) {
	p := l.pos()
	if l.peek() == '"' {
		l.advance()
		var b strings.Builder
		for !l.eof() {
			// Bytes are copied as they are, so text that is not valid UTF-8 survives a round trip.
			start := l.off
			switch l.advance() {
			case '\\':
				if l.eof() {
					return "", &SyntaxError{p, "unterminated string"}
				}
				start = l.off
				l.advance()
			case '"':
				return b.String(), nil
			}
			b.WriteString(l.src[start:l.off])
		}
		return "", &SyntaxError{p, "unterminated string"}
	}
	start := l.off
	for !l.eof() && !l.hasPrefix("}}") {
		if r := l.peek(); r == ',' || r == '|' || unicode.IsSpace(r) {
			break
		}
		l.advance()
	}
	if start == l.off {
		return "", &SyntaxError{p, "expected an argument"}
	}
	return l.src[start:l.off], nil
}

type parser struct {
	lex lexer
}

func (p *parser) parse() (*Template, error) {
	t := &Template{}
	l := &p.lex
	for !l.eof() {
		i := strings.Index(l.src[l.off:], "{{")
		if i < 0 {
			i = len(l.src) - l.off
		}
		if i > 0 {
			start := l.off
			for l.off < start+i {
				l.advance()
			}
			t.nodes = append(t.nodes, node{text: l.src[start:l.off]})
		}
		if l.eof() {
			break
		}
		a, err := p.action()
		if err != nil {
			return nil, err
		}
		t.nodes = append(t.nodes, node{action: a})
	}
	return t, nil
}

// action parses one {{…}}; the lexer is at "{{".
func (p *parser) action() (*action, error) {
	l := &p.lex
	open := l.pos()
	l.advance()
	l.advance()
	l.skipSpace()
	a := &action{pos: l.pos()}
	if a.name = l.name(); a.name == "" {
		return nil, p.unexpected(open, "a field or variable name")
	}
	space := l.off
	l.skipSpace()
	// Seed form {{VAR datetime}}: a name after spaces is a modifier.
	if l.off > space && isNameRune(l.peek()) {
		a.calls = append(a.calls, call{pos: l.pos(), name: l.name()})
		l.skipSpace()
	}
	for {
		switch {
		case l.hasPrefix("}}"):
			l.advance()
			l.advance()
			return a, nil
		case l.peek() == '|':
			l.advance()
			l.skipSpace()
			c, err := p.call(open)
			if err != nil {
				return nil, err
			}
			a.calls = append(a.calls, c)
			l.skipSpace()
		default:
			return nil, p.unexpected(open, `"|" and a function, or "}}"`)
		}
	}
}

func (p *parser) call(open Pos) (call, error) {
	l := &p.lex
	c := call{pos: l.pos()}
	if c.name = l.name(); c.name == "" {
		return c, p.unexpected(open, `a function name after "|"`)
	}
	if l.peek() != ':' {
		return c, nil
	}
	l.advance()
	for {
		a, err := l.arg()
		if err != nil {
			return c, err
		}
		c.args = append(c.args, a)
		if l.peek() != ',' {
			return c, nil
		}
		l.advance()
	}
}

// unexpected reports what was found where want was expected; at the end of the text it reports the
// unclosed action instead.
func (p *parser) unexpected(open Pos, want string) error {
	l := &p.lex
	if l.eof() {
		return &SyntaxError{open, `unclosed "{{"`}
	}
	found := l.src[l.off:]
	if r, _ := utf8.DecodeRuneInString(found); l.hasPrefix("}}") {
		found = "}}"
	} else {
		found = string(r)
	}
	return &SyntaxError{l.pos(), fmt.Sprintf("expected %s, found %q", want, found)}
}

// String renders the template back to canonical source: modifiers in pipe form, arguments quoted.
// Parsing the result gives the same template.
func (t *Template) String() string {
	var b strings.Builder
	for _, n := range t.nodes {
		if n.action == nil {
			b.WriteString(n.text)
			continue
		}
		b.WriteString("{{")
		b.WriteString(n.action.name)
		for _, c := range n.action.calls {
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

// quoteArg quotes a function argument the way the lexer reads it back.
func quoteArg(a string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
}

// Names lists the field and variable names the template reads, in order of appearance.
func (t *Template) Names() []string {
	var out []string
	for _, n := range t.nodes {
		if n.action != nil {
			out = append(out, n.action.name)
		}
	}
	return out
}
