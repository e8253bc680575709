package mapping

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func defaults(t *testing.T) *Set {
	t.Helper()
	s, err := LoadSet("")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDefaultSpecsRenderTheSeedTables(t *testing.T) {
	set := defaults(t)
	tests := []struct {
		flow   string
		rec    Record
		golden string
	}{
		{"customers", Record{
			"FCUSTID": float64(100231), "FNumber": "CUST0007", "FName": "上海植隆贸易有限公司", "FUseOrgId.FNumber": "100",
			"FUseOrgId.FName": "植隆集团总部", "F_FML_Combo": "1", "F_FML_Combo1": "A", "FADDRESS1": "上海市徐汇区漕溪北路88号",
			"FTContact.FName": "张伟", "FModifyDate": "2026-11-01T10:00:00.123",
		}, "customers.golden.json"},
		{"agents", Record{
			"agentId": "AG000042", "agentName": "杭州植隆代理商", "houseAddress": "浙江省杭州市西湖区文三路1号",
			"remark": "金牌代理", "updateTime": "2026-11-01 10:00:00", "mobile": "13800000000",
		}, "agents.golden.json"},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			spec, ok := set.Get(tt.flow)
			if !ok {
				t.Fatal("no spec")
			}
			p, err := spec.Render(tt.rec, Vars{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				os.WriteFile(path, got, 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("render differs from %s:\n%s", path, got)
			}
			if len(p.Warnings()) != 0 {
				t.Fatalf("unexpected warnings %v", p.Warnings())
			}
		})
	}
}

func TestDefaultSpecMetadata(t *testing.T) {
	set := defaults(t)
	c, _ := set.Get("customers")
	if got := strings.Join(c.SourceFields(), ","); got != "FCUSTID,FModifyDate,FName,FNumber,FUseOrgId.FName,FUseOrgId.FNumber,F_FML_Combo,F_FML_Combo1" {
		t.Errorf("customers header fields = %s", got)
	}
	if got := strings.Join(c.EntryFields(), ","); got != "FADDRESS1,FTContact.FName" {
		t.Errorf("customers entry fields = %s", got)
	}
	a, _ := set.Get("agents")
	if a.TargetKeyField() != "F_out_id" || a.Options()["IsAutoSubmitAndAudit"] != true || a.Options()["IsVerifyBaseDataField"] != false {
		t.Errorf("agents target = %s %v", a.TargetKeyField(), a.Options())
	}
	if k, err := a.SourceKey(Record{"agentId": "A1"}); err != nil || k != "A1" {
		t.Errorf("source key = %q %v", k, err)
	}
	if _, err := a.SourceKey(Record{}); err == nil {
		t.Error("missing key accepted")
	}
}

func TestTemplateFunctions(t *testing.T) {
	spec := `flow: agents
source:
  key: agentId
target:
  maps:
    levels: {"1": "金牌", "*": "普通"}
  fields:
    - name: FName
      template: "{{agentName|trim|upper}}-{{agentLevelId|map:levels}}"
    - name: F_out_id
      template: "{{agentId}}"
    - name: FDescription
      template: "{{remark|default:\"无\"}} {{agentName|substring:1,3}} {{updateTime|date:\"yyyy/MM/dd\"}} {{LAST_SYNC_TIME datetime}} {{CURRENT_TIME|datetime}}"
`
	s, err := Parse("t.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	vars := Vars{LastSyncTime: time.Date(2026, 1, 2, 3, 4, 5, 0, gmt8), CurrentTime: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	p, err := s.Render(Record{"agentName": "  abcdef ", "agentLevelId": "2", "agentId": "X", "updateTime": "2026-03-04 05:06:07"}, vars)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Get("FName"); got != "ABCDEF-普通" {
		t.Errorf("FName = %q", got)
	}
	if got := p.Get("FDescription"); got != "无  ab 2026/03/04 2026-01-02 03:04:05 2026-01-02 08:00:00" {
		t.Errorf("FDescription = %q", got)
	}
	if _, err := s.Render(Record{"agentId": "X", "updateTime": "yesterday"}, vars); err == nil || !strings.Contains(err.Error(), `target field "FDescription"`) {
		t.Errorf("bad date: %v", err)
	}
}

func TestInvalidSpecsFailPrecisely(t *testing.T) {
	head := "flow: customers\nsource:\n  key: FCUSTID\ntarget:\n  fields:\n"
	req := "    - name: actionType\n      template: add\n    - name: distributorCode\n      template: x\n"
	tests := []struct {
		name, body string
		want       []string
	}{
		{"unknown source field", req + "    - name: distributorName\n      template: \"{{Nmae}}\"\n",
			[]string{`bad.yaml: 11:20: target field "distributorName": unknown source field "Nmae"`}},
		{"unknown function", req + "    - name: distributorName\n      template: \"{{FName|shout}}\"\n",
			[]string{`bad.yaml: 11:26: target field "distributorName": unknown function "shout"`}},
		{"syntax error", req + "    - name: distributorName\n      template: \"x{{FName\"\n",
			[]string{`bad.yaml: 11:19: target field "distributorName": unclosed {{`}},
		{"unknown target field and missing required", "    - name: distributorNmae\n      template: x\n",
			[]string{`bad.yaml: 6:7: unknown target field "distributorNmae"`, `required target field "actionType" is missing`, `required target field "distributorName" is missing`}},
		{"several at once", req + "    - name: distributorName\n      template: \"{{A}}{{B|map:nope}}\"\n",
			[]string{`unknown source field "A"`, `unknown source field "B"`, `unknown value map "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(head+tt.body))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
	if _, err := Parse("x.yaml", []byte("flow: orders\n")); err == nil || !strings.Contains(err.Error(), `unknown flow "orders"`) {
		t.Errorf("unknown flow: %v", err)
	}
	if _, err := Parse("x.yaml", []byte("flow: agents\nsauce: {}\n")); err == nil || !strings.Contains(err.Error(), "sauce") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestLoadSetOverridesAndRefusesInvalid(t *testing.T) {
	dir := t.TempDir()
	good, _ := embedded.ReadFile("specs/agents.yaml")
	os.WriteFile(filepath.Join(dir, "agents.yaml"), []byte(strings.Replace(string(good), "KHLX02_SYS", "KHLX01_SYS", 1)), 0o600)
	set, err := LoadSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := set.Get("agents")
	p, _ := a.Render(Record{"agentId": "1", "agentName": "n"}, Vars{})
	if p.Get("F_KHLX") != "KHLX01_SYS" {
		t.Fatalf("override ignored: %v", p.Get("F_KHLX"))
	}
	os.WriteFile(filepath.Join(dir, "customers.yaml"), []byte("flow: customers\n"), 0o600)
	if _, err := LoadSet(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "customers.yaml")) {
		t.Fatalf("invalid override: %v", err)
	}
}

func TestPayloadHashAndOrder(t *testing.T) {
	set := defaults(t)
	a, _ := set.Get("agents")
	p1, _ := a.Render(Record{"agentId": "1", "agentName": "n<&>"}, Vars{})
	p2, _ := a.Render(Record{"agentId": "1", "agentName": "n<&>"}, Vars{})
	p3, _ := a.Render(Record{"agentId": "1", "agentName": "m"}, Vars{})
	if p1.Hash() != p2.Hash() || p1.Hash() == p3.Hash() {
		t.Fatal("hash is not a function of the payload")
	}
	b, _ := p1.MarshalJSON()
	if !strings.HasPrefix(string(b), `{"FName":"n<&>","FNumber":"","FCreateOrgId":{"FNumber":"100"}`) {
		t.Fatalf("body = %s", b)
	}
	p1.Set("FCUSTID", 7)
	if f := p1.Fields(); f[len(f)-1] != "FCUSTID" || p1.Get("FCUSTID") != 7 {
		t.Fatal("Set did not append")
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"{{Name}}{{bfn_num}}", "{{LAST_SYNC_TIME datetime}}", `{{a|default:"x\"y",z|map:m}}`, "plain", "{{", "}}{{x}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := ParseTemplate(src)
		if err != nil {
			return
		}
		again, err := ParseTemplate(tpl.String())
		if err != nil {
			t.Fatalf("String() of %q = %q does not parse: %v", src, tpl.String(), err)
		}
		if again.String() != tpl.String() {
			t.Fatalf("round trip changed %q -> %q", tpl.String(), again.String())
		}
	})
}
