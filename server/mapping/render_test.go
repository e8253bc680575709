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

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("differs from %s:\n%s", path, got)
	}
}

// The records as the source clients decode them: Kingdee ids as JSON numbers, the address
// sub-record's fields flattened into the record; Zhilong fields all text.
var (
	customerRecord = Record{
		"FCUSTID": float64(100231), "FNumber": "CUST0007", "FName": "上海植隆贸易有限公司", "FUseOrgId.FNumber": "100",
		"FUseOrgId.FName": "植隆集团总部", "F_FML_Combo": "1", "F_FML_Combo1": "A", "FADDRESS1": "上海市徐汇区漕溪北路88号",
		"FTContact.FName": "张伟", "FModifyDate": "2026-11-01T10:00:00.123",
	}
	agentRecord = Record{
		"agentId": "AG000042", "agentName": "杭州植隆代理商", "houseAddress": "浙江省杭州市西湖区文三路1号",
		"remark": "金牌代理", "updateTime": "2026-11-01 10:00:00", "mobile": "13800000000",
	}
	window = Vars{LastSyncTime: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC), CurrentTime: time.Date(2026, 11, 1, 10, 30, 0, 0, gmt8),
		PageSize: 500, StartRow: 1000, StartPage: 3}
)

// The default specs render the seed tables field for field: the exact bodies (compact, as sent) and
// an indented copy for reading.
func TestDefaultSpecsRenderTheSeedTables(t *testing.T) {
	set := defaults(t)
	tests := []struct {
		flow string
		rec  Record
	}{{"customers", customerRecord}, {"agents", agentRecord}}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			spec, _ := set.Get(tt.flow)
			p, err := spec.Render(tt.rec, window)
			if err != nil {
				t.Fatal(err)
			}
			body, err := p.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.flow+".body.json", body)
			indented, _ := json.MarshalIndent(p, "", "  ")
			golden(t, tt.flow+".golden.json", indented)
			if len(p.Warnings()) != 0 {
				t.Fatalf("unexpected warnings %v", p.Warnings())
			}
			req, err := spec.RenderRequest(window)
			if err != nil {
				t.Fatal(err)
			}
			reqBody, _ := req.MarshalJSON()
			golden(t, tt.flow+".request.json", reqBody)
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
	if c.SourceKeyField() != "FCUSTID" || c.TargetKeyField() != "distributorCode" || c.CursorField() != "FModifyDate" ||
		c.Operation() != "greatonce.distributor.single.sync" || len(c.Options()) != 0 {
		t.Errorf("customers keys %s %s %s %s %v", c.SourceKeyField(), c.TargetKeyField(), c.CursorField(), c.Operation(), c.Options())
	}
	if k, err := c.SourceKey(customerRecord); err != nil || k != "100231" {
		t.Errorf("customers source key = %q %v", k, err)
	}
	if got := strings.Join(c.TargetFields(), ","); got != "actionType,address,balance_deduct_type,distributorCode,distributorCompanyName,distributorName,mobile,contact,distributorLevelName" {
		t.Errorf("customers target fields = %s", got)
	}
	a, _ := set.Get("agents")
	if got := strings.Join(a.SourceFields(), ","); got != "agentId,agentName,houseAddress,remark,updateTime" {
		t.Errorf("agents source fields = %s", got)
	}
	if len(a.EntryFields()) != 0 || a.SourceKeyField() != "agentId" || a.TargetKeyField() != "F_out_id" || a.CursorField() != "updateTime" {
		t.Errorf("agents keys %v %s %s %s", a.EntryFields(), a.SourceKeyField(), a.TargetKeyField(), a.CursorField())
	}
	opts := a.Options()
	audit, ok1 := opts.Bool("IsAutoSubmitAndAudit")
	verify, ok2 := opts.Bool("IsVerifyBaseDataField")
	if !audit || !ok1 || verify || !ok2 || len(opts) != 2 {
		t.Errorf("agents options %v", opts)
	}
	opts["IsAutoSubmitAndAudit"] = false
	if v, _ := a.Options().Bool("IsAutoSubmitAndAudit"); !v {
		t.Error("Options is not a copy")
	}
	if k, err := a.SourceKey(Record{"agentId": "A1"}); err != nil || k != "A1" {
		t.Errorf("source key = %q %v", k, err)
	}
	if _, err := a.SourceKey(Record{}); err == nil || err.Error() != "record has no agentId" {
		t.Errorf("missing key: %v", err)
	}
}

