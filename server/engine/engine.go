package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncgate/syncgate/server/storage"
)

// Config tunes the engine.
type Config struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// DeadLetterBatch is how many dead letters a run retries first (default 1000).
	DeadLetterBatch int
	// CommitTimeout bounds the final commit of a cancelled run (default 10s).
	CommitTimeout time.Duration
	// DryRunRecords is how many planned outcomes a dry run keeps in memory for RunRecords (default
	// 10000); its counts cover every record.
	DryRunRecords int
	// ProgressInterval is how often a running run's live counts are published to watchers while they
	// change (default 250ms; WatchRun promises at least one snapshot a second).
	ProgressInterval time.Duration
	// Shared says that several gateways share the store (replicas on PostgreSQL). A run then executes
	// wherever the job system hands it, and may be handed on (at the end of a slice, at a shutdown, or
	// when its gateway dies) to another gateway, which resumes it after its last committed page. Runs
	// left running are not failed at start-up (the job system takes them over); one run per flow is
	// checked in the store; live progress and cancel requests go through the store; and Watch follows
	// a run by reading the store. See shared.go.
	Shared bool
	// PreviewScanPages bounds how many source pages one Preview by keys may read from a source that can
	// only page through its records (ScanFetcher; default 50), and PreviewScans how many such previews
	// run at once (default 2; others wait for a turn, as long as their context allows).
	PreviewScanPages, PreviewScans int
}

// Dispatcher hands runs to the job system that executes them (River, in the gateway), which calls
// [Engine.Execute] with the run's id. Without one, the engine executes runs on its own goroutines.
type Dispatcher interface {
	// Dispatch queues the run; it fails with a *RunInProgressError when the job system already holds
	// a queued run of the flow.
	Dispatch(ctx context.Context, job RunJob) error
}

// RunJob names a registered run for a Dispatcher.
type RunJob struct {
	RunID, Flow string
}

// Engine runs flows, one run at a time per flow.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	st      storage.Store
	flows   map[string]*Flow
	metrics *metrics

	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	dispatcher Dispatcher

	// handingOver is set by a shutdown in shared mode: running runs stop at their next page boundary
	// and are handed over to another gateway rather than cancelled.
	handingOver atomic.Bool

	mu      sync.Mutex
	closing bool
	active  map[string]*runState // by flow
	live    map[string]*runState // by run id: running runs and recent dry runs
	// previewScans holds a token per Preview by keys paging through its source (see ScanFetcher).
	previewScans chan struct{}

	// ended is closed (and replaced) whenever a run ends or is handed over here, so that whoever
	// follows a run in the store (shared mode) looks again at once rather than at its next poll.
	ended  chan struct{}
	dryIDs []string // finished dry runs kept in memory, oldest first
}

const keepDryRuns = 50

// New builds an engine over st serving the given flows. Runs that a previous process left "running"
// (it crashed or was killed) are marked failed.
func New(cfg Config, st storage.Store, flows ...*Flow) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DeadLetterBatch <= 0 {
		cfg.DeadLetterBatch = 1000
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 10 * time.Second
	}
	if cfg.DryRunRecords <= 0 {
		cfg.DryRunRecords = 10000
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 250 * time.Millisecond
	}
	if cfg.PreviewScanPages <= 0 {
		cfg.PreviewScanPages = 50
	}
	if cfg.PreviewScans <= 0 {
		cfg.PreviewScans = 2
	}
	e := &Engine{
		cfg: cfg, log: cfg.Logger, st: st, flows: map[string]*Flow{},
		metrics: newMetrics(cfg.Registerer),
		active:  map[string]*runState{}, live: map[string]*runState{}, ended: make(chan struct{}),
		previewScans: make(chan struct{}, cfg.PreviewScans),
	}
	for _, f := range flows {
		if f == nil || f.Name == "" || f.Source == nil || f.Target == nil || f.Spec == nil {
			return nil, errors.New("engine: incomplete flow")
		}
		if _, dup := e.flows[f.Name]; dup {
			return nil, fmt.Errorf("engine: flow %s registered twice", f.Name)
		}
		e.flows[f.Name] = f
	}
	if !cfg.Shared {
		// One gateway per store: a run still "running" was left by this gateway's previous process.
		n, err := st.FailInterrupted(context.Background(), cfg.Now())
		if err != nil {
			return nil, err
		}
		if n > 0 {
			e.log.Warn("marked interrupted runs as failed", "runs", n)
		}
	}
	e.base, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// SetDispatcher makes d execute the runs started from now on (see [Dispatcher]). Call it before
