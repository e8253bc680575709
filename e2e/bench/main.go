// Command bench measures syncgate against the mock vendors, as separate processes on loopback:
//
//	go run ./e2e/bench -n 10000,100000
//
// Per scale and per storage backend (-backends: SQLite, and PostgreSQL on a throw-away database it
// creates and drops on the server of SYNCGATE_TEST_POSTGRES, by default the local socket) it seeds N
// Kingdee customers and N Zhilong agents and reports, per flow: records per second, vendor calls per
// second, the no-change rerun time, the gateway's peak RSS and the database's size. With PostgreSQL it
// also measures a takeover: two replicas on a fresh database, the one executing a SyncCustomers run
// killed (kill -9) mid-run, and the seconds from the kill until the run moves again on the other and
// until it ends. It also measures the limit: the raw rate (median of six rounds around the SyncCustomers run) at which the Greatonce mock serves signed calls at
// the gateway's concurrency, so SyncCustomers' throughput is reported as a share of it; and SyncAgents'
// limit, the raw BatchSave rate (items per second, median of six rounds around the SyncAgents run, each
// of distinct new items rendered with the agents spec, straight at the Kingdee mock with the gateway's
// Kingdee client, batch size and batch concurrency; batchsave.go).
//
// It measures storage too: after both flows' first runs it delivers the customers SyncAgents created
// (a settling SyncCustomers run), measures the database (SQLite: its file after a WAL checkpoint),
// makes -resyncs full resyncs and -reruns no-change reruns of both flows, and measures it again:
// bytes per delivered record, and the growth. At the end it prints each figure the issue sets a target
// for beside its target.
//
// With -quota Q:N[,Q:N…] it also measures running at a vendor's quota: SyncCustomers over N
// customers against a Greatonce mock limited to Q calls per second, which the gateway is not told
// (its default, adaptive pacing), printing the sustained delivery as a share of Q, the share of calls
// throttled and the dead letters beside the targets. -n "" skips the scale measurements:
//
//	go run ./e2e/bench -n "" -quota 300:10000,3000:30000
//
// With -readers R it also measures the read API under load (readers.go): R concurrent readers
// (ListRuns, GetRun with records, GetRecord) during a SyncCustomers run of -readers-n customers,
// against the same run without them, in -readers-rounds alternating pairs:
//
//	go run ./e2e/bench -n "" -readers 200 -readers-n 100000 -readers-rounds 2
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/clients/greatonce"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/e2e"
	"github.com/syncgate/syncgate/mocks/mockctl"
	"github.com/syncgate/syncgate/server/storage/pgtest"
)

const key = "bench-key"

// overlap is the gateway's sync overlap during the benchmark.
var overlap time.Duration

// profileDir, when set, receives a CPU profile of the gateway per full run.
var profileDir string

// profileSeconds is the length of each profile.
var profileSeconds int

// takeoverAfter is the replicas' takeover_after in the PostgreSQL takeover measurement.
var takeoverAfter time.Duration

// growthResyncs and growthReruns are the storage growth measurement's full resyncs and no-change
// reruns (both zero: not measured).
var growthResyncs, growthReruns int

// readersCfg is the read-API-under-load measurement (-readers).
var readersCfg readersConfig

// adminDSN is the PostgreSQL server (a role that may create databases) for the PostgreSQL backend.
var adminDSN string

