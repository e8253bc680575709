package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// BenchmarkPlanReads times the planner's reads of one page: Mappings and Intents of 1000 scattered
// source keys, against a store holding 100,000 mappings of a first sync (footprintPage's payloads)
// and a page of create intents. Each iteration reads another page; of its keys, 900 have a mapping
// (a resync's page) and 100 do not (new records). Beside the wall time it reports the process's CPU
// time per page read (cpu-µs/op), which other work on a shared machine disturbs less.
//
//	go test -run XXX -bench PlanReads -benchtime 200x -benchmem ./server/storage/sqlite
func BenchmarkPlanReads(b *testing.B) {
	const stored, perPage = 100_000, 1000
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "plan.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	g := footprintGen{r: rand.New(rand.NewPCG(16, 2))}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := st.CreateRun(ctx, storage.Run{ID: "r1", Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: at}); err != nil {
		b.Fatal(err)
	}
	var intents []storage.Intent
	for first := 0; first < stored; first += perPage {
		p := footprintPage(g, "r1", "customers", first, perPage, false, at)
		if err := st.CommitPage(ctx, p); err != nil {
			b.Fatal(err)
		}
		if first == 0 {
			for _, m := range p.Mappings[:100] {
				intents = append(intents, storage.Intent{SourceKey: m.SourceKey, TargetKey: m.TargetKey})
			}
		}
	}
	if err := st.RecordIntents(ctx, "customers", intents); err != nil {
		b.Fatal(err)
	}
	key := func(i int) string { return fmt.Sprint(100000 + (i*7919)%1000003) } // footprintPage's keys
	page := func(n int) []string {
		keys := make([]string, 0, perPage)
		for i := range perPage - 100 {
			keys = append(keys, key((n*perPage+i*37)%stored))
		}
		for i := range 100 {
			keys = append(keys, key(stored+n*100+i)) // no mapping
		}
		return keys
	}
	b.Run("Mappings", func(b *testing.B) {
		c0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			got, err := st.Mappings(ctx, "customers", page(i))
			if err != nil || len(got) != perPage-100 {
				b.Fatalf("%d mappings, %v", len(got), err)
			}
		}
		b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(b.N), "cpu-µs/op")
	})
	b.Run("Intents", func(b *testing.B) {
		c0 := cpuTime()
		for i := 0; b.Loop(); i++ {
			if _, err := st.Intents(ctx, "customers", page(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(b.N), "cpu-µs/op")
	})
}
