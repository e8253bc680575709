package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// queue is a Dispatcher that keeps the run jobs for the test to execute, as River would.
type queue struct {
	mu   sync.Mutex
	jobs []RunJob
}

func (q *queue) Dispatch(_ context.Context, job RunJob) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, job)
	return nil
}

// sharedPair builds two engines in shared mode over the bundle's one store, as two replicas.
func sharedPair(t *testing.T, b *tbundle, tgt Target) (a, c *Engine, q *queue) {
	t.Helper()
	q = &queue{}
	mk := func() *Engine {
		e, err := New(Config{Now: b.clock, Shared: true, ProgressInterval: 5 * time.Millisecond}, b.st,
			&Flow{Name: FlowAgents, Source: b.src, Target: tgt, Spec: b.spec})
		if err != nil {
			t.Fatal(err)
		}
		e.SetDispatcher(q)
		t.Cleanup(func() { e.Shutdown(context.Background()) })
		return e
	}
	return mk(), mk(), q
}

// A run handed from replica to replica after every page (a slice already over) reads each record
// once, delivers each once, and ends with the counts of one uninterrupted run.
func TestSharedRunResumesOnAnotherReplicaAfterItsLastCommittedPage(t *testing.T) {
	b := newTestBundle(t, 60, 7, 0)
	a, c, q := sharedPair(t, b, b.tgt)
	r, err := a.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.jobs) != 1 || q.jobs[0].RunID != r.ID {
		t.Fatalf("jobs = %+v", q.jobs)
	}
	// Another replica refuses a second run of the flow: the store says one is in progress.
	var busy *RunInProgressError
	if _, err := c.Start(b.ctx, FlowAgents, Options{}); !errors.As(err, &busy) || busy.RunID != r.ID {
		t.Fatalf("second start on the other replica: %v", err)
	}
	executions := 0
	for ended := false; !ended; executions++ {
		if executions > 40 {
			t.Fatal("run never ended")
		}
		e := []*Engine{a, c}[executions%2]
		past := b.clock().Add(-time.Second) // each execution hands over after its first page
		if ended, err = e.Execute(b.ctx, r.ID, past); err != nil {
			t.Fatal(err)
		}
		if !ended {
			mid, err := c.GetRun(b.ctx, r.ID)
			if err != nil || mid.Status != StatusRunning {
				t.Fatalf("between executions: %+v, %v", mid, err)
			}
		}
	}
	final, err := c.GetRun(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.Status != StatusSucceeded || final.Counts.Read != 60 || final.Counts.Added != 60 {
		t.Fatalf("final = %+v", final)
	}
	if executions < 9 {
		t.Fatalf("%d executions: the run was not handed over page by page", executions)
	}
	if b.tgt.writes != 60 || len(b.tgt.bodies) != 60 {
		t.Fatalf("target writes %d, records %d: want each of 60 once", b.tgt.writes, len(b.tgt.bodies))
	}
	if n, _ := b.st.CountMappings(b.ctx, FlowAgents); n != 60 {
		t.Fatalf("mappings %d", n)
	}
	if !final.WindowEnd.Equal(r.StartedAt) && final.WindowEnd.IsZero() {
		t.Fatalf("window end %v", final.WindowEnd)
	}
	cp, _, _ := b.st.Checkpoint(b.ctx, FlowAgents)
	if !sameCursor(cp, b.src.sorted()[59].Cursor) {
		t.Fatalf("checkpoint %+v", cp)
	}
	// The next run on either replica finds nothing to do.
	r2, err := c.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ended, err := c.Execute(b.ctx, r2.ID, time.Time{}); err != nil || !ended {
		t.Fatal(ended, err)
	}
	if r2, _ = a.GetRun(b.ctx, r2.ID); r2.Status != StatusSucceeded || r2.Counts.Added+r2.Counts.Updated != 0 || b.tgt.writes != 60 {
		t.Fatalf("rerun = %+v, writes %d", r2, b.tgt.writes)
	}
}

