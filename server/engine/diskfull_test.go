package engine

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

// lookupTarget is a fake target that finds a record it already holds by its source key, as the
// agents flow finds a Kingdee customer by F_out_id before creating it: an add of a record the target
// already has becomes an update of it. It counts the creates each source key caused.
type lookupTarget struct {
	*fakeTarget
	mu       sync.Mutex
	bySource map[string]string
	creates  map[string]int
}

func (t *lookupTarget) Write(ctx context.Context, items []Planned) []Delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	in := make([]Planned, len(items))
	found := make([]bool, len(items))
	for i, p := range items {
		in[i] = p
		if key, ok := t.bySource[p.Record.Key]; ok && p.Mapping == nil {
			in[i].Mapping, in[i].Action, found[i] = &storage.Mapping{SourceKey: p.Record.Key, TargetKey: key}, ActionUpdate, true
		}
	}
	out := t.fakeTarget.Write(ctx, in)
	for i, d := range out {
		if d.Err != nil {
			continue
		}
		if in[i].Mapping == nil {
			t.creates[items[i].Record.Key]++
		}
		if found[i] {
			out[i].Action = ActionUpdate
		}
		t.bySource[items[i].Record.Key] = d.TargetKey
	}
	return out
}

// sqlFile opens the bundle's database file on a connection of the test's own (another process
// filling and freeing the disk, as seen by the store).
func sqlFile(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pageCount(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(`PRAGMA page_count`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A page commit that fails because the database is full fails the run with a public error; the
// checkpoint stays at the last committed page; once space returns, the next run delivers the rest,
// every record created once.
func TestFullDatabaseFailsTheRunCleanlyAndTheNextRunCompletes(t *testing.T) {
	const n, pageSize = 300, 10
	b := newTestBundle(t, n, pageSize, 0)
	tgt := &lookupTarget{fakeTarget: b.tgt, bySource: map[string]string{}, creates: map[string]int{}}

	// Something else fills the disk: a 1 MiB table, and the database capped a few pages above its
	// size, so that some pages of the run commit and a later one does not.
	other := sqlFile(t, b.dbPath)
	if _, err := other.Exec(`CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(1048576))`); err != nil {
		t.Fatal(err)
	}
	limit := pageCount(t, other) + 24
	b.st.Close()
	st, err := sqlite.Open(b.ctx, b.dbPath, sqlite.WithMaxPageCount(limit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b.st = st
	b.rebuild(t, withTarget(tgt))

	r := b.sync(t, Options{})
	if r.Status != StatusFailed || !strings.Contains(r.Error, "the database is full") {
		t.Fatalf("run on a full database = %s, error %q; want failed, \"the database is full\"", r.Status, r.Error)
	}
	if strings.Contains(strings.ToLower(r.Error), "sqlite") {
		t.Fatalf("run error leaks internals: %q", r.Error)
	}

	// The checkpoint is the cursor of the last record of the last committed page, and exactly the
	// records up to it have mappings.
	recs := b.src.sorted()
	keys := make([]string, len(recs))
	for i, rec := range recs {
		keys[i] = rec.Key
	}
	mapped, err := b.st.Mappings(b.ctx, FlowAgents, keys)
	if err != nil {
		t.Fatal(err)
	}
	committed := len(mapped)
	if committed == 0 || committed == n || committed%pageSize != 0 {
		t.Fatalf("%d records mapped after the failure; want some whole pages, not all", committed)
	}
	for _, k := range keys[:committed] {
		if _, ok := mapped[k]; !ok {
			t.Fatalf("record %s of a committed page has no mapping", k)
		}
	}
	cp, ok, err := b.st.Checkpoint(b.ctx, FlowAgents)
	if err != nil || !ok || !sameCursor(cp, recs[committed-1].Cursor) {
		t.Fatalf("checkpoint %+v (%v, %v), want the last committed record's %+v", cp, ok, err, recs[committed-1].Cursor)
	}

	// Health says why while the database is full.
	if err := b.st.Ping(b.ctx); !errors.Is(err, storage.ErrFull) {
		t.Fatalf("Ping on a full database = %v, want storage.ErrFull", err)
	}

	// Space returns (the other data is deleted): health recovers and the next run completes.
	if _, err := other.Exec(`DROP TABLE filler`); err != nil {
		t.Fatal(err)
	}
	if err := b.st.Ping(b.ctx); err != nil {
		t.Fatalf("Ping after space returned = %v", err)
	}
	b.advance(time.Minute)
	r = b.sync(t, Options{})
	if r.Status != StatusSucceeded {
		t.Fatalf("run after space returned = %s, error %q", r.Status, r.Error)
	}
	if len(tgt.bySource) != n {
		t.Fatalf("target holds %d records, want %d", len(tgt.bySource), n)
	}
	for _, k := range keys {
		if tgt.creates[k] != 1 {
			t.Fatalf("record %s created %d times in the target, want once", k, tgt.creates[k])
		}
	}
	if mapped, err = b.st.Mappings(b.ctx, FlowAgents, keys); err != nil || len(mapped) != n {
		t.Fatalf("%d mappings after the second run (%v), want %d", len(mapped), err, n)
	}
	cp, _, _ = b.st.Checkpoint(b.ctx, FlowAgents)
	if !sameCursor(cp, recs[n-1].Cursor) {
		t.Fatalf("checkpoint %+v after the second run, want %+v", cp, recs[n-1].Cursor)
	}
}
