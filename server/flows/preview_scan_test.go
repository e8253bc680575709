package flows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/engine"
)

// Zhilong has no lookup by id: a preview by agent id pages through the agents, at most the engine's
// bound, and says how many pages it read; a key beyond the bound is reported missing, saying why.
func TestPreviewByAgentKeysIsBoundedAndCounted(t *testing.T) {
	v := newVendors(t, 0, 120, 10) // 12 pages of agents
	v.cfg.PreviewScanPages = 4
	v.open(t)
	agents, err := v.zl.ZhilongAgents(v.ctx)
	if err != nil || len(agents) != 120 {
		t.Fatalf("agents %d, %v", len(agents), err)
	}
	// Agents are read in modification order; the first page holds the 10 oldest.
	first, err := v.eng.PreviewReport(v.ctx, engine.FlowAgents, engine.PreviewInput{Keys: []string{oldest(t, v)}})
	if err != nil || len(first.Items) != 1 || len(first.Items[0].Errors) != 0 || first.SourcePages != 1 {
		t.Fatalf("preview of an agent on the first page: pages %d, %+v, %v", first.SourcePages, first.Items, err)
	}
	far, err := v.eng.PreviewReport(v.ctx, engine.FlowAgents, engine.PreviewInput{Keys: []string{newest(t, v)}})
	if err != nil || len(far.Items) != 1 || far.SourcePages != 4 {
		t.Fatalf("preview of an agent beyond the bound: pages %d, %+v, %v", far.SourcePages, far.Items, err)
	}
	if e := far.Items[0].Errors; len(e) != 1 || !strings.Contains(e[0].Message, "first 4 pages") {
		t.Fatalf("missing agent's error: %+v", e)
	}
}

// oldest and newest are the agents the flow reads first and last.
func oldest(t *testing.T, v *vendors) string { return byCursor(t, v)[0] }
func newest(t *testing.T, v *vendors) string { k := byCursor(t, v); return k[len(k)-1] }

func byCursor(t *testing.T, v *vendors) []string {
	t.Helper()
	var keys []string
	err := v.agents.Source.Read(v.ctx, engine.ReadQuery{End: time.Now().Add(24 * time.Hour)}, func(recs []engine.SourceRecord) error {
		for _, r := range recs {
			keys = append(keys, r.Key)
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		t.Fatalf("read agents: %d, %v", len(keys), err)
	}
	return keys
}