// serving.
func (e *Engine) SetDispatcher(d Dispatcher) { e.dispatcher = d }

// runState is a run in memory: its snapshot, its cancel function and its watchers.
type runState struct {
	mu      sync.Mutex
	run     Run
	changed chan struct{} // closed and replaced on every change
	done    chan struct{} // closed when the run has ended
	cancel  context.CancelFunc
	records []RecordOutcome // dry runs only: the planned outcomes
	// ctx is the run's context (cancelled by a shutdown); f and opts what it runs.
	ctx  context.Context
	f    *Flow
	opts Options
	// stop is closed by CancelRun: the run stops at its next page boundary.
	stop     chan struct{}
	stopOnce sync.Once
	// started is set once the run executes (a dispatched run may wait in the queue).
	started bool
	// Shared mode (see Config.Shared): resume is the stored run this execution resumes; until ends
	// the execution's slice at the first page boundary after it (zero: none); lost is closed when
	// the flow's lock is lost; handedOver is set when the execution stopped with the run still
	// running, for another execution to resume.
	resume     *storage.Run
	until      time.Time
	lost       <-chan struct{}
	handedOver bool
}

// claim marks the run as started and reports whether it was not yet: whoever claims it runs it (or,
// at shutdown, ends it).
func (s *runState) claim() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.started
	s.started = true
	return !was
}

// requestStop asks the run to stop at its next page boundary.
func (s *runState) requestStop() { s.stopOnce.Do(func() { close(s.stop) }) }

// stopping reports whether the run was asked to stop.
func (s *runState) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

func (s *runState) snapshot() (Run, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.run
	r.SourceKeys = append([]string(nil), r.SourceKeys...)
	return r, s.changed
}

func (s *runState) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *runState) update(fn func(*Run)) {
	s.mu.Lock()
	fn(&s.run)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func newRunID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// Start begins a run of flow and returns once it is registered; the run goes on in the background on
// an engine-owned context, so the caller hanging up does not stop it.
func (e *Engine) Start(ctx context.Context, flow string, opts Options) (Run, error) {
	f, ok := e.flows[flow]
	if !ok {
		return Run{}, invalidf("unknown flow %q", flow)
	}
	if opts.Window != nil && !opts.Window.Start.Before(opts.Window.End) {
		return Run{}, invalidf("window start must be before its end")
	}
	if opts.Limit < 0 {
		return Run{}, invalidf("limit must not be negative")
	}
	if !f.UseOrgs && len(opts.UseOrgNumbers) > 0 {
		return Run{}, invalidf("use organisations do not apply to the %s flow", flow)
	}
	if opts.retryOnly() && (opts.DryRun || opts.FullResync || opts.Window != nil || len(opts.SourceKeys) > 0) {
		return Run{}, invalidf("a dead-letter retry takes no dry run, full resync, window or source keys")
	}
	if opts.Trigger == "" {
		opts.Trigger = TriggerAPI
	}
	st, err := e.register(ctx, f, opts)
	if err != nil {
		return Run{}, err
	}
	run, _ := st.snapshot()
	// Dry runs write nothing and live in this process's memory only: they are not jobs.
	if e.dispatcher != nil && !opts.DryRun {
		if err := e.dispatcher.Dispatch(ctx, RunJob{RunID: run.ID, Flow: flow}); err != nil {
			// The run never started: it ends failed (with the reason) rather than staying "running".
			if st.claim() {
				e.finish(st, StatusFailed, fmt.Errorf("queue the run: %w", err))
			}
			if c := Classify(err); c == KindRunInProgress || c == KindShuttingDown {
				return Run{}, err
			}
			return Run{}, fmt.Errorf("queue the run: %w", err)
		}
		return run, nil
	}
	if e.cfg.Shared && !opts.DryRun {
		// No job system (tests): execute here, slice after slice, as the job system would.
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for {
				ended, err := e.Execute(e.base, run.ID, time.Time{})
				if ended || err != nil || e.base.Err() != nil {
					return
				}
			}
		}()
		return run, nil
	}
	st.claim()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.run(st)
	}()
	return run, nil
}

