package mapping

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		src, canonical, names string
	}{
		{"", "", ""},
		{"PRE001", "PRE001", ""},
		{"{{Name}}{{bfn_num}}", "{{Name}}{{bfn_num}}", "Name,bfn_num"},
		{"客户-{{ Name }}-x", "客户-{{Name}}-x", "Name"},
		{"{{LAST_SYNC_TIME datetime}}", "{{LAST_SYNC_TIME|datetime}}", "LAST_SYNC_TIME"},
		{"{{LAST_SYNC_TIME|datetime}}", "{{LAST_SYNC_TIME|datetime}}", "LAST_SYNC_TIME"},
		{"{{CURRENT_TIME  datetime | date:yyyyMMdd}}", `{{CURRENT_TIME|datetime|date:"yyyyMMdd"}}`, "CURRENT_TIME"},
		{"{{FUseOrgId.FName|trim|upper}}", "{{FUseOrgId.FName|trim|upper}}", "FUseOrgId.FName"},
		{`{{remark|default:"无 备注"}}`, `{{remark|default:"无 备注"}}`, "remark"},
		{`{{a|default:"say \"hi\" \\ }}"}}`, `{{a|default:"say \"hi\" \\ }}"}}`, "a"},
		{"{{agentName|substring:0,20}}", `{{agentName|substring:"0","20"}}`, "agentName"},
		{"{{F_FML_Combo|map:balance_types}}", `{{F_FML_Combo|map:"balance_types"}}`, "F_FML_Combo"},
		{"a}}b{{x}}}", "a}}b{{x}}}", "x"},
		{"{{a}}\n{{b}}", "{{a}}\n{{b}}", "a,b"},
	}
	for _, tt := range tests {
		tpl, err := ParseTemplate(tt.src)
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if got := tpl.String(); got != tt.canonical {
			t.Errorf("%q: String() = %q, want %q", tt.src, got, tt.canonical)
		}
		if got := strings.Join(tpl.Names(), ","); got != tt.names {
			t.Errorf("%q: Names() = %q, want %q", tt.src, got, tt.names)
		}
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"x{{Name", `1:2: unclosed "{{"`},
		{"{{}}", `1:3: expected a field or variable name, found "}}"`},
		{"{{ |trim}}", `1:4: expected a field or variable name, found "|"`},
		{"{{Name|}}", `1:8: expected a function name after "|", found "}}"`},
		{"{{Name trim upper}}", `1:13: expected "|" and a function, or "}}", found "u"`},
		{"{{Name|default:}}", `1:16: expected an argument`},
		{"{{Name|default:a,}}", `1:18: expected an argument`},
		{`{{Name|default:"abc}}`, `1:16: unterminated string`},
		{"{{Name!}}", `1:7: expected "|" and a function, or "}}", found "!"`},
		{"ok\n  {{Name|", "2:3: unclosed \"{{\""},
		{"{{a}}{{b c d}}", `1:12: expected "|" and a function, or "}}", found "d"`},
	}
	for _, tt := range tests {
		_, err := ParseTemplate(tt.src)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q: error %v, want %s", tt.src, err, tt.want)
		}
	}
}

// stripPos drops positions, which a canonical rewrite moves.
func stripPos(t *Template) []node {
	out := make([]node, len(t.nodes))
	for i, n := range t.nodes {
		out[i] = n
		if n.action != nil {
			a := *n.action
			a.pos = Pos{}
			a.calls = make([]call, len(n.action.calls))
			for j, c := range n.action.calls {
				c.pos = Pos{}
				a.calls[j] = c
			}
			out[i].action = &a
		}
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"{{Name}}{{bfn_num}}", "{{LAST_SYNC_TIME datetime}}", `{{a|default:"x\"y",z|map:m}}`,
		"plain", "{{", "}}{{x}}", "{{a|substring:0,2|date:\"yyyy-MM-dd HH:mm\"}}", "a\n{{ b  c |d:e}}", "{{{a}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := ParseTemplate(src)
		if err != nil {
			return
		}
		out := tpl.String()
		again, err := ParseTemplate(out)
		if err != nil {
			t.Fatalf("String() of %q = %q does not parse: %v", src, out, err)
		}
		if !reflect.DeepEqual(stripPos(tpl), stripPos(again)) {
			t.Fatalf("round trip of %q through %q changed the template", src, out)
		}
		if again.String() != out {
			t.Fatalf("String() not stable: %q -> %q", out, again.String())
		}
	})
}
