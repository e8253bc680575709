package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/e2e"
)

// readersConfig is the read-API-under-load measurement (-readers).
type readersConfig struct {
	readers int           // concurrent readers
	n       int           // customers in the SyncCustomers run
	pace    time.Duration // each reader's mean wait between calls (0: closed loop, no wait)
	closed  bool          // also measure the closed loop once, for information
	rounds  int           // pairs of runs (without, with readers), alternating
	profile bool          // write the gateway's CPU profile of the run with readers to profileDir
}

// The read mix: what one reader calls, each with a third of the calls.
const (
	readListRuns = iota
	readGetRun
	readGetRecord
	readMethods
)

var readNames = [readMethods]string{"ListRuns (page of 20)", "GetRun with a page of 50 records", "GetRecord (history page of 25)"}

// The targets.
const (
	readP99Target   = 250 * time.Millisecond
	readRatioTarget = 0.80
)

// readStats is what the readers saw of one method.
type readStats struct {
	lat      []time.Duration
	errors   int
	firstErr string
}

// readersRun is one SyncCustomers run over N customers, with or without readers.
type readersRun struct {
	round      int // the pair it belongs to (from 1)
	readers    int
	pace       time.Duration
	added      int64
	elapsed    time.Duration
	status     string
	stats      [readMethods]readStats
	gatewayCPU time.Duration
	benchCPU   time.Duration // this process (the readers' side) during the run
}

func (r readersRun) rate() float64 { return float64(r.added) / r.elapsed.Seconds() }

// measureReaders measures the read API under load: a SyncCustomers run over c.n customers without
// readers, then the same run (fresh mocks, fresh database) with c.readers readers over the Connect
// protocol, and with -readers-closed the same again with the readers in a closed loop.
func measureReaders(ctx context.Context, gwBin, mkBin, dir string, c readersConfig, conc, pageSize, batchSize int) ([]readersRun, error) {
	type runCase struct {
		round, readers int
		pace           time.Duration
	}
	var cases []runCase
	// Alternating pairs: this machine's speed drifts by tens of percent over minutes (other work
	// shares its cores), so each run with readers is compared with the run without them just before.
	for round := 1; round <= max(c.rounds, 1); round++ {
		cases = append(cases, runCase{round, 0, 0}, runCase{round, c.readers, c.pace})
	}
	if c.closed && c.pace > 0 {
		cases = append(cases, runCase{max(c.rounds, 1), c.readers, 0})
	}
	var out []readersRun
	for i, k := range cases {
		fmt.Fprintf(os.Stderr, "== readers: round %d, SyncCustomers N=%d with %d readers (pace %s)\n", k.round, c.n, k.readers, k.pace)
		prof := c.profile && i == 1
		r, err := readersOnce(ctx, gwBin, mkBin, filepath.Join(dir, fmt.Sprintf("readers-%d.db", i)), c.n, k.readers, k.pace, prof, conc, pageSize, batchSize)
		if err != nil {
			return nil, err
		}
		r.round = k.round
		out = append(out, r)
	}
	return out, nil
}

// preludeRuns is how many short runs (one customer each) precede the measured run, so that ListRuns
// pages through a history and GetRun / GetRecord also read older runs and keys.
const preludeRuns = 30

