package e2e

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/mocks/mockctl"
	"github.com/syncgate/syncgate/server/storage/pgtest"
)

// Three replicas on one PostgreSQL database, slow and flaky vendors: the replica executing a run is
// killed (kill -9) at a random point, at least five times across both flows, and a replacement is
// started each time so that three stay up. Each killed run is taken over by another replica (the
// takeover time is logged: from the kill to the run's counts moving again), every run ends, and the
// mocks' state shows no record lost or duplicated.
func TestReplicasKill9TakeoverLosesNothing(t *testing.T) {
	db := pgtest.Database(t)
	ctx := context.Background()
	v := startVendors(t, 400, 300)
	for _, f := range []mockctl.Fault{
		{Endpoint: "greatonce.distributor.single.sync", Kind: "latency", Rate: 1, LatencyMS: 40},
		{Endpoint: "greatonce.distributor.single.sync", Kind: "http502", Rate: 0.03},
	} {
		if err := v.gc.SetFault(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []mockctl.Fault{
		{Endpoint: "BatchSave", Kind: "latency", Rate: 1, LatencyMS: 400},
		{Endpoint: "BatchSave", Kind: "http502", Rate: 0.05},
	} {
		if err := v.kd.SetFault(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"SYNCGATE_SYNC_CONCURRENCY=2", "SYNCGATE_SYNC_BATCH_CONCURRENCY=1"}
	clients := map[*gateway]syncgatev1.SyncServiceClient{}
	var reps []*gateway
	add := func() {
		g := startReplica(t, v, db, env...)
		clients[g] = g.grpc(t)
		reps = append(reps, g)
	}
	for range 3 {
		add()
	}
	client := func() syncgatev1.SyncServiceClient { return clients[reps[0]] }

	start := func(flow syncgatev1.Flow, via syncgatev1.SyncServiceClient) string {
		var r *syncgatev1.Run
		var err error
		if flow == syncgatev1.Flow_FLOW_CUSTOMERS {
			var resp *syncgatev1.SyncCustomersResponse
			resp, err = via.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{})
			r = resp.GetRun()
		} else {
			var resp *syncgatev1.SyncAgentsResponse
			resp, err = via.SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{})
			r = resp.GetRun()
		}
		if err != nil {
			t.Fatalf("start %s: %v", flow, err)
		}
		return r.GetId()
	}
	flows := []syncgatev1.Flow{syncgatev1.Flow_FLOW_CUSTOMERS, syncgatev1.Flow_FLOW_AGENTS}
	current := map[syncgatev1.Flow]string{}
	var runIDs []string
	for i, f := range flows {
		current[f] = start(f, clients[reps[i]])
		runIDs = append(runIDs, current[f])
	}
	executor := func(id string) *gateway {
		for _, g := range reps {
			if executing(g, id) {
				return g
			}
		}
		return nil
	}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 15))
	t.Logf("kill delays from seed %d", seed)
	type takeover struct {
		run      string
		flow     syncgatev1.Flow
		killedAt time.Time
		atKill   *syncgatev1.RunCounts
		resumed  time.Duration // until another replica's log shows a slice of the run begun
		moved    time.Duration // until the run's counts moved
		ended    bool
	}
	killed := map[string]int{}
	var takeovers []*takeover
	for round := 0; len(takeovers) < 5; round++ {
		if round == 10 {
			t.Fatalf("only %d kills landed mid-run in %d rounds", len(takeovers), round)
		}
		// Each flow has a run in progress: a new one (with new source records to deliver) when the
		// last one has ended.
		for i, f := range flows {
			if r := getRun(t, client(), current[f]); r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_RUNNING {
				src := v.kd
				if f == syncgatev1.Flow_FLOW_AGENTS {
					src = v.zl
				}
				if err := src.Add(ctx, 120, uint64(round)); err != nil {
					t.Fatal(err)
				}
				current[f] = start(f, clients[reps[i]])
				runIDs = append(runIDs, current[f])
			}
		}
		// Wait for a replica to execute each run, let it go on for a random while, then kill -9
		// whichever replica is executing each run at that moment.
		waitUntil(t, 90*time.Second, "each run executing (or ended)", func() bool {
			for _, f := range flows {
				if executor(current[f]) == nil && getRun(t, client(), current[f]).GetStatus() == syncgatev1.RunStatus_RUN_STATUS_RUNNING {
					return false
				}
			}
			return true
		})
		time.Sleep(time.Duration(200+rng.IntN(2800)) * time.Millisecond) // the random point of the kill
		victims := map[*gateway]bool{}
		for _, f := range flows {
			if g := executor(current[f]); g != nil {
				victims[g] = true
			}
		}
		var survivors []*gateway
		for _, g := range reps {
			if victims[g] {
				g.proc.Kill()
			} else {
				survivors = append(survivors, g)
			}
		}
		killedAt := time.Now()
		if len(survivors) == 0 {
			t.Fatal("every replica executed a run: none left to take over")
		}
		reps = survivors
		for _, f := range flows {
			id := current[f]
			for g := range victims {
				// The victim's output is complete once it is dead: a slice still open there is a
				// run that the kill interrupted.
				if executing(g, id) {
					killed[id]++
					takeovers = append(takeovers, &takeover{run: id, flow: f, killedAt: killedAt, atKill: getRun(t, client(), id).GetCounts()})
				}
			}
		}
		for len(reps) < 3 {
			add()
		}
		// Every interrupted run is taken over by another replica: its counts move again.
		waitUntil(t, 120*time.Second, "the killed runs to be taken over", func() bool {
			done := true
			for _, to := range takeovers {
				if to.moved > 0 {
					continue
				}
				r := getRun(t, client(), to.run)
				if to.resumed == 0 && executor(to.run) != nil {
					to.resumed = time.Since(to.killedAt)
				}
				switch {
				case r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_RUNNING:
					to.moved, to.ended = time.Since(to.killedAt), true
				case to.resumed > 0 && (r.GetCounts().GetRead() != to.atKill.GetRead() || r.GetCounts().GetAdded() != to.atKill.GetAdded()):
					to.moved = time.Since(to.killedAt)
				default:
					done = false
				}
			}
			return done
		})
	}
	for i, to := range takeovers {
		how := "its counts moving again"
		if to.ended {
			how = "its end"
		}
		t.Logf("kill %d (%s run %s, %d read when killed): a slice began on another replica %.1fs after the kill, %s %.1fs after it",
			i+1, to.flow, to.run, to.atKill.GetRead(), to.resumed.Seconds(), how, to.moved.Seconds())
	}

	// Faults off: the runs in progress finish; none stays running.
	v.gc.ClearFaults(ctx)
	v.kd.ClearFaults(ctx)
	for _, id := range runIDs {
		r := waitRunEnded(t, client(), id, 2*time.Minute)
		if n := killed[id]; n > 0 {
			t.Logf("run %s (%s), killed %d times: %s, counts %v, error %q", id, r.GetFlow(), n, r.GetStatus(), r.GetCounts(), r.GetError())
			if r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED && r.GetError() == "" {
				t.Errorf("killed run %s ended %s without a reason", id, r.GetStatus())
			}
		}
	}
	for _, f := range flows {
		for _, r := range allRuns(t, authCtx(), client(), f) {
			if r.GetStatus() == syncgatev1.RunStatus_RUN_STATUS_RUNNING {
				t.Errorf("run %s is still running after the last takeover", r.GetId())
			}
		}
	}
	succeeded := 0
	for id := range killed {
		if getRun(t, client(), id).GetStatus() == syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
			succeeded++
		}
	}
	t.Logf("%d kills landed on %d runs; %d of those runs succeeded", len(takeovers), len(killed), succeeded)

	// Nothing lost, nothing duplicated: a final run of each flow (agents first: they become Kingdee
	// customers that SyncCustomers delivers), then one Kingdee customer per agent and one distributor
	// per syncable customer.
	ar, err := client().SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || ar.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("final agents run: %v %v", ar.GetRun(), err)
	}
	agents, err := v.zl.ZhilongAgents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := outIDs(t, v)
	for id, n := range ids {
		if n != 1 {
			t.Errorf("agent %s is in kingdee %d times", id, n)
		}
	}
	if len(ids) != len(agents) {
		t.Errorf("%d agents in kingdee, want %d", len(ids), len(agents))
	}
	cr, err := client().SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || cr.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("final customers run: %v %v", cr.GetRun(), err)
	}
	want := syncable(t, v)
	n, codes := distributorCodes(t, v)
	if n != want || len(codes) != n {
		t.Errorf("%d distributors (%d codes) for %d syncable customers", n, len(codes), want)
	}
}

