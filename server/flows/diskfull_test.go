package flows_test

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

// fillDisk fills the test's database with 1 MiB of other data and restarts the gateway side on it
// capped room pages above its size: some page commits of a run fit, later ones do not. The returned
// function frees that data again.
func fillDisk(t *testing.T, v *vendors, room int64) (free func()) {
	t.Helper()
	other, err := sql.Open("sqlite3", "file:"+v.dbPath+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	var pages int64
	if _, err := other.Exec(`CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(1048576))`); err != nil {
		t.Fatal(err)
	}
	if err := other.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	v.eng.Shutdown(v.ctx)
	v.st.Close()
	v.storeOpts = []sqlite.Option{sqlite.WithMaxPageCount(pages + room)}
	v.open(t)
	return func() {
		t.Helper()
		if _, err := other.Exec(`DROP TABLE filler`); err != nil {
			t.Fatal(err)
		}
	}
}

// failsFull checks that r failed because the database filled, after some pages but not all
// (mapped of want records have mappings), and that the store's health says so.
func failsFull(t *testing.T, v *vendors, r engine.Run, mapped, want int) {
	t.Helper()
	if r.Status != engine.StatusFailed || !strings.HasPrefix(r.Error, "the database is full (ref ") {
		t.Fatalf("run on a full database = %s, error %q", r.Status, r.Error)
	}
	t.Logf("%d of %d records committed before the database filled (run counts %+v)", mapped, want, r.Counts)
	if mapped == 0 || mapped >= want {
		t.Fatalf("%d of %d records mapped after the failure: want some pages committed, not all", mapped, want)
	}
	if _, ok, err := v.st.Checkpoint(v.ctx, r.Flow); err != nil || !ok {
		t.Fatalf("no checkpoint after committed pages (%v)", err)
	}
	if err := v.st.Ping(v.ctx); !errors.Is(err, storage.ErrFull) {
		t.Fatalf("Ping = %v, want storage.ErrFull", err)
	}
}

func mappedCount(t *testing.T, v *vendors, flow string, keys []string) int {
	t.Helper()
	m, err := v.st.Mappings(v.ctx, flow, keys)
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// SyncAgents on a database that fills mid-run: the run fails cleanly, and once space returns the next
// run completes with every agent in Kingdee exactly once (the agents delivered after the checkpoint
// are found by F_out_id, not created again).
func TestAgentsRunOnAFullDatabaseFailsCleanlyAndCompletesAfterSpaceReturns(t *testing.T) {
	const n = 120
	v := newVendors(t, 0, n, 8)
	free := fillDisk(t, v, 12)
	r := v.run(t, engine.FlowAgents, engine.Options{})
	agents, err := v.zl.ZhilongAgents(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(agents))
	for i, a := range agents {
		keys[i] = a.AgentID
	}
	failsFull(t, v, r, mappedCount(t, v, engine.FlowAgents, keys), n)

	free()
	if err := v.st.Ping(v.ctx); err != nil {
		t.Fatalf("Ping after space returned = %v", err)
	}
	if r = v.run(t, engine.FlowAgents, engine.Options{}); r.Status != engine.StatusSucceeded {
		t.Fatalf("run after space returned = %s, %q", r.Status, r.Error)
	}
	custs, err := v.kd.KingdeeCustomers(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, c := range custs {
		seen[c.F_out_id]++
	}
	for _, k := range keys {
		if seen[k] != 1 {
			t.Fatalf("agent %s is %d customers in Kingdee, want 1", k, seen[k])
		}
	}
	if len(custs) != n || mappedCount(t, v, engine.FlowAgents, keys) != n {
		t.Fatalf("%d Kingdee customers, %d mappings; want %d each", len(custs), mappedCount(t, v, engine.FlowAgents, keys), n)
	}
}

// SyncCustomers likewise: every customer ends as one Greatonce distributor.
func TestCustomersRunOnAFullDatabaseFailsCleanlyAndCompletesAfterSpaceReturns(t *testing.T) {
	v := newVendors(t, 120, 0, 8)
	want := v.syncable(t)
	custs, err := v.kd.KingdeeCustomers(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(custs))
	for i, c := range custs {
		keys[i] = strconv.FormatInt(c.FCUSTID, 10)
	}
	free := fillDisk(t, v, 12)
	r := v.run(t, engine.FlowCustomers, engine.Options{})
	failsFull(t, v, r, mappedCount(t, v, engine.FlowCustomers, keys), want)

	free()
	if r = v.run(t, engine.FlowCustomers, engine.Options{}); r.Status != engine.StatusSucceeded {
		t.Fatalf("run after space returned = %s, %q", r.Status, r.Error)
	}
	dists, err := v.gc.GreatonceDistributors(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dists) != want || mappedCount(t, v, engine.FlowCustomers, keys) != want {
		t.Fatalf("%d distributors, %d mappings; want %d each", len(dists), mappedCount(t, v, engine.FlowCustomers, keys), want)
	}
}