func readersOnce(ctx context.Context, gwBin, mkBin, db string, n, readers int, pace time.Duration, profile bool, conc, pageSize, batchSize int) (readersRun, error) {
	r := readersRun{readers: readers, pace: pace}
	mocks, err := e2e.StartProcess("mocks", mkBin, []string{"-seed-customers", fmt.Sprint(n)}, nil)
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
	addr, err := e2e.FreePort()
	if err != nil {
		return r, err
	}
	env := append(e2e.GatewayEnv(v, db, addr, key, pageSize, batchSize), fmt.Sprintf("SYNCGATE_SYNC_CONCURRENCY=%d", conc),
		"SYNCGATE_SYNC_OVERLAP="+overlap.String())
	var debugAddr string
	if profile && profileDir != "" {
		if debugAddr, err = e2e.FreePort(); err != nil {
			return r, err
		}
		env = append(env, "SYNCGATE_DEBUG_LISTEN="+debugAddr)
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
	control := syncgatev1.NewSyncServiceClient(conn)
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)

	// A history to read: short runs of one customer each (their keys are the "older" records).
	var prelude []string
	for i := 1; i <= preludeRuns; i++ {
		res, err := control.SyncCustomers(actx, &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{
			Wait: true, SourceKeys: []string{fmt.Sprintf("CUST%07d", i)}}})
		if err != nil {
			return r, fmt.Errorf("prelude run: %w", err)
		}
		prelude = append(prelude, res.GetRun().GetId())
	}
	keys := &keyPool{}
	for _, id := range prelude {
		res, err := control.GetRun(actx, &syncgatev1.GetRunRequest{RunId: id, IncludeRecords: true})
		if err != nil {
			return r, fmt.Errorf("prelude run records: %w", err)
		}
		for _, rec := range res.GetRecords() {
			if k := rec.GetSourceKey(); k != "" {
				keys.add(k)
			}
		}
	}
	if keys.size() == 0 {
		return r, errors.New("the prelude runs left no records to read")
	}

	g0, _ := gw.CPUTime()
	b0 := selfCPU()
	t0 := time.Now()
	started, err := control.SyncCustomers(actx, &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{}})
	if err != nil {
		return r, err
	}
	runID := started.GetRun().GetId()
	var stopProf func()
	if debugAddr != "" {
		stopProf = startProfile(ctx, debugAddr, fmt.Sprintf("readers-%d.pprof", n))
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	perReader := make([][readMethods]readStats, readers)
	if readers > 0 {
		// Each reader its own HTTP/1.1 connection, as separate consoles would have.
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: readers, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}}
		auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+key)
				return next(ctx, req)
			}
		})
		// JSON over the Connect protocol, as the web console calls.
		client := syncgatev1connect.NewSyncServiceClient(hc, "http://"+addr, connect.WithProtoJSON(), connect.WithInterceptors(auth))
		for i := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rd := &reader{client: client, runID: runID, prelude: prelude, keys: keys, rng: rand.New(rand.NewPCG(uint64(i), 7)), stats: &perReader[i]}
				rd.loop(rctx, pace)
			}()
		}
	}
	// Follow the run to its end (one stream: the readers are the load, not this).
	stream, err := control.WatchRun(actx, &syncgatev1.WatchRunRequest{RunId: runID})
	if err != nil {
		stop()
		wg.Wait()
		return r, err
	}
	var last *syncgatev1.Run
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			stop()
			wg.Wait()
			return r, fmt.Errorf("watch run: %w", err)
		}
		last = m.GetRun()
	}
	r.elapsed = time.Since(t0)
	stop()
	wg.Wait()
	if stopProf != nil {
		stopProf()
	}
	g1, _ := gw.CPUTime()
	r.gatewayCPU, r.benchCPU = g1-g0, selfCPU()-b0
	if last == nil {
		return r, errors.New("watch run: no snapshot")
	}
	r.added, r.status = last.GetCounts().GetAdded(), last.GetStatus().String()
	for _, s := range perReader {
		for m := range readMethods {
			r.stats[m].lat = append(r.stats[m].lat, s[m].lat...)
			r.stats[m].errors += s[m].errors
			if r.stats[m].firstErr == "" {
				r.stats[m].firstErr = s[m].firstErr
			}
		}
	}
	fmt.Fprintf(os.Stderr, "readers %d: %d added in %s (%s), %.0f records/s\n", readers, r.added, r.elapsed.Round(time.Millisecond), r.status, r.rate())
	return r, nil
}

// keyPool is the source keys the readers have seen in run records, newest last (at most keyPoolCap).
type keyPool struct {
	mu   sync.Mutex
	keys []string
}

const keyPoolCap = 20000

func (p *keyPool) add(k string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.keys) >= keyPoolCap {
		p.keys = slices.Delete(p.keys, 0, keyPoolCap/2)
	}
	p.keys = append(p.keys, k)
}

func (p *keyPool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keys)
}

// pick returns a key: half the time one of the 200 added last (records the running run delivered, as
// the readers page through it), else any.
func (p *keyPool) pick(rng *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rng.IntN(2) == 0 {
		return p.keys[len(p.keys)-1-rng.IntN(min(200, len(p.keys)))]
	}
	return p.keys[rng.IntN(len(p.keys))]
}

// reader is one console-like caller.
type reader struct {
	client  syncgatev1connect.SyncServiceClient
	runID   string   // the run being synced
	prelude []string // older runs
	keys    *keyPool
	rng     *rand.Rand
	token   string // this reader's position in the run's records (it pages forward, as an operator would)
	stats   *[readMethods]readStats
}

