package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// The contract of the reads and writes unattended operation needs (issue #13): dead letters by page
// and by key, a record's history across runs, schedules, and a run's trigger and actor. Source keys
// here are ASCII of one case and length, so that their order is the same in every collation.

func deadLetterKeys(dls []storage.DeadLetter) []string {
	out := make([]string, len(dls))
	for i, d := range dls {
		out[i] = d.SourceKey
	}
	return out
}

func testDeadLetterPagingAndLookup(t *testing.T, open Opener) {
	b := setup(t, open)
	letters := func(flow string, keys ...string) {
		t.Helper()
		p := storage.PageCommit{Flow: flow}
		for _, k := range keys {
			p.DeadLetters = append(p.DeadLetters, storage.DeadLetter{SourceKey: k, Attempts: 1, LastError: "bad " + k, Payload: []byte(`{"k":"` + k + `"}`)})
		}
		if err := b.st.CommitPage(b.ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Written out of key order, over two pages; another flow has letters around and between them.
	letters("customers", "k03", "k01", "k05")
	letters("customers", "k04", "k02")
	letters("agents", "k00", "k025", "k06")

	var pages [][]string
	after := ""
	for range 10 {
		page, err := b.st.DeadLetterPage(b.ctx, "customers", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages = append(pages, deadLetterKeys(page))
		after = page[len(page)-1].SourceKey
	}
	if want := [][]string{{"k01", "k02"}, {"k03", "k04"}, {"k05"}}; fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Fatalf("dead letter pages = %v, want %v", pages, want)
	}
	// after need not be a key that has a letter.
	page, err := b.st.ReadOnly().DeadLetterPage(b.ctx, "customers", "k025", 10)
	if err != nil || fmt.Sprint(deadLetterKeys(page)) != "[k03 k04 k05]" {
		t.Fatalf("page after k025 = %v, %v", deadLetterKeys(page), err)
	}
	if d := page[0]; d.Flow != "customers" || d.Attempts != 1 || d.LastError != "bad k03" || string(d.Payload) != `{"k":"k03"}` ||
		d.FirstFailedAt.IsZero() || d.LastFailedAt.IsZero() {
		t.Fatalf("letter = %+v", d)
	}

	for flow, want := range map[string]int64{"customers": 5, "agents": 3, "none": 0} {
		if n, err := b.st.CountDeadLetters(b.ctx, flow); err != nil || n != want {
			t.Errorf("CountDeadLetters(%s) = %d, %v; want %d", flow, n, err, want)
		}
	}

	// By key: missing keys and another flow's keys are left out, a key asked twice comes once, and
	// the letters come in key order whatever the order asked.
	got, err := b.st.DeadLettersByKey(b.ctx, "customers", []string{"k05", "k09", "k01", "k00", "k01"})
	if err != nil || fmt.Sprint(deadLetterKeys(got)) != "[k01 k05]" {
		t.Fatalf("DeadLettersByKey = %v, %v", deadLetterKeys(got), err)
	}
	if got[1].LastError != "bad k05" || got[1].Flow != "customers" {
		t.Fatalf("letter by key = %+v", got[1])
	}
	if got, err := b.st.DeadLettersByKey(b.ctx, "customers", nil); err != nil || len(got) != 0 {
		t.Fatalf("no keys: %v, %v", got, err)
	}
}

func testDeadLettersByManyKeys(t *testing.T, open Opener) {
	b := setup(t, open)
	var keys, want []string
	p := storage.PageCommit{Flow: "agents"}
	for i := range 1000 {
		k := fmt.Sprintf("m%04d", 999-i) // asked in descending order
		keys = append(keys, k)
		if i%3 == 0 {
			want = append(want, k)
			p.DeadLetters = append(p.DeadLetters, storage.DeadLetter{SourceKey: k, LastError: "bad"})
		}
	}
	if err := b.st.CommitPage(b.ctx, p); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	got, err := b.st.ReadOnly().DeadLettersByKey(b.ctx, "agents", keys)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deadLetterKeys(got), want) {
		t.Fatalf("got %d letters (first %v), want %d in key order", len(got), deadLetterKeys(got)[:min(3, len(got))], len(want))
	}
}

// historyRow identifies an audit row in a record's history.
type historyRow struct {
	RunID string
	Seq   int64
	At    int64
}

func historyRows(t *testing.T, recs []storage.Record, key string) []historyRow {
	t.Helper()
	out := make([]historyRow, len(recs))
	for i, r := range recs {
		if r.SourceKey != key {
			t.Fatalf("history of %s holds a row of %s: %+v", key, r.SourceKey, r)
		}
		out[i] = historyRow{r.RunID, r.Seq, r.At.UnixNano()}
	}
	return out
}

// historyFixture writes two customers runs and one agents run with audit rows of key K (and of
// another key), with ties in time within a run and across runs, and returns K's customers history
// as RecordHistory must return it.
func historyFixture(t *testing.T, b *bundle) []historyRow {
	t.Helper()
	t0 := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, r := range []storage.Run{
		{ID: "run-1", Flow: "customers", StartedAt: t0},
		{ID: "run-2", Flow: "customers", StartedAt: at(2)},
		{ID: "run-x", Flow: "agents", StartedAt: at(4)},
	} {
		r.Options, r.Status = []byte("{}"), "running"
		if err := b.st.CreateRun(b.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(key string, attempt, s int) storage.Record {
		return storage.Record{SourceKey: key, TargetKey: "T" + key, Action: "update", Attempt: attempt, Vendor: "greatonce",
			Operation: "sync", Request: `{"n":` + fmt.Sprint(s) + `}`, Response: "{}", Outcome: "ok", At: at(s)}
	}
	pages := []storage.PageCommit{
		{Flow: "customers", RunID: "run-1", Records: []storage.Record{rec("K", 1, 1), rec("L", 1, 1), rec("K", 2, 2)}},
		{Flow: "customers", RunID: "run-2", Records: []storage.Record{rec("K", 1, 2), rec("K", 2, 2)}},
		{Flow: "agents", RunID: "run-x", Records: []storage.Record{rec("K", 1, 5)}},
		{Flow: "customers", RunID: "run-2", Records: []storage.Record{rec("L", 1, 3), rec("K", 1, 3)}},
	}
	for _, p := range pages {
		if err := b.st.CommitPage(b.ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	ns := func(s int) int64 { return at(s).UnixNano() }
	return []historyRow{
		{"run-2", 4, ns(3)},
		{"run-2", 2, ns(2)}, {"run-2", 1, ns(2)}, // same time: the higher sequence first
		{"run-1", 3, ns(2)}, // same time as run-2's rows: the lower run id after
		{"run-1", 1, ns(1)},
	}
}

func testRecordHistory(t *testing.T, open Opener) {
	b := setup(t, open)
	want := historyFixture(t, b)

	recs, next, err := b.st.RecordHistory(b.ctx, "customers", "K", "", 100)
	if err != nil || next != "" {
		t.Fatalf("history: next %q, %v", next, err)
	}
	if got := historyRows(t, recs, "K"); !slices.Equal(got, want) {
		t.Fatalf("history = %v, want %v (newest first, not the agents run's row)", got, want)
	}
	if r := recs[0]; r.TargetKey != "TK" || r.Attempt != 1 || r.Vendor != "greatonce" || r.Operation != "sync" ||
		r.Request != `{"n":3}` || r.Response != "{}" || r.Outcome != "ok" || r.Action != "update" {
		t.Fatalf("history row = %+v", r)
	}
	recs, _, err = b.st.ReadOnly().RecordHistory(b.ctx, "agents", "K", "", 100)
	if err != nil || len(recs) != 1 || recs[0].RunID != "run-x" {
		t.Fatalf("agents history = %+v, %v", recs, err)
	}
	if recs, next, err := b.st.RecordHistory(b.ctx, "customers", "nobody", "", 10); err != nil || len(recs) != 0 || next != "" {
		t.Fatalf("history of an unknown key = %v %q %v", recs, next, err)
	}
}

func testRecordHistoryPaging(t *testing.T, open Opener) {
	b := setup(t, open)
	want := historyFixture(t, b)
	for _, size := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprint("page size ", size), func(t *testing.T) {
			var got []historyRow
			tok := ""
			for pages := 1; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("no end after %d pages: %v", pages, got)
				}
				recs, next, err := b.st.RecordHistory(b.ctx, "customers", "K", tok, size)
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				if len(recs) > size {
					t.Fatalf("page %d holds %d rows, page size %d", pages, len(recs), size)
				}
				if next != "" && len(recs) == 0 {
					t.Fatalf("page %d: empty page with a next token", pages)
				}
				got = append(got, historyRows(t, recs, "K")...)
				if next == "" {
					break
				}
				tok = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("paged history = %v, want %v (no duplicates or gaps)", got, want)
			}
		})
	}
	for _, tok := range []string{"garbage!", "bm90IGEgdG9rZW4"} { // the second is base64 of "not a token"
		if _, _, err := b.st.RecordHistory(b.ctx, "customers", "K", tok, 2); !errors.Is(err, storage.ErrBadPageToken) {
			t.Errorf("token %q: %v, want ErrBadPageToken", tok, err)
		}
	}
}

// sameSchedule compares schedules with times compared as instants.
func sameSchedule(a, b storage.Schedule) bool {
	return a.Flow == b.Flow && a.Every == b.Every && a.Jitter == b.Jitter && a.Cron == b.Cron && a.Paused == b.Paused &&
		a.NextRunAt.Equal(b.NextRunAt) && a.Configured == b.Configured && a.LastFiredAt.Equal(b.LastFiredAt) &&
		a.LastRunID == b.LastRunID && a.LastResult == b.LastResult
}

func wantSchedules(t *testing.T, b *bundle, want ...storage.Schedule) {
	t.Helper()
	got, err := b.st.Schedules(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("schedules = %+v, want %+v", got, want)
	}
	for i := range got {
		if !sameSchedule(got[i], want[i]) {
			t.Fatalf("schedule %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func testSchedulesPutAndList(t *testing.T, open Opener) {
	b := setup(t, open)
	wantSchedules(t, b)
	t1 := time.Date(2026, 11, 3, 9, 15, 0, 123456789, time.UTC)
	cust := storage.Schedule{Flow: "customers", Every: 15 * time.Minute, Jitter: time.Minute, NextRunAt: t1, Configured: "every 15m jitter 1m"}
	agents := storage.Schedule{Flow: "agents", Cron: "0 * * * *", Paused: true, Configured: "cron 0 * * * *",
		LastFiredAt: t1.Add(-time.Hour), LastRunID: "r0", LastResult: "succeeded"}
	for _, s := range []storage.Schedule{cust, agents} {
		if err := b.st.PutSchedule(b.ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	wantSchedules(t, b, agents, cust) // by flow
	// A put replaces every field, those left zero included.
	agents2 := storage.Schedule{Flow: "agents", Every: time.Hour, NextRunAt: t1.Add(time.Hour)}
	if err := b.st.PutSchedule(b.ctx, agents2); err != nil {
		t.Fatal(err)
	}
	wantSchedules(t, b, agents2, cust)
	if got, err := b.st.ReadOnly().Schedules(b.ctx); err != nil || len(got) != 2 {
		t.Fatalf("schedules through the view = %+v, %v", got, err)
	}
}

func testFireScheduleCompareAndSet(t *testing.T, open Opener) {
	b := setup(t, open)
	due := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	s := storage.Schedule{Flow: "customers", Every: time.Hour, NextRunAt: due, Configured: "every 1h"}
	if err := b.st.PutSchedule(b.ctx, s); err != nil {
		t.Fatal(err)
	}
	fire := func(due, next time.Time, runID string) bool {
		t.Helper()
		ok, err := b.st.FireSchedule(b.ctx, "customers", due, next, storage.ScheduleFiring{At: due.Add(time.Second), RunID: runID, Result: "started"})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !fire(due, due.Add(time.Hour), "r1") {
		t.Fatal("the first fire at the due time did not fire")
	}
	fired := s
	fired.NextRunAt, fired.LastFiredAt, fired.LastRunID, fired.LastResult = due.Add(time.Hour), due.Add(time.Second), "r1", "started"
	wantSchedules(t, b, fired)
	// A second ticker with the same due time loses, and changes nothing.
	if fire(due, due.Add(2*time.Hour), "r2") {
		t.Fatal("a second fire with the same due time fired")
	}
	wantSchedules(t, b, fired)

	// The schedule is changed (an API call) after a ticker read it: the ticker's fire, with the old due
	// time, loses; one with the new due time fires.
	changed := fired
	changed.Every, changed.NextRunAt = 30*time.Minute, due.Add(30*time.Minute)
	if err := b.st.PutSchedule(b.ctx, changed); err != nil {
		t.Fatal(err)
	}
	if fire(fired.NextRunAt, fired.NextRunAt.Add(time.Hour), "r3") {
		t.Fatal("a fire with the due time from before the change fired")
	}
	wantSchedules(t, b, changed)
	if !fire(changed.NextRunAt, time.Time{}, "r4") {
		t.Fatal("a fire with the new due time did not fire")
	}
	// next zero: no next run; a fire "due" at the zero time never fires, nor does one of a flow
	// without a schedule.
	if got, _ := b.st.Schedules(b.ctx); len(got) != 1 || !got[0].NextRunAt.IsZero() || got[0].LastRunID != "r4" {
		t.Fatalf("after the fire with no next run: %+v", got)
	}
	if fire(time.Time{}, due, "r5") {
		t.Fatal("a schedule without a next run fired")
	}
	if ok, err := b.st.FireSchedule(b.ctx, "agents", due, due, storage.ScheduleFiring{At: due, RunID: "r6"}); err != nil || ok {
		t.Fatalf("fire of a flow without a schedule = %t, %v", ok, err)
	}
	if got, _ := b.st.Schedules(b.ctx); len(got) != 1 || got[0].LastRunID != "r4" {
		t.Fatalf("schedules after the refused fires: %+v", got)
	}
}

func testRunTriggerAndActor(t *testing.T, open Opener) {
	b := setup(t, open)
	base := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	runs := []storage.Run{
		{ID: "t1", Flow: "customers", Trigger: "schedule", Actor: "schedule"},
		{ID: "t2", Flow: "customers", Trigger: "api", Actor: "ops-console"},
		{ID: "t3", Flow: "customers"}, // as runs stored before triggers were kept
	}
	for i, r := range runs {
		r.Options, r.Status, r.StartedAt = []byte("{}"), "running", base.Add(time.Duration(i)*time.Minute)
		if err := b.st.CreateRun(b.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// FinishRun records the end; the trigger and actor stay as created (the engine's finish does not
	// repeat them).
	if err := b.st.FinishRun(b.ctx, storage.Run{ID: "t2", Status: "succeeded", FinishedAt: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, want := range runs {
		r, err := b.st.GetRun(b.ctx, want.ID)
		if err != nil || r.Trigger != want.Trigger || r.Actor != want.Actor {
			t.Errorf("GetRun(%s) = trigger %q actor %q (%v), want %q %q", want.ID, r.Trigger, r.Actor, err, want.Trigger, want.Actor)
		}
	}
	list, _, err := b.st.ReadOnly().ListRuns(b.ctx, storage.RunFilter{Flow: "customers"})
	if err != nil || len(list) != 3 {
		t.Fatalf("ListRuns = %+v, %v", list, err)
	}
	for i, r := range list {
		want := runs[len(runs)-1-i] // newest first
		if r.ID != want.ID || r.Trigger != want.Trigger || r.Actor != want.Actor {
			t.Errorf("ListRuns[%d] = %s trigger %q actor %q, want %s %q %q", i, r.ID, r.Trigger, r.Actor, want.ID, want.Trigger, want.Actor)
		}
	}
	if list[1].Status != "succeeded" {
		t.Errorf("finished run = %+v", list[1])
	}
}
