package sqlite

import (
	"context"
	"fmt"
	"github.com/syncgate/syncgate/server/storage"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkCommitPage commits pages shaped like a SyncCustomers page: per record one id mapping and
// one audit row (the body sent and the response of its single attempt), and the record resolved in
// the dead letters. It reports the cost per record and the bytes the database grows by per record.
// Source keys arrive scattered, as FCUSTIDs do in modification-date order. On the development
// machine (2 vCPU AMD EPYC; go test -run XXX -bench CommitPage -benchtime 150x ./server/storage/sqlite):
// with sequential keys, 31.8 µs and 2216 bytes per record with one INSERT per row and a separate
// attempt row, 11-13 µs and 1209 bytes with multi-row INSERTs and the attempt merged into the
// record's row; with scattered keys (this benchmark) that schema took 61 µs, migration 2 (mappings
// as a rowid table, without the two indexes nothing read) 18-22 µs and 1397 bytes. Migration 4's
// history index (run_records_history) costs a random index insert per audit row again: measured with
// two test binaries, schema 4 without and with the index, run alternately (-benchtime 150x, a slower
// day of the same machine), plain 29-36 µs and 1397 bytes without it, 45-60 µs and 1515 bytes with
// it (intents 35-39 against 52-56 µs); an index on (source_key) alone cost about the same (42-47 µs).
//
// The intents case adds what a page of Greatonce adds costs with create intents: each record's
// distributor code recorded before delivery (RecordIntents, its own transaction) and cleared by the
// page commit.
func BenchmarkCommitPage(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchCommitPage(b, false) })
	b.Run("intents", func(b *testing.B) { benchCommitPage(b, true) })
}

func benchCommitPage(b *testing.B, intents bool) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bench.db")
	st, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateRun(ctx, storage.Run{ID: "r1", Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	const perPage = 1000
	body := `{"address":"上海市徐汇区漕溪北路` + strings.Repeat("8", 40) + `号","balance_deduct_type":"1","distributorCode":"C%07d",` +
		`"distributorCompanyName":"植隆集团总部","distributorName":"植隆代理商%07d","mobile":"张伟","contact":"张伟","distributorLevelName":"A","actionType":"add"}`
	page := func(n int) storage.PageCommit {
		c := storage.PageCommit{Flow: "customers", RunID: "r1", Counts: &storage.Counts{Read: int64(n + perPage)}}
		for i := n; i < n+perPage; i++ {
			key := fmt.Sprint(100000 + (i*7919)%1000003) // source order is not key order: ids arrive scattered
			b := fmt.Sprintf(body, i, i)
			c.Mappings = append(c.Mappings, storage.Mapping{SourceKey: key, TargetKey: fmt.Sprintf("C%07d", i), PayloadHash: strings.Repeat("ab", 32), Payload: []byte(b)})
			c.Records = append(c.Records, storage.Record{SourceKey: key, TargetKey: fmt.Sprintf("C%07d", i), Action: "add", Attempt: 1,
				Vendor: "greatonce", Operation: "greatonce.distributor.single.sync", Request: b,
				Response: `{"success":true,"code":"0","message":"成功"}`, Outcome: "ok", At: time.Now()})
			c.Resolved = append(c.Resolved, key)
		}
		c.Checkpoint = &storage.Cursor{Time: time.Now(), Key: fmt.Sprint(n)}
		return c
	}
	size := func() int64 {
		var n int64
		for _, f := range []string{path, path + "-wal"} {
			if fi, err := os.Stat(f); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	before := size()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		p := page(i * perPage)
		var in []storage.Intent
		if intents {
			for _, m := range p.Mappings {
				in = append(in, storage.Intent{SourceKey: m.SourceKey, TargetKey: m.TargetKey})
			}
			p.ClearIntents = p.Resolved
		}
		b.StartTimer()
		if err := st.RecordIntents(ctx, "customers", in); err != nil {
			b.Fatal(err)
		}
		if err := st.CommitPage(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*perPage), "µs/record")
	b.ReportMetric(float64(size()-before)/float64(b.N*perPage), "bytes/record")
}

// BenchmarkRecordHistory times RecordHistory on a store holding a million audit rows: ten runs of
// 100,000 records each (alternately customers and agents, so half of a key's rows belong to the
// other flow and are filtered out by the join), every source key in every run, committed with
// CommitPage in pages of 1000 with scattered keys, as a sync writes them. A key's customers history
// is then 5 rows among its 10. "first page" reads a key's newest rows, "next page" the page after a
// token; each iteration asks for another key. The store is built once (about a minute), so this
// runs only with -bench:
//
//	go test -run XXX -bench RecordHistory -benchtime 2000x ./server/storage/sqlite
func BenchmarkRecordHistory(b *testing.B) {
	const (
		runs    = 10
		perRun  = 100_000
		perPage = 1000
		keys    = perRun
	)
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "history.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	key := func(i int) string { return fmt.Sprint(100000 + (i*7919)%keys) } // every key once per run, scattered
	flow := func(run int) string { return []string{"customers", "agents"}[run%2] }
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	body := `{"distributorCode":"C%07d","distributorName":"植隆代理商%07d","address":"上海市徐汇区漕溪北路88号","actionType":"update"}`
	start := time.Now()
	for run := range runs {
		id := fmt.Sprintf("run-%02d", run)
		if err := st.CreateRun(ctx, storage.Run{ID: id, Flow: flow(run), Options: []byte("{}"), Status: "running", StartedAt: base}); err != nil {
			b.Fatal(err)
		}
		for p := 0; p < perRun; p += perPage {
			c := storage.PageCommit{Flow: flow(run), RunID: id}
			for i := p; i < p+perPage; i++ {
				n := run*perRun + i
				c.Records = append(c.Records, storage.Record{SourceKey: key(i), TargetKey: fmt.Sprintf("C%07d", i), Action: "update", Attempt: 1,
					Vendor: "greatonce", Operation: "greatonce.distributor.single.sync", Request: fmt.Sprintf(body, i, i),
					Response: `{"success":true,"code":"0","message":"成功"}`, Outcome: "ok", At: base.Add(time.Duration(n) * time.Millisecond)})
			}
			if err := st.CommitPage(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	}
	var rows int64
	if err := st.db.QueryRowContext(ctx, `SELECT count(*) FROM run_records`).Scan(&rows); err != nil || rows != runs*perRun {
		b.Fatalf("%d audit rows, %v", rows, err)
	}
	b.Logf("built %d audit rows in %v", rows, time.Since(start).Round(time.Second))

	b.Run("first page", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			recs, next, err := st.RecordHistory(ctx, "customers", key(i*31), "", 50)
			if err != nil || len(recs) != runs/2 || next != "" {
				b.Fatalf("history: %d rows, next %q, %v", len(recs), next, err)
			}
		}
	})
	b.Run("next page", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			k := key(i * 31)
			_, tok, err := st.RecordHistory(ctx, "customers", k, "", 2)
			if err != nil || tok == "" {
				b.Fatalf("first page: %q, %v", tok, err)
			}
			b.StartTimer()
			recs, _, err := st.RecordHistory(ctx, "customers", k, tok, 2)
			if err != nil || len(recs) != 2 {
				b.Fatalf("next page: %d rows, %v", len(recs), err)
			}
		}
	})
}
