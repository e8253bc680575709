package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// Shared mode (Config.Shared): several gateways share one store and one job system (River on
// PostgreSQL). A run that writes is a stored run plus a job; the gateway whose job system picks the
// job executes the run (executeShared) for a slice of time, committing page by page; at the end of
// the slice, at a shutdown, or when its flow lock is lost, it stops at a page boundary with the run
// still running, and the job system hands it on. Whoever executes it next resumes it after its last
// committed page (the run's window and cursor are committed with its pages), with the counts it has
// committed. When a gateway dies, River's rescuer makes its job available again after the configured
// time, and another gateway resumes the run the same way. The store's flow lock (storage.FlowLocker)
// makes sure two executions of one flow never overlap, and the reconciliation that makes a restart
// safe (mappings, create intents, dead letters) makes a resumed page safe to deliver again.

// executeShared executes a stored run until it ends or its slice is over (see Execute).
func (e *Engine) executeShared(ctx context.Context, runID string, until time.Time) (bool, error) {
	sr, err := e.st.GetRun(ctx, runID)
	if errors.Is(err, storage.ErrNotFound) {
		e.log.Warn("run job for a run the store does not hold; skipped", "run_id", runID)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read run %s: %w", runID, err)
	}
	if sr.Status != string(StatusRunning) {
		return true, nil
	}
	f, ok := e.flows[sr.Flow]
	if !ok {
		e.failStored(sr, fmt.Sprintf("this gateway does not serve the flow %q", sr.Flow))
		return true, nil
	}
	var opts Options
	if err := json.Unmarshal(sr.Options, &opts); err != nil {
		e.log.Error("run options unreadable", "run_id", sr.ID, "error", err)
		e.failStored(sr, "the run's stored options cannot be read; see the gateway log")
		return true, nil
	}
	opts.Trigger, opts.Actor = Trigger(sr.Trigger), sr.Actor
	unlock, lost := func() {}, (<-chan struct{})(nil)
	if l, ok := e.st.(storage.FlowLocker); ok {
		u, ls, got, err := l.LockFlow(ctx, f.Name)
		if err != nil {
			return false, fmt.Errorf("lock flow %s: %w", f.Name, err)
		}
		if !got {
			// Another gateway is still executing the flow (finishing a page of a run thought dead).
			return false, nil
		}
		unlock, lost = u, ls
	}
	defer unlock()
	run := fromStoreRun(sr)
	run.Counts = sr.Counts // the committed counts: what was delivered but not committed is delivered again
	rctx, cancel := context.WithCancel(e.base)
	st := &runState{run: run, changed: make(chan struct{}), done: make(chan struct{}), cancel: cancel, ctx: rctx, f: f, opts: opts,
		stop: make(chan struct{}), started: true, resume: &sr, until: until, lost: lost}
	e.mu.Lock()
	if _, busy := e.active[f.Name]; busy || e.closing {
		e.mu.Unlock()
		cancel()
		return false, nil
	}
	e.active[f.Name] = st
	e.live[run.ID] = st
	e.mu.Unlock()
	e.wg.Add(1)
	defer e.wg.Done()
	if sr.CancelRequested {
		st.requestStop()
	}
	if sr.Cursor != nil || sr.Counts.Read > 0 {
		e.log.Info("taking over run", "run_id", run.ID, "flow", f.Name, "committed_read", sr.Counts.Read)
	}
	e.run(st)
	st.mu.Lock()
	handed := st.handedOver
	st.mu.Unlock()
	return !handed, nil
}

// handOver ends this execution of a run that goes on elsewhere: the run stays running in the store.
func (e *Engine) handOver(st *runState) {
	r, _ := st.snapshot()
	e.mu.Lock()
	delete(e.active, r.Flow)
	delete(e.live, r.ID)
	e.mu.Unlock()
	st.mu.Lock()
	st.handedOver = true
	st.mu.Unlock()
	close(st.done)
}

// sliceOver reports whether this execution of the run should hand it over at this page boundary.
func (ru *runner) sliceOver() bool {
	if !ru.e.cfg.Shared || ru.opts.DryRun {
		return false
	}
	if ru.e.handingOver.Load() {
		return true
	}
	if u := ru.st.until; !u.IsZero() && ru.e.cfg.Now().After(u) {
		return true
	}
	if ru.st.lost != nil {
		select {
		case <-ru.st.lost:
			ru.log.Warn("flow lock lost (connection to the database ended); handing the run over")
			return true
		default:
		}
	}
	return false
}

