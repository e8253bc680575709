// Package storagetest is the storage contract suite: the semantics the engine relies on, run against
// every backend (each backend's tests call Run with a function that opens a fresh, empty store). It
// covers atomic page commits, mappings, checkpoints, the read-only view, the run lifecycle and its
// listing, dead-letter upserts and resolution, audit-trail paging and create intents; and (operator.go)
// dead letters by page and by key, a record's history across runs, schedules and their
// compare-and-set firing, and a run's trigger and actor; and (retention.go) retention: which runs a
// policy selects, deleting a run's trail in bounded batches, and the record of passes.
package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// Opener opens a fresh, empty store for one test; the backend closes it when the test ends.
type Opener func(t *testing.T) storage.Store

// Run runs every contract test against the backend open makes.
func Run(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		test func(t *testing.T, open Opener)
	}{
		{"CommitPageIsAtomicAndCumulative", testCommitPageIsAtomicAndCumulative},
		{"RunsListPagingAndInterrupted", testRunsListPagingAndInterrupted},
		{"MappingsLookupManyKeys", testMappingsLookupManyKeys},
		{"ReadOnlyViewCannotWrite", testReadOnlyViewCannotWrite},
		{"CommitPageTable", testCommitPageTable},
		{"CreateIntents", testCreateIntents},
		{"DeadLetterPagingAndLookup", testDeadLetterPagingAndLookup},
		{"DeadLettersByManyKeys", testDeadLettersByManyKeys},
		{"RecordHistory", testRecordHistory},
		{"RecordHistoryPaging", testRecordHistoryPaging},
		{"RunRecordsAcrossPages", testRunRecordsAcrossPages},
		{"HistoryLeavesOutUnchangedSkips", testHistoryLeavesOutUnchangedSkips},
		{"SchedulesPutAndList", testSchedulesPutAndList},
		{"FireScheduleCompareAndSet", testFireScheduleCompareAndSet},
		{"RunTriggerAndActor", testRunTriggerAndActor},
		{"RunWindowAndCursorCommitWithThePage", testRunWindowAndCursorCommitWithThePage},
		{"CancelRequestAndLiveProgress", testCancelRequestAndLiveProgress},
		{"RetentionCandidates", testRetentionCandidates},
		{"RetentionDeletesInBatches", testRetentionDeletesInBatches},
		{"RetentionPassesRecorded", testRetentionPassesRecorded},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, open) })
	}
}

// bundle is one test's store and context.
type bundle struct {
	ctx context.Context
	st  storage.Store
}

func setup(t *testing.T, open Opener) *bundle {
	t.Helper()
	return &bundle{ctx: context.Background(), st: open(t)}
}

