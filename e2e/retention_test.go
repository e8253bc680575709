package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

// With retention.runs 2 (and a pass every second), a flow's older runs disappear from ListRuns and
// GetRun once a pass has run, the two newest stay, the passes that removed them are recorded (each
// batch in its own transaction), and GetOverview reports the policy and the latest pass.
func TestRetentionPrunesOldRuns(t *testing.T) {
	v := startVendors(t, 30, 5)
	db := filepath.Join(t.TempDir(), "syncgate.db")
	g := startGatewayEnv(t, v, db, "", "SYNCGATE_RETENTION_RUNS=2", "SYNCGATE_RETENTION_AGE=0", "SYNCGATE_RETENTION_INTERVAL=1s")
	c := g.grpc(t)
	var ids []string
	for range 4 {
		resp, err := c.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.GetRun().GetId())
	}
	listed := func() []string {
		var out []string
		for _, r := range allRuns(t, authCtx(), c, syncgatev1.Flow_FLOW_CUSTOMERS) {
			out = append(out, r.GetId())
		}
		return out
	}
	want := []string{ids[3], ids[2]}
	waitUntil(t, 60*time.Second, "a retention pass to leave the two newest runs", func() bool { return slices.Equal(listed(), want) })
	for _, id := range ids[:2] {
		if _, err := c.GetRun(authCtx(), &syncgatev1.GetRunRequest{RunId: id}); status.Code(err) != codes.NotFound {
			t.Fatalf("GetRun of pruned run %s: %v, want NotFound", id, err)
		}
	}
	if _, err := c.GetRun(authCtx(), &syncgatev1.GetRunRequest{RunId: ids[2]}); err != nil {
		t.Fatalf("GetRun of a kept run: %v", err)
	}

	// The passes are recorded: together they removed the two old runs, the oldest first.
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Each batch counts into its pass's record in its own transaction: once the runs have left
	// ListRuns, the passes' records count them (a pass may not have recorded its end yet).
	passes, err := st.RetentionPasses(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var runs int64
	var pruned []string
	for _, p := range slices.Backward(passes) {
		if p.Error != "" || p.Policy != "age 0s, runs 2" {
			t.Fatalf("pass %+v", p)
		}
		runs += p.Runs
		if p.Runs > 0 {
			pruned = append(pruned, p.OldestRunID, p.NewestRunID)
		}
	}
	if runs != 2 || len(pruned) == 0 || pruned[0] != ids[0] || pruned[len(pruned)-1] != ids[1] {
		t.Fatalf("recorded passes removed %d runs (%v), want %v", runs, pruned, ids[:2])
	}
	ov, err := c.GetOverview(authCtx(), &syncgatev1.GetOverviewRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r := ov.GetRetention(); !r.GetEnabled() || r.GetPolicy() != "age 0s, runs 2" || r.GetLastPass() == nil ||
		r.GetLastPass().GetPolicy() != "age 0s, runs 2" || r.GetLastPass().GetStartedAt().AsTime().Before(passes[0].StartedAt) { // a pass a second
		t.Fatalf("overview's retention = %v (latest recorded pass %+v)", r, passes[0])
	}
}
