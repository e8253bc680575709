package e2e

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"connectrpc.com/connect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
)

// The demo schedules both flows every 30 s, so a newcomer sees runs happen by themselves.
func TestDemoSchedulesBothFlows(t *testing.T) {
	addr, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	demo := Start(t, "syncgate --demo", bins.gateway, []string{"--demo", "--listen", addr}, nil)
	if _, err := demo.WaitFor(regexp.MustCompile(`syncgate demo is ready`), time.Minute); err != nil {
		t.Fatal(err)
	}
	c := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, "http://"+addr)
	ctx, ci := connect.NewClientContext(context.Background())
	ci.RequestHeader().Set("Authorization", "Bearer demo-key")
	res, err := c.ListSchedules(ctx, &syncgatev1.ListSchedulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[syncgatev1.Flow]*syncgatev1.Schedule{}
	for _, s := range res.GetSchedules() {
		got[s.GetFlow()] = s
	}
	for _, f := range []syncgatev1.Flow{syncgatev1.Flow_FLOW_CUSTOMERS, syncgatev1.Flow_FLOW_AGENTS} {
		s := got[f]
		if s.GetEvery().AsDuration() != 30*time.Second || s.GetPaused() {
			t.Fatalf("%v: schedule %v, want every 30s, active", f, s)
		}
		if next := s.GetNextRunAt().AsTime(); next.Before(start) || next.After(time.Now().Add(30*time.Second)) {
			t.Fatalf("%v: next run at %v, want within 30 s of the start", f, next)
		}
	}
}