// register records a new run of f (in memory, and in the store unless dry) and takes the flow's run
// slot; the run is not started.
func (e *Engine) register(ctx context.Context, f *Flow, opts Options) (*runState, error) {
	flow := f.Name
	now := e.cfg.Now()
	run := Run{
		ID: newRunID(now), Flow: flow, Status: StatusRunning, DryRun: opts.DryRun, FullResync: opts.FullResync,
		StartedAt: now, Limit: opts.Limit, SourceKeys: opts.SourceKeys, Trigger: opts.Trigger, Actor: opts.Actor,
	}
	// In shared mode a run that writes is held in memory only by the gateway executing it (Execute),
	// and the store says whether the flow has a run in progress anywhere.
	keep := !e.cfg.Shared || opts.DryRun
	if !keep {
		if err := e.runningElsewhere(ctx, flow); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return nil, ErrShuttingDown
	}
	if cur, busy := e.active[flow]; busy {
		e.mu.Unlock()
		cr, _ := cur.snapshot()
		return nil, &RunInProgressError{Flow: flow, RunID: cr.ID}
	}
	rctx, cancel := context.WithCancel(e.base)
	st := &runState{run: run, changed: make(chan struct{}), done: make(chan struct{}), cancel: cancel,
		ctx: rctx, f: f, opts: opts, stop: make(chan struct{})}
	if keep {
		e.active[flow] = st
		e.live[run.ID] = st
	}
	e.mu.Unlock()

	forget := func() {
		cancel()
		e.mu.Lock()
		delete(e.active, flow)
		delete(e.live, run.ID)
		e.mu.Unlock()
	}
	if !opts.DryRun {
		optsJSON, _ := json.Marshal(opts)
		if err := e.st.CreateRun(ctx, storage.Run{ID: run.ID, Flow: flow, Options: optsJSON, Status: string(StatusRunning), StartedAt: now,
			Trigger: string(opts.Trigger), Actor: opts.Actor}); err != nil {
			forget()
			return nil, err
		}
	}
	return st, nil
}

// Execute runs a run registered by Start and dispatched to the job system, and reports whether the
// run has ended. With one gateway per store it runs the run to its end (or returns at once, when the
// run is unknown to this engine or already ran: its process restarted, and the run was marked failed
// at start-up); ctx ending (the job system stopping) cancels the run as a shutdown does, and until is
// ignored. In shared mode (Config.Shared) it executes the stored run, resuming it after its last
// committed page, until the run ends or, at the first page boundary after until (when not zero) or
// at a shutdown, hands it back with ended false: the job system then executes it again, here or on
// another gateway. It also returns ended false, at once, when the flow's lock is held by another
// gateway (a run it is still finishing). An error means the run could not be read: try again later.
func (e *Engine) Execute(ctx context.Context, runID string, until time.Time) (ended bool, err error) {
	if e.cfg.Shared {
		return e.executeShared(ctx, runID, until)
	}
	st := e.state(runID)
	if st == nil {
		e.log.Warn("run job for a run this process does not hold; skipped", "run_id", runID)
		return true, nil
	}
	if !st.claim() || st.isDone() {
		return true, nil
	}
	e.wg.Add(1)
	defer e.wg.Done()
	stopWatch := context.AfterFunc(ctx, st.cancel)
	defer stopWatch()
	e.run(st)
	return true, nil
}

