package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// A run's trail, committed as pages of different sizes, pages through RunRecords by sequence number
// with every filter and page size, tokens carrying across page commits: each listing yields exactly
// the rows its filter selects, in order, every field whole.
func testRunRecordsAcrossPages(t *testing.T, open Opener) {
	b := setup(t, open)
	if err := b.st.CreateRun(b.ctx, storage.Run{ID: "r1", Flow: "agents", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	kinds := [][2]string{{"add", "ok"}, {"skip", "skipped"}, {"update", "ok"}, {"fail", "transient"}, {"skip", "skipped"}, {"call", "ok"}}
	var all []storage.Record
	n := 0
	for _, size := range []int{3, 1, 7, 2, 300} {
		p := storage.PageCommit{Flow: "agents", RunID: "r1"}
		for range size {
			n++
			k := kinds[(n*7)%len(kinds)]
			if size == 300 {
				k = kinds[1] // a page of unchanged skips only (a resync's)
			}
			p.Records = append(p.Records, storage.Record{SourceKey: fmt.Sprint("K", n%5), TargetKey: fmt.Sprint("T", n), Action: k[0], Attempt: n % 3,
				Vendor: "kingdee", Operation: "BatchSave", Request: fmt.Sprintf(`{"n":%d,"name":"植隆"}`, n), Response: fmt.Sprint("resp", n),
				Outcome: k[1], Error: fmt.Sprint("e", n), At: time.Unix(1000+int64(n), 0).UTC()})
		}
		if err := b.st.CommitPage(b.ctx, p); err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			r.RunID, r.Seq = "r1", int64(len(all)+1)
			all = append(all, r)
		}
	}
	for _, f := range []storage.RecordFilter{{}, {Action: "skip"}, {Outcome: "ok"}, {Action: "fail", Outcome: "transient"}, {Action: "update", Outcome: "transient"}} {
		var want []storage.Record
		for _, r := range all {
			if (f.Action == "" || r.Action == f.Action) && (f.Outcome == "" || r.Outcome == f.Outcome) {
				want = append(want, r)
			}
		}
		for _, size := range []int{1, 2, 5, 1000} {
			var got []storage.Record
			tok := ""
			for pages := 1; ; pages++ {
				if pages > len(all)+2 {
					t.Fatalf("filter %+v size %d: no end", f, size)
				}
				recs, next, err := b.st.RunRecords(b.ctx, "r1", f, tok, size)
				if err != nil || len(recs) > size {
					t.Fatalf("filter %+v size %d page %d: %d rows, %v", f, size, pages, len(recs), err)
				}
				got = append(got, recs...)
				if next == "" {
					break
				}
				tok = next
			}
			if !slices.EqualFunc(got, want, sameRecord) {
				t.Fatalf("filter %+v size %d: %d rows, want %d\ngot  %+v\nwant %+v", f, size, len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
			}
		}
	}
}

// An unchanged skip (action skip, outcome skipped: nothing was sent) stays in its run's trail but is
// not in the record's history; other skips (dropped, discarded) are.
func testHistoryLeavesOutUnchangedSkips(t *testing.T, open Opener) {
	b := setup(t, open)
	for i, rec := range []storage.Record{
		{SourceKey: "K", Action: "add", Attempt: 1, Outcome: "ok", Request: `{"n":1}`},
		{SourceKey: "K", Action: "skip", Outcome: "skipped", TargetKey: "T"},
		{SourceKey: "K", Action: "skip", Outcome: "dropped", Request: "unreadable"},
	} {
		id := fmt.Sprint("run-", i)
		if err := b.st.CreateRun(b.ctx, storage.Run{ID: id, Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		rec.At = time.Unix(100+int64(i), 0)
		if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "customers", RunID: id, Records: []storage.Record{rec}}); err != nil {
			t.Fatal(err)
		}
	}
	hist, _, err := b.st.RecordHistory(b.ctx, "customers", "K", "", 10)
	if err != nil || len(hist) != 2 || hist[0].Outcome != "dropped" || hist[1].Outcome != "ok" || hist[1].Request != `{"n":1}` {
		t.Fatalf("history = %+v, %v; want the dropped skip and the add", hist, err)
	}
	recs, _, err := b.st.RunRecords(b.ctx, "run-1", storage.RecordFilter{}, "", 10)
	if err != nil || len(recs) != 1 || recs[0].Outcome != "skipped" || recs[0].TargetKey != "T" {
		t.Fatalf("the resync's trail = %+v, %v; want its unchanged skip", recs, err)
	}
}

// sameRecord reports whether two audit rows are equal, their times compared as instants.
func sameRecord(a, b storage.Record) bool {
	at := a.At.Equal(b.At)
	a.At, b.At = time.Time{}, time.Time{}
	return at && a == b
}
