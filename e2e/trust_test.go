package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"connectrpc.com/connect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

// A BatchSave of new customers that Kingdee commits and then drops the connection for is not sent
// again as creates: one Kingdee customer per agent, across the real processes.
func TestDroppedBatchSaveAnswerMakesNoDuplicates(t *testing.T) {
	v := startVendors(t, 0, 120)
	ctx := context.Background()
	if err := v.kd.SetFault(ctx, mockctl.Fault{Endpoint: "BatchSave", Kind: mockctl.KindCommitDrop, Count: 2}); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, v, filepath.Join(t.TempDir(), "drop.db"))
	r, err := g.grpc(t).SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || r.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED || r.GetRun().GetCounts().GetAdded() != 120 {
		t.Fatalf("run %v %v", r, err)
	}
	custs, err := v.kd.KingdeeCustomers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byOutID := map[string]int{}
	for _, c := range custs {
		byOutID[c.F_out_id]++
	}
	for id, n := range byOutID {
		if n != 1 {
			t.Errorf("agent %s is %d Kingdee customers", id, n)
		}
	}
	if len(byOutID) != 120 {
		t.Fatalf("%d agents in Kingdee, want 120", len(byOutID))
	}
	if log, _ := v.kd.Log(ctx); !dropped(log) {
		t.Fatal("the fault never struck")
	}
}

func dropped(log []mockctl.LogEntry) bool {
	saves := 0
	for _, e := range log {
		if strings.Contains(e.Endpoint, "BatchSave") {
			saves++
		}
	}
	return saves > 120/20 // more BatchSave calls than batches: some were retried
}

// A vendor answer that is not valid UTF-8 is kept in the audit trail as valid text, and GetRun with
// its records answers (it used to answer Internal for the whole page, and the RPC log said ok).
func TestInvalidUTF8FromAVendorKeepsTheAuditTrailReadable(t *testing.T) {
	v := startVendors(t, 30, 0)
	ctx := context.Background()
	if err := v.gc.SetFault(ctx, mockctl.Fault{Endpoint: "greatonce.distributor.single.sync", Kind: mockctl.KindInvalidUTF8, Rate: 1}); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, v, filepath.Join(t.TempDir(), "utf8.db"))
	r, err := g.grpc(t).SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || r.GetRun().GetCounts().GetRead() == 0 {
		t.Fatalf("run %v %v", r, err)
	}
	cc := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, g.url, connect.WithProtoJSON())
	got, err := cc.GetRun(connectCtx(), &syncgatev1.GetRunRequest{RunId: r.GetRun().GetId(), IncludeRecords: true, PageSize: 100})
	if err != nil {
		t.Fatalf("GetRun with records: %v", err)
	}
	replaced := 0
	for _, rec := range got.GetRecords() {
		if !utf8.ValidString(rec.GetResponse()) {
			t.Fatalf("invalid UTF-8 in a record: %q", rec.GetResponse())
		}
		if strings.ContainsRune(rec.GetResponse(), utf8.RuneError) {
			replaced++
		}
	}
	if replaced == 0 {
		t.Fatalf("no record shows the vendor's invalid bytes as U+FFFD (the fault never struck?): %v", got.GetRecords())
	}
	if log := g.proc.Output(); strings.Contains(log, "code=internal") {
		t.Fatalf("an RPC failed internally:\n%s", log)
	}
}
