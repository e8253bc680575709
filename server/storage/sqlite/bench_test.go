package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/syncgate/syncgate/server/storage"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkCommitPage commits pages shaped like a SyncCustomers page: per record one id mapping and
// one audit row (the body sent and the response of its single attempt), and the record resolved in
// the dead letters. It reports the cost per record (wall and process CPU time) and the bytes the database grows by per record.
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
	var cpu time.Duration
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
		c0 := cpuTime()
		if err := st.RecordIntents(ctx, "customers", in); err != nil {
			b.Fatal(err)
		}
		if err := st.CommitPage(ctx, p); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*perPage), "µs/record")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*perPage), "cpu-µs/record")
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
	if err := st.db.QueryRowContext(ctx, `SELECT count(*) FROM record_index`).Scan(&rows); err != nil || rows != runs*perRun {
		b.Fatalf("%d audit rows, %v", rows, err)
	}
	b.Logf("built %d audit rows (record index entries) in %v", rows, time.Since(start).Round(time.Second))

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

// footprintGen makes record bodies like the mocks' demo data (mocks/internal/gen): Chinese company,
// person and street names, mobile numbers, codes; deterministic for a seed.
type footprintGen struct{ r *rand.Rand }

func (g footprintGen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

func (g footprintGen) company() string {
	return g.pick("上海", "北京", "杭州", "苏州", "南京", "广州", "深圳", "成都", "武汉", "宁波") +
		g.pick("植隆", "华润", "恒信", "金桥", "瑞丰", "鼎盛", "嘉禾", "同创", "宏远", "润泽") +
		g.pick("贸易", "商贸", "科技", "实业", "日化", "食品", "医药", "电子") + g.pick("有限公司", "股份有限公司", "商行", "经营部")
}

func (g footprintGen) person() string {
	return g.pick("张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴") + g.pick("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "婷")
}

func (g footprintGen) address() string {
	return fmt.Sprintf("%s%s%s%d号", g.pick("上海市", "北京市", "杭州市", "苏州市", "南京市"), g.pick("徐汇区", "浦东新区", "西湖区", "朝阳区", "天河区"),
		g.pick("漕溪北路", "人民路", "解放路", "中山路", "建设路", "文三路"), 1+g.r.IntN(999))
}

func (g footprintGen) mobile() string {
	return fmt.Sprintf("1%d%09d", 3+g.r.IntN(7), g.r.IntN(1_000_000_000))
}

// footprintPage is one page of a flow as the engine commits it: per record its id mapping (canonical
// payload) and one audit row (the body sent, the vendor's answer), plus a page-level "call" row (the
// source page read, a 14 KB answer); in a resync of unchanged records, one unchanged skip per record
// (no bodies) and the call row.
func footprintPage(g footprintGen, runID, flow string, first, n int, resync bool, at time.Time) storage.PageCommit {
	p := storage.PageCommit{Flow: flow, RunID: runID, Counts: &storage.Counts{Read: int64(first + n)}}
	var src strings.Builder
	for i := first; i < first+n; i++ {
		key := fmt.Sprint(100000 + (i*7919)%1000003)
		var payload, request, target, vendor, op, response string
		name, person := g.company(), g.person()
		if flow == "customers" {
			target = name + fmt.Sprintf("CUST%06d", i)
			payload = fmt.Sprintf(`{"address":"%s","balance_deduct_type":"%s","contact":"%s","distributorCode":"%s","distributorCompanyName":"植隆集团总部","distributorLevelName":"%s","distributorName":"%s","mobile":"%s"}`,
				g.address(), g.pick("1", "2"), person, target, g.pick("A", "B", "C"), name, g.mobile())
			request = `{"actionType":"add",` + payload[1:]
			vendor, op = "greatonce", "greatonce.distributor.single.sync"
			response = `{"success":true,"code":"0","message":"成功","data":{"distributorCode":"` + target + `"}}`
		} else {
			target = fmt.Sprintf("AG%06d", i)
			payload = fmt.Sprintf(`{"FADDRESS":"%s","FCreateOrgId":{"FNumber":"100"},"FDescription":"%s","FGroup":{"FNumber":"02"},"FINVOICEADDRESS":"%s","FINVOICEBANKACCOUNT":"","FINVOICEBANKNAME":"","FINVOICETEL":"%s","FINVOICETITLE":"%s","FName":"%s","FNumber":"","FTAXREGISTERCODE":"","FTRADINGCURRID":{"FNumber":"PRE001"},"FUseOrgId":{"FNumber":"100"},"F_KHLX":"KHLX02_SYS","F_out_id":"%s"}`,
				g.address(), g.pick("金牌代理", "银牌代理", "普通代理"), g.address(), g.mobile(), name, name, target)
			request = `{"Model":` + payload + `}`
			vendor, op = "kingdee", "BatchSave BD_Customer"
			response = `{"Id":` + fmt.Sprint(100000+i) + `,"Number":"` + target + `","DIndex":0}`
		}
		fmt.Fprintf(&src, `[%s,"%s","%s","%s"],`, key, name, person, at.Format(time.DateTime))
		h := sha256.Sum256([]byte(payload))
		if resync {
			p.Records = append(p.Records, storage.Record{SourceKey: key, TargetKey: target, Action: "skip", Outcome: "skipped", At: at})
			continue
		}
		p.Mappings = append(p.Mappings, storage.Mapping{SourceKey: key, TargetKey: target, PayloadHash: hex.EncodeToString(h[:]), Payload: []byte(payload)})
		p.Records = append(p.Records, storage.Record{SourceKey: key, TargetKey: target, Action: "add", Attempt: 1, Vendor: vendor, Operation: op,
			Request: request, Response: response, Outcome: "ok", At: at})
		p.Resolved = append(p.Resolved, key)
	}
	body := src.String()
	p.Records = append(p.Records, storage.Record{SourceKey: "", Action: "call", Attempt: 1, Vendor: "source", Operation: "read page",
		Request: fmt.Sprintf(`{"page":%d,"size":%d}`, first/n, n), Response: "[" + body[:min(len(body), 14000)] + "]", Outcome: "ok", At: at})
	p.Checkpoint = &storage.Cursor{Time: at, Key: fmt.Sprint(first + n)}
	return p
}

// BenchmarkFootprint measures what issue #16 bounds: the database bytes per delivered record after
// a first full sync of 100k records (50k customers, 50k agents, pages of 1000 shaped by
// footprintPage), and the growth after three full resyncs in which every record is unchanged. It
// reports the database's pages (page_count × page_size after a WAL checkpoint) and its file size per
// delivered record, the growth factor, and CommitPage's time per record in the first sync and in the
// resyncs. It runs the whole measurement once whatever -benchtime says (about a minute):
//
//	go test -run XXX -bench Footprint -benchtime 1x ./server/storage/sqlite
func BenchmarkFootprint(b *testing.B) {
	const perFlow, perPage, resyncs = 50_000, 1000, 3
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "footprint.db")
	st, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	g := footprintGen{r: rand.New(rand.NewPCG(16, 1))}
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	sync := func(round int, resync bool) time.Duration {
		var spent time.Duration
		for _, flow := range []string{"customers", "agents"} {
			id := fmt.Sprintf("%s-%d", flow, round)
			if err := st.CreateRun(ctx, storage.Run{ID: id, Flow: flow, Options: []byte(`{"fullResync":true}`), Status: "running", StartedAt: base}); err != nil {
				b.Fatal(err)
			}
			for first := 0; first < perFlow; first += perPage {
				p := footprintPage(g, id, flow, first, perPage, resync, base.Add(time.Duration(round*perFlow+first)*time.Millisecond))
				start := time.Now()
				if err := st.CommitPage(ctx, p); err != nil {
					b.Fatal(err)
				}
				spent += time.Since(start)
			}
			if err := st.FinishRun(ctx, storage.Run{ID: id, Status: "succeeded", FinishedAt: base}); err != nil {
				b.Fatal(err)
			}
		}
		return spent
	}
	size := func() (pages, file int64) {
		if _, err := st.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		var count, pageSize int64
		if err := st.db.QueryRowContext(ctx, `SELECT page_count * page_size, page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&count, &pageSize); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		return count, fi.Size()
	}
	const delivered = 2 * perFlow
	for b.Loop() {
		first := sync(0, false)
		pages1, file1 := size()
		var again time.Duration
		for r := 1; r <= resyncs; r++ {
			again += sync(r, true)
		}
		pages4, _ := size()
		b.ReportMetric(float64(pages1)/delivered, "db-bytes/record")
		b.ReportMetric(float64(file1)/delivered, "file-bytes/record")
		b.ReportMetric(float64(pages4)/float64(pages1), "growth-after-3-resyncs")
		b.ReportMetric(float64(first.Microseconds())/delivered, "commit-µs/record")
		b.ReportMetric(float64(again.Microseconds())/(resyncs*delivered), "resync-commit-µs/record")
	}
}