func TestTemplateFunctions(t *testing.T) {
	spec := edit(t, agentsBase, "target:", `  request:
    - name: updateTimeStart
      template: "{{LAST_SYNC_TIME|date:\"yyyyMMdd\"}}/{{PAGINATION_START_PAGE}}"
target:
  maps:
    levels: {"1": "金牌", "*": "普通"}
    exact: {"A": "甲"}`, `      template: "{{agentName}}"`, `      template: "{{agentName}}"
    - name: FDescription
      template: "{{FIELD}}"
    - name: FShortName
      template: "{{agentLevelId}}"
      type: number
    - name: FZIP
      template: "{{agentStatus|default:false}}"
      type: bool`)
	cases := []struct {
		tpl, value, want string
	}{
		{"{{agentName|trim|upper}}", "  abc ", "ABC"},
		{"{{agentName|lower}}", "AbC", "abc"},
		{"<{{agentName}}>", "  x ", "<  x >"},
		{`{{agentName|default:"无"}}`, " ", "无"},
		{`{{agentName|default:"无"}}`, "有", "有"},
		{"{{agentName|substring:1,3}}", "植隆业务中台", "隆业务"},
		{"{{agentName|substring:4}}", "植隆业务中台", "中台"},
		{"{{agentName|substring:9,2}}", "植隆", ""},
		{"{{agentName|map:levels}}", "1", "金牌"},
		{"{{agentName|map:levels}}", "7", "普通"},
		{"{{agentName|map:exact}}", "B", "B"},
		{"{{agentName|date}}", "2026-03-04 05:06:07", "2026-03-04"},
		{`{{agentName|date:"yyyy/MM/dd HH:mm"}}`, "2026-03-04T05:06:07.583", "2026/03/04 05:06"},
		{`{{agentName|date:"2006-01-02T15:04"}}`, "2026-03-04 05:06:07", "2026-03-04T05:06"},
		{"{{agentName datetime}}", "2026-03-04T05:06:07Z", "2026-03-04 13:06:07"},
		{"{{agentName|datetime}}", "", ""},
		{"{{LAST_SYNC_TIME datetime}}~{{CURRENT_TIME|datetime}}", "", "2026-11-01 10:00:00~2026-11-01 10:30:00"},
		{"{{PAGINATION_PAGE_SIZE}},{{PAGINATION_START_ROW}}", "", "500,1000"},
		{"{{agentName}}", "", ""},
	}
	for _, c := range cases {
		s, err := Parse("t.yaml", []byte(strings.Replace(spec, "{{FIELD}}", strings.ReplaceAll(c.tpl, `"`, `\"`), 1)))
		if err != nil {
			t.Fatalf("%s: %v", c.tpl, err)
		}
		p, err := s.Render(Record{"agentId": "X", "agentName": c.value}, window)
		if err != nil {
			t.Fatalf("%s: %v", c.tpl, err)
		}
		if got := p.Get("FDescription"); got != c.want {
			t.Errorf("%s on %q = %q, want %q", c.tpl, c.value, got, c.want)
		}
	}

	s, err := Parse("t.yaml", []byte(strings.NewReplacer("{{FIELD}}", "{{agentName}}").Replace(spec)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Render(Record{"agentId": "X", "agentLevelId": " 42 "}, window)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := p.Get("FShortName").(json.Number); !ok || n != "42" {
		t.Errorf("number = %#v", p.Get("FShortName"))
	}
	if p.Get("FZIP") != false {
		t.Errorf("bool default = %#v", p.Get("FZIP"))
	}
	if _, err := s.Render(Record{"agentId": "X", "agentLevelId": "x", "agentStatus": "x"}, window); err == nil ||
		err.Error() != "target field \"FShortName\": \"x\" is not a number\ntarget field \"FZIP\": \"x\" is not true or false" {
		t.Errorf("bad number and bool: %v", err)
	}
	p, _ = s.Render(Record{"agentId": "X", "agentStatus": "true"}, window)
	if p.Get("FZIP") != true {
		t.Errorf("bool = %#v", p.Get("FZIP"))
	}
	req, _ := s.RenderRequest(window)
	if got, _ := req.MarshalJSON(); string(got) != `{"updateTimeStart":"20261101/3"}` {
		t.Errorf("request = %s", got)
	}

	s, _ = Parse("t.yaml", []byte(strings.Replace(spec, "{{FIELD}}", "{{updateTime|datetime}}", 1)))
	if _, err := s.Render(Record{"agentId": "X", "updateTime": "yesterday"}, window); err == nil ||
		err.Error() != `target field "FDescription": "yesterday" is not a date/time` {
		t.Errorf("bad date: %v", err)
	}
}

func TestRenderWarnings(t *testing.T) {
	a, _ := defaults(t).Get("agents")
	p, err := a.Render(Record{"agentId": " ", "agentName": "", "remark": nil}, Vars{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range p.Warnings() {
		got = append(got, w.Field+": "+w.Message)
	}
	want := `FADDRESS: source field "houseAddress" is absent from the record|FName: required field is empty|F_out_id: required field is empty`
	if strings.Join(got, "|") != want {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}

	c, _ := Parse("c.yaml", []byte(edit(t, agentsBase, `template: "100"`, `template: "{{agentLevelId}}"`, "key: F_out_id", "key: FUseOrgId",
		"    - name: FName", "    - name: FNumber\n      template: \"\"\n    - name: FName")))
	p, _ = c.Render(Record{"agentId": "1", "agentName": "n", "agentLevelId": ""}, Vars{})
	if w := p.Warnings(); len(w) != 1 || w[0] != (Issue{Field: "FUseOrgId.FNumber", Message: "target key is empty"}) {
		t.Errorf("warnings %v", w)
	}
}

func BenchmarkRenderCustomer(b *testing.B) {
	set, err := LoadSet("")
	if err != nil {
		b.Fatal(err)
	}
	c, _ := set.Get("customers")
	b.ReportAllocs()
	for b.Loop() {
		p, err := c.Render(customerRecord, window)
		if err != nil {
			b.Fatal(err)
		}
		_ = p.Hash()
	}
}
