package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// seedRuns creates n finished customers runs, one second apart, and a checkpoint.
func seedRuns(tb testing.TB, st *Store, n int) {
	tb.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range n {
		r := storage.Run{ID: fmt.Sprintf("run-%04d", i), Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: t0.Add(time.Duration(i) * time.Second)}
		if err := st.CreateRun(ctx, r); err != nil {
			tb.Fatal(err)
		}
		r.Status, r.FinishedAt, r.Counts = "succeeded", r.StartedAt.Add(time.Second), storage.Counts{Read: int64(i), Added: int64(i)}
		if err := st.FinishRun(ctx, r); err != nil {
			tb.Fatal(err)
		}
	}
	if err := st.SetCheckpoint(ctx, "customers", storage.Cursor{Time: t0, Key: "100001"}); err != nil {
		tb.Fatal(err)
	}
}

// The run-table reads prepare each query once and reuse it: many concurrent GetRun, ListRuns (two
// filter shapes and a page token) and Checkpoint calls leave one cached statement per distinct query,
// and every call still answers what was stored.
func TestRunReadsReusePreparedStatements(t *testing.T) {
	b := setup(t)
	seedRuns(t, b.st, 30)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := fmt.Sprintf("run-%04d", (w+i)%30)
				r, err := b.st.GetRun(b.ctx, id)
				if err != nil || r.ID != id || r.Counts.Added != int64((w+i)%30) {
					errs <- fmt.Errorf("GetRun(%s) = %+v, %v", id, r, err)
					return
				}
				page, next, err := b.st.ListRuns(b.ctx, storage.RunFilter{PageSize: 20})
				if err != nil || len(page) != 20 || page[0].ID != "run-0029" || next == "" {
					errs <- fmt.Errorf("ListRuns = %d runs (first %v), next %q, %v", len(page), page, next, err)
					return
				}
				rest, next2, err := b.st.ListRuns(b.ctx, storage.RunFilter{PageSize: 20, PageToken: next})
				if err != nil || len(rest) != 10 || rest[0].ID != "run-0009" || next2 != "" {
					errs <- fmt.Errorf("ListRuns page 2 = %d runs, next %q, %v", len(rest), next2, err)
					return
				}
				byFlow, _, err := b.st.ListRuns(b.ctx, storage.RunFilter{Flow: "customers", Status: "succeeded", PageSize: 5})
				if err != nil || len(byFlow) != 5 {
					errs <- fmt.Errorf("ListRuns by flow and status = %d runs, %v", len(byFlow), err)
					return
				}
				if c, ok, err := b.st.Checkpoint(b.ctx, "customers"); err != nil || !ok || c.Key != "100001" {
					errs <- fmt.Errorf("Checkpoint = %+v, %v, %v", c, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The hot path's statements (prepared at Open), then GetRun, Checkpoint, and ListRuns as: no
	// filter, no filter + token, flow + status.
	if n, want := b.st.stmts.len(), len(hotQueries())+5; n != want {
		t.Errorf("%d statements prepared, want %d (one per distinct query)", n, want)
	}
	if _, err := b.st.GetRun(b.ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetRun of an unknown run: %v, want ErrNotFound", err)
	}
}

// After Close, the cached reads fail with an error instead of using closed statements.
func TestRunReadsAfterClose(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	seedRuns(t, st, 1)
	if _, err := st.GetRun(ctx, "run-0000"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetRun(ctx, "run-0000"); err == nil {
		t.Error("GetRun after Close succeeded")
	}
	if _, _, err := st.ListRuns(ctx, storage.RunFilter{}); err == nil {
		t.Error("ListRuns after Close succeeded")
	}
}

// BenchmarkRunReads measures the reads the API's readers make of the run table: a page of 20 of
// 50 runs (ListRuns), one run (GetRun) and a checkpoint, from 8 goroutines (the pool's size).
func BenchmarkRunReads(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	seedRuns(b, st, 50)
	b.Run("ListRuns", func(b *testing.B) {
		b.SetParallelism(4) // 4 × GOMAXPROCS goroutines
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := st.ListRuns(ctx, storage.RunFilter{PageSize: 20}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("GetRun", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := st.GetRun(ctx, "run-0025"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
