package engine

import (
	"context"
	"errors"
	"testing"
)

// A third flow is added without editing an engine file: a Source and a Target (here the fakes), a
// mapping spec, and a name the engine has never heard of. It runs, dead-letters, reruns and previews
// like the two shipped flows. (README "Adding a flow".)
func TestAThirdFlowNeedsNoEngineChange(t *testing.T) {
	b := newTestBundle(t, 7, 3, 0)
	const name = "suppliers"
	b.rebuild(t, withFlow(func(f *Flow) { f.Name = name }))
	b.tgt.permanent["A0004"] = true
	r, err := b.eng.Start(b.ctx, name, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err = b.eng.Wait(b.ctx, r.ID); err != nil || r.Status != StatusPartial || r.Counts.Added != 6 || r.Counts.Failed != 1 {
		t.Fatalf("run %+v %v", r, err)
	}
	if dls, _ := b.st.DeadLetters(b.ctx, name, 0); len(dls) != 1 || dls[0].SourceKey != "A0004" {
		t.Fatalf("dead letters %+v", dls)
	}
	delete(b.tgt.permanent, "A0004")
	r, _ = b.eng.Start(b.ctx, name, Options{})
	if r, _ = b.eng.Wait(b.ctx, r.ID); r.Status != StatusSucceeded || r.Counts.Added != 1 {
		t.Fatalf("rerun %+v", r)
	}
	items, err := b.eng.Preview(b.ctx, name, PreviewInput{Records: []map[string]any{{"agentId": "N1", "agentName": "新供应商", "updateTime": "2026-11-01 10:00:00"}}})
	if err != nil || len(items) != 1 || items[0].Action != ActionAdd {
		t.Fatalf("preview %+v %v", items, err)
	}
	// The two shipped flows are not special: the engine only knows the flows it was given.
	if _, err := b.eng.Start(b.ctx, FlowAgents, Options{}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("a flow the engine was not given: %v", err)
	}
	// A source that cannot restrict reads to use organisations refuses them, whatever its name.
	if _, err := b.eng.Start(context.Background(), name, Options{UseOrgNumbers: []string{"100"}}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("use organisations on a flow without them: %v", err)
	}
}