// A replica that did not start the run, and does not execute it, follows it (Watch, Wait) and
// cancels it; the executing replica stops at its next page boundary.
func TestSharedRunIsFollowedAndCancelledFromAnotherReplica(t *testing.T) {
	b := newTestBundle(t, 20, 2, 0)
	bt := &blockingTarget{fakeTarget: b.tgt, release: make(chan struct{})}
	a, c, _ := sharedPair(t, b, bt)
	r, err := a.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() {
		ended, err := a.Execute(b.ctx, r.ID, time.Time{})
		done <- ended && err == nil
	}()
	ch, err := c.Watch(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	bt.release <- struct{}{} // one page through
	waitForAdded(t, ch, 2)   // seen from the other replica, through the store
	if _, err := c.Cancel(b.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	// The executing replica sees the request within a progress interval (its progress publisher
	// reads it) and stops after the page it is delivering.
	<-a.state(r.ID).stop
	bt.release <- struct{}{}
	var last Run
	for r := range ch {
		last = r
	}
	if last.Status != StatusCancelled || last.Counts.Added != 4 {
		t.Fatalf("watch from the other replica ended with %+v", last)
	}
	if !<-done {
		t.Fatal("execution did not end the run")
	}
	if w, err := c.Wait(b.ctx, r.ID); err != nil || w.Status != StatusCancelled {
		t.Fatalf("wait = %+v, %v", w, err)
	}
	if _, err := c.Cancel(b.ctx, r.ID); !errors.Is(err, ErrRunEnded) {
		t.Fatalf("cancel an ended run: %v", err)
	}
	close(bt.release)
}

// A shutdown in shared mode hands the run over instead of cancelling it, and another replica
// finishes it.
func TestSharedShutdownHandsTheRunOver(t *testing.T) {
	b := newTestBundle(t, 20, 2, 0)
	bt := &blockingTarget{fakeTarget: b.tgt, release: make(chan struct{})}
	a, c, _ := sharedPair(t, b, bt)
	r, err := a.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() {
		ended, err := a.Execute(b.ctx, r.ID, time.Time{})
		done <- ended || err != nil
	}()
	ch, _ := c.Watch(b.ctx, r.ID)
	bt.release <- struct{}{}
	waitForAdded(t, ch, 2)
	stopped := make(chan error, 1)
	go func() { stopped <- a.Shutdown(b.ctx) }()
	for !a.handingOver.Load() { // the shutdown has begun
		time.Sleep(time.Millisecond)
	}
	bt.release <- struct{}{} // the page in flight completes; then the run is handed over
	if <-done {
		t.Fatal("the shutting-down replica ended the run")
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	mid, _ := c.GetRun(b.ctx, r.ID)
	if mid.Status != StatusRunning || mid.Counts.Added != 4 {
		t.Fatalf("after the hand-over: %+v", mid)
	}
	close(bt.release)
	if ended, err := c.Execute(b.ctx, r.ID, time.Time{}); err != nil || !ended {
		t.Fatal(ended, err)
	}
	final, _ := c.GetRun(b.ctx, r.ID)
	if final.Status != StatusSucceeded || final.Counts.Added != 20 || b.tgt.writes != 20 {
		t.Fatalf("final = %+v, writes %d", final, b.tgt.writes)
	}
}

// A stored running run that no job will execute is failed once it is old enough; one with a job,
// or younger, is left alone.
func TestFailStrandedRuns(t *testing.T) {
	b := newTestBundle(t, 5, 2, 0)
	a, _, _ := sharedPair(t, b, b.tgt)
	r, err := a.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.FailStranded(b.ctx, func(string) bool { return false }, time.Minute); err != nil || n != 0 {
		t.Fatalf("young run: %d, %v", n, err)
	}
	b.advance(2 * time.Minute)
	if n, err := a.FailStranded(b.ctx, func(id string) bool { return id == r.ID }, time.Minute); err != nil || n != 0 {
		t.Fatalf("run with a job: %d, %v", n, err)
	}
	if n, err := a.FailStranded(b.ctx, func(string) bool { return false }, time.Minute); err != nil || n != 1 {
		t.Fatalf("stranded run: %d, %v", n, err)
	}
	got, _ := a.GetRun(b.ctx, r.ID)
	if got.Status != StatusFailed || got.Error == "" {
		t.Fatalf("stranded run = %+v", got)
	}
	// Its job, if it ever executes, finds the run ended.
	if ended, err := a.Execute(b.ctx, r.ID, time.Time{}); err != nil || !ended {
		t.Fatal(ended, err)
	}
	var _ storage.Run
}
