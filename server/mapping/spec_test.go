package mapping

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const customersBase = `flow: customers
source:
  key: FCUSTID
  cursor: FModifyDate
  aliases:
    Name: FName
target:
  operation: greatonce.distributor.single.sync
  key: distributorCode
  maps:
    kinds: {"1": "预付", "*": "其他"}
  fields:
    - name: actionType
      template: add
    - name: distributorCode
      template: "{{Name}}{{FNumber}}"
    - name: distributorName
      template: "{{Name}}"
    - name: balance_deduct_type
      template: "{{F_FML_Combo|map:kinds}}"
`

const agentsBase = `flow: agents
source:
  key: agentId
  cursor: updateTime
target:
  operation: BD_Customer BatchSave
  key: F_out_id
  options:
    IsAutoSubmitAndAudit: true
  fields:
    - name: FName
      template: "{{agentName}}"
    - name: F_out_id
      template: "{{agentId}}"
    - name: FUseOrgId
      template: "100"
      ref: FNumber
`

// edit applies old→new replacements, failing the test when one does not match.
func edit(t *testing.T, base string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(base, pairs[i]) {
			t.Fatalf("test spec lacks %q", pairs[i])
		}
		base = strings.Replace(base, pairs[i], pairs[i+1], 1)
	}
	return base
}

