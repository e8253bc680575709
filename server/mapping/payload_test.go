package mapping

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestPayloadBodyHashAndSet(t *testing.T) {
	a, _ := defaults(t).Get("agents")
	p1, _ := a.Render(Record{"agentId": "1", "agentName": "n<&>"}, Vars{})
	p2, _ := a.Render(Record{"agentId": "1", "agentName": "n<&>"}, Vars{})
	p3, _ := a.Render(Record{"agentId": "1", "agentName": "m"}, Vars{})
	if p1.Hash() != p2.Hash() || p1.Hash() == p3.Hash() || len(p1.Hash()) != 64 {
		t.Fatalf("hash is not a function of the payload: %s %s %s", p1.Hash(), p2.Hash(), p3.Hash())
	}
	b, _ := p1.MarshalJSON()
	if !strings.HasPrefix(string(b), `{"FName":"n<&>","FNumber":"","FCreateOrgId":{"FNumber":"100"}`) {
		t.Fatalf("body = %s", b)
	}
	// The hash is of canonical JSON: the same fields in another order hash the same.
	reordered := &Payload{}
	for i := len(p1.fields) - 1; i >= 0; i-- {
		reordered.Set(p1.fields[i], p1.vals[i])
	}
	if rb, _ := reordered.MarshalJSON(); string(rb) == string(b) || reordered.Hash() != p1.Hash() {
		t.Fatal("hash depends on field order")
	}
	m := p1.Map()
	m["FUseOrgId"].(map[string]any)["FNumber"] = "200"
	if p1.Get("FUseOrgId").(map[string]any)["FNumber"] != "100" {
		t.Fatal("Map shares nested maps with the payload")
	}
	p1.Set("FCUSTID", 7)
	p1.Set("FName", "x")
	if f := p1.Fields(); f[0] != "FName" || f[len(f)-1] != "FCUSTID" || p1.Get("FCUSTID") != 7 || p1.Get("FName") != "x" {
		t.Fatalf("Set: %v", p1.Fields())
	}
}

func TestDiff(t *testing.T) {
	a, _ := defaults(t).Get("agents")
	oldP, _ := a.Render(agentRecord, Vars{})
	body, _ := oldP.MarshalJSON()
	var delivered map[string]any // as stored: JSON
	if err := json.Unmarshal(body, &delivered); err != nil {
		t.Fatal(err)
	}
	same, _ := a.Render(agentRecord, Vars{})
	if d := Diff(delivered, same.Map()); len(d) != 0 {
		t.Fatalf("diff of equal payloads: %v", d)
	}
	delivered["FUseOrgId"] = map[string]any{"FNumber": "200"}
	delivered["FOld"] = "gone"
	delete(delivered, "FGroup")
	rec := Record{}
	for k, v := range agentRecord {
		rec[k] = v
	}
	rec["agentName"] = "新名称"
	newP, _ := a.Render(rec, Vars{})
	want := []FieldChange{
		{Field: "FGroup", Old: nil, New: map[string]any{"FNumber": "02"}},
		{Field: "FINVOICETITLE", Old: "杭州植隆代理商", New: "新名称"},
		{Field: "FName", Old: "杭州植隆代理商", New: "新名称"},
		{Field: "FOld", Old: "gone", New: nil},
		{Field: "FUseOrgId.FNumber", Old: "200", New: "100"},
	}
	if got := Diff(delivered, newP.Map()); !reflect.DeepEqual(got, want) {
		t.Fatalf("diff\n%#v\nwant\n%#v", got, want)
	}
	if d := Diff(map[string]any{"n": float64(100)}, map[string]any{"n": json.Number("100")}); len(d) != 0 {
		t.Fatalf("numbers of different Go types differ: %v", d)
	}
	if d := Diff(map[string]any{"n": "100"}, map[string]any{"n": json.Number("100")}); len(d) != 1 {
		t.Fatalf("text and number compare equal: %v", d)
	}
}