// A schedule "every 2s" on three replicas for about 15 s: one run per tick, whichever replica fires.
func TestReplicasScheduleFiresOncePerTick(t *testing.T) {
	db := pgtest.Database(t)
	v := startVendors(t, 0, 20)
	var reps []*gateway
	for range 3 {
		reps = append(reps, startReplica(t, v, db))
	}
	c := reps[1].grpc(t)
	t0 := time.Now()
	if _, err := c.UpdateSchedule(authCtx(), &syncgatev1.UpdateScheduleRequest{Flow: syncgatev1.Flow_FLOW_AGENTS, Every: durationpb.New(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	sleepUntil(t0.Add(15 * time.Second)) // the subject is time: let the schedule tick
	paused := true
	if _, err := reps[2].grpc(t).UpdateSchedule(authCtx(), &syncgatev1.UpdateScheduleRequest{Flow: syncgatev1.Flow_FLOW_AGENTS, Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(t0)
	var starts []time.Time
	for _, r := range allRuns(t, authCtx(), c, syncgatev1.Flow_FLOW_AGENTS) {
		if r.GetTrigger() == syncgatev1.Trigger_TRIGGER_SCHEDULE {
			starts = append(starts, r.GetStartedAt().AsTime())
			waitRunEnded(t, c, r.GetId(), 30*time.Second)
		}
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	fired := 0
	var per []int
	for _, g := range reps {
		n := len(g.proc.Lines(`msg="scheduled run started"`))
		fired += n
		per = append(per, n)
	}
	var gaps []string
	for i := 1; i < len(starts); i++ {
		gaps = append(gaps, starts[i].Sub(starts[i-1]).Round(time.Millisecond).String())
	}
	t.Logf("%d scheduled runs in %s, %v apart (fired per replica: %v)", len(starts), elapsed.Round(time.Millisecond), gaps, per)
	// Each firing sets the next due time two seconds after it, and the ticker looks about once a
	// second: two to three seconds between runs.
	if lo, hi := int(elapsed.Seconds()/3)-1, int(elapsed.Seconds()/2)+1; len(starts) < lo || len(starts) > hi {
		t.Errorf("%d scheduled runs in %s, want %d to %d (one per tick)", len(starts), elapsed, lo, hi)
	}
	if fired != len(starts) {
		t.Errorf("the replicas logged %d scheduled runs started, the store holds %d", fired, len(starts))
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < 1500*time.Millisecond {
			t.Errorf("scheduled runs %d and %d started %s apart: two for one tick", i-1, i, gap)
		}
	}
}

// A run started on replica A is followed with WatchRun and GetRun on replica B, whichever replica
// executes its slices, and cancelled on replica C: it ends CANCELLED with its committed pages kept.
func TestReplicasAnyReplicaFollowsAndCancels(t *testing.T) {
	db := pgtest.Database(t)
	ctx := context.Background()
	v := startVendors(t, 300, 0)
	if err := v.gc.SetFault(ctx, mockctl.Fault{Endpoint: "greatonce.distributor.single.sync", Kind: "latency", Rate: 1, LatencyMS: 50}); err != nil {
		t.Fatal(err)
	}
	env := []string{"SYNCGATE_SYNC_CONCURRENCY=2"}
	a, b, c := startReplica(t, v, db, env...), startReplica(t, v, db, env...), startReplica(t, v, db, env...)
	ca, cb, cc := a.grpc(t), b.grpc(t), c.grpc(t)
	want := syncable(t, v)

	resp, err := ca.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetRun().GetId()
	wctx, cancel := context.WithTimeout(authCtx(), 2*time.Minute)
	defer cancel()
	stream, err := cb.WatchRun(wctx, &syncgatev1.WatchRunRequest{RunId: id})
	if err != nil {
		t.Fatal(err)
	}
	type watched struct {
		snaps []*syncgatev1.Run
		err   error
	}
	done := make(chan watched, 1)
	go func() {
		var w watched
		for {
			m, err := stream.Recv()
			if err != nil {
				w.err = err
				done <- w
				return
			}
			w.snaps = append(w.snaps, m.GetRun())
		}
	}()
	// Cancelled in its second slice or later (each lasts at most half of takeover_after), with two
	// pages committed as B sees them.
	waitUntil(t, time.Minute, "a second slice and two pages committed, seen on B", func() bool {
		return sliceCount(a, id)+sliceCount(b, id)+sliceCount(c, id) >= 2 && getRun(t, cb, id).GetCounts().GetRead() >= 100
	})
	if _, err := cc.CancelRun(authCtx(), &syncgatev1.CancelRunRequest{RunId: id}); err != nil {
		t.Fatalf("CancelRun on C: %v", err)
	}
	w := <-done
	if len(w.snaps) < 2 {
		t.Fatalf("WatchRun on B: %d snapshots (%v)", len(w.snaps), w.err)
	}
	last := w.snaps[len(w.snaps)-1]
	moving := 0
	for _, s := range w.snaps {
		if s.GetStatus() == syncgatev1.RunStatus_RUN_STATUS_RUNNING && s.GetCounts().GetRead() > 0 {
			moving++
		}
	}
	if last.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_CANCELLED || moving == 0 {
		t.Fatalf("WatchRun on B: last %v after %d snapshots of progress (stream: %v)", last, moving, w.err)
	}
	got := getRun(t, cb, id)
	if got.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_CANCELLED || got.GetCounts().GetAdded() != last.GetCounts().GetAdded() {
		t.Fatalf("GetRun on B: %v, watched %v", got, last)
	}
	added := int(got.GetCounts().GetAdded())
	t.Logf("cancelled after %d added; slices on A, B, C: %d, %d, %d; %d snapshots on B", added, sliceCount(a, id), sliceCount(b, id), sliceCount(c, id), len(w.snaps))
	if added == 0 || added >= want {
		t.Fatalf("cancelled run added %d of %d", added, want)
	}
	// What it committed is kept: as many distributors as it added, and the next run adds the rest.
	if n, _ := distributorCodes(t, v); n != added {
		t.Fatalf("%d distributors after a cancelled run that added %d", n, added)
	}
	next, err := ca.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || next.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED || int(next.GetRun().GetCounts().GetAdded()) != want-added {
		t.Fatalf("next run: %v %v (want %d added)", next.GetRun(), err, want-added)
	}
	if n, codes := distributorCodes(t, v); n != want || len(codes) != want {
		t.Fatalf("%d distributors (%d codes), want %d", n, len(codes), want)
	}
}

// A replica whose database becomes unreachable (a proxy of the test's own between it and PostgreSQL
// is stopped) reports NOT_SERVING, SERVING again when the database is back, and then syncs.
func TestReplicaHealthFollowsTheDatabase(t *testing.T) {
	db := pgtest.Database(t)
	v := startVendors(t, 0, 30)
	proxy, viaProxy := newPGProxy(t, db)
	g := startReplica(t, v, viaProxy)
	serving, notServing := healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING
	waitUntil(t, 10*time.Second, "SERVING", func() bool { return health(t, g) == serving })

	proxy.stop()
	down := time.Now()
	waitUntil(t, 20*time.Second, "NOT_SERVING with the database unreachable", func() bool { return health(t, g) == notServing })
	t.Logf("NOT_SERVING %.1fs after the database became unreachable", time.Since(down).Seconds())
	if err := proxy.start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	waitUntil(t, 30*time.Second, "SERVING with the database back", func() bool { return health(t, g) == serving })
	t.Logf("SERVING %.1fs after the database came back", time.Since(up).Seconds())
	if len(g.proc.Lines("store unreachable: health is NOT_SERVING")) == 0 || len(g.proc.Lines("store reachable again")) == 0 {
		t.Errorf("the log does not say the store was lost and found again")
	}
	r, err := g.grpc(t).SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || r.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED || r.GetRun().GetCounts().GetAdded() != 30 {
		t.Fatalf("sync after the database came back: %v %v", r.GetRun(), err)
	}
	if ids := outIDs(t, v); len(ids) != 30 {
		t.Fatalf("%d agents in kingdee, want 30", len(ids))
	}
}
