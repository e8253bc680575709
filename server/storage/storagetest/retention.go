package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// retention returns the store's retention methods; every backend has them.
func retention(t *testing.T, b *bundle) storage.Retention {
	t.Helper()
	r, ok := b.st.(storage.Retention)
	if !ok {
		t.Fatalf("%T does not implement storage.Retention", b.st)
	}
	return r
}

// retentionBase is when the retention fixture's first run started.
var retentionBase = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// retentionFixture stores, for customers, five finished runs c1..c5 (started an hour apart, each
// finished a minute after it started, with records audit rows each) and a running run c6 after them;
// for agents one finished run a1, older than all of them. It also stores a mapping, a dead letter, a
// checkpoint, a create intent and a schedule, which retention must never touch.
func retentionFixture(t *testing.T, b *bundle, records int) {
	t.Helper()
	add := func(id, flow string, start time.Time, finish bool) {
		t.Helper()
		if err := b.st.CreateRun(b.ctx, storage.Run{ID: id, Flow: flow, Options: []byte("{}"), Status: "running", StartedAt: start}); err != nil {
			t.Fatal(err)
		}
		// One audit row per page commit: a commit's rows are stored (and pruned) together.
		for i := range records {
			rec := storage.Record{SourceKey: id + "-" + string(rune('a'+i%26)), Action: "add", Attempt: 1, Outcome: "ok", Request: "{}", At: start}
			if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: flow, RunID: id, Records: []storage.Record{rec}}); err != nil {
				t.Fatal(err)
			}
		}
		if finish {
			if err := b.st.FinishRun(b.ctx, storage.Run{ID: id, Status: "succeeded", FinishedAt: start.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("a1", "agents", retentionBase.Add(-24*time.Hour), true)
	for i := 1; i <= 5; i++ {
		add("c"+string(rune('0'+i)), "customers", retentionBase.Add(time.Duration(i-1)*time.Hour), true)
	}
	add("c6", "customers", retentionBase.Add(5*time.Hour), false)
	cp := storage.Cursor{Time: retentionBase, Key: "k"}
	err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "customers", RunID: "c1",
		Mappings:    []storage.Mapping{{SourceKey: "m1", TargetKey: "T1", PayloadHash: "h", Payload: []byte(`{}`)}},
		DeadLetters: []storage.DeadLetter{{SourceKey: "d1", Attempts: 1, LastError: "bad"}},
		Checkpoint:  &cp,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.st.RecordIntents(b.ctx, "customers", []storage.Intent{{SourceKey: "i1", TargetKey: "T9"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.st.PutSchedule(b.ctx, storage.Schedule{Flow: "customers", Every: time.Minute}); err != nil {
		t.Fatal(err)
	}
}

// testRetentionCandidates: the policy selects finished runs beyond the count limit or finished before
// the age limit, oldest first, never a running run nor a flow's newest finished run.
func testRetentionCandidates(t *testing.T, open Opener) {
	b := setup(t, open)
	r := retention(t, b)
	retentionFixture(t, b, 1)
	// c5 finished at base+4h1m; "now" one day after it.
	now := retentionBase.Add(28*time.Hour + time.Minute)
	// A finished run without an end time ages from its start: z started half an hour before now.
	if err := b.st.CreateRun(b.ctx, storage.Run{ID: "z", Flow: "zflow", Options: []byte("{}"), Status: "running", StartedAt: retentionBase.Add(-48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := b.st.CreateRun(b.ctx, storage.Run{ID: "z2", Flow: "zflow", Options: []byte("{}"), Status: "running", StartedAt: now.Add(-30 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := b.st.CreateRun(b.ctx, storage.Run{ID: "z3", Flow: "zflow", Options: []byte("{}"), Status: "running", StartedAt: now.Add(-20 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"z", "z2", "z3"} {
		if err := b.st.FinishRun(b.ctx, storage.Run{ID: id, Status: "failed"}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := r.PruneCandidates(b.ctx, storage.RetentionPolicy{MaxAge: time.Hour}, now, 100); err != nil || !slices.Contains(got, "z") || slices.Contains(got, "z2") {
		t.Fatalf("runs without an end time: candidates = %v, %v; want z (started 2 days ago), not z2 (30 minutes ago)", got, err)
	}
	for _, id := range []string{"z", "z2", "z3"} {
		if _, done, err := r.DeleteRunTrail(b.ctx, 0, id, 10); err != nil || !done {
			t.Fatalf("delete %s: %v %v", id, done, err)
		}
	}
	for _, tt := range []struct {
		name   string
		policy storage.RetentionPolicy
		limit  int
		want   []string
	}{
		{"off", storage.RetentionPolicy{}, 100, nil},
		{"keep 2", storage.RetentionPolicy{KeepRuns: 2}, 100, []string{"c1", "c2", "c3"}},
		{"keep 2, limit 2", storage.RetentionPolicy{KeepRuns: 2}, 2, []string{"c1", "c2"}},
		{"keep 1", storage.RetentionPolicy{KeepRuns: 1}, 100, []string{"c1", "c2", "c3", "c4"}},
		{"keep 10", storage.RetentionPolicy{KeepRuns: 10}, 100, nil},
		// Finished before now-25h = base+3h01m: c1 (0h01), c2 (1h01), c3 (2h01); not c4 (3h01, not before).
		{"age 25h", storage.RetentionPolicy{MaxAge: 25 * time.Hour}, 100, []string{"c1", "c2", "c3"}},
		// Everything finished long ago, but each flow's newest finished run stays (c5, a1), as does c6.
		{"age 1s", storage.RetentionPolicy{MaxAge: time.Second}, 100, []string{"c1", "c2", "c3", "c4"}},
		{"age 26h or keep 3", storage.RetentionPolicy{MaxAge: 26 * time.Hour, KeepRuns: 3}, 100, []string{"c1", "c2"}},
		{"age 100h", storage.RetentionPolicy{MaxAge: 100 * time.Hour}, 100, nil},
	} {
		got, err := r.PruneCandidates(b.ctx, tt.policy, now, tt.limit)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: candidates = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

// testRetentionDeletesInBatches: DeleteRunTrail deletes at most limit audit rows per call, the run
// once they are gone, never a running run, and nothing but the run and its trail.
func testRetentionDeletesInBatches(t *testing.T, open Opener) {
	b := setup(t, open)
	r := retention(t, b)
	retentionFixture(t, b, 5)
	remaining := func(id string) int {
		recs, _, err := b.st.RunRecords(b.ctx, id, storage.RecordFilter{}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	for i, want := range []struct {
		deleted int64
		done    bool
		left    int
	}{{2, false, 3}, {2, false, 1}, {1, true, 0}} {
		n, done, err := r.DeleteRunTrail(b.ctx, 0, "c1", 2)
		if err != nil || n != want.deleted || done != want.done {
			t.Fatalf("batch %d: deleted %d, done %v, %v; want %d, %v", i, n, done, err, want.deleted, want.done)
		}
		if left := remaining("c1"); left != want.left {
			t.Fatalf("batch %d: %d audit rows left, want %d", i, left, want.left)
		}
		if _, err := b.st.GetRun(b.ctx, "c1"); (err == nil) == done {
			t.Fatalf("batch %d (done %v): GetRun = %v", i, done, err)
		}
	}
	if _, err := b.st.GetRun(b.ctx, "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("pruned run: GetRun = %v, want ErrNotFound", err)
	}
	// A trail of exactly limit rows: one call deletes it and the run.
	if n, done, err := r.DeleteRunTrail(b.ctx, 0, "c2", 5); err != nil || n != 5 || !done {
		t.Fatalf("c2: deleted %d, done %v, %v", n, done, err)
	}
	// The pruned runs' records are gone from their history too.
	for _, k := range []string{"c1-a", "c2-e"} {
		if recs, _, err := b.st.RecordHistory(b.ctx, "customers", k, "", 10); err != nil || len(recs) != 0 {
			t.Fatalf("history of %s after its run was pruned = %+v, %v", k, recs, err)
		}
	}
	if n, done, err := r.DeleteRunTrail(b.ctx, 0, "c2", 5); err != nil || n != 0 || !done {
		t.Fatalf("c2 again: deleted %d, done %v, %v", n, done, err)
	}
	// Gone already: done, nothing deleted.
	if n, done, err := r.DeleteRunTrail(b.ctx, 0, "c1", 2); err != nil || n != 0 || !done {
		t.Fatalf("pruned run again: deleted %d, done %v, %v", n, done, err)
	}
	// A page commit's rows go together: a commit of more rows than the limit is deleted whole, with
	// the history of its records.
	if err := b.st.CreateRun(b.ctx, storage.Run{ID: "x1", Flow: "other", Options: []byte("{}"), Status: "running", StartedAt: retentionBase}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 7} {
		page := make([]storage.Record, n)
		for i := range page {
			page[i] = storage.Record{SourceKey: fmt.Sprintf("big-%d-%d", n, i), Action: "update", Attempt: 1, Outcome: "ok", Request: "{}", At: retentionBase}
		}
		if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "other", RunID: "x1", Records: page}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.st.FinishRun(b.ctx, storage.Run{ID: "x1", Status: "succeeded", FinishedAt: retentionBase}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		deleted int64
		done    bool
	}{{1, false}, {7, true}, {0, true}} {
		if n, done, err := r.DeleteRunTrail(b.ctx, 0, "x1", 2); err != nil || n != want.deleted || done != want.done {
			t.Fatalf("x1 batch %d: deleted %d, done %v, %v; want %d, %v", i, n, done, err, want.deleted, want.done)
		}
	}
	if recs, _, err := b.st.RecordHistory(b.ctx, "other", "big-7-3", "", 10); err != nil || len(recs) != 0 {
		t.Fatalf("history of big-7-3 after its run was pruned = %+v, %v", recs, err)
	}
	// A running run is refused and keeps its trail.
	if _, _, err := r.DeleteRunTrail(b.ctx, 0, "c6", 2); err == nil {
		t.Fatal("a running run was pruned")
	}
	if left := remaining("c6"); left != 5 {
		t.Fatalf("running run: %d audit rows left, want 5", left)
	}
	// Other runs, mappings, dead letters, checkpoints, intents and schedules are untouched.
	runs, _, err := b.st.ListRuns(b.ctx, storage.RunFilter{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, run := range runs {
		ids = append(ids, run.ID)
	}
	if !slices.Equal(ids, []string{"c6", "c5", "c4", "c3", "a1"}) {
		t.Fatalf("runs left = %v", ids)
	}
	if remaining("c3") != 5 || remaining("a1") != 5 {
		t.Fatal("another run's trail was touched")
	}
	if ms := mustMappings(t, b, "m1"); len(ms) != 1 {
		t.Fatalf("mappings = %v", ms)
	}
	if dl, _ := b.st.DeadLetters(b.ctx, "customers", 0); len(dl) != 1 {
		t.Fatalf("dead letters = %v", dl)
	}
	if _, ok, _ := b.st.Checkpoint(b.ctx, "customers"); !ok {
		t.Fatal("checkpoint gone")
	}
	if in, _ := b.st.Intents(b.ctx, "customers", []string{"i1"}); in["i1"] != "T9" {
		t.Fatalf("intents = %v", in)
	}
	if sc, _ := b.st.Schedules(b.ctx); len(sc) != 1 {
		t.Fatalf("schedules = %v", sc)
	}
	// The pruned runs are no longer candidates.
	got, err := r.PruneCandidates(b.ctx, storage.RetentionPolicy{KeepRuns: 2}, retentionBase.Add(48*time.Hour), 10)
	if err != nil || !slices.Equal(got, []string{"c3"}) {
		t.Fatalf("candidates after pruning = %v, %v", got, err)
	}
}

// testRetentionPassesRecorded: a pass is recorded when it begins (no end, nothing removed), each
// DeleteRunTrail batch counts into it in its own transaction (the audit rows, the run once it is
// deleted, the first and last deleted run), a batch of another pass or of none does not, and
// FinishRetention records the end; passes are listed newest first, at most limit.
func testRetentionPassesRecorded(t *testing.T, open Opener) {
	b := setup(t, open)
	r := retention(t, b)
	retentionFixture(t, b, 3)
	if got, err := r.RetentionPasses(b.ctx, 5); err != nil || len(got) != 0 {
		t.Fatalf("no passes yet: %v, %v", got, err)
	}
	started := retentionBase.Add(48 * time.Hour)
	first, err := r.BeginRetention(b.ctx, storage.RetentionPass{StartedAt: started, Policy: "age 1h0m0s, runs 2"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.RetentionPasses(b.ctx, 5)
	if err != nil || len(got) != 1 || got[0].ID != first || !got[0].StartedAt.Equal(started) || !got[0].FinishedAt.IsZero() ||
		got[0].Policy != "age 1h0m0s, runs 2" || got[0].Runs != 0 || got[0].Records != 0 || got[0].OldestRunID != "" {
		t.Fatalf("begun pass = %+v, %v", got, err)
	}
	// a1 in batches of 2 (2, then 1 and the run), c1 in one, and a batch of no pass.
	for _, batch := range []struct {
		pass  int64
		run   string
		limit int
	}{{first, "a1", 2}, {first, "a1", 2}, {first, "c1", 5}, {0, "c2", 5}} {
		if _, _, err := r.DeleteRunTrail(b.ctx, batch.pass, batch.run, batch.limit); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = r.RetentionPasses(b.ctx, 5)
	if p := got[0]; p.Runs != 2 || p.Records != 6 || p.OldestRunID != "a1" || !p.OldestStartedAt.Equal(retentionBase.Add(-24*time.Hour)) ||
		p.NewestRunID != "c1" || !p.NewestStartedAt.Equal(retentionBase) || !p.FinishedAt.IsZero() {
		t.Fatalf("pass after its batches = %+v", p)
	}
	if err := r.FinishRetention(b.ctx, first, started.Add(time.Second), ""); err != nil {
		t.Fatal(err)
	}
	second, err := r.BeginRetention(b.ctx, storage.RetentionPass{StartedAt: started.Add(time.Hour), Policy: "age 1h0m0s, runs 2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.DeleteRunTrail(b.ctx, second, "c3", 1); err != nil {
		t.Fatal(err)
	}
	if err := r.FinishRetention(b.ctx, second, started.Add(time.Hour+time.Millisecond), "context canceled"); err != nil {
		t.Fatal(err)
	}
	got, err = r.RetentionPasses(b.ctx, 5)
	if err != nil || len(got) != 2 {
		t.Fatalf("passes = %+v, %v", got, err)
	}
	if p := got[0]; p.ID != second || p.Records != 1 || p.Runs != 0 || p.OldestRunID != "" || p.Error != "context canceled" ||
		!p.FinishedAt.Equal(started.Add(time.Hour+time.Millisecond)) {
		t.Fatalf("newest pass = %+v", p)
	}
	if p := got[1]; p.ID != first || p.Runs != 2 || p.Records != 6 || p.Error != "" || !p.FinishedAt.Equal(started.Add(time.Second)) {
		t.Fatalf("first pass = %+v", p)
	}
	if got, _ := r.RetentionPasses(b.ctx, 1); len(got) != 1 || got[0].ID != second {
		t.Fatalf("newest pass = %+v", got)
	}
}
