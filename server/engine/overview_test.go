package engine

import (
	"sync"
	"testing"
	"time"
)

// The overview of a flow reports its latest runs newest first, its checkpoint, its dead letters, its
// schedule and the run in progress; before the first committed page it has no checkpoint.
func TestOverviewReportsRunsCheckpointDeadLettersAndTheRunInProgress(t *testing.T) {
	b := newTestBundle(t, 12, 5, 0)
	ov, err := b.eng.Overview(b.ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ov) != 1 || ov[0].Flow != FlowAgents || ov[0].Checkpoint != nil || len(ov[0].LastRuns) != 0 || ov[0].DeadLetters != 0 || ov[0].RunningRunID != "" {
		t.Fatalf("overview before any run: %+v", ov)
	}
	if _, err := b.eng.UpdateSchedule(b.ctx, FlowAgents, ScheduleUpdate{Every: time.Hour}); err != nil {
		t.Fatal(err)
	}
	b.failKeys("A0002", "A0007")
	first := b.sync(t, Options{})
	b.advance(time.Minute)
	second := b.sync(t, Options{})
	ov, err = b.eng.Overview(b.ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := ov[0]
	if len(o.LastRuns) != 2 || o.LastRuns[0].ID != second.ID || o.LastRuns[1].ID != first.ID || o.LastRuns[1].Status != StatusPartial {
		t.Fatalf("last runs %+v, want %s then %s", o.LastRuns, second.ID, first.ID)
	}
	last := b.src.sorted()[11].Cursor
	if o.Checkpoint == nil || !sameCursor(*o.Checkpoint, last) {
		t.Fatalf("checkpoint %+v, want %+v", o.Checkpoint, last)
	}
	if o.DeadLetters != 2 || o.RunningRunID != "" || o.Schedule.Every != time.Hour || o.Schedule.NextRunAt.IsZero() {
		t.Fatalf("overview %+v: want 2 dead letters, no run in progress, the hourly schedule", o)
	}
	if ov, err := b.eng.Overview(b.ctx, 1); err != nil || len(ov[0].LastRuns) != 1 || ov[0].LastRuns[0].ID != second.ID {
		t.Fatalf("overview of the last run only: %+v, %v", ov, err)
	}
	for _, n := range []int{-1, MaxOverviewRuns + 1} {
		if _, err := b.eng.Overview(b.ctx, n); Classify(err) != KindInvalidInput {
			t.Fatalf("overview of %d runs: %v, want invalid input", n, err)
		}
	}

	// A run in progress is named, with its live counts among the last runs.
	writing, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.tgt.onWrite = func(int) { once.Do(func() { writing <- struct{}{}; <-proceed }) }
	b.advance(time.Minute)
	b.src.put(agentFields(50, b.clock().Add(-time.Second), "新代理商"))
	r, err := b.eng.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	<-writing
	ov, err = b.eng.Overview(b.ctx, 0)
	close(proceed)
	if err != nil {
		t.Fatal(err)
	}
	if ov[0].RunningRunID != r.ID || ov[0].LastRuns[0].ID != r.ID || ov[0].LastRuns[0].Status != StatusRunning {
		t.Fatalf("overview during run %s: %+v", r.ID, ov[0])
	}
	if _, err := b.eng.Wait(b.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if ov, err := b.eng.Overview(b.ctx, 0); err != nil || ov[0].RunningRunID != "" {
		t.Fatalf("overview after the run: %+v, %v", ov, err)
	}
}
