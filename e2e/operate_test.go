package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

// scheduledSince returns flow's runs started by its schedule at or after since, oldest first.
func scheduledSince(t *testing.T, c syncgatev1.SyncServiceClient, flow syncgatev1.Flow, since time.Time) []*syncgatev1.Run {
	t.Helper()
	var out []*syncgatev1.Run
	runs := allRuns(t, authCtx(), c, flow)
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.GetTrigger() == syncgatev1.Trigger_TRIGGER_SCHEDULE && !r.GetStartedAt().AsTime().Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// A schedule fires on its own, and after downtime a due schedule fires once, promptly, with its next
// time computed from the restart: no catch-up burst for the ticks missed while the gateway was down.
func TestOperateSchedulesFireOnTheirOwnAndSurviveARestart(t *testing.T) {
	const every = 2 * time.Second
	v := startVendors(t, 0, 20)
	db := filepath.Join(t.TempDir(), "sched.db")
	env := []string{"SYNCGATE_SYNC_SCHEDULE_AGENTS=every 2s", "SYNCGATE_SYNC_SCHEDULE_CUSTOMERS=off"}
	began := time.Now()
	g := startGatewayEnv(t, v, db, "", env...)
	c := g.grpc(t)

	sc := schedule(t, c, syncgatev1.Flow_FLOW_AGENTS)
	if sc.GetEvery().AsDuration() != every || sc.GetPaused() || sc.GetNextRunAt() == nil {
		t.Fatalf("configured agents schedule: %v", sc)
	}
	if cs := schedule(t, c, syncgatev1.Flow_FLOW_CUSTOMERS); cs.GetEvery() != nil || cs.GetCron() != "" || cs.GetNextRunAt() != nil {
		t.Fatalf("customers schedule should be off: %v", cs)
	}
	var fired []*syncgatev1.Run
	waitUntil(t, 20*time.Second, "two scheduled agents runs to end", func() bool {
		fired = fired[:0]
		for _, r := range scheduledSince(t, c, syncgatev1.Flow_FLOW_AGENTS, began) {
			if r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_RUNNING {
				fired = append(fired, r)
			}
		}
		return len(fired) >= 2
	})
	for _, r := range fired {
		if r.GetActor() != "schedule" || r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
			t.Fatalf("scheduled run: %v", r)
		}
	}
	if fired[0].GetCounts().GetAdded() != 20 {
		t.Fatalf("the first scheduled run added %d agents, want 20: %v", fired[0].GetCounts().GetAdded(), fired[0])
	}
	if gap := fired[1].GetStartedAt().AsTime().Sub(fired[0].GetStartedAt().AsTime()); gap < every-100*time.Millisecond {
		t.Fatalf("scheduled runs %s apart, want at least %s", gap, every)
	}
	if s := allRuns(t, authCtx(), c, syncgatev1.Flow_FLOW_CUSTOMERS); len(s) != 0 {
		t.Fatalf("customers ran with its schedule off: %v", s)
	}

	noted := schedule(t, c, syncgatev1.Flow_FLOW_AGENTS).GetNextRunAt().AsTime()
	g.stop(t)
	stopped := time.Now()
	// The stored next time is the one noted, unless the schedule fired between the note and the
	// stop; then it is at most an interval after the stop.
	due := noted
	if !stopped.Before(noted) {
		due = stopped.Add(every)
	}
	// Down for three intervals past the due time: three ticks are missed.
	sleepUntil(due.Add(3 * every))

	restarted := time.Now()
	g2 := startGatewayEnv(t, v, db, "", env...)
	ready := time.Now()
	c2 := g2.grpc(t)
	var after []*syncgatev1.Run
	waitUntil(t, 10*time.Second, "a scheduled run after the restart", func() bool {
		after = scheduledSince(t, c2, syncgatev1.Flow_FLOW_AGENTS, restarted)
		return len(after) > 0
	})
	first := after[0]
	firstAt := first.GetStartedAt().AsTime()
	if d := firstAt.Sub(ready); d > 3*time.Second {
		t.Fatalf("the due schedule fired %s after the restarted gateway was ready, want promptly", d)
	}
	if first.GetActor() != "schedule" {
		t.Fatalf("run after restart: %v", first)
	}
	// The next time is an interval from the firing after the restart, not from the missed ticks.
	next := schedule(t, c2, syncgatev1.Flow_FLOW_AGENTS).GetNextRunAt().AsTime()
	if next.Before(firstAt.Add(every-500*time.Millisecond)) || next.After(firstAt.Add(every+200*time.Millisecond)) {
		t.Fatalf("next_run_at %s after a firing at %s, want about %s later", next.Format(time.StampMilli), firstAt.Format(time.StampMilli), every)
	}
	// No second run within 1.5s of the first: the missed ticks are not made up.
	sleepUntil(firstAt.Add(1500 * time.Millisecond))
	if after = scheduledSince(t, c2, syncgatev1.Flow_FLOW_AGENTS, restarted); len(after) != 1 {
		t.Fatalf("%d scheduled runs within 1.5s of the restart's first, want 1 (a catch-up burst): %v", len(after), after)
	}
	sc = schedule(t, c2, syncgatev1.Flow_FLOW_AGENTS)
	if sc.GetLastRunId() != first.GetId() || sc.GetLastResult() != "started" {
		t.Fatalf("schedule after the restart's firing: %v (run %s)", sc, first.GetId())
	}
}