func testCommitPageIsAtomicAndCumulative(t *testing.T, open Opener) {
	b := setup(t, open)
	run := storage.Run{ID: "r1", Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}
	if err := b.st.CreateRun(b.ctx, run); err != nil {
		t.Fatal(err)
	}
	cp := storage.Cursor{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Key: "42"}
	err := b.st.CommitPage(b.ctx, storage.PageCommit{
		Flow: "customers", RunID: "r1",
		Mappings:    []storage.Mapping{{SourceKey: "1", TargetKey: "D1", PayloadHash: "h1", Payload: []byte(`{"a":1}`)}, {SourceKey: "2", TargetKey: "D2", PayloadHash: "h2", Payload: []byte(`{}`)}},
		Records:     []storage.Record{{SourceKey: "1", Action: "add", Attempt: 1, Outcome: "ok"}, {SourceKey: "3", Action: "fail", Attempt: 1, Outcome: "permanent", Error: "bad"}},
		DeadLetters: []storage.DeadLetter{{SourceKey: "3", Attempts: 1, LastError: "bad"}},
		Checkpoint:  &cp,
		Counts:      &storage.Counts{Read: 3, Added: 2, Failed: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Second page: mapping 1 updated, dead letter 3 fails again, then is resolved in a third page.
	err = b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "customers", RunID: "r1",
		Mappings:    []storage.Mapping{{SourceKey: "1", TargetKey: "D1", PayloadHash: "h1b", Payload: []byte(`{"a":2}`)}},
		Records:     []storage.Record{{SourceKey: "1", Action: "update", Attempt: 1, Outcome: "ok"}},
		DeadLetters: []storage.DeadLetter{{SourceKey: "3", Attempts: 2, LastError: "still bad"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := b.st.Mappings(b.ctx, "customers", []string{"1", "2", "9"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms["1"].PayloadHash != "h1b" || string(ms["1"].Payload) != `{"a":2}` || ms["2"].TargetKey != "D2" {
		t.Fatalf("mappings = %+v", ms)
	}
	if other, _ := b.st.Mappings(b.ctx, "agents", []string{"1"}); len(other) != 0 {
		t.Fatal("mappings leak across flows")
	}
	got, ok, err := b.st.Checkpoint(b.ctx, "customers")
	if err != nil || !ok || !got.Time.Equal(cp.Time) || got.Key != "42" {
		t.Fatalf("checkpoint = %+v %v %v", got, ok, err)
	}
	dl, _ := b.st.DeadLetters(b.ctx, "customers", 0)
	if len(dl) != 1 || dl[0].Attempts != 3 || dl[0].LastError != "still bad" {
		t.Fatalf("dead letters = %+v", dl)
	}
	recs, next, err := b.st.RunRecords(b.ctx, "r1", storage.RecordFilter{}, "", 2)
	if err != nil || len(recs) != 2 || next == "" || recs[0].Seq != 1 || recs[1].SourceKey != "3" {
		t.Fatalf("records page 1 = %+v %q %v", recs, next, err)
	}
	recs, next, _ = b.st.RunRecords(b.ctx, "r1", storage.RecordFilter{}, next, 2)
	if len(recs) != 1 || next != "" || recs[0].Action != "update" || recs[0].Seq != 3 {
		t.Fatalf("records page 2 = %+v %q", recs, next)
	}
	// Filters by action and outcome; a page token continues the same filter.
	recs, next, err = b.st.RunRecords(b.ctx, "r1", storage.RecordFilter{Outcome: "ok"}, "", 1)
	if err != nil || len(recs) != 1 || recs[0].Seq != 1 || next == "" {
		t.Fatalf("ok records page 1 = %+v %q %v", recs, next, err)
	}
	recs, next, _ = b.st.RunRecords(b.ctx, "r1", storage.RecordFilter{Outcome: "ok"}, next, 1)
	if len(recs) != 1 || recs[0].Seq != 3 || next != "" {
		t.Fatalf("ok records page 2 = %+v %q", recs, next)
	}
	if recs, _, _ = b.st.RunRecords(b.ctx, "r1", storage.RecordFilter{Action: "fail", Outcome: "permanent"}, "", 10); len(recs) != 1 || recs[0].SourceKey != "3" {
		t.Fatalf("fail/permanent records = %+v", recs)
	}
	if recs, _, _ = b.st.RunRecords(b.ctx, "r1", storage.RecordFilter{Action: "add", Outcome: "permanent"}, "", 10); len(recs) != 0 {
		t.Fatalf("add/permanent records = %+v, want none", recs)
	}
	if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "customers", RunID: "r1", Resolved: []string{"3"}}); err != nil {
		t.Fatal(err)
	}
	if dl, _ := b.st.DeadLetters(b.ctx, "customers", 0); len(dl) != 0 {
		t.Fatalf("resolved dead letter still there: %+v", dl)
	}
	r, _ := b.st.GetRun(b.ctx, "r1")
	if r.Counts.Read != 3 || r.Counts.Failed != 1 {
		t.Fatalf("counts = %+v", r.Counts)
	}

	// A failing statement rolls the whole page back: an audit row for an unknown run violates the FK.
	err = b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "customers", RunID: "nope",
		Mappings: []storage.Mapping{{SourceKey: "7", TargetKey: "D7", PayloadHash: "h7", Payload: []byte(`{}`)}},
		Records:  []storage.Record{{SourceKey: "7", Action: "add", Outcome: "ok"}},
	})
	if err == nil {
		t.Fatal("audit row for a missing run was accepted")
	}
	if ms, _ := b.st.Mappings(b.ctx, "customers", []string{"7"}); len(ms) != 0 {
		t.Fatal("a failed page left a mapping behind")
	}
}

func testRunsListPagingAndInterrupted(t *testing.T, open Opener) {
	b := setup(t, open)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i, flow := range []string{"agents", "customers", "agents", "agents"} {
		r := storage.Run{ID: string(rune('a' + i)), Flow: flow, Options: []byte("{}"), Status: "running", StartedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := b.st.CreateRun(b.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	fin := storage.Run{ID: "a", Flow: "agents", Status: "succeeded", FinishedAt: base.Add(time.Hour), Counts: storage.Counts{Read: 5, Added: 5}}
	if err := b.st.FinishRun(b.ctx, fin); err != nil {
		t.Fatal(err)
	}
	page, next, err := b.st.ListRuns(b.ctx, storage.RunFilter{Flow: "agents", PageSize: 2})
	if err != nil || len(page) != 2 || page[0].ID != "d" || page[1].ID != "c" || next == "" {
		t.Fatalf("page 1 = %v %q %v", page, next, err)
	}
	page, next, _ = b.st.ListRuns(b.ctx, storage.RunFilter{Flow: "agents", PageSize: 2, PageToken: next})
	if len(page) != 1 || page[0].ID != "a" || page[0].Status != "succeeded" || page[0].Counts.Added != 5 || next != "" {
		t.Fatalf("page 2 = %+v %q", page, next)
	}
	if _, _, err := b.st.ListRuns(b.ctx, storage.RunFilter{PageToken: "garbage!"}); !errors.Is(err, storage.ErrBadPageToken) {
		t.Fatalf("bad token: %v", err)
	}
	n, err := b.st.FailInterrupted(b.ctx, base.Add(2*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("interrupted = %d, %v", n, err)
	}
	if r, _ := b.st.GetRun(b.ctx, "b"); r.Status != "failed" || r.Error == "" {
		t.Fatalf("interrupted run = %+v", r)
	}
	if _, err := b.st.GetRun(b.ctx, "zzz"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
}

func testMappingsLookupManyKeys(t *testing.T, open Opener) {
	b := setup(t, open)
	var ms []storage.Mapping
	var keys []string
	for i := range 1000 {
		k := time.Duration(i).String()
		keys = append(keys, k)
		if i%2 == 0 {
			ms = append(ms, storage.Mapping{SourceKey: k, TargetKey: "T" + k, PayloadHash: "h", Payload: []byte("{}")})
		}
	}
	if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "agents", Mappings: ms}); err != nil {
		t.Fatal(err)
	}
	got, err := b.st.Mappings(b.ctx, "agents", keys)
	if err != nil || len(got) != 500 {
		t.Fatalf("got %d mappings, %v", len(got), err)
	}
}

func testReadOnlyViewCannotWrite(t *testing.T, open Opener) {
	b := setup(t, open)
	if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "agents", Checkpoint: &storage.Cursor{Time: time.Unix(100, 0), Key: "k"}}); err != nil {
		t.Fatal(err)
	}
	ro := b.st.ReadOnly()
	if _, ok := ro.(storage.Store); ok {
		t.Fatal("the read-only view converts back into a storage.Store")
	}
	if _, ok := ro.(interface {
		CommitPage(context.Context, storage.PageCommit) error
	}); ok {
		t.Fatal("the read-only view can commit pages")
	}
	// It reads what the store holds.
	cp, ok, err := ro.Checkpoint(b.ctx, "agents")
	if err != nil || !ok || cp.Key != "k" || !cp.Time.Equal(time.Unix(100, 0)) {
		t.Fatalf("checkpoint through the view = %+v %v %v", cp, ok, err)
	}
	if _, err := ro.GetRun(b.ctx, "none"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetRun through the view: %v", err)
	}
}

func testCommitPageTable(t *testing.T, open Opener) {
	// Each case starts from a fresh database holding run r1, a mapping for "1" and a dead letter for "3".
	tests := []struct {
		name    string
		commit  storage.PageCommit
		wantErr bool
		// check gets the mapping of "1" as it was before the commit.
		check func(t *testing.T, b *bundle, before storage.Mapping)
	}{
		{
			name:   "resolving a key without a letter is a no-op",
			commit: storage.PageCommit{Flow: "customers", RunID: "r1", Resolved: []string{"9"}},
			check: func(t *testing.T, b *bundle, _ storage.Mapping) {
				if dl, _ := b.st.DeadLetters(b.ctx, "customers", 0); len(dl) != 1 {
					t.Fatalf("dead letters = %+v", dl)
				}
			},
		},
		{
			name:   "dead letters are per flow",
			commit: storage.PageCommit{Flow: "agents", RunID: "r1", Resolved: []string{"3"}},
			check: func(t *testing.T, b *bundle, _ storage.Mapping) {
				if dl, _ := b.st.DeadLetters(b.ctx, "customers", 0); len(dl) != 1 {
					t.Fatalf("another flow resolved the letter: %+v", dl)
				}
			},
		},
		{
			name:   "a checkpoint alone moves nothing else",
			commit: storage.PageCommit{Flow: "customers", RunID: "r1", Checkpoint: &storage.Cursor{Time: time.Unix(5, 0), Key: "0005"}},
			check: func(t *testing.T, b *bundle, _ storage.Mapping) {
				cp, ok, _ := b.st.Checkpoint(b.ctx, "customers")
				if !ok || cp.Key != "0005" {
					t.Fatalf("checkpoint = %+v", cp)
				}
				if r, _ := b.st.GetRun(b.ctx, "r1"); r.Counts != (storage.Counts{}) {
					t.Fatalf("counts changed: %+v", r.Counts)
				}
			},
		},
		{
			name: "an upsert keeps the creation time and changes the rest",
			commit: storage.PageCommit{Flow: "customers", RunID: "r1",
				Mappings: []storage.Mapping{{SourceKey: "1", TargetKey: "D1x", PayloadHash: "h2", Payload: []byte(`{"b":1}`)}}},
			check: func(t *testing.T, b *bundle, before storage.Mapping) {
				m := mustMappings(t, b, "1")["1"]
				if m.TargetKey != "D1x" || m.PayloadHash != "h2" || string(m.Payload) != `{"b":1}` ||
					!m.CreatedAt.Equal(before.CreatedAt) || m.UpdatedAt.Before(before.UpdatedAt) {
					t.Fatalf("mapping = %+v", m)
				}
			},
		},
		{
			name: "a failing row rolls back the checkpoint and the letters too",
			commit: storage.PageCommit{Flow: "customers", RunID: "missing-run", Resolved: []string{"3"},
				Checkpoint: &storage.Cursor{Time: time.Unix(9, 0), Key: "9"},
				Records:    []storage.Record{{SourceKey: "1", Action: "add", Outcome: "ok"}}},
			wantErr: true,
			check: func(t *testing.T, b *bundle, _ storage.Mapping) {
				if _, ok, _ := b.st.Checkpoint(b.ctx, "customers"); ok {
					t.Fatal("checkpoint written by a failed page")
				}
				if dl, _ := b.st.DeadLetters(b.ctx, "customers", 0); len(dl) != 1 {
					t.Fatal("letter resolved by a failed page")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, open)
			if err := b.st.CreateRun(b.ctx, storage.Run{ID: "r1", Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "customers", RunID: "r1",
				Mappings:    []storage.Mapping{{SourceKey: "1", TargetKey: "D1", PayloadHash: "h1", Payload: []byte(`{}`)}},
				DeadLetters: []storage.DeadLetter{{SourceKey: "3", LastError: "bad"}}}); err != nil {
				t.Fatal(err)
			}
			before := mustMappings(t, b, "1")["1"]
			err := b.st.CommitPage(b.ctx, tt.commit)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			tt.check(t, b, before)
		})
	}
}

func testCreateIntents(t *testing.T, open Opener) {
	b := setup(t, open)
	if err := b.st.RecordIntents(b.ctx, "customers", []storage.Intent{{SourceKey: "1", TargetKey: "甲CUST1"}, {SourceKey: "2", TargetKey: "乙CUST2"}}); err != nil {
		t.Fatal(err)
	}
	// A key already reserved stays: the create that may have happened used it.
	if err := b.st.RecordIntents(b.ctx, "customers", []storage.Intent{{SourceKey: "1", TargetKey: "丙CUST1"}, {SourceKey: "3", TargetKey: "丁CUST3"}}); err != nil {
		t.Fatal(err)
	}
	got, err := b.st.ReadOnly().Intents(b.ctx, "customers", []string{"1", "2", "3", "4"})
	if err != nil || len(got) != 3 || got["1"] != "甲CUST1" || got["3"] != "丁CUST3" {
		t.Fatalf("intents %v, %v", got, err)
	}
	if other, _ := b.st.Intents(b.ctx, "agents", []string{"1"}); len(other) != 0 {
		t.Fatalf("intents leak across flows: %v", other)
	}
	if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "customers", Mappings: []storage.Mapping{{SourceKey: "1", TargetKey: "甲CUST1", PayloadHash: "h", Payload: []byte("{}")}},
		ClearIntents: []string{"1", "2"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.st.Intents(b.ctx, "customers", []string{"1", "2", "3"}); len(got) != 1 || got["3"] != "丁CUST3" {
		t.Fatalf("after the commit: %v", got)
	}
}

func mustMappings(t *testing.T, b *bundle, keys ...string) map[string]storage.Mapping {
	t.Helper()
	ms, err := b.st.Mappings(b.ctx, "customers", keys)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
