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
// as a rowid table, without the two indexes nothing read) 18-22 µs and 1397 bytes.
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
