package flows_test

import (
	"testing"

	"github.com/syncgate/syncgate/server/engine"
)

// TestCustomersFlowAtGreatonceQuota runs SyncCustomers against a Greatonce mock with a quota the
// gateway is not told (the clients pace adaptively, their default): Greatonce throttles some calls,
// and every record is still delivered, none dead-lettered.
func TestCustomersFlowAtGreatonceQuota(t *testing.T) {
	v := newVendors(t, 400, 0, 100)
	if err := v.gc.SetQuota(v.ctx, 150, 3); err != nil {
		t.Fatal(err)
	}
	want := v.syncable(t)
	r := v.run(t, engine.FlowCustomers, engine.Options{})
	q, err := v.gc.Quota(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run %s: %+v; mock accepted %d, throttled %d", r.Status, r.Counts, q.Accepted, q.Throttled)
	if q.Throttled == 0 {
		t.Fatal("the quota never throttled: the test proves nothing")
	}
	if r.Status != engine.StatusSucceeded || int(r.Counts.Added) != want || r.Counts.Failed != 0 {
		t.Fatalf("run %s %+v, want %d adds and no failure (%s)", r.Status, r.Counts, want, r.Error)
	}
	if dl, _ := v.st.DeadLetters(v.ctx, engine.FlowCustomers, 0); len(dl) != 0 {
		t.Fatalf("%d dead letters", len(dl))
	}
	if dists, _ := v.gc.GreatonceDistributors(v.ctx); len(dists) != want {
		t.Fatalf("greatonce has %d distributors, want %d", len(dists), want)
	}
}
