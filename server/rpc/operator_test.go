package rpc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/server/engine"
)

// scheduleEngine records UpdateSchedule and Start calls.
type scheduleEngine struct {
	fakeEngine
	mu      sync.Mutex
	updates []engine.ScheduleUpdate
}

func (f *scheduleEngine) UpdateSchedule(_ context.Context, flow string, u engine.ScheduleUpdate) (engine.Schedule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, u)
	return engine.Schedule{Flow: flow, Every: u.Every, Jitter: u.Jitter, Cron: u.Cron, Paused: u.Paused != nil && *u.Paused}, nil
}

// UpdateSchedule's request rules are checked before the engine is asked: one plan at most, something
// to change, an interval of at least a second.
func TestUpdateScheduleValidation(t *testing.T) {
	e := &scheduleEngine{}
	c := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, serveEngine(t, e))
	ctx := withAuth(context.Background(), "Bearer "+testKey)
	yes := true
	for name, req := range map[string]*syncgatev1.UpdateScheduleRequest{
		"both plans":   {Flow: syncgatev1.Flow_FLOW_AGENTS, Every: durationpb.New(time.Minute), Cron: "* * * * *"},
		"nothing":      {Flow: syncgatev1.Flow_FLOW_AGENTS},
		"no flow":      {Every: durationpb.New(time.Minute)},
		"too frequent": {Flow: syncgatev1.Flow_FLOW_AGENTS, Every: durationpb.New(time.Millisecond)},
	} {
		if _, err := c.UpdateSchedule(ctx, req); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if len(e.updates) != 0 {
		t.Fatalf("the engine was asked %d times for invalid requests", len(e.updates))
	}
	res, err := c.UpdateSchedule(ctx, &syncgatev1.UpdateScheduleRequest{Flow: syncgatev1.Flow_FLOW_AGENTS, Every: durationpb.New(5 * time.Minute),
		Jitter: durationpb.New(10 * time.Second), Paused: &yes})
	if err != nil {
		t.Fatal(err)
	}
	u := e.updates[0]
	if u.Every != 5*time.Minute || u.Jitter != 10*time.Second || u.Paused == nil || !*u.Paused || u.Cron != "" {
		t.Fatalf("engine got %+v", u)
	}
	if s := res.GetSchedule(); s.GetEvery().AsDuration() != 5*time.Minute || !s.GetPaused() || s.GetFlow() != syncgatev1.Flow_FLOW_AGENTS {
		t.Fatalf("response %v", s)
	}
}

// A run records the name of the API key that started it, never the key.
func TestRunsRecordTheKeyName(t *testing.T) {
	e := &fakeEngine{run: engine.Run{ID: "r1", Flow: engine.FlowAgents, Status: engine.StatusRunning}}
	srv := NewMux(NewHandler(e, nil), MuxOptions{Auth: NewKeyAuth([]string{"ops:s3cret-ops", "plain-key"})})
	url := serveHandler(t, srv)
	c := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, url)
	for key, want := range map[string]string{"s3cret-ops": "ops", "plain-key": "key-2"} {
		if _, err := c.SyncAgents(withAuth(context.Background(), "Bearer "+key), &syncgatev1.SyncAgentsRequest{}); err != nil {
			t.Fatal(err)
		}
		e.mu.Lock()
		got := e.started[len(e.started)-1]
		e.mu.Unlock()
		if got.Actor != want || got.Trigger != engine.TriggerAPI || strings.Contains(got.Actor, "s3cret") {
			t.Fatalf("key %q: started with actor %q trigger %q, want %q", key, got.Actor, got.Trigger, want)
		}
	}
	// "ops:s3cret-ops" as a whole is not a key: the name is not part of it.
	if _, err := c.SyncAgents(withAuth(context.Background(), "Bearer ops:s3cret-ops"), &syncgatev1.SyncAgentsRequest{}); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("the NAME:KEY entry as a key: %v", err)
	}
}

func serveHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
