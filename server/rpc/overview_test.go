package rpc

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/retention"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/sqlite"
	"github.com/syncgate/syncgate/server/vendorhealth"
)

type overviewEngine struct {
	fakeEngine
	asked []int
	flows []engine.FlowOverview
}

func (f *overviewEngine) Overview(_ context.Context, n int) ([]engine.FlowOverview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, n)
	return f.flows, nil
}

type fixedHealth []vendorhealth.Health

func (h fixedHealth) Snapshot() []vendorhealth.Health { return h }

// GetOverview answers over an HTTP GET with each flow's runs, checkpoint, dead letters, schedule and
// run in progress, and each vendor's health; last_runs outside 0..50 is refused before the engine
// is asked.
func TestGetOverviewReportsFlowsAndVendors(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	e := &overviewEngine{flows: []engine.FlowOverview{
		{Flow: engine.FlowAgents, Schedule: engine.Schedule{Flow: engine.FlowAgents, Every: time.Minute, NextRunAt: at},
			LastRuns:   []engine.Run{{ID: "r2", Flow: engine.FlowAgents, Status: engine.StatusRunning}, {ID: "r1", Flow: engine.FlowAgents, Status: engine.StatusPartial}},
			Checkpoint: &storage.Cursor{Time: at, Key: "A0011"}, DeadLetters: 3, RunningRunID: "r2"},
		{Flow: engine.FlowCustomers, Schedule: engine.Schedule{Flow: engine.FlowCustomers}},
	}}
	h := NewHandler(e, nil).WithVendorHealth(fixedHealth{
		{Vendor: "greatonce", LastCallAt: at, LastOperation: "greatonce.distributor.single.sync", LastError: "greatonce: transient code 1: 访问过于频繁",
			Attempts: 7, Failures: 2, Throttled: 2, LastThrottledAt: at},
		{Vendor: "kingdee"},
	})
	srv := serveHandler(t, NewMux(h, MuxOptions{Auth: NewKeyAuth([]string{testKey})}))
	c := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, srv, connect.WithHTTPGet())
	ctx := withAuth(context.Background(), "Bearer "+testKey)
	res, err := c.GetOverview(ctx, &syncgatev1.GetOverviewRequest{LastRuns: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.asked) != 1 || e.asked[0] != 2 || len(res.GetFlows()) != 2 || len(res.GetVendors()) != 2 {
		t.Fatalf("asked %v, response %v", e.asked, res)
	}
	a := res.GetFlows()[0]
	if a.GetFlow() != syncgatev1.Flow_FLOW_AGENTS || len(a.GetLastRuns()) != 2 || a.GetLastRuns()[0].GetId() != "r2" ||
		a.GetLastRuns()[1].GetStatus() != syncgatev1.RunStatus_RUN_STATUS_PARTIAL || a.GetDeadLetters() != 3 || a.GetRunningRunId() != "r2" ||
		a.GetCheckpoint().GetSourceKey() != "A0011" || !a.GetCheckpoint().GetModifiedAt().AsTime().Equal(at) ||
		a.GetSchedule().GetEvery().AsDuration() != time.Minute {
		t.Fatalf("agents %v", a)
	}
	if cu := res.GetFlows()[1]; cu.GetCheckpoint() != nil || cu.GetRunningRunId() != "" || cu.GetFlow() != syncgatev1.Flow_FLOW_CUSTOMERS {
		t.Fatalf("customers %v: no checkpoint before the first page", cu)
	}
	g := res.GetVendors()[0]
	if g.GetVendor() != "greatonce" || g.GetAttempts() != 7 || g.GetFailures() != 2 || g.GetThrottled() != 2 || g.GetLastOk() ||
		!strings.Contains(g.GetLastError(), "访问过于频繁") || !g.GetLastThrottledAt().AsTime().Equal(at) || !g.GetLastCallAt().AsTime().Equal(at) {
		t.Fatalf("greatonce %v", g)
	}
	if k := res.GetVendors()[1]; k.GetLastCallAt() != nil || k.GetLastThrottledAt() != nil || k.GetAttempts() != 0 {
		t.Fatalf("kingdee, never called: %v", k)
	}
	for _, n := range []int32{-1, 51} {
		if _, err := c.GetOverview(ctx, &syncgatev1.GetOverviewRequest{LastRuns: n}); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("last_runs %d: %v, want InvalidArgument", n, err)
		}
	}
	if _, err := c.GetOverview(context.Background(), &syncgatev1.GetOverviewRequest{}); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("without a key: %v", err)
	}
	if len(e.asked) != 1 {
		t.Fatalf("the engine was asked for refused requests: %v", e.asked)
	}
}

// GetOverview reports the retention policy and the latest recorded pass of the store (here a real
// SQLite store pruned by a real pruner), and a policy that keeps everything as not enabled.
func TestGetOverviewReportsRetention(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "syncgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for i, id := range []string{"old", "new"} {
		at := start.Add(time.Duration(i) * time.Hour)
		if err := st.CreateRun(ctx, storage.Run{ID: id, Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: at}); err != nil {
			t.Fatal(err)
		}
		recs := []storage.Record{{SourceKey: "k1", Action: "add", Attempt: 1, Outcome: "ok", At: at}, {SourceKey: "k2", Action: "add", Attempt: 1, Outcome: "ok", At: at}}
		if err := st.CommitPage(ctx, storage.PageCommit{Flow: "customers", RunID: id, Records: recs}); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(ctx, storage.Run{ID: id, Status: "succeeded", FinishedAt: at.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	overview := func(p *retention.Pruner) *syncgatev1.RetentionOverview {
		t.Helper()
		h := NewHandler(&overviewEngine{}, nil).WithRetention(p)
		srv := serveHandler(t, NewMux(h, MuxOptions{Auth: NewKeyAuth([]string{testKey})}))
		c := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, srv)
		res, err := c.GetOverview(withAuth(ctx, "Bearer "+testKey), &syncgatev1.GetOverviewRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return res.GetRetention()
	}
	now := start.Add(24 * time.Hour)
	p := retention.New(st, retention.Config{Policy: storage.RetentionPolicy{KeepRuns: 1}, Now: func() time.Time { return now }})
	if r := overview(p); !r.GetEnabled() || r.GetPolicy() != "age 0s, runs 1" || r.GetLastPass() != nil {
		t.Fatalf("before a pass: %v", r)
	}
	if _, err := p.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	r := overview(p)
	if lp := r.GetLastPass(); lp.GetRuns() != 1 || lp.GetRecords() != 2 || lp.GetOldestRunId() != "old" || lp.GetNewestRunId() != "old" ||
		!lp.GetStartedAt().AsTime().Equal(now) || !lp.GetFinishedAt().AsTime().Equal(now) || lp.GetError() != "" || lp.GetPolicy() != "age 0s, runs 1" {
		t.Fatalf("after a pass: %v", r)
	}
	if r := overview(retention.New(st, retention.Config{})); r.GetEnabled() || r.GetPolicy() != "age 0s, runs 0" || r.GetLastPass().GetRuns() != 1 {
		t.Fatalf("policy off: %v", r)
	}
}
