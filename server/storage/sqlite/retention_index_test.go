package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// Pruning a run removes its record index entries, not only the blocks (which the cascade from runs
// would remove anyway): the index has no foreign key, and entries left behind would grow the
// database by every pruned run.
func TestPruneRemovesTheRunsIndexEntries(t *testing.T) {
	ctx := context.Background()
	st := openOrFail(t, filepath.Join(t.TempDir(), "s.db"))
	defer st.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"old", "new"} {
		if err := st.CreateRun(ctx, storage.Run{ID: id, Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: at}); err != nil {
			t.Fatal(err)
		}
		for page := range 3 {
			recs := []storage.Record{
				{SourceKey: fmt.Sprintf("k%d", page), Action: "add", Outcome: "ok", Request: "{}", At: at},
				{SourceKey: fmt.Sprintf("u%d", page), Action: "skip", Outcome: "skipped", At: at},
			}
			if err := st.CommitPage(ctx, storage.PageCommit{Flow: "customers", RunID: id, Records: recs}); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.FinishRun(ctx, storage.Run{ID: id, Status: "succeeded", FinishedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	entries := func(runID string) (n int) {
		t.Helper()
		if err := st.db.QueryRowContext(ctx, `SELECT count(*) FROM record_index WHERE run_id = ?`, runID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if entries("old") != 3 || entries("new") != 3 {
		t.Fatalf("index entries before = %d, %d; want 3 each (the unchanged skips get none)", entries("old"), entries("new"))
	}
	n, done, err := st.DeleteRunTrail(ctx, 0, "old", 4) // two pages of two rows, then the last page with the run
	if err != nil || n != 4 || done || entries("old") != 1 {
		t.Fatalf("first batch: %d deleted, done %v, %v; %d entries left", n, done, err, entries("old"))
	}
	if n, done, err = st.DeleteRunTrail(ctx, 0, "old", 4); err != nil || n != 2 || !done {
		t.Fatalf("second batch: %d deleted, done %v, %v", n, done, err)
	}
	if entries("old") != 0 || entries("new") != 3 {
		t.Fatalf("index entries after = %d, %d; want 0, 3", entries("old"), entries("new"))
	}
}
