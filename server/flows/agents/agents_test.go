package agents

import (
	"bytes"
	"testing"

	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/mapping"
)

// TestCreateModelIsThePayloadWithFCUSTIDZero: a create's Model, rendered without copying the
// payload, is byte for byte what setting FCUSTID 0 on a copy and encoding it renders.
func TestCreateModelIsThePayloadWithFCUSTIDZero(t *testing.T) {
	set, err := mapping.LoadSet("")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := set.Get("agents")
	w := &kingdeeCustomerWriter{spec: spec}
	for _, rec := range []mapping.Record{
		{"agentId": "AG000042", "agentName": "杭州植隆代理商", "houseAddress": "浙江省杭州市西湖区文三路1号",
			"remark": "金牌 \"代理\" <&> \u2028", "updateTime": "2026-11-01 10:00:00", "mobile": "13800000000"},
		{"agentId": "1"},
	} {
		p, err := spec.Render(rec, mapping.Vars{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := w.prepare(engine.Planned{Payload: p, Action: engine.ActionAdd, Spec: spec}, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := p.Clone()
		m.Set("FCUSTID", int64(0))
		want, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.model, want) {
			t.Errorf("create model\n got %s\nwant %s", c.model, want)
		}
	}
	// A payload without fields (a spec cannot render one, but Prepare must not break on it).
	empty, _ := spec.Render(mapping.Record{"agentId": "2"}, mapping.Vars{})
	for _, f := range empty.Fields() {
		empty.Delete(f)
	}
	c, err := w.prepare(engine.Planned{Payload: empty, Action: engine.ActionAdd, Spec: spec}, 0, nil)
	if err != nil || string(c.model) != `{"FCUSTID":0}` {
		t.Errorf("empty payload: %s, %v", c.model, err)
	}
}
