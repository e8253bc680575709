package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncgate/syncgate/server/storage"
)

// BenchmarkCommitPage is the SQLite backend's BenchmarkCommitPage (server/storage/sqlite/bench_test.go)
// for PostgreSQL: pages of 1000 records shaped like a SyncCustomers page (per record one id mapping and
// one audit row, the record resolved in the dead letters), source keys scattered, with and without
// create intents recorded before the page and cleared by it. It reports the cost per record and the
// bytes the database grows by per record (pg_database_size, WAL not counted). Run both with
//
//	go test -run XXX -bench CommitPage -benchtime 150x ./server/storage/sqlite ./server/storage/postgres
func BenchmarkCommitPage(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchCommitPage(b, false) })
	b.Run("intents", func(b *testing.B) { benchCommitPage(b, true) })
}

func benchCommitPage(b *testing.B, intents bool) {
	ctx := context.Background()
	st, dsn := open(b)
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
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	size := func() int64 {
		var n int64
		if err := conn.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
			b.Fatal(err)
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