func TestBaseSpecsAreValid(t *testing.T) {
	for _, b := range []string{customersBase, agentsBase} {
		if _, err := Parse("c.yaml", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInvalidSpecsFailPrecisely(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		edits []string
		want  string
	}{
		{"unknown source field", customersBase, []string{`"{{Name}}"`, `"{{Nmae}}"`},
			`c.yaml:18:20: target field "distributorName" at template 1:3: unknown source field or alias "Nmae"`},
		{"source field in the wrong case", customersBase, []string{`"{{Name}}"`, `"{{fname}}"`},
			`c.yaml:18:20: target field "distributorName" at template 1:3: unknown source field or alias "fname" (did you mean "FName"?)`},
		{"unknown function", customersBase, []string{`"{{Name}}"`, `"{{Name|shout}}"`},
			`c.yaml:18:25: target field "distributorName" at template 1:8: unknown function "shout" (have date, datetime, default, lower, map, substring, trim, upper)`},
		{"syntax error", customersBase, []string{`"{{Name}}"`, `"x{{Name"`},
			`c.yaml:18:19: target field "distributorName" at template 1:2: unclosed "{{"`},
		{"syntax error inside an action", customersBase, []string{`"{{Name}}"`, `"{{Name trim upper}}"`},
			`c.yaml:18:30: target field "distributorName" at template 1:13: expected "|" and a function, or "}}", found "u"`},
		{"unknown value map", customersBase, []string{`map:kinds`, `map:kind`},
			`c.yaml:20:32: target field "balance_deduct_type" at template 1:15: unknown value map "kind"`},
		{"bad function argument", customersBase, []string{`"{{Name}}"`, `"{{Name|substring:x}}"`},
			`c.yaml:18:25: target field "distributorName" at template 1:8: substring: start "x" is not a whole number ≥ 0`},
		{"argument count", customersBase, []string{`"{{Name}}"`, `"{{Name|trim:1}}"`},
			`c.yaml:18:25: target field "distributorName" at template 1:8: trim takes no arguments, got 1`},
		{"unknown target field", customersBase, []string{`name: distributorName`, `name: distributorNmae`},
			"c.yaml:13:5: required target field \"distributorName\" is missing\n" +
				`c.yaml:17:13: target field "distributorNmae": unknown target field`},
		{"target field given twice", customersBase, []string{`name: balance_deduct_type`, `name: distributorName`},
			`c.yaml:19:13: target field "distributorName": given twice`},
		{"alias of an unknown field", customersBase, []string{`Name: FName`, `Name: FNmae`},
			`c.yaml:6:11: alias "Name": "FNmae" is not a customers source field`},
		{"alias hiding a field", customersBase, []string{`Name: FName`, "Name: FName\n    FNumber: FName"},
			`c.yaml:7:5: alias "FNumber" hides the source field or variable of that name`},
		{"unknown source key and cursor", customersBase, []string{`key: FCUSTID`, `key: FCUSTId`, `cursor: FModifyDate`, `cursor: modified`},
			"c.yaml:3:8: source key \"FCUSTId\" is not a customers source field (did you mean \"FCUSTID\"?)\n" +
				`c.yaml:4:11: source cursor "modified" is not a customers source field`},
		{"options for greatonce", customersBase, []string{`  key: distributorCode`, "  key: distributorCode\n  options: {IsAutoSubmitAndAudit: true}"},
			`c.yaml:10:13: unknown option "IsAutoSubmitAndAudit": greatonce.distributor.single.sync takes no options`},
		{"wrong operation", customersBase, []string{`operation: greatonce.distributor.single.sync`, `operation: greatonce.distributor.add`},
			`c.yaml:8:14: target operation "greatonce.distributor.add": the customers flow calls "greatonce.distributor.single.sync"`},
		{"target key not mapped", customersBase, []string{`key: distributorCode`, `key: mobile`},
			`c.yaml:9:8: target key "mobile" is not one of the target fields`},
		{"unknown yaml key", customersBase, []string{`      template: add`, `      tempalte: add`},
			`c.yaml:14: unknown key "tempalte"`},
		{"yaml type error", customersBase, []string{`key: distributorCode`, `key: [a, b]`},
			`c.yaml:9: cannot unmarshal !!seq into string`},
		{"yaml syntax error", customersBase, []string{`    - name: actionType`, `    - name: actionType: x`},
			`c.yaml:13: mapping values are not allowed in this context`},
		{"unknown flow", customersBase, []string{`flow: customers`, `flow: orders`},
			`c.yaml:1:7: unknown flow "orders" (want agents or customers)`},
		{"request reads a record field", customersBase, []string{"  aliases:", "  request:\n    - name: FormId\n      template: \"{{FName}}\"\n  aliases:"},
			`c.yaml:7:20: request field "FormId" at template 1:3: unknown variable "FName": request parameters use run variables only (LAST_SYNC_TIME, CURRENT_TIME, PAGINATION_PAGE_SIZE, PAGINATION_START_ROW, PAGINATION_START_PAGE)`},
		{"customers request: a start row", customersBase, []string{"  aliases:", "  request:\n    - name: StartRow\n      template: \"{{PAGINATION_PAGE_SIZE}}\"\n      type: number\n    - name: TopRowCount\n      template: \"5\"\n  aliases:"},
			"c.yaml:7:17: request field \"StartRow\": renders \"1000\": keyset paging reads from the cursor; StartRow/TopRowCount are not supported (leave it blank or 0)\n" +
				`c.yaml:10:17: request field "TopRowCount": renders "5": keyset paging reads from the cursor; StartRow/TopRowCount are not supported (leave it blank or 0)`},
		{"customers request: another order", customersBase, []string{"  aliases:", "  request:\n    - name: OrderString\n      template: FNumber ASC\n  aliases:"},
			`c.yaml:7:17: request field "OrderString": "FNumber ASC": keyset paging needs the order "FModifyDate ASC, FCUSTID ASC" (or leave it blank)`},
		{"customers request: field keys", customersBase, []string{"  aliases:", "  request:\n    - name: FieldKeys\n      template: \"FDescription, FADDRESS1,FDescripton\"\n  aliases:"},
			"c.yaml:7:17: request field \"FieldKeys\": \"FADDRESS1\" is a sub-record field: list it under source.entry_fields\n" +
				`c.yaml:7:17: request field "FieldKeys": "FDescripton" is not a customers source field`},
		{"customers request: a bad page size", customersBase, []string{"  aliases:", "  request:\n    - name: Limit\n      template: \"-1\"\n  aliases:"},
			`c.yaml:7:17: request field "Limit": "-1" is not a page size (a whole number of rows; blank or 0: the configured page size)`},
		{"customers request: a time variable", customersBase, []string{"  aliases:", "  request:\n    - name: FilterString\n      template: \"FModifyDate > '{{LAST_SYNC_TIME datetime}}'\"\n  aliases:"},
			`c.yaml:7:35: request field "FilterString" at template 1:18: variable "LAST_SYNC_TIME" is not bound here: the customers request is rendered once, at start-up (a read resumes from its keyset cursor); use PAGINATION_PAGE_SIZE or PAGINATION_START_ROW`},
		{"several problems, in file order", customersBase, []string{`"{{Name}}"`, `"{{A}}{{B|upper:x}}"`, `Name: FName`, `Name: FNmae`},
			"c.yaml:6:11: alias \"Name\": \"FNmae\" is not a customers source field\n" +
				"c.yaml:18:20: target field \"distributorName\" at template 1:3: unknown source field or alias \"A\"\n" +
				"c.yaml:18:25: target field \"distributorName\" at template 1:8: unknown source field or alias \"B\"\n" +
				`c.yaml:18:27: target field "distributorName" at template 1:10: upper takes no arguments, got 1`},
		{"literal block template", customersBase, []string{`template: "{{Name}}"`, "template: |-\n        {{Name}}\n        {{Nmae}}"},
			`c.yaml:20:11: target field "distributorName" at template 2:3: unknown source field or alias "Nmae"`},
		{"escaped template falls back to the value's start", customersBase, []string{`"{{Name}}"`, `"\u0041{{Nmae}}"`},
			`c.yaml:18:17: target field "distributorName" at template 1:4: unknown source field or alias "Nmae"`},
		{"base-data field without ref", agentsBase, []string{"      ref: FNumber\n", ""},
			`c.yaml:15:13: target field "FUseOrgId": a base-data reference: add ref: FNumber`},
		{"ref on a text field", agentsBase, []string{"      template: \"{{agentName}}\"", "      template: \"{{agentName}}\"\n      ref: FNumber"},
			`c.yaml:13:12: target field "FName": not a base-data reference, ref does not apply`},
		{"reserved FCUSTID", agentsBase, []string{"    - name: FName", "    - name: FCUSTID\n      template: \"0\"\n    - name: FName"},
			`c.yaml:11:13: target field "FCUSTID": FCUSTID is set by the gateway (0 to create, the mapped customer id to update)`},
		{"option types", agentsBase, []string{`IsAutoSubmitAndAudit: true`, "IsAutoSubmitAndAudit: \"yes\"\n    BatchCount: many\n    IsAutoAudit: true"},
			"c.yaml:9:27: option \"IsAutoSubmitAndAudit\" must be true or false, not yes\n" +
				"c.yaml:10:17: option \"BatchCount\" must be a whole number, not many\n" +
				`c.yaml:11:5: unknown option "IsAutoAudit" for BD_Customer BatchSave`},
		{"bool field", agentsBase, []string{"      ref: FNumber", "      ref: FNumber\n      type: boolean"},
			`c.yaml:18:13: target field "FUseOrgId": unknown type "boolean" (want string, bool or number)`},
		{"required agents fields", agentsBase, []string{"    - name: F_out_id\n      template: \"{{agentId}}\"\n", ""},
			"c.yaml:7:8: target key \"F_out_id\" is not one of the target fields\n" +
				`c.yaml:11:5: required target field "F_out_id" is missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(edit(t, tt.base, tt.edits...)))
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
			var se *SpecError
			if !errors.As(err, &se) || len(se.Problems) != strings.Count(tt.want, "\n")+1 {
				t.Errorf("not a SpecError with one problem per line: %#v", err)
			}
		})
	}
}

func TestProblemFields(t *testing.T) {
	_, err := Parse("c.yaml", []byte(edit(t, customersBase, `"{{Name}}"`, `"{{Name|shout}}"`)))
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("%v is not a Problem", err)
	}
	want := Problem{File: "c.yaml", Line: 18, Col: 25, Section: "target", Field: "distributorName", Template: Pos{1, 8},
		Msg: `unknown function "shout" (have date, datetime, default, lower, map, substring, trim, upper)`}
	if *p != want {
		t.Fatalf("problem %+v, want %+v", *p, want)
	}
}

func TestEmptySpec(t *testing.T) {
	if _, err := Parse("e.yaml", nil); err == nil || err.Error() != "e.yaml: empty spec" {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadSet(t *testing.T) {
	set, err := LoadSet("")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.Flows(), ","); got != "agents,customers" {
		t.Fatalf("flows %s", got)
	}
	if _, ok := set.Get("orders"); ok {
		t.Fatal("unknown flow found")
	}
	c, _ := set.Get("customers")
	if c.Name() != "embedded customers.yaml" {
		t.Fatalf("name %q", c.Name())
	}

	dir := t.TempDir()
	good, err := Default("agents")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("agents.yaml", edit(t, string(good), "KHLX02_SYS", "KHLX01_SYS"))
	write("notes.txt", "not a spec")
	if set, err = LoadSet(dir); err != nil {
		t.Fatal(err)
	}
	a, _ := set.Get("agents")
	c, _ = set.Get("customers")
	p, err := a.Render(Record{"agentId": "1", "agentName": "n"}, Vars{})
	if err != nil || p.Get("F_KHLX") != "KHLX01_SYS" || a.Name() != filepath.Join(dir, "agents.yaml") || c.Name() != "embedded customers.yaml" {
		t.Fatalf("override: %v %v %s %s", err, p.Get("F_KHLX"), a.Name(), c.Name())
	}

	// Every problem of every file at once: a broken override, a misspelt file name, a flow mismatch.
	write("customers.yaml", "flow: customers\n")
	write("customer.yaml", "flow: customers\n")
	write("agents.yaml", string(edit(t, string(good), "flow: agents", "flow: customers")))
	_, err = LoadSet(dir)
	want := filepath.Join(dir, "customer.yaml") + ": not a mapping spec name (want one of agents.yaml, customers.yaml)\n" +
		filepath.Join(dir, "agents.yaml") + ": declares flow \"customers\", but the file name says \"agents\"\n"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error\n%v\nwant prefix\n%s", err, want)
	}
	for _, w := range []string{filepath.Join(dir, "customers.yaml") + ": source key is missing", `target key is missing`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	if _, err := LoadSet(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "mapping spec directory") {
		t.Fatalf("missing dir: %v", err)
	}
	if _, err := Default("orders"); err == nil {
		t.Fatal("default for an unknown flow")
	}
}

// FuzzParseSpec: any spec text is either compiled or refused with problems, never a panic, and a
// compiled spec renders an empty record.
func FuzzParseSpec(f *testing.F) {
	for _, flow := range []string{"customers", "agents"} {
		b, _ := Default(flow)
		f.Add(b)
	}
	f.Add([]byte(customersBase))
	f.Add([]byte(strings.Replace(agentsBase, `template: "100"`, "template: |\n        {{a\n        b}}", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("error %v is not a SpecError with problems", err)
			}
			return
		}
		if _, err := s.Render(Record{}, Vars{}); err != nil && !strings.Contains(err.Error(), "target field") {
			t.Fatalf("render error without a field: %v", err)
		}
	})
}

// A customers request the keyset read can use is accepted as written: the seed's Limit and StartRow
// templates, the keyset order in any spacing and case, header FieldKeys, a filter.
func TestCustomersRequestAccepted(t *testing.T) {
	s, err := Parse("c.yaml", []byte(edit(t, customersBase, "  aliases:", `  request:
    - name: Limit
      template: "{{PAGINATION_PAGE_SIZE}}"
      type: number
    - name: StartRow
      template: "{{PAGINATION_START_ROW}}"
      type: number
    - name: TopRowCount
      template: ""
      type: number
    - name: OrderString
      template: "fmodifydate asc ,FCUSTID  ASC"
    - name: FieldKeys
      template: "FDescription, FShortName,"
    - name: FilterString
      template: "FUseOrgId.FNumber = '101'"
  aliases:`)))
	if err != nil {
		t.Fatal(err)
	}
	req, err := s.RenderRequest(Vars{PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := req.MarshalJSON(); string(got) != `{"Limit":50,"StartRow":0,"TopRowCount":0,"OrderString":"fmodifydate asc ,FCUSTID  ASC","FieldKeys":"FDescription, FShortName,","FilterString":"FUseOrgId.FNumber = '101'"}` {
		t.Errorf("request = %s", got)
	}
	if got := SplitFieldKeys(" FDescription, FShortName,,"); strings.Join(got, "|") != "FDescription|FShortName" {
		t.Errorf("SplitFieldKeys = %q", got)
	}
}