// A scheduled run that meets a manual run of its flow is skipped and its schedule says so; a run
// cancelled mid-way ends CANCELLED with exactly what it delivered committed, and the next run
// delivers the rest, once.
func TestOperateScheduledRunSkippedAndCancelCommitsWhatWasDelivered(t *testing.T) {
	v := startVendors(t, 120, 0)
	ctx := context.Background()
	want := syncable(t, v)
	// Slow Greatonce: 10-record pages, 4 calls at a time, 150 ms a call: the run lasts seconds.
	if err := v.gc.SetFault(ctx, mockctl.Fault{Endpoint: "greatonce.distributor.single.sync", Kind: "latency", Rate: 1, LatencyMS: 150}); err != nil {
		t.Fatal(err)
	}
	g := startGatewayEnv(t, v, filepath.Join(t.TempDir(), "cancel.db"), "", "SYNCGATE_SYNC_PAGE_SIZE=10", "SYNCGATE_SYNC_CONCURRENCY=4")
	c := g.grpc(t)
	manual, err := c.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	id := manual.GetRun().GetId()
	if manual.GetRun().GetTrigger() != syncgatev1.Trigger_TRIGGER_API || manual.GetRun().GetActor() != "key-1" {
		t.Fatalf("manual run: %v", manual.GetRun())
	}
	// Scheduled after the manual run started, so that the schedule's first firing meets it.
	if _, err := c.UpdateSchedule(authCtx(), &syncgatev1.UpdateScheduleRequest{Flow: syncgatev1.Flow_FLOW_CUSTOMERS, Every: durationpb.New(time.Second)}); err != nil {
		t.Fatal(err)
	}
	skipped := "skipped: run " + id + " is in progress"
	waitUntil(t, 15*time.Second, "the customers schedule to report "+skipped, func() bool {
		return schedule(t, c, syncgatev1.Flow_FLOW_CUSTOMERS).GetLastResult() == skipped
	})
	if sc := allRuns(t, authCtx(), c, syncgatev1.Flow_FLOW_CUSTOMERS); len(sc) != 1 {
		t.Fatalf("a skipped firing started a run: %v", sc)
	}
	// Paused before the cancel, so that no scheduled run follows the cancelled one.
	if _, err := c.UpdateSchedule(authCtx(), &syncgatev1.UpdateScheduleRequest{Flow: syncgatev1.Flow_FLOW_CUSTOMERS, Paused: proto.Bool(true)}); err != nil {
		t.Fatal(err)
	}

	r := mustCLI(t, 0, g.url, apiKey, "cancel", id)
	if !strings.Contains(r.stdout, "cancel requested: run "+id) {
		t.Fatalf("cancel output: %s", r)
	}
	run := waitRunEnded(t, c, id, 30*time.Second)
	if run.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_CANCELLED {
		t.Fatalf("cancelled run: %v", run)
	}
	added := int(run.GetCounts().GetAdded())
	n, codes := distributorCodes(t, v)
	if n != added || added == 0 || added >= want {
		t.Fatalf("after the cancel Greatonce has %d distributors; the run counted %d added (of %d syncable): %v", n, added, want, run)
	}
	t.Logf("cancelled after %d of %d customers", added, want)
	if len(codes) != n {
		t.Fatalf("duplicate distributors after the cancel: %d distributors, %d codes", n, len(codes))
	}

	if err := v.gc.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := c.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || again.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("run after the cancel: %v %v", again, err)
	}
	n, codes = distributorCodes(t, v)
	if n != want || len(codes) != want {
		t.Fatalf("after the rerun Greatonce has %d distributors (%d codes), want %d", n, len(codes), want)
	}
	if got := int(again.GetRun().GetCounts().GetAdded()); got != want-added {
		t.Fatalf("the rerun added %d, want the %d the cancelled run did not deliver", got, want-added)
	}
}