// failStored ends a stored run as failed without executing it; reason is shown to callers as it is.
func (e *Engine) failStored(sr storage.Run, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.CommitTimeout)
	defer cancel()
	sr.Status, sr.FinishedAt, sr.Error = string(StatusFailed), e.cfg.Now(), reason
	if err := e.st.FinishRun(ctx, sr); err != nil {
		e.log.Error("record run end", "run_id", sr.ID, "error", err)
		return
	}
	e.metrics.runs.WithLabelValues(sr.Flow, string(StatusFailed)).Inc()
	e.log.Warn("run failed without executing", "run_id", sr.ID, "flow", sr.Flow, "error", sr.Error)
}

// runningElsewhere fails with a *RunInProgressError when the store holds a running run of flow.
func (e *Engine) runningElsewhere(ctx context.Context, flow string) error {
	runs, _, err := e.st.ListRuns(ctx, storage.RunFilter{Flow: flow, Status: string(StatusRunning), PageSize: 1})
	if err != nil {
		return fmt.Errorf("look for a run in progress: %w", err)
	}
	if len(runs) > 0 {
		return &RunInProgressError{Flow: flow, RunID: runs[0].ID}
	}
	return nil
}

// follow yields a stored run each time it changes (every progress interval at most), until it has
// ended or ctx ends; an error ends it.
func (e *Engine) follow(ctx context.Context, runID string) iter.Seq2[Run, error] {
	return func(yield func(Run, error) bool) {
		var last Run
		first := true
		t := time.NewTicker(e.cfg.ProgressInterval)
		defer t.Stop()
		for {
			r, err := e.GetRun(ctx, runID)
			if err != nil {
				if ctx.Err() == nil {
					yield(Run{}, err)
				}
				return
			}
			if first || r.Status != last.Status || r.Counts != last.Counts || !r.WindowEnd.Equal(last.WindowEnd) {
				if !yield(r, nil) {
					return
				}
			}
			if r.Done() {
				return
			}
			first, last = false, r
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

// watchStore is Watch in shared mode: the run as the store shows it, whichever gateway executes it.
func (e *Engine) watchStore(ctx context.Context, runID string) (<-chan Run, error) {
	r, err := e.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	ch := make(chan Run)
	go func() {
		defer close(ch)
		if r.Done() {
			select {
			case ch <- r:
			case <-ctx.Done():
			}
			return
		}
		for r, err := range e.follow(ctx, runID) {
			if err != nil {
				e.log.Warn("watch run", "run_id", runID, "error", err)
				return
			}
			select {
			case ch <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// cancelShared is Cancel in shared mode: the request is stored, and the gateway executing the run (or
// the next to resume it) stops it at its next page boundary.
func (e *Engine) cancelShared(ctx context.Context, runID string) (Run, error) {
	if st := e.state(runID); st != nil && !st.isDone() {
		st.requestStop()
		if st.opts.DryRun {
			r, _ := st.snapshot()
			return r, nil
		}
	}
	ok, err := e.st.RequestCancel(ctx, runID)
	if errors.Is(err, storage.ErrNotFound) {
		return Run{}, fmt.Errorf("run %s: %w", runID, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("cancel run %s: %w", runID, err)
	}
	r, err := e.GetRun(ctx, runID)
	if err != nil {
		return Run{}, err
	}
	if !ok {
		return Run{}, fmt.Errorf("cancel run %s (%s): %w", runID, r.Status, ErrRunEnded)
	}
	return r, nil
}

// shutdownShared is Shutdown in shared mode: no run starts here any more, and the running ones stop
// at their next page boundary, still running, for another gateway to resume (dry runs, which live in
// this gateway's memory only, are cancelled). When ctx ends first, the runs are cancelled outright.
func (e *Engine) shutdownShared(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	var dry []*runState
	for _, st := range e.live {
		if st.opts.DryRun {
			dry = append(dry, st)
		}
	}
	e.mu.Unlock()
	e.handingOver.Store(true)
	for _, st := range dry {
		st.cancel()
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	defer e.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("runs still stopping: %w", ctx.Err())
	}
}

// FailStranded ends as failed the stored runs that are running but that no job will execute any more
// (hasJob reports false for them: their gateway died before queueing them, or their job was given
// up), started at least grace ago, and reports how many. The job system's leader calls it now and then
// in shared mode, where runs left running are not failed at start-up.
func (e *Engine) FailStranded(ctx context.Context, hasJob func(runID string) bool, grace time.Duration) (int, error) {
	n, token := 0, ""
	for {
		runs, next, err := e.st.ListRuns(ctx, storage.RunFilter{Status: string(StatusRunning), PageSize: 100, PageToken: token})
		if err != nil {
			return n, fmt.Errorf("list running runs: %w", err)
		}
		for _, sr := range runs {
			if e.cfg.Now().Sub(sr.StartedAt) < grace || hasJob(sr.ID) || e.Running(sr.ID) {
				continue
			}
			e.failStored(sr, "interrupted: its gateway stopped before the run could be queued or taken over")
			n++
		}
		if next == "" {
			return n, nil
		}
		token = next
	}
}