// Running reports whether the run is registered here and has not ended.
func (e *Engine) Running(runID string) bool {
	st := e.state(runID)
	return st != nil && !st.isDone()
}

// run executes a registered run on the calling goroutine.
func (e *Engine) run(st *runState) {
	defer st.cancel()
	r0, _ := st.snapshot()
	defer func() {
		// A bug in a flow ends its run as failed instead of the gateway; committed pages stay
		// consistent (each is one transaction).
		if p := recover(); p != nil {
			e.log.Error("run panicked", "run_id", r0.ID, "flow", r0.Flow, "panic", p, "stack", string(debug.Stack()))
			if !st.isDone() {
				e.finish(st, StatusFailed, errors.New("internal error in the flow; see the gateway log"))
			}
		}
	}()
	if st.stopping() {
		e.finish(st, StatusCancelled, errStopRequested)
		return
	}
	e.execute(st.ctx, st.f, st, st.opts)
}

// finish records a run's end: in the store (unless dry), then in memory, and only then wakes its
// watchers, so that whoever sees the final state can start the next run at once.
func (e *Engine) finish(st *runState, status Status, runErr error) {
	r, _ := st.snapshot()
	r.Status, r.FinishedAt = status, e.cfg.Now()
	if runErr != nil {
		r.Error = e.publicError(r.ID, runErr)
	}
	if !r.DryRun {
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.CommitTimeout)
		defer cancel()
		if err := e.st.FinishRun(ctx, storage.Run{ID: r.ID, Status: string(r.Status), Counts: r.Counts, FinishedAt: r.FinishedAt,
			Error: r.Error, WindowStart: r.WindowStart, WindowEnd: r.WindowEnd, Trigger: string(r.Trigger), Actor: r.Actor}); err != nil {
			e.log.Error("record run end", "run_id", r.ID, "error", err)
		}
	}
	e.metrics.runs.WithLabelValues(r.Flow, string(r.Status)).Inc()
	e.log.Info("run ended", "run_id", r.ID, "flow", r.Flow, "status", r.Status, "read", r.Counts.Read, "added", r.Counts.Added,
		"updated", r.Counts.Updated, "skipped", r.Counts.Skipped, "failed", r.Counts.Failed, "retried", r.Counts.Retried,
		"took", r.FinishedAt.Sub(r.StartedAt), "error", r.Error)
	e.mu.Lock()
	close(e.ended)
	e.ended = make(chan struct{})
	delete(e.active, r.Flow)
	if r.DryRun {
		e.dryIDs = append(e.dryIDs, r.ID)
		if len(e.dryIDs) > keepDryRuns {
			delete(e.live, e.dryIDs[0])
			e.dryIDs = e.dryIDs[1:]
		}
	} else {
		delete(e.live, r.ID)
	}
	e.mu.Unlock()
	st.update(func(run *Run) { run.Status, run.FinishedAt, run.Error = r.Status, r.FinishedAt, r.Error })
	close(st.done)
}

func (e *Engine) state(id string) *runState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.live[id]
}

// Wait blocks until the run has ended (or ctx ends) and returns its final state.
func (e *Engine) Wait(ctx context.Context, runID string) (Run, error) {
	if st := e.state(runID); st != nil {
		select {
		case <-st.done:
			if r, _ := st.snapshot(); r.Done() || !e.cfg.Shared {
				return r, nil
			}
			// Handed over to another execution: follow it in the store.
		case <-ctx.Done():
			return Run{}, ctx.Err()
		}
	}
	if e.cfg.Shared {
		var last Run
		for r, err := range e.follow(ctx, runID) {
			if err != nil {
				return Run{}, err
			}
			last = r
		}
		if !last.Done() {
			return Run{}, ctx.Err()
		}
		return last, nil
	}
	return e.GetRun(ctx, runID)
}

