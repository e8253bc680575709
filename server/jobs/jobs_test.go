package jobs

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/engine"
)

// fakeEngine records what the jobs ask of it; its runs block until released.
type fakeEngine struct {
	executing chan string   // run ids, as Execute starts them
	release   chan struct{} // each receive lets one Execute return
	stopped   chan string   // run ids whose Execute saw its context end
	ticks     chan struct{}
	ended     chan string // run ids, as Execute returns
	mu        sync.Mutex
	running   map[string]bool
}

func (f *fakeEngine) Execute(ctx context.Context, runID string, _ time.Time) (bool, error) {
	f.mu.Lock()
	f.running[runID] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.running, runID)
		f.mu.Unlock()
		f.ended <- runID
	}()
	f.executing <- runID
	select {
	case <-f.release:
	case <-ctx.Done():
		f.stopped <- runID
	}
	return true, nil
}

func (f *fakeEngine) FailStranded(context.Context, func(string) bool, time.Duration) (int, error) {
	return 0, nil
}

func (f *fakeEngine) Running(runID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[runID]
}

func (f *fakeEngine) FireDueSchedules(context.Context) error {
	select {
	case f.ticks <- struct{}{}:
	default:
	}
	return nil
}

func openJobs(t *testing.T, eng Engine) *Jobs {
	t.Helper()
	j, err := Open(context.Background(), Config{DB: filepath.Join(t.TempDir(), "jobs.db"), PollInterval: 10 * time.Millisecond}, eng)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Stop(context.Background()); j.Close() })
	return j
}

func TestRunJobsExecuteOnePerFlowAndTicksFire(t *testing.T) {
	eng := &fakeEngine{executing: make(chan string), release: make(chan struct{}), stopped: make(chan string, 4), ticks: make(chan struct{}, 1),
		running: map[string]bool{}, ended: make(chan string, 8)}
	j := openJobs(t, eng)
	ctx := context.Background()
	if err := j.Dispatch(ctx, engine.RunJob{RunID: "r1", Flow: "agents"}); err != nil {
		t.Fatal(err)
	}
	if got := <-eng.executing; got != "r1" {
		t.Fatalf("executing %s", got)
	}
	// While r1 runs, a second agents run is refused with r1's id; a customers run is not.
	err := j.Dispatch(ctx, engine.RunJob{RunID: "r2", Flow: "agents"})
	var busy *engine.RunInProgressError
	if !errors.As(err, &busy) || busy.RunID != "r1" {
		t.Fatalf("second agents run: %v", err)
	}
	if err := j.Dispatch(ctx, engine.RunJob{RunID: "c1", Flow: "customers"}); err != nil {
		t.Fatal(err)
	}
	if got := <-eng.executing; got != "c1" {
		t.Fatalf("executing %s", got)
	}
	eng.release <- struct{}{}
	eng.release <- struct{}{}
	<-eng.ended
	<-eng.ended
	// Once r1 has ended, the flow takes a new run at once, even while River has not yet recorded
	// r1's job as completed.
	if err := j.Dispatch(ctx, engine.RunJob{RunID: "r3", Flow: "agents"}); err != nil {
		t.Fatalf("agents run after r1 ended: %v", err)
	}
	if got := <-eng.executing; got != "r3" {
		t.Fatalf("executing %s", got)
	}
	// The schedule tick fires by itself.
	<-eng.ticks
	// Stopping cancels the running job's context.
	if err := j.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-eng.stopped; got != "r3" {
		t.Fatalf("stopped %s", got)
	}
}

// A configured retention pass runs as a periodic job: once at start-up, then every interval, one at
// a time on its own queue.
func TestRetentionPassesRunPeriodically(t *testing.T) {
	eng := &fakeEngine{executing: make(chan string), release: make(chan struct{}), stopped: make(chan string, 4), ticks: make(chan struct{}, 1),
		running: map[string]bool{}, ended: make(chan string, 8)}
	passes := make(chan struct{}, 8)
	var mu sync.Mutex
	active, overlapped := 0, false
	cfg := Config{DB: filepath.Join(t.TempDir(), "jobs.db"), PollInterval: 10 * time.Millisecond, RetentionInterval: time.Second,
		Retention: func(ctx context.Context) error {
			mu.Lock()
			active++
			overlapped = overlapped || active > 1
			mu.Unlock()
			defer func() {
				mu.Lock()
				active--
				mu.Unlock()
				passes <- struct{}{}
			}()
			return nil
		}}
	j, err := Open(context.Background(), cfg, eng)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Stop(context.Background()); j.Close() })
	timeout := time.After(30 * time.Second) // a guard against a hang, not a wait
	for i := range 2 {
		select {
		case <-passes:
		case <-timeout:
			t.Fatalf("%d retention passes ran, want 2", i)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if overlapped {
		t.Fatal("two retention passes ran at once")
	}
}
