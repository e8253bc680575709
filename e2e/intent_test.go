package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/mocks/mockctl"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

// A create whose outcome is lost in a kill -9 (sent to Greatonce, not committed locally), followed by
// a rename in Kingdee, must not become a second distributor: the create intent keeps its code.
func TestKill9MidAddThenRenameMakesOneDistributor(t *testing.T) {
	v := startVendors(t, 400, 0)
	ctx := context.Background()
	db := t.TempDir() + "/intent.db"
	want := syncable(t, v)
	v.gc.SetFault(ctx, mockctl.Fault{Endpoint: "greatonce.distributor.single.sync", Kind: "latency", Rate: 1, LatencyMS: 5})
	// Kill the gateway while it is adding distributors, until a kill lands with distributors in
	// Greatonce that the gateway has not recorded (the crash this test is about).
	lost := false
	for attempt := 0; attempt < 5 && !lost; attempt++ {
		g := startGateway(t, v, db)
		if _, err := g.grpc(t).SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{}); err != nil {
			t.Fatal(err)
		}
		before, _ := v.gc.GreatonceDistributors(ctx)
		deadline := time.Now().Add(20 * time.Second)
		for {
			now, err := v.gc.GreatonceDistributors(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(now) > len(before)+20 || time.Now().After(deadline) {
				break
			}
		}
		g.proc.Kill()
		st, err := sqlite.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		mapped, err := st.CountMappings(ctx, "customers")
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		dists, _ := v.gc.GreatonceDistributors(ctx)
		lost = len(dists) > mapped && len(dists) < want
		t.Logf("kill %d: %d distributors, %d mapped", attempt+1, len(dists), mapped)
	}
	if !lost {
		t.Fatal("no kill landed between a Greatonce add and its page commit")
	}
	v.gc.ClearFaults(ctx)
	// Someone renames every customer in Kingdee.
	kd, err := kingdee.New(kingdee.Config{BaseURL: v.info.KingdeeURL, AcctID: v.info.KingdeeAcct, Username: v.info.KingdeeUser, Password: v.info.KingdeePass,
		Transport: vendor.Transport{Timeout: 10 * time.Second, MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := kd.QueryPage(ctx, kingdee.Query{FormID: "BD_Customer", FieldKeys: []string{"FCUSTID", "FName"}})
	if err != nil {
		t.Fatal(err)
	}
	req := kingdee.SaveRequest{FormID: "BD_Customer", NeedUpDateFields: []string{"FName"}}
	for _, r := range rows {
		id, _ := r.Int64("FCUSTID")
		req.Model = append(req.Model, map[string]any{"FCUSTID": id, "FName": r.String("FName") + "（改名）"})
	}
	if res, err := kd.BatchSave(ctx, req); err != nil || len(res.Failed()) > 0 {
		t.Fatalf("rename: %v", err)
	}
	g := startGateway(t, v, db)
	r, err := g.grpc(t).SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || r.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("rerun: %v %v", r, err)
	}
	dists, _ := v.gc.GreatonceDistributors(ctx)
	if len(dists) != want {
		t.Fatalf("%d distributors for %d customers after kill -9, rename and rerun", len(dists), want)
	}
	for _, d := range dists {
		if !strings.HasSuffix(d.DistributorName, "（改名）") {
			t.Fatalf("distributor %s keeps the old name %q", d.DistributorCode, d.DistributorName)
		}
	}
}