func main() {
	flag.BoolVar(&settleGC, "settle", false, "run a garbage collection in the gateway and the mocks before each raw BatchSave round and SyncAgents")
	flag.IntVar(&rawBatchSaveItems, "raw-batchsave-items", 20000, "items per raw BatchSave round (at most N)")
	scales := flag.String("n", "10000,100000", "comma-separated record counts (empty: none)")
	flag.StringVar(&quotaEnv, "quota-env", "", "comma-separated SYNCGATE_*=V settings added to the gateway in the quota measurements, for comparisons (e.g. SYNCGATE_GREATONCE_RATE_MODE=fixed,SYNCGATE_GREATONCE_RATE=3000)")
	quotas := flag.String("quota", "", "comma-separated Q:N: SyncCustomers over N customers at a Greatonce quota of Q calls/s the gateway is not told (e.g. 300:10000,3000:30000)")
	concurrency := flag.Int("concurrency", 16, "concurrent Greatonce calls (gateway and raw measurement)")
	pageSize := flag.Int("page-size", 1000, "source page size")
	batchSize := flag.Int("batch-size", 500, "Kingdee BatchSave size")
	flag.DurationVar(&overlap, "overlap", 5*time.Second, "checkpoint overlap: a rerun re-reads (and skips) what changed this long before the checkpoint")
	flag.StringVar(&profileDir, "profile", "", "write the gateway's CPU profile of each full run (agents-N.pprof, customers-N.pprof), the mocks' (mocks-agents-N.pprof, mocks-customers-N.pprof) and the gateway's allocations (allocs-N.pprof) to this directory")
	flag.IntVar(&profileSeconds, "profile-seconds", 20, "length of each profile (from the start of the run)")
	backends := flag.String("backends", "sqlite,postgres", "comma-separated storage backends to measure: sqlite, postgres")
	flag.DurationVar(&takeoverAfter, "takeover-after", 4*time.Second, "PostgreSQL: the replicas' takeover_after in the kill -9 takeover measurement")
	flag.StringVar(&adminDSN, "postgres", pgtest.AdminDSN(), "PostgreSQL: admin DSN of the server on which the throw-away databases are made (default: $"+pgtest.EnvAdminDSN+", or the local socket)")
	flag.IntVar(&growthResyncs, "resyncs", 3, "storage growth: full resyncs of both flows after every record was delivered once (0 with -reruns 0: no growth measurement)")
	flag.IntVar(&growthReruns, "reruns", 10, "storage growth: no-change reruns of both flows after the full resyncs")
	flag.IntVar(&readersCfg.readers, "readers", 0, "also measure the read API under load: this many concurrent readers (ListRuns, GetRun with records, GetRecord) during a SyncCustomers run of -readers-n customers, against the same run without readers (0: not measured)")
	flag.IntVar(&readersCfg.n, "readers-n", 100000, "customers in the -readers measurement")
	flag.DurationVar(&readersCfg.pace, "readers-pace", 5*time.Second, "-readers: each reader's mean wait between two calls (uniform within ±50%; 5 s is the console's refresh interval); 0 is a closed loop")
	flag.IntVar(&readersCfg.rounds, "readers-rounds", 1, "-readers: pairs of runs (without readers, with them) measured alternately; the share is reported per pair")
	flag.BoolVar(&readersCfg.closed, "readers-closed", false, "-readers: also measure the readers in a closed loop (no wait), for information")
	flag.BoolVar(&pinVendors, "pin", false, "scale measurement (-n): run the mocks on half of the CPUs and the gateway and the raw measurement's client on the other half (taskset), as vendors on machines of their own; its figures are labelled so")
	flag.Parse()
	readersCfg.profile = profileDir != ""
	if err := run(*scales, *quotas, *backends, *concurrency, *pageSize, *batchSize); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type result struct {
	n                        int
	backend                  string
	rawRate                  float64
	custTime, custRerun      time.Duration
	custRecords, custCalls   int64
	agentTime, agentRerun    time.Duration
	agentRecords, agentCalls int64
	peakRSS, dbSize          int64
	// CPU time used during the full run of each flow, by the gateway and by the mocks.
	custGwCPU, custMockCPU   time.Duration
	agentGwCPU, agentMockCPU time.Duration
	// CPU per call of the raw measurement: the client (this process) and the Greatonce mock.
	rawClientCPU, rawMockCPU time.Duration
	// bsRate is the raw BatchSave rate (items/s, median of six rounds around SyncAgents);
	// bsClientCPU and bsMockCPU its CPU per item (this process, the mocks).
	bsRate                 float64
	bsClientCPU, bsMockCPU time.Duration
	// takeover is the PostgreSQL takeover measurement (nil for SQLite).
	takeover *takeoverResult
	// growth is the storage growth measurement (nil when not measured).
	growth *growthResult
	// pinned says how the processes were pinned to CPUs (-pin; empty: not pinned).
	pinned string
}

func run(scales, quotas, backends string, conc, pageSize, batchSize int) error {
	qcases, err := parseQuotas(quotas)
	if err != nil {
		return err
	}
	var bes []string
	for _, b := range strings.Split(backends, ",") {
		switch b = strings.TrimSpace(b); b {
		case "sqlite", "postgres":
			bes = append(bes, b)
		default:
			return fmt.Errorf("-backends: unknown backend %q (sqlite, postgres)", b)
		}
	}
	root, err := e2e.ModuleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "syncgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	gw, err := e2e.Build(ctx, root, "./server/cmd/syncgate", dir)
	if err != nil {
		return err
	}
	mk, err := e2e.Build(ctx, root, "./mocks/cmd/syncgate-mocks", dir)
	if err != nil {
		return err
	}
	var qresults []quotaResult
	for _, c := range qcases {
		fmt.Fprintf(os.Stderr, "== quota %.0f/s, N=%d\n", c.q, c.n)
		r, err := measureQuota(ctx, gw, mk, dir, c, conc, pageSize, batchSize)
		if err != nil {
			return fmt.Errorf("quota %.0f/s: %w", c.q, err)
		}
		qresults = append(qresults, r)
	}
	var ts targets
	defer ts.print()
	if len(qresults) > 0 {
		printQuotas(qresults)
		quotaTargets(&ts, qresults)
	}
	if readersCfg.readers > 0 {
		runs, err := measureReaders(ctx, gw, mk, dir, readersCfg, conc, pageSize, batchSize)
		if err != nil {
			return fmt.Errorf("readers: %w", err)
		}
		printReaders(readersCfg, runs)
		readersTargets(&ts, runs)
	}
	if strings.TrimSpace(scales) == "" {
		return nil
	}
	var results []result
	for _, s := range strings.Split(scales, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		for _, be := range bes {
			fmt.Fprintf(os.Stderr, "== N=%d %s\n", n, be)
			r, err := measure(ctx, gw, mk, dir, n, conc, pageSize, batchSize, be)
			if err != nil {
				return fmt.Errorf("%s: %w", be, err)
			}
			results = append(results, r)
		}
	}
	fmt.Printf("\n| N | backend | flow | records | time | records/s | vendor calls/s | no-change rerun | rerun/full | raw mock rate | share of raw | gateway peak RSS | database size |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		cr := float64(r.custRecords) / r.custTime.Seconds()
		fmt.Printf("| %d | %s | SyncCustomers | %d | %s | %.0f | %.0f | %s | %.1f%% | %.0f calls/s | %.0f%% | %.0f MiB | %.0f MiB |\n",
			r.n, r.backend, r.custRecords, r.custTime.Round(time.Millisecond), cr, float64(r.custCalls)/r.custTime.Seconds(),
			r.custRerun.Round(time.Millisecond), 100*r.custRerun.Seconds()/r.custTime.Seconds(), r.rawRate, 100*cr/r.rawRate,
			float64(r.peakRSS)/(1<<20), float64(r.dbSize)/(1<<20))
		ar := float64(r.agentRecords) / r.agentTime.Seconds()
		fmt.Printf("| %d | %s | SyncAgents | %d | %s | %.0f | %.0f | %s | %.1f%% | %.0f items/s (BatchSave) | %.0f%% | | |\n",
			r.n, r.backend, r.agentRecords, r.agentTime.Round(time.Millisecond), ar,
			float64(r.agentCalls)/r.agentTime.Seconds(), r.agentRerun.Round(time.Millisecond), 100*r.agentRerun.Seconds()/r.agentTime.Seconds(), r.bsRate, 100*ar/r.bsRate)
	}
	if slices.Contains(bes, "postgres") {
		fmt.Printf("\nWith postgres: the database size is pg_database_size (River's tables included); the peak RSS is the gateway's alone, not PostgreSQL's processes.\n")
	}
	fmt.Printf("\nCPU time during the full runs (%d CPUs in all; the mocks serve both vendors of a flow):\n\n", runtime.NumCPU())
	if pinVendors && len(results) > 0 {
		fmt.Printf("Pinned (-pin): %s.\n\n", results[0].pinned)
	}
	fmt.Printf("| N | backend | flow | wall | gateway CPU | mocks CPU | gateway CPU per record | mocks CPU per record |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		perRec := func(d time.Duration, n int64) float64 { return float64(d.Microseconds()) / float64(max(n, 1)) }
		fmt.Printf("| %d | %s | raw Greatonce calls | | | | %.0f µs (client) | %.0f µs |\n", r.n, r.backend,
			float64(r.rawClientCPU.Nanoseconds())/1000, float64(r.rawMockCPU.Nanoseconds())/1000)
		fmt.Printf("| %d | %s | raw BatchSave items | | | | %.0f µs (client) | %.0f µs |\n", r.n, r.backend,
			float64(r.bsClientCPU.Nanoseconds())/1000, float64(r.bsMockCPU.Nanoseconds())/1000)
		fmt.Printf("| %d | %s | SyncCustomers | %s | %s | %s | %.0f µs | %.0f µs |\n", r.n, r.backend, r.custTime.Round(time.Millisecond), r.custGwCPU.Round(10*time.Millisecond),
			r.custMockCPU.Round(10*time.Millisecond), perRec(r.custGwCPU, r.custRecords), perRec(r.custMockCPU, r.custRecords))
		fmt.Printf("| %d | %s | SyncAgents | %s | %s | %s | %.0f µs | %.0f µs |\n", r.n, r.backend, r.agentTime.Round(time.Millisecond), r.agentGwCPU.Round(10*time.Millisecond),
			r.agentMockCPU.Round(10*time.Millisecond), perRec(r.agentGwCPU, r.agentRecords), perRec(r.agentMockCPU, r.agentRecords))
	}
	printGrowth(results)
	for _, r := range results {
		scaleTargets(&ts, r)
	}
	for _, r := range results {
		if to := r.takeover; to != nil {
			fmt.Printf("\nTakeover (PostgreSQL, N=%d, two replicas, takeover_after %s): the replica executing a SyncCustomers run of %d records killed (kill -9) at %d read;"+
				" the run moved again on the other replica %.1f s after the kill and ended %.1f s after it (%s, %d added, %d updated; %d distributors for %d records)\n",
				r.n, takeoverAfter, to.want, to.readAtKill, to.moving.Seconds(), to.ended.Seconds(), to.status, to.added, to.updated, to.distributors, to.want)
		}
	}
	return nil
}

func measure(ctx context.Context, gwBin, mkBin, dir string, n, conc, pageSize, batchSize int, backend string) (result, error) {
	r := result{n: n, backend: backend}
	mockArgs := []string{"-seed-customers", fmt.Sprint(n), "-seed-agents", fmt.Sprint(n)}
	var mockDebug string
	if profileDir != "" || settleGC {
		var err error
		if mockDebug, err = e2e.FreePort(); err != nil {
			return r, err
		}
		mockArgs = append(mockArgs, "-debug-listen", mockDebug)
	}
	var cpus cpuSplit
	if pinVendors {
		var err error
		if cpus, err = splitCPUs(); err != nil {
			return r, err
		}
		if err := pinSelf(cpus.gateway); err != nil {
			return r, err
		}
		defer func() {
			if err := pinSelf(cpus.all); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
			}
		}()
		r.pinned = fmt.Sprintf("mocks on CPU %s, gateway and bench on CPU %s", cpus.vendors, cpus.gateway)
		fmt.Fprintln(os.Stderr, "pinned:", r.pinned)
	}
	mbin, margs := pinned(cpus.vendors, mkBin, mockArgs)
	mocks, err := e2e.StartProcess("mocks", mbin, margs, nil)
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
	kd, gc, zl := mockctl.New(v.KingdeeURL, nil), mockctl.New(v.GreatonceURL, nil), mockctl.New(v.ZhilongURL, nil)

	// The limit: signed single-sync calls straight at the mock, same concurrency, same client code.
	// The raw rate is measured in three rounds before SyncCustomers and three after it, and the median
	// of the six is used: one round of a second or two swings by ±20% on a shared machine, and the
	// machine's speed drifts over minutes, so rounds on both sides of the run bracket it.
	var rates []float64
	var rawCalls int
	var rawClient, rawMock time.Duration
	raw := func(first int) error {
		mock0, _ := mocks.CPUTime()
		self0 := selfCPU()
		for round := first; round < first+3; round++ {
			rate, err := rawRate(ctx, v, conc, min(n, 20000), round)
			if err != nil {
				return err
			}
			rates = append(rates, rate)
			rawCalls += min(n, 20000)
		}
		mock1, _ := mocks.CPUTime()
		rawClient, rawMock = rawClient+selfCPU()-self0, rawMock+mock1-mock0
		return nil
	}
	if err := raw(0); err != nil {
		return r, err
	}
	if err := gc.Reset(ctx); err != nil {
		return r, err
	}

	addr, err := e2e.FreePort()
	if err != nil {
		return r, err
	}
	db := filepath.Join(dir, fmt.Sprintf("bench-%d.db", n))
	if backend == "postgres" {
		var drop func()
		if db, drop, err = createDatabase(ctx); err != nil {
			return r, err
		}
		defer drop()
	}
	// Customers restricted to audited, active ones (90% of the seed), as in the README's figures.
	specDir := filepath.Join(dir, fmt.Sprintf("mapping-%d-%s", n, backend))
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		return r, err
	}
	if err := e2e.WriteActiveCustomersSpec(specDir); err != nil {
		return r, err
	}
	env := append(e2e.GatewayEnv(v, db, addr, key, pageSize, batchSize), fmt.Sprintf("SYNCGATE_SYNC_CONCURRENCY=%d", conc),
		"SYNCGATE_SYNC_OVERLAP="+overlap.String(), "SYNCGATE_MAPPING_DIR="+specDir)
	var debugAddr string
	if profileDir != "" || settleGC {
		if debugAddr, err = e2e.FreePort(); err != nil {
			return r, err
		}
		env = append(env, "SYNCGATE_DEBUG_LISTEN="+debugAddr)
	}
	gbin, gargs := pinned(cpus.gateway, gwBin, nil)
	gw, err := e2e.StartProcess("syncgate", gbin, gargs, env)
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
	wait := &syncgatev1.SyncOptions{Wait: true}

	count := func(c *mockctl.Client) int64 {
		m, _ := c.Counts(ctx)
		var t int64
		for _, v := range m {
			t += v
		}
		return t
	}
	// Customers first, right after the raw measurement: SyncCustomers reads the N seeded customers (run
	// after SyncAgents it would also read the N customers SyncAgents creates, and its no-change rerun
	// would re-read every one of them modified within the overlap before its checkpoint).
	cpu := func() (gwCPU, mockCPU time.Duration) {
		gwCPU, _ = gw.CPUTime()
		mockCPU, _ = mocks.CPUTime()
		return gwCPU, mockCPU
	}
	c0 := count(kd) + count(gc)
	g0, m0 := cpu()
	prof := startProfiles(ctx, debugAddr, mockDebug, fmt.Sprintf("customers-%d.pprof", n))
	t0 := time.Now()
	cr, err := client.SyncCustomers(actx, &syncgatev1.SyncCustomersRequest{Options: wait})
	if err != nil {
		return r, err
	}
	r.custTime = time.Since(t0)
	prof()
	g1, m1 := cpu()
	r.custGwCPU, r.custMockCPU = g1-g0, m1-m0
	r.custRecords, r.custCalls = cr.GetRun().GetCounts().GetAdded(), count(kd)+count(gc)-c0
	t0 = time.Now()
	if _, err := client.SyncCustomers(actx, &syncgatev1.SyncCustomersRequest{Options: wait}); err != nil {
		return r, err
	}
	r.custRerun = time.Since(t0)
	fmt.Fprintf(os.Stderr, "customers: %v in %s (%s)\n", cr.GetRun().GetCounts(), r.custTime, cr.GetRun().GetStatus())
	if err := raw(3); err != nil {
		return r, err
	}
	slices.Sort(rates)
	r.rawRate = (rates[2] + rates[3]) / 2
	r.rawClientCPU, r.rawMockCPU = rawClient/time.Duration(rawCalls), rawMock/time.Duration(rawCalls)
	fmt.Fprintf(os.Stderr, "raw Greatonce rate: %.0f calls/s (median of %.0f … %.0f, three rounds before SyncCustomers and three after)\n",
		r.rawRate, rates[0], rates[len(rates)-1])

	// SyncAgents' limit: raw BatchSave rounds before and after it (batchsave.go).
	bs, err := newBatchSaver(ctx, v, batchSize, batchConcurrency)
	if err != nil {
		return r, err
	}
	settle := func() {
		if settleGC {
			collect(ctx, debugAddr)
			collect(ctx, mockDebug)
		}
	}
	braw := &rawBatchSave{saver: bs, mocks: mocks, n: min(n, rawBatchSaveItems), settle: settle}
	if err := braw.rounds(ctx, 0); err != nil {
		return r, err
	}
	settle()
	c0 = count(kd) + count(zl)
	g0, m0 = cpu()
	prof = startProfiles(ctx, debugAddr, mockDebug, fmt.Sprintf("agents-%d.pprof", n))
	t0 = time.Now()
	ar, err := client.SyncAgents(actx, &syncgatev1.SyncAgentsRequest{Options: wait})
	if err != nil {
		return r, err
	}
	r.agentTime = time.Since(t0)
	prof()
	g1, m1 = cpu()
	r.agentGwCPU, r.agentMockCPU = g1-g0, m1-m0
	r.agentRecords, r.agentCalls = ar.GetRun().GetCounts().GetAdded(), count(kd)+count(zl)-c0
	t0 = time.Now()
	if _, err := client.SyncAgents(actx, &syncgatev1.SyncAgentsRequest{Options: wait}); err != nil {
		return r, err
	}
	r.agentRerun = time.Since(t0)
	fmt.Fprintf(os.Stderr, "agents: %v in %s (%s)\n", ar.GetRun().GetCounts(), r.agentTime, ar.GetRun().GetStatus())
	if err := braw.rounds(ctx, 3); err != nil {
		return r, err
	}
	r.bsRate = braw.median()
	r.bsClientCPU, r.bsMockCPU = braw.client/time.Duration(braw.items), braw.mock/time.Duration(braw.items)
	fmt.Fprintf(os.Stderr, "raw BatchSave rate: %.0f items/s (median of %.0f, batches of %d, %d in flight; three rounds before SyncAgents and three after)\n",
		r.bsRate, braw.rates, batchSize, batchConcurrency)

	if debugAddr != "" && profileDir != "" { // allocations since start, both flows
		if err := fetchTo(ctx, "http://"+debugAddr+"/debug/pprof/allocs", filepath.Join(profileDir, fmt.Sprintf("allocs-%d.pprof", n))); err != nil {
			fmt.Fprintln(os.Stderr, "allocs profile:", err)
		}
	}
	size := func() (int64, error) {
		if backend == "postgres" {
			return databaseSize(ctx, db)
		}
		return sqliteSize(ctx, db)
	}
	if growthResyncs > 0 || growthReruns > 0 {
		g, err := measureGrowth(actx, client, r.custRecords+r.agentRecords, growthResyncs, growthReruns, size)
		if err != nil {
			return r, fmt.Errorf("storage growth: %w", err)
		}
		r.growth = &g
	}
	if r.peakRSS, err = gw.PeakRSS(); err != nil {
		return r, err
	}
	if backend == "postgres" {
		if r.dbSize, err = databaseSize(ctx, db); err != nil {
			return r, err
		}
		gw.Kill()
		conn.Close()
		fmt.Fprintf(os.Stderr, "takeover: two replicas, takeover_after %s\n", takeoverAfter)
		to, err := measureTakeover(ctx, gwBin, gc, kd, env)
		if err != nil {
			return r, fmt.Errorf("takeover: %w", err)
		}
		r.takeover = &to
		return r, nil
	}
	if r.dbSize, err = size(); err != nil {
		return r, err
	}
	return r, nil
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startProfile starts a CPU profile of the gateway's first profileSeconds of a run (when profiling is on)
// and returns the function that waits for it to be written to profileDir/name. pprof's endpoint
// answers only after the time asked for, so a run shorter than that is profiled whole, with idle time
// after it.
// startProfile has the process serving pprof at debugAddr profile itself into profileDir/name, when
// both are set (-settle starts the debug listeners without -profile).
func startProfile(ctx context.Context, debugAddr, name string) (wait func()) {
	if debugAddr == "" || profileDir == "" {
		return func() {}
	}
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, profileSeconds)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fetchTo(ctx, url, filepath.Join(profileDir, name)); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
		}
	}()
	return func() { <-done }
}

