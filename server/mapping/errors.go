package mapping

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a spec.
type Problem struct {
	// File is the spec's name (its path, "embedded agents.yaml", or what Parse was given).
	File string
	// Line and Col locate the problem in the file (1-based); 0 when unknown (Col is 0 for most
	// YAML errors, Line too for a part of the spec that is missing altogether).
	Line, Col int
	// Section and Field name the field the problem is in: Section "target" or "request" (the
	// source call's parameters); both empty for a problem outside the field lists.
	Section, Field string
	// Template is the position inside the field's template; zero when not a template problem.
	Template Pos
	// Msg says what is wrong.
	Msg string
}

// Error renders file:line:col: <section> field "<name>" at template l:c: message.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	if p.Field != "" {
		fmt.Fprintf(&b, "%s field %q", p.Section, p.Field)
		if p.Template.Line > 0 {
			fmt.Fprintf(&b, " at template %s", p.Template)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// SpecError lists every problem found in one spec, in file order.
type SpecError struct {
	Problems []*Problem
}

func (e *SpecError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap exposes the problems to errors.As and errors.Is.
func (e *SpecError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// templatePos maps a position inside a template to the spec file. It is exact when the scalar's
// text in the file is the template verbatim (a plain or quoted one-line scalar without escapes, or a
// literal block); otherwise it is the start of the scalar (the template position in the message
// still points at the spot).
func templatePos(lines []string, n *yaml.Node, tpl string, p Pos) (line, col int) {
	if n == nil {
		return 0, 0
	}
	tplLines := strings.Split(tpl, "\n")
	if p.Line < 1 || p.Line > len(tplLines) {
		return n.Line, n.Column
	}
	want := tplLines[p.Line-1]
	rawAt := func(line, col int) (string, bool) {
		if line < 1 || line > len(lines) {
			return "", false
		}
		r := []rune(lines[line-1])
		if col < 1 || col-1 > len(r) {
			return "", false
		}
		return string(r[col-1:]), true
	}
	switch n.Style {
	case 0, yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		start := n.Column
		if n.Style != 0 {
			start++
		}
		if raw, ok := rawAt(n.Line, start); ok && len(tplLines) == 1 && strings.HasPrefix(raw, want) {
			return n.Line, start + p.Col - 1
		}
	case yaml.LiteralStyle:
		line := n.Line + p.Line
		if line <= len(lines) {
			indent := len([]rune(lines[line-1])) - len([]rune(strings.TrimLeft(lines[line-1], " ")))
			if raw, ok := rawAt(line, indent+1); ok && raw == want {
				return line, indent + p.Col
			}
		}
	}
	return n.Line, n.Column
}

// lookup finds the value node at a path of mapping keys; nil when absent.
func lookup(n *yaml.Node, path ...string) *yaml.Node {
	for n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// item returns the i-th element of a sequence node; nil when absent.
func item(n *yaml.Node, i int) *yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return n.Content[i]
}

// keyNode returns the key node of a mapping entry; nil when absent.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}
