package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

// After a customers run that Greatonce throttled twice and an agents run with a dead letter,
// GetOverview (an HTTP GET over Connect) reports both flows' latest runs, checkpoints and dead
// letters, and the vendors' attempts with Greatonce's throttling, no credential in any error.
func TestOverviewAfterASync(t *testing.T) {
	v := startVendors(t, 10, 6)
	ctx := context.Background()
	agents, err := v.zl.ZhilongAgents(ctx)
	if err != nil || len(agents) != 6 {
		t.Fatalf("agents: %v %v", agents, err)
	}
	// A Kingdee customer already carries one agent's id as its number: that agent is dead-lettered.
	conflict := agents[1].AgentID
	if res, err := kingdeeClient(t, v).BatchSave(ctx, kingdee.SaveRequest{FormID: "BD_Customer", Model: []map[string]any{{"FCUSTID": 0,
		"FName": "号码冲突客户", "FNumber": conflict, "FCreateOrgId": map[string]any{"FNumber": "100"}, "FUseOrgId": map[string]any{"FNumber": "100"}}}}); err != nil || len(res.Failed()) > 0 {
		t.Fatalf("create the conflicting customer: %v %v", res, err)
	}
	g := startGatewayEnv(t, v, filepath.Join(t.TempDir(), "ov.db"), agentsNumberSpec(t))
	c := g.grpc(t)
	if err := v.gc.SetFault(ctx, mockctl.Fault{Endpoint: "greatonce.distributor.single.sync", Kind: "rate_limit", Count: 2}); err != nil {
		t.Fatal(err)
	}
	cust, err := c.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || cust.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("customers run: %v %v", cust, err)
	}
	ag, err := c.SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || ag.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_PARTIAL || ag.GetRun().GetCounts().GetFailed() != 1 {
		t.Fatalf("agents run: %v %v", ag, err)
	}

	cc := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, g.url, connect.WithProtoJSON(), connect.WithHTTPGet())
	ov, err := cc.GetOverview(connectCtx(), &syncgatev1.GetOverviewRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.GetFlows()) != 2 || len(ov.GetVendors()) != 3 {
		t.Fatalf("overview: %v", ov)
	}
	byFlow := map[syncgatev1.Flow]*syncgatev1.FlowOverview{}
	for _, f := range ov.GetFlows() {
		byFlow[f.GetFlow()] = f
	}
	for flow, want := range map[syncgatev1.Flow]struct {
		run     string
		letters int64
	}{
		syncgatev1.Flow_FLOW_CUSTOMERS: {cust.GetRun().GetId(), 0},
		syncgatev1.Flow_FLOW_AGENTS:    {ag.GetRun().GetId(), 1},
	} {
		f := byFlow[flow]
		if len(f.GetLastRuns()) != 1 || f.GetLastRuns()[0].GetId() != want.run || f.GetDeadLetters() != want.letters ||
			f.GetCheckpoint().GetModifiedAt() == nil || f.GetCheckpoint().GetSourceKey() == "" || f.GetRunningRunId() != "" || f.GetSchedule() == nil {
			t.Fatalf("%v: %v, want run %s and %d dead letters", flow, f, want.run, want.letters)
		}
	}
	secrets := []string{v.info.KingdeePass, v.info.GreatonceSecret, v.info.GreatonceKey, v.info.ZhilongPass, apiKey}
	for _, h := range ov.GetVendors() {
		if h.GetAttempts() == 0 || h.GetLastCallAt() == nil || !h.GetLastOk() || h.GetLastOperation() == "" {
			t.Fatalf("vendor %v: want attempts, the last one ok", h)
		}
		wantThrottled := int64(0)
		if h.GetVendor() == "greatonce" {
			wantThrottled = 2
		}
		if h.GetThrottled() != wantThrottled || h.GetFailures() < wantThrottled || (wantThrottled > 0) != (h.GetLastThrottledAt() != nil) {
			t.Fatalf("vendor %v: want %d throttled", h, wantThrottled)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(h.GetLastError(), s) {
				t.Fatalf("vendor %s: last error shows a secret", h.GetVendor())
			}
		}
	}
	// The command-line client shows the same.
	out := mustCLI(t, 0, g.url, apiKey, "status")
	for _, want := range []string{cust.GetRun().GetId(), ag.GetRun().GetId(), "PARTIAL", "greatonce", "kingdee", "zhilong"} {
		if !strings.Contains(out.stdout, want) {
			t.Fatalf("status lacks %q:\n%s", want, out)
		}
	}
	if ov, err := cc.GetOverview(connectCtx(), &syncgatev1.GetOverviewRequest{LastRuns: 51}); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("last_runs 51: %v %v", ov, err)
	}
}