// loop calls until ctx ends: a method of the mix, then (pace > 0) a wait drawn uniformly from
// [pace/2, 3·pace/2]; the first call comes after a wait drawn from [0, pace), so that the readers
// do not call in step.
func (rd *reader) loop(ctx context.Context, pace time.Duration) {
	wait := func(d time.Duration) bool {
		if d <= 0 {
			return ctx.Err() == nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	if pace > 0 && !wait(time.Duration(rd.rng.Int64N(int64(pace)))) {
		return
	}
	for {
		m := rd.rng.IntN(readMethods)
		t := time.Now()
		err := rd.call(ctx, m)
		d := time.Since(t)
		if ctx.Err() != nil { // the run ended during the call: not counted
			return
		}
		s := &rd.stats[m]
		s.lat = append(s.lat, d)
		if err != nil {
			s.errors++
			if s.firstErr == "" {
				s.firstErr = err.Error()
			}
		}
		var next time.Duration
		if pace > 0 {
			next = pace/2 + time.Duration(rd.rng.Int64N(int64(pace)))
		}
		if !wait(next) {
			return
		}
	}
}

func (rd *reader) call(ctx context.Context, m int) error {
	switch m {
	case readListRuns:
		_, err := rd.client.ListRuns(ctx, &syncgatev1.ListRunsRequest{PageSize: 20})
		return err
	case readGetRun:
		id, token := rd.runID, rd.token
		if rd.rng.IntN(5) == 0 { // a fifth of the time an older run, from its first page
			id, token = rd.prelude[rd.rng.IntN(len(rd.prelude))], ""
		}
		res, err := rd.client.GetRun(ctx, &syncgatev1.GetRunRequest{RunId: id, IncludeRecords: true, PageSize: 50, PageToken: token})
		if err != nil {
			return err
		}
		if id == rd.runID {
			rd.token = res.GetNextPageToken() // "" at the end: the next call starts over
		}
		for _, rec := range res.GetRecords() {
			if k := rec.GetSourceKey(); k != "" {
				rd.keys.add(k)
			}
		}
		return nil
	default:
		_, err := rd.client.GetRecord(ctx, &syncgatev1.GetRecordRequest{Flow: syncgatev1.Flow_FLOW_CUSTOMERS, SourceKey: rd.keys.pick(rd.rng), PageSize: 25})
		return err
	}
}

// percentile returns the p-th percentile (0 < p ≤ 1) of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// printReaders prints the read-API-under-load figures beside the targets.
func printReaders(c readersConfig, runs []readersRun) {
	fmt.Printf("\nThe read API under load (SyncCustomers over %d customers; readers over Connect+JSON, each on its own HTTP/1.1 connection, a third of the calls each method):\n\n", c.n)
	fmt.Printf("| round | readers | pacing | method | calls | calls/s | errors | p50 | p95 | p99 (target ≤ %s) | |\n|---|---|---|---|---|---|---|---|---|---|---|\n", ms(readP99Target))
	for _, r := range runs {
		if r.readers == 0 {
			continue
		}
		pacing := fmt.Sprintf("a call, then a wait of %s ± 50%%", r.pace)
		if r.pace == 0 {
			pacing = "closed loop, no wait (information)"
		}
		for m := range readMethods {
			s := r.stats[m]
			slices.Sort(s.lat)
			p99 := percentile(s.lat, 0.99)
			verdict := "meets"
			if p99 > readP99Target || len(s.lat) == 0 {
				verdict = "misses"
			}
			errs := fmt.Sprint(s.errors)
			if s.firstErr != "" {
				errs += " (" + strings.ReplaceAll(s.firstErr, "|", "/") + ")"
			}
			fmt.Printf("| %d | %d | %s | %s | %d | %.0f | %s | %s | %s | %s | %s |\n", r.round, r.readers, pacing, readNames[m], len(s.lat),
				float64(len(s.lat))/r.elapsed.Seconds(), errs, ms(percentile(s.lat, 0.5)), ms(percentile(s.lat, 0.95)), ms(p99), verdict)
		}
	}
	fmt.Printf("\n| round | readers | pacing | records | status | time | records/s | gateway CPU | bench CPU (the readers) | share of the round's run without readers (target ≥ %.0f%%) | |\n|---|---|---|---|---|---|---|---|---|---|---|\n", 100*readRatioTarget)
	var base readersRun
	var shares []float64
	for _, r := range runs {
		pacing, share, verdict := "", "", ""
		switch {
		case r.readers == 0:
			pacing, base = "none", r
		case r.pace == 0:
			pacing = "closed loop (information)"
		default:
			pacing = fmt.Sprintf("%s ± 50%%", r.pace)
		}
		if r.readers > 0 {
			ratio := r.rate() / base.rate()
			share, verdict = fmt.Sprintf("%.1f%%", 100*ratio), "meets"
			if ratio < readRatioTarget {
				verdict = "misses"
			}
			if r.pace > 0 {
				shares = append(shares, ratio)
			}
		}
		fmt.Printf("| %d | %d | %s | %d | %s | %s | %.0f | %s | %s | %s | %s |\n", r.round, r.readers, pacing, r.added, r.status, r.elapsed.Round(time.Millisecond),
			r.rate(), r.gatewayCPU.Round(10*time.Millisecond), r.benchCPU.Round(10*time.Millisecond), share, verdict)
	}
	if len(shares) > 1 {
		slices.Sort(shares)
		fmt.Printf("\nShare with %s-paced readers over %d rounds: %.1f%% … %.1f%%, median %.1f%% (target ≥ %.0f%%)\n", runs[1].pace, len(shares),
			100*shares[0], 100*shares[len(shares)-1], 100*median(shares), 100*readRatioTarget)
	}
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
