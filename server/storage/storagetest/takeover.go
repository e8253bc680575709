package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// What a gateway needs to take over or follow a run another gateway executes: the run's window and
// cursor committed with its pages, a cancel request, live progress.

func testRunWindowAndCursorCommitWithThePage(t *testing.T, open Opener) {
	b := setup(t, open)
	start := time.Unix(1700000000, 0)
	if err := b.st.CreateRun(b.ctx, storage.Run{ID: "r1", Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	r, err := b.st.GetRun(b.ctx, "r1")
	if err != nil || r.Cursor != nil || r.CancelRequested || r.Live != nil || !r.WindowEnd.IsZero() {
		t.Fatalf("new run = %+v, %v: want no cursor, cancel, live counts or window", r, err)
	}
	w := storage.Window{Start: start.Add(-time.Hour), End: start}
	c1 := storage.Cursor{Time: start.Add(-30 * time.Minute), Key: "K1"}
	if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "customers", RunID: "r1", Window: &w, RunCursor: &c1}); err != nil {
		t.Fatal(err)
	}
	c2 := storage.Cursor{Time: start.Add(-10 * time.Minute), Key: "K2"}
	if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "customers", RunID: "r1", RunCursor: &c2}); err != nil {
		t.Fatal(err)
	}
	r, err = b.st.GetRun(b.ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if !r.WindowStart.Equal(w.Start) || !r.WindowEnd.Equal(w.End) {
		t.Errorf("window = %v..%v, want %v..%v", r.WindowStart, r.WindowEnd, w.Start, w.End)
	}
	if r.Cursor == nil || !r.Cursor.Time.Equal(c2.Time) || r.Cursor.Key != "K2" {
		t.Errorf("cursor = %+v, want %+v", r.Cursor, c2)
	}
	// The checkpoint is the flow's, not the run's: a run cursor does not move it.
	if _, ok, err := b.st.Checkpoint(b.ctx, "customers"); err != nil || ok {
		t.Errorf("checkpoint after run cursors = %v, %v: want none", ok, err)
	}
}

func testCancelRequestAndLiveProgress(t *testing.T, open Opener) {
	b := setup(t, open)
	now := time.Now()
	for _, id := range []string{"live", "ended"} {
		if err := b.st.CreateRun(b.ctx, storage.Run{ID: id, Flow: "agents", Options: []byte("{}"), Status: "running", StartedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.st.FinishRun(b.ctx, storage.Run{ID: "ended", Status: "succeeded", FinishedAt: now}); err != nil {
		t.Fatal(err)
	}
	live := storage.Counts{Read: 500, Added: 120, Skipped: 3}
	if stop, err := b.st.PublishProgress(b.ctx, "live", live); err != nil || stop {
		t.Fatalf("publish = %v, %v: want no stop", stop, err)
	}
	if ok, err := b.st.RequestCancel(b.ctx, "live"); err != nil || !ok {
		t.Fatalf("cancel a running run = %v, %v", ok, err)
	}
	if stop, err := b.st.PublishProgress(b.ctx, "live", storage.Counts{Read: 600}); err != nil || !stop {
		t.Fatalf("publish after the cancel request = %v, %v: want stop", stop, err)
	}
	r, err := b.st.GetRun(b.ctx, "live")
	if err != nil || !r.CancelRequested || r.Live == nil || r.Live.Read != 600 || r.Counts.Read != 0 {
		t.Fatalf("run = %+v (live %+v), %v: want cancel requested, live read 600, committed counts untouched", r, r.Live, err)
	}
	if ok, err := b.st.RequestCancel(b.ctx, "ended"); err != nil || ok {
		t.Errorf("cancel an ended run = %v, %v: want false", ok, err)
	}
	if stop, err := b.st.PublishProgress(b.ctx, "ended", live); err != nil || stop {
		t.Errorf("publish to an ended run = %v, %v", stop, err)
	}
	if r, _ := b.st.GetRun(b.ctx, "ended"); r.Live != nil || r.CancelRequested {
		t.Errorf("ended run changed: %+v", r)
	}
	if _, err := b.st.RequestCancel(b.ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("cancel a missing run: %v, want ErrNotFound", err)
	}
	if err := b.st.Ping(b.ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
}