// Watch streams snapshots of a run until it ends; the channel closes after the final snapshot (or
// when ctx ends). A finished run yields one snapshot.
func (e *Engine) Watch(ctx context.Context, runID string) (<-chan Run, error) {
	st := e.state(runID)
	if e.cfg.Shared && (st == nil || !st.opts.DryRun) {
		// Wherever the run executes, its state is in the store (dry runs stay in memory).
		return e.watchStore(ctx, runID)
	}
	if st == nil {
		r, err := e.GetRun(ctx, runID)
		if err != nil {
			return nil, err
		}
		ch := make(chan Run, 1)
		ch <- r
		close(ch)
		return ch, nil
	}
	ch := make(chan Run)
	go func() {
		defer close(ch)
		// At most one snapshot per progress interval, the final one at once: a run's counts change
		// with every record, and a watcher wants to see them move, not every step.
		gap := time.NewTimer(0)
		defer gap.Stop()
		for {
			r, changed := st.snapshot()
			select {
			case ch <- r:
			case <-ctx.Done():
				return
			}
			if r.Done() {
				return
			}
			gap.Reset(e.cfg.ProgressInterval)
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
			select {
			case <-gap.C:
			case <-st.done:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// GetRun returns a run: live state if it is running (or a recent dry run), else the stored one.
func (e *Engine) GetRun(ctx context.Context, id string) (Run, error) {
	if st := e.state(id); st != nil {
		r, _ := st.snapshot()
		return r, nil
	}
	sr, err := e.st.GetRun(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return Run{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, err
	}
	return fromStoreRun(sr), nil
}

// fromStoreRun is the engine's view of a stored run. A running run's counts include the live counts
// its executing gateway last published (shared mode), which run ahead of the committed ones.
func fromStoreRun(sr storage.Run) Run {
	r := Run{ID: sr.ID, Flow: sr.Flow, Status: Status(sr.Status), WindowStart: sr.WindowStart, WindowEnd: sr.WindowEnd,
		Counts: sr.Counts, StartedAt: sr.StartedAt, FinishedAt: sr.FinishedAt, Error: sr.Error,
		Trigger: Trigger(sr.Trigger), Actor: sr.Actor}
	if sr.Live != nil && sr.Status == string(StatusRunning) {
		r.Counts = maxCounts(r.Counts, *sr.Live)
	}
	var o Options
	if json.Unmarshal(sr.Options, &o) == nil {
		r.DryRun, r.FullResync, r.Limit, r.SourceKeys = o.DryRun, o.FullResync, o.Limit, o.SourceKeys
	}
	return r
}

// ListRuns lists stored runs newest first (dry runs are kept in memory only and are not listed).
func (e *Engine) ListRuns(ctx context.Context, f ListFilter) ([]Run, string, error) {
	if f.Flow != "" {
		if _, ok := e.flows[f.Flow]; !ok {
			return nil, "", invalidf("unknown flow %q", f.Flow)
		}
	}
	switch Status(f.Status) {
	case "", StatusRunning, StatusSucceeded, StatusPartial, StatusFailed, StatusCancelled:
	default:
		return nil, "", invalidf("unknown run status %q", f.Status)
	}
	srs, next, err := e.st.ListRuns(ctx, storage.RunFilter{Flow: f.Flow, Status: f.Status, PageSize: f.PageSize, PageToken: f.PageToken})
	if errors.Is(err, storage.ErrBadPageToken) {
		return nil, "", invalidf("page token is not one this server issued")
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]Run, 0, len(srs))
	for _, sr := range srs {
		r := fromStoreRun(sr)
		if st := e.state(r.ID); st != nil { // running: the live counts are fresher
			r, _ = st.snapshot()
		}
		out = append(out, r)
	}
	return out, next, nil
}

// RunRecords returns a page of a run's audit trail (for dry runs: the planned outcomes).
func (e *Engine) RunRecords(ctx context.Context, runID, pageToken string, pageSize int) ([]RecordOutcome, string, error) {
	return e.FilterRunRecords(ctx, runID, RecordFilter{}, pageToken, pageSize)
}

// RecordFilter selects a run's audit rows by action ("add", "update", "skip", "fail") and outcome
// ("ok", "transient", "permanent", "skipped", "dropped", "discarded"); an empty field matches any.
type RecordFilter struct {
	Action, Outcome string
}

func (f RecordFilter) keeps(r RecordOutcome) bool {
	return (f.Action == "" || r.Action == f.Action) && (f.Outcome == "" || r.Outcome == f.Outcome)
}

// FilterRunRecords returns a page of a run's audit rows that f selects, in sequence order (for dry
// runs: the planned outcomes). A page token continues the same filter.
func (e *Engine) FilterRunRecords(ctx context.Context, runID string, f RecordFilter, pageToken string, pageSize int) ([]RecordOutcome, string, error) {
	if st := e.state(runID); st != nil {
		r, _ := st.snapshot()
		if r.DryRun {
			if pageSize <= 0 {
				pageSize = 100
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			var from int
			if pageToken != "" {
				if _, err := fmt.Sscanf(pageToken, "%d", &from); err != nil || from < 0 || from > len(st.records) {
					return nil, "", invalidf("page token is not one this server issued")
				}
			}
			var out []RecordOutcome
			i := from
			for ; i < len(st.records) && len(out) < pageSize; i++ {
				if f.keeps(st.records[i]) {
					out = append(out, st.records[i])
				}
			}
			next := ""
			if i < len(st.records) {
				next = fmt.Sprint(i)
			}
			return out, next, nil
		}
	}
	if _, err := e.GetRun(ctx, runID); err != nil {
		return nil, "", err
	}
	recs, next, err := e.st.RunRecords(ctx, runID, storage.RecordFilter{Action: f.Action, Outcome: f.Outcome}, pageToken, pageSize)
	if errors.Is(err, storage.ErrBadPageToken) {
		return nil, "", invalidf("page token is not one this server issued")
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]RecordOutcome, 0, len(recs))
	for _, r := range recs {
		out = append(out, RecordOutcome{SourceKey: r.SourceKey, TargetKey: r.TargetKey, Action: r.Action, Attempt: r.Attempt,
			Vendor: r.Vendor, Operation: r.Operation, Request: r.Request, Response: r.Response, Outcome: r.Outcome, Error: r.Error, At: r.At})
	}
	return out, next, nil
}

// Cancel asks a running run to stop at its next page boundary: the page being delivered is finished
// and committed, and the run ends cancelled. A run still queued ends cancelled without reading
// anything. It returns the run as it is now (still running); ErrRunEnded for a run that has ended,
// ErrNotFound for one that does not exist.
func (e *Engine) Cancel(ctx context.Context, runID string) (Run, error) {
	if e.cfg.Shared {
		return e.cancelShared(ctx, runID)
	}
	st := e.state(runID)
	if st == nil || st.isDone() {
		r, err := e.GetRun(ctx, runID)
		if err != nil {
			return Run{}, err
		}
		if r.Done() {
			return Run{}, fmt.Errorf("cancel run %s (%s): %w", runID, r.Status, ErrRunEnded)
		}
		// Stored as running but not held here: its process died and the run was never taken over.
		return Run{}, fmt.Errorf("cancel run %s: it is not running in this gateway: %w", runID, ErrRunEnded)
	}
	st.requestStop()
	r, _ := st.snapshot()
	return r, nil
}

// Shutdown stops starting runs, cancels the running ones and waits (at most until ctx ends) until
// their state is committed.
func (e *Engine) Shutdown(ctx context.Context) error {
	if e.cfg.Shared {
		return e.shutdownShared(ctx)
	}
	e.mu.Lock()
	e.closing = true
	var queued []*runState
	for _, st := range e.live {
		queued = append(queued, st)
	}
	e.mu.Unlock()
	e.cancel()
	// Runs still waiting in the job queue will not start: they end cancelled now, not "running"
	// until the next start marks them failed.
	for _, st := range queued {
		if st.claim() && !st.isDone() {
			e.finish(st, StatusCancelled, errRunCancelled)
		}
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("runs still stopping: %w", ctx.Err())
	}
}

// flowNames lists the engine's flows by name.
func (e *Engine) flowNames() []string {
	names := make([]string, 0, len(e.flows))
	for n := range e.flows {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
