package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/e2e"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

// quotaEnv is extra gateway settings for the quota measurements (-quota-env).
var quotaEnv string

// quotaCase is one quota measurement: Q calls per second at Greatonce, N customers to deliver.
type quotaCase struct {
	q float64
	n int
}

// parseQuotas reads "Q:N,Q:N".
func parseQuotas(s string) ([]quotaCase, error) {
	var out []quotaCase
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		qs, ns, ok := strings.Cut(f, ":")
		q, err1 := strconv.ParseFloat(qs, 64)
		n, err2 := strconv.Atoi(ns)
		if !ok || err1 != nil || err2 != nil || q <= 0 || n <= 0 {
			return nil, fmt.Errorf("-quota %q: want Q:N (calls per second : records), comma-separated", f)
		}
		out = append(out, quotaCase{q, n})
	}
	return out, nil
}

type quotaResult struct {
	quotaCase
	elapsed             time.Duration
	added, failed       int64
	accepted, throttled int64
	sustained           float64 // accepted calls per second between 10 % and 90 % of N
	status              string
}

// measureQuota starts the mocks with a Greatonce quota of c.q calls per second (burst Q/10, the
// mock's default) and a gateway on its default pacing (adaptive, Greatonce starting at its default
// rate; it is not told Q), runs SyncCustomers over c.n customers and reads the mock's counts:
// delivery overall and sustained (10 % to 90 % of the records, sampled from the mock every 100 ms),
// the share of calls throttled, and the records failed (dead letters).
func measureQuota(ctx context.Context, gwBin, mkBin, dir string, c quotaCase, conc, pageSize, batchSize int) (quotaResult, error) {
	r := quotaResult{quotaCase: c}
	mocks, err := e2e.StartProcess("mocks", mkBin, []string{"-seed-customers", fmt.Sprint(c.n), "-greatonce-rate", fmt.Sprint(c.q)}, nil)
	if err != nil {
		return r, err
	}
	defer mocks.Kill()
	if _, err := mocks.WaitFor(e2e.MocksReady, 10*time.Minute); err != nil {
		return r, err
	}
	v, err := e2e.ParseVendors(mocks.Output())
	if err != nil {
		return r, err
	}
	gc := mockctl.New(v.GreatonceURL, nil)
	addr, err := e2e.FreePort()
	if err != nil {
		return r, err
	}
	var env []string
	for _, e := range e2e.GatewayEnv(v, filepath.Join(dir, fmt.Sprintf("quota-%.0f-%d.db", c.q, c.n)), addr, key, pageSize, batchSize) {
		if !strings.HasPrefix(e, "SYNCGATE_GREATONCE_RATE=") { // Greatonce's pacing as shipped: no tuning
			env = append(env, e)
		}
	}
	env = append(env, fmt.Sprintf("SYNCGATE_SYNC_CONCURRENCY=%d", conc))
	for _, e := range strings.Split(quotaEnv, ",") {
		if e = strings.TrimSpace(e); e != "" {
			env = append(env, e)
		}
	}
	gw, err := e2e.StartProcess("syncgate", gwBin, nil, env)
	if err != nil {
		return r, err
	}
	defer gw.Kill()
	if _, err := gw.WaitFor(e2e.GatewayReady, time.Minute); err != nil {
		return r, err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return r, err
	}
	defer conn.Close()
	client := syncgatev1.NewSyncServiceClient(conn)
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)

	type sample struct {
		at       time.Time
		accepted int64
	}
	var samples []sample
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if q, err := gc.Quota(sctx); err == nil {
				samples = append(samples, sample{time.Now(), q.Accepted})
			}
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t0 := time.Now()
	res, err := client.SyncCustomers(actx, &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	r.elapsed = time.Since(t0)
	stop()
	wg.Wait()
	if err != nil {
		return r, err
	}
	counts := res.GetRun().GetCounts()
	r.added, r.failed, r.status = counts.GetAdded(), counts.GetFailed(), res.GetRun().GetStatus().String()
	q, err := gc.Quota(ctx)
	if err != nil {
		return r, err
	}
	r.accepted, r.throttled = q.Accepted, q.Throttled
	// Sustained: from the first sample at 10 % of N to the first at 90 %.
	lo, hi := -1, -1
	for i, s := range samples {
		if lo < 0 && s.accepted >= int64(c.n)/10 {
			lo = i
		}
		if hi < 0 && s.accepted >= int64(c.n)*9/10 {
			hi = i
		}
	}
	if lo >= 0 && hi > lo {
		r.sustained = float64(samples[hi].accepted-samples[lo].accepted) / samples[hi].at.Sub(samples[lo].at).Seconds()
	}
	fmt.Fprintf(os.Stderr, "quota %.0f/s: %v in %s (%s); mock accepted %d, throttled %d\n", c.q, counts, r.elapsed, r.status, r.accepted, r.throttled)
	return r, nil
}

// printQuotas prints the quota measurements beside the targets.
func printQuotas(results []quotaResult) {
	fmt.Printf("\nRunning at a Greatonce quota the gateway is not told (adaptive pacing, its default; SyncCustomers, one Greatonce call per record):\n\n")
	fmt.Printf("| quota Q | records | status | time | delivered/s (whole run) | sustained/s (10–90%% of records) | sustained / Q (target ≥ 90%%) | calls throttled (target ≤ 2%%) | dead letters (target 0) | lost |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		calls := r.accepted + r.throttled
		fmt.Printf("| %.0f/s | %d | %s | %s | %.0f | %.0f | %.1f%% | %.2f%% (%d of %d) | %d | %d |\n",
			r.q, r.n, r.status, r.elapsed.Round(time.Millisecond), float64(r.added)/r.elapsed.Seconds(), r.sustained,
			100*r.sustained/r.q, 100*float64(r.throttled)/float64(max(calls, 1)), r.throttled, calls, r.failed, int64(r.n)-r.added-r.failed)
	}
}
