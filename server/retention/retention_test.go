package retention_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/retention"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "syncgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var base = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// addRun stores a run of flow started at start with records audit rows (in pages of 1000), finished a
// minute later unless running.
// addRun stores a run with records audit rows, committed perPage to a page commit (a commit's rows
// are stored, and pruned, together).
func addRun(t *testing.T, st storage.Store, id, flow string, start time.Time, records, perPage int, running bool) {
	t.Helper()
	ctx := context.Background()
	if err := st.CreateRun(ctx, storage.Run{ID: id, Flow: flow, Options: []byte("{}"), Status: "running", StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	for done := 0; done < records; {
		n := min(perPage, records-done)
		recs := make([]storage.Record, n)
		for i := range recs {
			recs[i] = storage.Record{SourceKey: fmt.Sprintf("%s-%d", id, done+i), Action: "add", Attempt: 1, Outcome: "ok",
				Request: `{"name":"a customer with a name of some length"}`, Response: `{"code":0,"message":"ok"}`, At: start}
		}
		if err := st.CommitPage(ctx, storage.PageCommit{Flow: flow, RunID: id, Records: recs}); err != nil {
			t.Fatal(err)
		}
		done += n
	}
	if !running {
		if err := st.FinishRun(ctx, storage.Run{ID: id, Status: "succeeded", FinishedAt: start.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
}

func runIDs(t *testing.T, st storage.Store) []string {
	t.Helper()
	runs, _, err := st.ListRuns(context.Background(), storage.RunFilter{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

// A pass prunes what the policy selects in batches of at most Batch audit rows, keeps the running run
// and the newest finished one, and records what it removed.
func TestPassPrunesInBatchesAndRecords(t *testing.T) {
	st := openStore(t)
	addRun(t, st, "r1", "customers", base, 7, 1, false)
	addRun(t, st, "r2", "customers", base.Add(time.Hour), 3, 1, false)
	addRun(t, st, "r3", "customers", base.Add(2*time.Hour), 4, 1, false)
	addRun(t, st, "r4", "customers", base.Add(3*time.Hour), 2, 1, true)
	var batches []int64
	var last int64
	p := retention.New(st, retention.Config{Policy: storage.RetentionPolicy{KeepRuns: 1}, Batch: 3, Pause: time.Millisecond,
		Now: func() time.Time { return base.Add(4 * time.Hour) },
		AfterBatch: func(p storage.RetentionPass) {
			batches = append(batches, p.Records-last)
			last = p.Records
		}})
	pass, err := p.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pass.Runs != 2 || pass.Records != 10 || pass.OldestRunID != "r1" || pass.NewestRunID != "r2" ||
		!pass.OldestStartedAt.Equal(base) || !pass.NewestStartedAt.Equal(base.Add(time.Hour)) || pass.Error != "" {
		t.Fatalf("pass = %+v", pass)
	}
	// r1: 3, 3, 1 (done); r2: 3 (done: nothing left).
	if fmt.Sprint(batches) != "[3 3 1 3]" {
		t.Fatalf("batches deleted %v audit rows", batches)
	}
	if got := fmt.Sprint(runIDs(t, st)); got != "[r4 r3]" {
		t.Fatalf("runs left %s", got)
	}
	if _, err := st.GetRun(context.Background(), "r1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("pruned run: %v", err)
	}
	passes, err := st.RetentionPasses(context.Background(), 10)
	if err != nil || len(passes) != 1 || passes[0].Runs != 2 || passes[0].Records != 10 || passes[0].Policy != "age 0s, runs 1" {
		t.Fatalf("recorded passes = %+v, %v", passes, err)
	}
	// Nothing left to prune: the next pass removes nothing, and is recorded too.
	if pass, err := p.Pass(context.Background()); err != nil || pass.Runs != 0 || pass.Records != 0 {
		t.Fatalf("second pass = %+v, %v", pass, err)
	}
	if passes, _ := st.RetentionPasses(context.Background(), 10); len(passes) != 2 {
		t.Fatalf("recorded passes = %d, want 2", len(passes))
	}
}

// A pass that dies after a batch (the process killed: nothing after the batch's commit runs) has
// what it deleted recorded: each batch counts its deletions into the pass's record in its own
// transaction. The record shows no end; the next pass prunes the rest and is recorded apart.
func TestPassKilledAfterABatchKeepsItsRecord(t *testing.T) {
	st := openStore(t)
	addRun(t, st, "r1", "customers", base, 4, 1, false)
	addRun(t, st, "r2", "customers", base.Add(time.Hour), 4, 1, false)
	addRun(t, st, "r3", "customers", base.Add(2*time.Hour), 1, 1, false)
	type killed struct{}
	batches := 0
	cfg := retention.Config{Policy: storage.RetentionPolicy{KeepRuns: 1}, Batch: 2, Pause: time.Millisecond,
		Now: func() time.Time { return base.Add(4 * time.Hour) },
		AfterBatch: func(storage.RetentionPass) {
			if batches++; batches == 3 { // r1 gone (2 + 2 rows), 2 rows of r2
				panic(killed{})
			}
		}}
	func() {
		defer func() {
			if r := recover(); r != (killed{}) {
				t.Fatalf("recovered %v", r)
			}
		}()
		retention.New(st, cfg).Pass(context.Background())
	}()
	passes, err := st.RetentionPasses(context.Background(), 10)
	if err != nil || len(passes) != 1 {
		t.Fatalf("recorded passes = %+v, %v", passes, err)
	}
	if p := passes[0]; p.Runs != 1 || p.Records != 6 || p.OldestRunID != "r1" || p.NewestRunID != "r1" ||
		!p.OldestStartedAt.Equal(base) || !p.StartedAt.Equal(base.Add(4*time.Hour)) || !p.FinishedAt.IsZero() || p.Policy != "age 0s, runs 1" {
		t.Fatalf("the killed pass's record = %+v", p)
	}
	cfg.AfterBatch = nil
	if pass, err := retention.New(st, cfg).Pass(context.Background()); err != nil || pass.Runs != 1 || pass.Records != 2 || pass.OldestRunID != "r2" {
		t.Fatalf("next pass = %+v, %v", pass, err)
	}
	passes, _ = st.RetentionPasses(context.Background(), 10)
	if len(passes) != 2 || passes[0].Records != 2 || passes[0].FinishedAt.IsZero() || passes[1].Records != 6 {
		t.Fatalf("recorded passes = %+v", passes)
	}
}

// With the policy off, a pass prunes and records nothing.
func TestPassOffDoesNothing(t *testing.T) {
	st := openStore(t)
	addRun(t, st, "r1", "customers", base, 2, 1, false)
	addRun(t, st, "r2", "customers", base.Add(time.Hour), 2, 1, false)
	if _, err := retention.New(st, retention.Config{}).Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(runIDs(t, st)); got != "[r2 r1]" {
		t.Fatalf("runs left %s", got)
	}
	if passes, _ := st.RetentionPasses(context.Background(), 10); len(passes) != 0 {
		t.Fatalf("recorded passes = %+v", passes)
	}
}

// A pass cancelled between batches stops, records why, and the next pass prunes the rest.
func TestPassCancelledResumesNextTime(t *testing.T) {
	st := openStore(t)
	addRun(t, st, "r1", "agents", base, 5, 1, false)
	addRun(t, st, "r2", "agents", base.Add(time.Hour), 5, 1, false)
	addRun(t, st, "r3", "agents", base.Add(2*time.Hour), 1, 1, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := retention.Config{Policy: storage.RetentionPolicy{MaxAge: time.Hour}, Batch: 2, Pause: time.Millisecond,
		Now:        func() time.Time { return base.Add(48 * time.Hour) },
		AfterBatch: func(storage.RetentionPass) { cancel() }}
	pass, err := retention.New(st, cfg).Pass(ctx)
	if !errors.Is(err, context.Canceled) || pass.Records != 2 || pass.Runs != 0 || pass.Error == "" {
		t.Fatalf("cancelled pass = %+v, %v", pass, err)
	}
	passes, _ := st.RetentionPasses(context.Background(), 10)
	if len(passes) != 1 || passes[0].Error != context.Canceled.Error() || passes[0].Records != 2 {
		t.Fatalf("recorded passes = %+v", passes)
	}
	cfg.AfterBatch = nil
	pass, err = retention.New(st, cfg).Pass(context.Background())
	if err != nil || pass.Records != 8 || pass.Runs != 2 || pass.OldestRunID != "r1" {
		t.Fatalf("resumed pass = %+v, %v", pass, err)
	}
	if got := fmt.Sprint(runIDs(t, st)); got != "[r3]" {
		t.Fatalf("runs left %s", got)
	}
}

// A pass over a large trail runs while a sync commits pages back to back to the same SQLite file (a
// worst case: a real sync calls vendors between its commits): commits complete between the pass's
// batches, so the pass never holds the writer for long. The CommitPage times before and during the
// pass, and the pass's time, are printed (go test -v); nothing here is asserted on time.
func TestPassInterleavesWithPageCommits(t *testing.T) {
	st := openStore(t)
	const trail = 10000
	const warmup = 1000 // commits measured before the pass starts
	addRun(t, st, "old", "customers", base, trail, 1000, false)
	addRun(t, st, "newer", "customers", base.Add(time.Hour), 10, 1, false)
	addRun(t, st, "sync", "customers", base.Add(2*time.Hour), 0, 1, true)

	var mu sync.Mutex
	var before, during []time.Duration // CommitPage times before and during the pass
	passing := false
	var perBatch []int // commits completed during the pass when each batch ended
	stop := make(chan struct{})
	warm := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		recs := make([]storage.Record, 200)
		for page := 0; ; page++ {
			select {
			case <-stop:
				return
			default:
			}
			for i := range recs {
				recs[i] = storage.Record{SourceKey: fmt.Sprintf("s-%d-%d", page, i), Action: "add", Attempt: 1, Outcome: "ok",
					Request: `{"name":"x"}`, At: base}
			}
			began := time.Now()
			if err := st.CommitPage(context.Background(), storage.PageCommit{Flow: "customers", RunID: "sync", Records: recs}); err != nil {
				t.Error(err)
				return
			}
			took := time.Since(began)
			mu.Lock()
			if passing {
				during = append(during, took)
			} else {
				before = append(before, took)
				if len(before) == warmup {
					close(warm)
				}
			}
			mu.Unlock()
		}
	}()
	select {
	case <-warm:
	case <-stop:
	}
	mu.Lock()
	passing = true
	mu.Unlock()
	p := retention.New(st, retention.Config{Policy: storage.RetentionPolicy{KeepRuns: 1}, Batch: retention.DefaultBatch,
		AfterBatch: func(storage.RetentionPass) {
			mu.Lock()
			perBatch = append(perBatch, len(during))
			mu.Unlock()
		}})
	began := time.Now()
	pass, err := p.Pass(context.Background())
	passTook := time.Since(began)
	close(stop)
	wg.Wait()
	if err != nil || pass.Runs != 1 || pass.Records != trail {
		t.Fatalf("pass = %+v, %v", pass, err)
	}
	if len(perBatch) != trail/retention.DefaultBatch { // a page of 1000 per batch, the last one with the run
		t.Fatalf("%d batches, want %d", len(perBatch), trail/retention.DefaultBatch)
	}
	// Commits went on between the first and the last batch: the writer was not held for the pass.
	if n := perBatch[len(perBatch)-1] - perBatch[0]; n == 0 {
		t.Fatalf("no page commit completed during the pass's %d batches", len(perBatch))
	}
	t.Logf("pass: %d audit rows in %d batches of <= %d in %v", pass.Records, len(perBatch), retention.DefaultBatch, passTook.Round(time.Millisecond))
	t.Logf("CommitPage of 200 records before the pass: %s", quantiles(before))
	t.Logf("CommitPage of 200 records during the pass: %s", quantiles(during))
}

// quantiles renders p50, p99 and the maximum of ds.
func quantiles(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return "none"
	}
	q := func(f float64) time.Duration { return s[int(f*float64(len(s)-1))].Round(10 * time.Microsecond) }
	return fmt.Sprintf("%d commits, p50 %v, p99 %v, max %v", len(s), q(0.5), q(0.99), s[len(s)-1].Round(10*time.Microsecond))
}

// busyStore answers storage.ErrBusy to the first busy calls of DeleteRunTrail, as SQLite does when
// other writers hold the database for its whole busy timeout.
type busyStore struct {
	retention.Store
	busy int
}

func (b *busyStore) DeleteRunTrail(ctx context.Context, passID int64, runID string, limit int) (int64, bool, error) {
	if b.busy > 0 {
		b.busy--
		return 0, false, fmt.Errorf("prune run %s: %w", runID, storage.ErrBusy)
	}
	return b.Store.DeleteRunTrail(ctx, passID, runID, limit)
}

// A batch that found the database busy is tried again after a pause; only a database busy try after
// try stops the pass, and the next pass goes on.
func TestPassWaitsOutABusyDatabase(t *testing.T) {
	st := openStore(t)
	addRun(t, st, "r1", "agents", base, 3, 1, false)
	addRun(t, st, "r2", "agents", base.Add(time.Hour), 3, 1, false)
	cfg := retention.Config{Policy: storage.RetentionPolicy{KeepRuns: 1}, Pause: time.Millisecond, BusyPause: time.Millisecond}
	pass, err := retention.New(&busyStore{Store: st, busy: 3}, cfg).Pass(context.Background())
	if err != nil || pass.Runs != 1 || pass.Records != 3 {
		t.Fatalf("pass after 3 busy answers = %+v, %v", pass, err)
	}
	addRun(t, st, "r3", "agents", base.Add(2*time.Hour), 3, 1, false)
	pass, err = retention.New(&busyStore{Store: st, busy: 100}, cfg).Pass(context.Background())
	if !errors.Is(err, storage.ErrBusy) || pass.Runs != 0 || pass.Error == "" {
		t.Fatalf("pass against a database busy throughout = %+v, %v", pass, err)
	}
	if got := fmt.Sprint(runIDs(t, st)); got != "[r3 r2]" {
		t.Fatalf("runs left %s", got)
	}
}
