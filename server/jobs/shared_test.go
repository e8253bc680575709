package jobs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/storage/pgtest"
)

// slicedEngine ends each run after a number of executions, handing it back before that, and records
// which replica executed each slice.
type slicedEngine struct {
	name    string
	mu      *sync.Mutex
	left    map[string]int // executions each run still hands back
	running map[string]bool
	events  chan string   // "replica:run" per execution
	gate    chan struct{} // each execution returns after one receive
	ticks   chan string   // replica names, per schedule tick
}

func (e *slicedEngine) Execute(ctx context.Context, runID string, until time.Time) (bool, error) {
	if until.IsZero() {
		return false, errors.New("shared mode gave no slice end")
	}
	e.mu.Lock()
	n := e.left[runID]
	e.left[runID] = n - 1
	e.running[runID] = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.running, runID)
		e.mu.Unlock()
	}()
	e.events <- e.name + ":" + runID
	select {
	case <-e.gate:
	case <-ctx.Done(): // the job system stops
	}
	return n <= 0, nil
}

func (e *slicedEngine) FireDueSchedules(context.Context) error {
	select {
	case e.ticks <- e.name:
	default:
	}
	return nil
}

func (e *slicedEngine) Running(runID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running[runID]
}

func (e *slicedEngine) FailStranded(context.Context, func(string) bool, time.Duration) (int, error) {
	return 0, nil
}

// On PostgreSQL two job systems share one database: a run job handed back is executed again (by
// either), until its run ends; a flow has one live run job across both; schedule ticks come from one
// leader at a time.
func TestSharedJobsOnPostgres(t *testing.T) {
	dsn := pgtest.Database(t)
	ctx := context.Background()
	var mu sync.Mutex
	left, running := map[string]int{"r1": 3}, map[string]bool{}
	events, ticks, gate := make(chan string, 16), make(chan string, 16), make(chan struct{})
	var js []*Jobs
	for _, name := range []string{"a", "b"} {
		eng := &slicedEngine{name: name, mu: &mu, left: left, running: running, events: events, gate: gate, ticks: ticks}
		j, err := Open(ctx, Config{PostgresURL: dsn, TakeoverAfter: 4 * time.Second, PollInterval: 10 * time.Millisecond}, eng)
		if err != nil {
			t.Fatal(err)
		}
		if !j.shared {
			t.Fatal("a PostgreSQL job system is not shared")
		}
		if err := j.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { j.Stop(context.Background()); j.Close() })
		js = append(js, j)
	}
	if err := js[0].Dispatch(ctx, engine.RunJob{RunID: "r1", Flow: "agents"}); err != nil {
		t.Fatal(err)
	}
	var busy *engine.RunInProgressError
	for i := range 4 { // three hand-backs, then the end
		select {
		case ev := <-events:
			if ev[2:] != "r1" {
				t.Fatalf("execution %d: %s", i, ev)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("execution %d of r1 never came", i+1)
		}
		// Either replica refuses a second run job of the flow while r1's is live (running, or
		// handed back and waiting).
		if err := js[i%2].Dispatch(ctx, engine.RunJob{RunID: "r2", Flow: "agents"}); !errors.As(err, &busy) || busy.RunID != "r1" {
			t.Fatalf("second agents run during execution %d: %v", i+1, err)
		}
		gate <- struct{}{}
	}
	t.Logf("r1 ended at %v", time.Now().Format("15:04:05.000"))
	// Once r1's job has completed, the flow takes a new run.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := js[1].Dispatch(ctx, engine.RunJob{RunID: "r3", Flow: "agents"})
		if err == nil {
			break
		}
		if !errors.As(err, &busy) || time.Now().After(deadline) {
			t.Fatalf("agents run after r1 ended: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("r3 queued at %v", time.Now().Format("15:04:05.000"))
	select {
	case <-ticks:
		t.Logf("first tick at %v", time.Now().Format("15:04:05.000"))
	case <-time.After(60 * time.Second):
		t.Fatal("no schedule tick")
	}
}
