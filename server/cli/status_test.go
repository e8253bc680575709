package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
)

func (f *fake) GetOverview(_ context.Context, req *v1.GetOverviewRequest) (*v1.GetOverviewResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	return f.overview, nil
}

// status prints every flow's plan, run in progress, latest runs, checkpoint and dead letters, and
// every vendor's last call and counts; --json prints the response.
func TestStatus(t *testing.T) {
	h := newHarness(t)
	h.fake.overview = &v1.GetOverviewResponse{
		Flows: []*v1.FlowOverview{
			{Flow: v1.Flow_FLOW_AGENTS, Schedule: &v1.Schedule{Flow: v1.Flow_FLOW_AGENTS, Every: durationpb.New(30 * time.Second)},
				LastRuns:   []*v1.Run{{Id: "R2", Status: v1.RunStatus_RUN_STATUS_RUNNING, StartedAt: ts(time.Minute)}, {Id: "R1", Status: v1.RunStatus_RUN_STATUS_PARTIAL}},
				Checkpoint: &v1.Checkpoint{ModifiedAt: ts(0), SourceKey: "A0011"}, DeadLetters: 3, RunningRunId: "R2"},
			{Flow: v1.Flow_FLOW_CUSTOMERS, Schedule: &v1.Schedule{Flow: v1.Flow_FLOW_CUSTOMERS}},
		},
		Vendors: []*v1.VendorHealth{
			{Vendor: "greatonce", LastCallAt: ts(2 * time.Minute), LastOperation: "greatonce.distributor.single.sync", LastError: "greatonce: transient: 访问过于频繁",
				Attempts: 9, Failures: 2, Throttled: 2, LastThrottledAt: ts(2 * time.Minute)},
			{Vendor: "kingdee"},
		},
		Retention: &v1.RetentionOverview{Enabled: true, Policy: "age 720h0m0s, runs 0", LastPass: &v1.RetentionPass{
			StartedAt: ts(3 * time.Minute), Runs: 2, Records: 1500, OldestRunId: "R0", NewestRunId: "R00", Error: "context canceled"}},
	}
	code, out, errOut := h.run("status", "--runs", "2")
	if code != ExitOK {
		t.Fatalf("code %d: %s", code, errOut)
	}
	for _, want := range []string{"agents     every 30s", "R2       R2        RUNNING", "2026-11-02 10:00:00 A0011", "3",
		"R1        PARTIAL", "customers", "greatonce  2026-11-02 10:02:00", "访问过于频繁", "9         2         2",
		"retention: age 720h0m0s, runs 0; last pass 2026-11-02 10:03:00 removed 2 runs (1500 audit rows), R0 … R00, stopped early: context canceled"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if reqs := h.fake.requests(); len(reqs) != 1 || reqs[0].(*v1.GetOverviewRequest).GetLastRuns() != 2 {
		t.Fatalf("requests %v", reqs)
	}
	code, out, _ = h.run("status", "--json")
	var resp v1.GetOverviewResponse
	if code != ExitOK || protojson.Unmarshal([]byte(out), &resp) != nil || len(resp.GetFlows()) != 2 || len(resp.GetVendors()) != 2 {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	if code, _, _ := h.run("status", "--runs", "0"); code != ExitUsage {
		t.Fatalf("--runs 0: code %d, want usage", code)
	}
	// Off, and a pass that never recorded its end.
	h.fake.overview.Retention = &v1.RetentionOverview{Policy: "age 0s, runs 0"}
	if _, out, _ := h.run("status"); !strings.Contains(out, "retention: off (keeps every run); no pass recorded yet") {
		t.Errorf("stdout:\n%s", out)
	}
	h.fake.overview.Retention = &v1.RetentionOverview{Enabled: true, Policy: "age 0s, runs 5", LastPass: &v1.RetentionPass{StartedAt: ts(0), Records: 40}}
	if _, out, _ := h.run("status"); !strings.Contains(out, "removed 0 runs (40 audit rows), not finished (running, or its gateway stopped)") {
		t.Errorf("stdout:\n%s", out)
	}
}