// startProfiles profiles the gateway (into name) and the mocks (into mocks-name) at once; wait waits
// for both.
var (
	rawBatchSaveItems int
	settleGC          bool
)

// collect has the process serving pprof at debugAddr run a garbage collection (the heap profile's
// gc=1), so that the phase timed next does not pay for the garbage of the one before.
func collect(ctx context.Context, debugAddr string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+debugAddr+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: collect:", err)
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

func startProfiles(ctx context.Context, gwDebug, mockDebug, name string) (wait func()) {
	gw, mk := startProfile(ctx, gwDebug, name), startProfile(ctx, mockDebug, "mocks-"+name)
	return func() { gw(); mk() }
}

// fetchTo writes the body of a GET of url to file.
func fetchTo(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func rawRate(ctx context.Context, v e2e.VendorInfo, conc, calls, round int) (float64, error) {
	c, err := greatonce.New(greatonce.Config{BaseURL: v.GreatonceURL, AppKey: v.GreatonceKey, Secret: v.GreatonceSecret,
		CustomerID: v.GreatonceCustomer, Transport: vendor.Transport{Timeout: 10 * time.Second, MaxConns: conc + 4, RateMode: vendor.RateFixed}}) // unpaced: the raw limit
	if err != nil {
		return 0, err
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(calls) {
					return
				}
				d := greatonce.Distributor{DistributorCode: fmt.Sprintf("RAW%d-%08d", round, i), DistributorName: "基准分销商", Address: "上海市徐汇区",
					DistributorCompanyName: "植隆集团总部", BalanceDeductType: "1", Mobile: "张伟", Contact: "张伟", DistributorLevelName: "A"}
				if _, err := c.DistributorSync(ctx, greatonce.ActionAdd, d); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		return 0, fmt.Errorf("raw measurement: %d calls failed", failed.Load())
	}
	return float64(calls) / time.Since(start).Seconds(), nil
}
