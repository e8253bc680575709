package flows_test

import (
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/server/engine"
)

// agentListBodies are the agentInfo/list bodies the Zhilong mock has logged, oldest first.
func (v *vendors) agentListBodies(t *testing.T) []map[string]string {
	t.Helper()
	log, err := v.zl.Log(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, e := range log {
		if e.Endpoint != "agentInfo/list" {
			continue
		}
		var body map[string]string
		if err := json.Unmarshal([]byte(e.Request), &body); err != nil {
			t.Fatalf("logged body %q: %v", e.Request, err)
		}
		out = append(out, body)
	}
	return out
}

// The agents flow's agentInfo/list body is the spec's source.request: editing it in an override
// changes the call (here a window that ends at a fixed time reads only the agents updated until then;
// its start stays {{LAST_SYNC_TIME}}, the position the read resumes from).
func TestAgentsRequestComesFromTheSpec(t *testing.T) {
	v := newVendors(t, 0, 30, 7)
	agents, _ := v.zl.ZhilongAgents(v.ctx)
	times := make([]time.Time, len(agents))
	for i, a := range agents {
		times[i] = a.UpdateTime
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	until := times[len(times)/2].Truncate(time.Second)
	want := 0
	for _, at := range times {
		if !at.After(until) {
			want++
		}
	}
	literal := until.In(vendor.GMT8()).Format(vendor.DateTimeLayout)
	v.withSpec(t, engine.FlowAgents, `template: "{{CURRENT_TIME datetime}}"`, `template: "`+literal+`"`)
	r := v.run(t, engine.FlowAgents, engine.Options{})
	if r.Status != engine.StatusSucceeded || int(r.Counts.Read) != want || want == len(agents) {
		t.Fatalf("run read %d of %d agents, want the %d updated until %s: %+v", r.Counts.Read, len(agents), want, literal, r)
	}
	bodies := v.agentListBodies(t)
	if len(bodies) == 0 || !slices.ContainsFunc(bodies, func(b map[string]string) bool { return b["updateTimeEnd"] == literal }) {
		t.Fatalf("no agentInfo/list body ends at %s: %v", literal, bodies)
	}
}
