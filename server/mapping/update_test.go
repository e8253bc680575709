package mapping

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestUpdatePolicyDefaults(t *testing.T) {
	spec, err := Default("agents")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("agents.yaml", spec)
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]UpdatePolicy{
		"FName": UpdateSet, "FTAXREGISTERCODE": UpdateSet, "FINVOICEBANKNAME": UpdateSet,
		"FCreateOrgId": UpdateKeep, "FUseOrgId": UpdateKeep, "F_out_id": UpdateSet,
	} {
		if got := s.UpdatePolicy(field); got != want {
			t.Errorf("%s: policy %q, want %q", field, got, want)
		}
	}
	p, err := s.Render(Record{"agentId": "A1", "agentName": "上海植隆", "houseAddress": "", "remark": "r"}, Vars{})
	if err != nil {
		t.Fatal(err)
	}
	got := s.UpdateFields(p, nil)
	// The seed's blank presets, the empty number and address and the creation-only organisations
	// are not sent: an update never blanks what someone keeps in Kingdee.
	for _, never := range []string{"FTAXREGISTERCODE", "FINVOICEBANKNAME", "FINVOICETEL", "FINVOICEBANKACCOUNT",
		"FINVOICEADDRESS", "FNumber", "FADDRESS", "FCreateOrgId", "FUseOrgId"} {
		if slices.Contains(got, never) {
			t.Errorf("update sends %s: %v", never, got)
		}
	}
	want := []string{"FName", "FDescription", "FTRADINGCURRID", "FINVOICETITLE", "F_out_id", "F_KHLX", "FGroup"}
	if !slices.Equal(got, want) {
		t.Errorf("update fields %v, want %v", got, want)
	}
}

func TestUpdateFieldsFollowPolicies(t *testing.T) {
	text := edit(t, agentsBase,
		`    - name: F_out_id`, "    - name: FDescription\n      template: \"{{remark}}\"\n      on_update: overwrite\n"+
			"    - name: FINVOICETITLE\n      template: \"{{agentName}}\"\n      on_update: if_empty\n"+
			"    - name: FADDRESS\n      template: \"{{houseAddress}}\"\n      on_update: keep\n    - name: F_out_id")
	s, err := Parse("a.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Render(Record{"agentId": "A1", "agentName": "N", "remark": "", "houseAddress": "addr"}, Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.IfEmptyFields(); !slices.Equal(got, []string{"FINVOICETITLE"}) {
		t.Errorf("if_empty fields %v", got)
	}
	for _, tc := range []struct {
		name  string
		empty func(string) bool
		want  []string
	}{
		{"target not read", nil, []string{"FName", "FDescription", "F_out_id"}},
		{"target value empty", func(string) bool { return true }, []string{"FName", "FDescription", "FINVOICETITLE", "F_out_id"}},
		{"target value set", func(string) bool { return false }, []string{"FName", "FDescription", "F_out_id"}},
	} {
		if got := s.UpdateFields(p, tc.empty); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestInvalidUpdatePolicies(t *testing.T) {
	tests := []struct {
		name, base, old, new, want string
	}{
		{"unknown policy", agentsBase, `template: "{{agentName}}"`, "template: \"{{agentName}}\"\n      on_update: sometimes",
			`unknown on_update "sometimes" (want set, overwrite, keep or if_empty)`},
		{"creation-only field", agentsBase, "ref: FNumber", "ref: FNumber\n      on_update: set",
			`FUseOrgId can only be set when the record is created; on_update must be keep`},
		{"if_empty without a target read", customersBase, `template: "{{F_FML_Combo|map:kinds}}"`,
			"template: \"{{F_FML_Combo|map:kinds}}\"\n      on_update: if_empty",
			`on_update if_empty needs to read the target first, and greatonce.distributor.single.sync has no read call`},
		{"bookkeeping field", customersBase, `template: "{{Name}}{{FNumber}}"`, "template: \"{{Name}}{{FNumber}}\"\n      on_update: keep",
			`distributorCode is sent with every greatonce.distributor.single.sync call; it takes no on_update`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(edit(t, tc.base, tc.old, tc.new)))
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("want a SpecError, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %q, want it to contain %q", err, tc.want)
			}
			if se.Problems[0].Line == 0 {
				t.Errorf("problem without a line: %+v", se.Problems[0])
			}
		})
	}
}

// A custom field is base data or not as the server defines it: the spec decides. Kingdee's own text
// fields and every Greatonce field refuse ref.
func TestRefOnCustomFields(t *testing.T) {
	text := edit(t, agentsBase, `    - name: F_out_id`, "    - name: F_KHLX\n      template: KHLX02_SYS\n      ref: FNumber\n    - name: F_FML_Combo\n      template: \"1\"\n    - name: F_out_id")
	s, err := Parse("a.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Render(Record{"agentId": "A1", "agentName": "N"}, Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := p.Get("F_KHLX").(map[string]any); !ok || got["FNumber"] != "KHLX02_SYS" {
		t.Fatalf("F_KHLX = %#v, want a base-data reference by number", p.Get("F_KHLX"))
	}
	if got := p.Get("F_FML_Combo"); got != "1" {
		t.Fatalf("F_FML_Combo = %#v, want plain text", got)
	}
	for _, bad := range []struct{ base, old, new string }{
		{agentsBase, `      template: "{{agentId}}"`, "      template: \"{{agentId}}\"\n      ref: FNumber"},
		{customersBase, `      template: "{{F_FML_Combo|map:kinds}}"`, "      template: \"{{F_FML_Combo|map:kinds}}\"\n      ref: FNumber"},
	} {
		if _, err := Parse("c.yaml", []byte(edit(t, bad.base, bad.old, bad.new))); err == nil || !strings.Contains(err.Error(), "ref does not apply") {
			t.Fatalf("ref on a plain field: %v", err)
		}
	}
}
