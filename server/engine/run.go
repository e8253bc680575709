package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage"
)

// errLimitReached stops a source read once the run's record limit is reached.
var errLimitReached = errors.New("record limit reached")

// pageCommitter is the one store write a run makes per page.
type pageCommitter interface {
	CommitPage(ctx context.Context, p storage.PageCommit) error
}

// runner is one run in progress.
type runner struct {
	e     *Engine
	f     *Flow
	st    *runState
	opts  Options
	log   *slog.Logger
	audit *audit
	// reader is the read-only view of the store, overlaid with the mappings of the page being
	// committed; writer is nil for dry runs, which therefore cannot write a page.
	reader *pipelineReader
	writer pageCommitter
	// inflight is the page commit running while the next page is planned and delivered.
	inflight *pendingCommit
	// flights are the pages planned whose deliveries have not landed yet, oldest first: at most two
	// for a flow with OverlapWrites (the next page is delivered while the one before finishes), else
	// one, landed before its page returns.
	flights []*flight
	// read counts the records read, those of the pages in flight included (counts.Read counts the
	// landed pages'); failed is set once a page's delivery or commit failed, after which no commit
	// moves the checkpoint or the run's cursor.
	read     int64
	failed   bool
	vars     mapping.Vars
	counts   Counts
	progress progress
	// checkpoint is the flow's checkpoint as committed so far; it only moves forward.
	checkpoint     storage.Cursor
	moveCheckpoint bool
	// retriedBefore is the retried count of the executions of this run before this one (a run taken
	// over); saveWindow is the run's window, recorded with its first commit so that a gateway taking
	// the run over reads the same window; windowed is set when the run reads a window (then each page
	// commit records the run's cursor).
	retriedBefore int64
	saveWindow    *storage.Window
	windowed      bool
	// pages counts the pages this execution has begun: a slice hands over only after one at least,
	// so every execution makes progress.
	pages int
	// rereadUntil, while an incremental run reads its window, is the checkpoint it started from: a
	// record at or before it was read by the run that committed that checkpoint, and the overlap
	// reads it again. Found unchanged, such a record is counted as skipped but not recorded in the
	// trail, so that runs with nothing new (a schedule every minute after a bulk import) do not
	// write the overlap's records again each time. Nil otherwise (full resyncs, explicit windows
	// and keys, dead letters: their unchanged records are recorded).
	rereadUntil *storage.Cursor
}

func (e *Engine) execute(ctx context.Context, f *Flow, st *runState, opts Options) {
	r0, _ := st.snapshot()
	log := e.log.With("run_id", r0.ID, "flow", f.Name)
	ru := &runner{e: e, f: f, st: st, opts: opts, log: log, audit: &audit{dry: opts.DryRun}, reader: &pipelineReader{Reader: e.st.ReadOnly()}}
	if !opts.DryRun {
		ru.writer = e.st
	}
	if rs := st.resume; rs != nil {
		// Taken over: the counts go on from what the previous executions committed.
		ru.counts, ru.retriedBefore = rs.Counts, rs.Counts.Retried
		st.update(func(r *Run) { r.Counts = rs.Counts })
	}
	ctx = withAudit(ctx, ru.audit)
	ru.read = ru.counts.Read
	ru.progress.set(ru.counts)
	stopProgress := ru.publishProgress()
	err := ru.run(ctx)
	if errors.Is(err, errLimitReached) { // wherever the limit struck: dead letters, keys or the window
		err = nil
	}
	// The last pages' deliveries and commit may still be running (their progress still shows); a
	// run whose last page did not commit has failed.
	if werr := ru.settle(ctx); werr != nil {
		err = errors.Join(err, werr)
	}
	stopProgress()
	ru.counts.Retried = ru.retried()
	// Attempts made after the last page commit (the read that found no more records, or the failed
	// calls that ended the run) still belong in the audit trail.
	counts := ru.counts
	if cerr := ru.commit(ctx, storage.PageCommit{Flow: f.Name, RunID: r0.ID, Counts: &counts}); cerr != nil {
		log.Error("record the run's last vendor attempts", "error", cerr)
	}
	st.update(func(r *Run) { r.Counts = ru.counts })
	switch {
	case errors.Is(err, errSliceEnded):
		log.Info("run handed over at a page boundary", "read", ru.counts.Read)
		e.handOver(st)
	case errors.Is(err, errStopRequested):
		e.finish(st, StatusCancelled, errStopRequested)
	case err == nil && ru.counts.Failed > 0:
		e.finish(st, StatusPartial, nil)
	case err == nil:
		e.finish(st, StatusSucceeded, nil)
	case ctx.Err() != nil:
		e.finish(st, StatusCancelled, errRunCancelled)
	default:
		log.Error("run failed", "error", err)
		e.finish(st, StatusFailed, err)
	}
}

func (ru *runner) run(ctx context.Context) error {
	now := ru.e.cfg.Now()
	cp, haveCP, err := ru.reader.Checkpoint(ctx, ru.f.Name)
	if err != nil {
		return err
	}
	ru.checkpoint = cp
	q, move := readQuery(ru.f, ru.opts, cp, haveCP, now)
	ru.moveCheckpoint = move
	var reread *storage.Cursor
	if haveCP && !ru.opts.FullResync && ru.opts.Window == nil {
		reread = &cp
	}
	if ru.opts.DryRun {
		ru.moveCheckpoint = false
	}
	windowStart := q.After.Time
	resumed := false
	ru.windowed = len(ru.opts.SourceKeys) == 0 && !ru.opts.retryOnly()
	if rs := ru.st.resume; rs != nil && !rs.WindowEnd.IsZero() {
		// A run taken over reads the window it began with, after its last committed page.
		windowStart, q.End = rs.WindowStart, rs.WindowEnd
		if c := rs.Cursor; c != nil {
			q.After, resumed = *c, true
			if ru.f.TimeOnlyCursor {
				q.After = storage.Cursor{Time: c.Time}
			}
		}
	} else if ru.windowed && !ru.opts.DryRun {
		ru.saveWindow = &storage.Window{Start: windowStart, End: q.End}
	}
	ru.vars = mapping.Vars{LastSyncTime: windowStart, CurrentTime: q.End}
	ru.st.update(func(r *Run) {
		if ru.windowed {
			r.WindowStart, r.WindowEnd = windowStart, q.End
		}
	})
	ru.log.Info("run started", "window_start", q.After.Time, "window_end", q.End, "dry_run", ru.opts.DryRun,
		"full_resync", ru.opts.FullResync, "keys", len(ru.opts.SourceKeys))

	if ru.opts.retryOnly() {
		ru.moveCheckpoint = false
		return ru.retryOnly(ctx)
	}

	if len(ru.opts.SourceKeys) > 0 {
		recs, err := ru.f.Source.Fetch(ctx, ru.opts.SourceKeys)
		if err != nil {
			return fmt.Errorf("fetch source records: %w", err)
		}
		ru.moveCheckpoint = false
		return ru.page(ctx, recs)
	}

	if resumed {
		ru.log.Info("run resumed after its last committed page", "after", q.After.Time, "after_key", q.After.Key, "read", ru.counts.Read)
		ru.rereadUntil = reread
		return ru.readWindow(ctx, q)
	}
	// Dead letters first: they are the oldest undelivered records.
	dls, err := ru.reader.DeadLetters(ctx, ru.f.Name, ru.e.cfg.DeadLetterBatch)
	if err != nil {
		return err
	}
	if len(dls) > 0 {
		ru.log.Info("retrying dead letters", "count", len(dls))
		move := ru.moveCheckpoint
		ru.moveCheckpoint = false
		if err := ru.retryDeadLetters(ctx, dls); err != nil {
			return err
		}
		ru.moveCheckpoint = move
	}
	ru.rereadUntil = reread
	return ru.readWindow(ctx, q)
}

// readWindow reads the run's window page by page.
func (ru *runner) readWindow(ctx context.Context, q ReadQuery) error {
	err := ru.f.Source.Read(ctx, q, func(recs []SourceRecord) error { return ru.page(ctx, recs) })
	if err != nil && !errors.Is(err, errLimitReached) && !errors.Is(err, errSliceEnded) && !errors.Is(err, errStopRequested) {
		return fmt.Errorf("read source: %w", err)
	}
	return err // nil, errLimitReached, or a stop at a page boundary
}

// retried is the run's count of vendor retries, over all its executions.
func (ru *runner) retried() int64 { return ru.retriedBefore + ru.audit.retried.Load() }

// retryDeadLetters delivers the dead letters again, as one page that does not move the checkpoint.
// Flows whose source reads by key retry the record as it is now (a letter whose record is gone or no
// longer eligible is dropped, with an audit row saying so); the others retry the record stored with
// the letter, and a newer version of it arrives through the window as usual.
func (ru *runner) retryDeadLetters(ctx context.Context, dls []storage.DeadLetter) error {
	if ru.f.FetchDeadLetters {
		keys := make([]string, len(dls))
		for i, d := range dls {
			keys[i] = d.SourceKey
		}
		recs, err := ru.f.Source.Fetch(ctx, keys)
		if err != nil {
			return fmt.Errorf("fetch dead-lettered records: %w", err)
		}
		found := make(map[string]bool, len(recs))
		for _, r := range recs {
			found[r.Key] = true
		}
		gone := storage.PageCommit{Flow: ru.f.Name, RunID: ru.st.run.ID}
		for _, k := range keys {
			if !found[k] {
				gone.Resolved = append(gone.Resolved, k)
				ru.record(&gone, plan{rec: SourceRecord{Key: k}}, ActionSkip, "dropped", "", "",
					errors.New("dead letter dropped: the record is no longer in the source or no longer eligible for this flow"))
			}
		}
		if len(gone.Resolved) > 0 {
			if err := ru.commit(ctx, gone); err != nil {
				return err
			}
		}
		return ru.page(ctx, recs)
	}
	recs := make([]SourceRecord, 0, len(dls))
	unreadable := storage.PageCommit{Flow: ru.f.Name, RunID: ru.st.run.ID}
	for _, d := range dls {
		r, err := ru.decodeLetter(d)
		if err != nil {
			// A letter that cannot be retried would hold its retry slot forever: it is resolved, and
			// the audit trail says why (the record comes again when it next changes in the source).
			ru.log.Warn("dead letter without a readable source record", "source_key", d.SourceKey, "error", err)
			unreadable.Resolved = append(unreadable.Resolved, d.SourceKey)
			ru.record(&unreadable, plan{rec: SourceRecord{Key: d.SourceKey}}, ActionSkip, "dropped", "", string(d.Payload),
				fmt.Errorf("dead letter dropped: its stored source record cannot be read (%w); the record is synced again when it next changes in the source", err))
			continue
		}
		recs = append(recs, r)
	}
	if len(unreadable.Resolved) > 0 {
		if err := ru.commit(ctx, unreadable); err != nil {
			return err
		}
	}
	return ru.page(ctx, recs)
}

// decodeLetter turns the source record stored with a dead letter back into a record.
func (ru *runner) decodeLetter(d storage.DeadLetter) (SourceRecord, error) {
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(d.Payload))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return SourceRecord{}, err
	}
	if fields == nil {
		return SourceRecord{}, errors.New("no source record was stored")
	}
	r, err := ru.f.Source.Decode(fields)
	if err != nil {
		return SourceRecord{}, err
	}
	if r.Key != d.SourceKey {
		return SourceRecord{}, fmt.Errorf("the stored record is %q, not %q", r.Key, d.SourceKey)
	}
	return r, nil
}

// dedupe keeps one version of each source key in a page: the last, which is the newest in cursor
// order. Two versions of one record in a page would otherwise both be planned as adds.
func dedupe(recs []SourceRecord) []SourceRecord {
	last := make(map[string]int, len(recs))
	for i, r := range recs {
		last[r.Key] = i
	}
	if len(last) == len(recs) {
		return recs
	}
	out := make([]SourceRecord, 0, len(last))
	for i, r := range recs {
		if last[r.Key] == i {
			out = append(out, r)
		}
	}
	return out
}

// retryOnly retries the selected dead letters (Options.RetryKeys), or all of the flow's
// (Options.RetryAll) in batches of Config.DeadLetterBatch in source-key order, each letter once.
func (ru *runner) retryOnly(ctx context.Context) error {
	if !ru.opts.RetryAll {
		for keys := range slices.Chunk(ru.opts.RetryKeys, ru.e.cfg.DeadLetterBatch) {
			dls, err := ru.reader.DeadLettersByKey(ctx, ru.f.Name, keys)
			if err != nil {
				return err
			}
			if len(dls) == 0 {
				continue
			}
			if err := ru.retryDeadLetters(ctx, dls); err != nil {
				return err
			}
		}
		return nil
	}
	after := ""
	for {
		dls, err := ru.reader.DeadLetterPage(ctx, ru.f.Name, after, ru.e.cfg.DeadLetterBatch)
		if err != nil || len(dls) == 0 {
			return err
		}
		after = dls[len(dls)-1].SourceKey
		if err := ru.retryDeadLetters(ctx, dls); err != nil {
			return err
		}
		// The batch's commit may still run; the next page of letters must not see its letters again,
		// which the key order guarantees (letters that fail again keep their keys, before after).
	}
}

// flight is one page planned, its deliveries under way: what its commit holds so far (the skips,
// the failures of its planning), and the target's Write in the background.
type flight struct {
	commit     storage.PageCommit
	plans      []plan
	toWrite    []Planned
	writeIdx   []int // the index in plans of each of toWrite
	lastCursor storage.Cursor
	// planned is what the planning counted (read, skipped, failed; a dry run's adds and updates).
	planned Counts
	// keys are the source keys being written (nil when nothing is).
	keys map[string]bool
	// audit holds the vendor attempts of the page's Write (nil when nothing is written), prog its
	// live counts.
	audit *audit
	prog  *pageProgress
	// done is closed when out, one Delivery per toWrite, is set, or the Write panicked (panicked).
	done     chan struct{}
	out      []Delivery
	panicked *writePanic
}

// writePanic is a panic of a target's Write, raised again on the run's goroutine when its page lands
// (where a panicking flow fails its run), with the stack of the Write that panicked.
type writePanic struct {
	value any
	stack []byte
}

func (p *writePanic) String() string {
	return fmt.Sprintf("%v\n[in the target's Write:]\n%s", p.value, p.stack)
}

// writes reports whether any of recs is being written by f.
func (f *flight) writes(recs []SourceRecord) bool {
	for _, r := range recs {
		if f.keys[r.Key] {
			return true
		}
	}
	return false
}

// page plans one page of source records and starts delivering it; the page lands (its outcomes
// counted and its commit started) once its deliveries are done: before page returns, or, for a flow
// with OverlapWrites, while the next page is delivered. A record of this page that the page before is
// still writing waits for that page to land first, so that it is planned against what was delivered
// for it.
func (ru *runner) page(ctx context.Context, recs []SourceRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A page boundary: the place CancelRun stops a run (everything before it is delivered and its
	// commit is under way; the run waits for it before it ends).
	if ru.st.stopping() {
		return errStopRequested
	}
	if ru.pages > 0 && ru.sliceOver() {
		return errSliceEnded
	}
	ru.pages++
	// The checkpoint candidate is the page's last cursor, taken before de-duplication.
	var lastCursor storage.Cursor
	if len(recs) > 0 {
		lastCursor = recs[len(recs)-1].Cursor
	}
	recs = dedupe(recs)
	limited := false
	if ru.opts.Limit > 0 {
		left := ru.opts.Limit - int(ru.read)
		if left <= 0 {
			return errLimitReached
		}
		if len(recs) >= left {
			recs, limited = recs[:left], true
			lastCursor = recs[len(recs)-1].Cursor
		}
	}
	if len(recs) == 0 {
		if limited {
			return errLimitReached
		}
		return nil
	}
	ru.read += int64(len(recs))
	for len(ru.flights) > 0 && ru.flights[len(ru.flights)-1].writes(recs) {
		if err := ru.land(ctx); err != nil {
			return err
		}
	}

	plans, err := ru.e.plan(ctx, ru.f, ru.f.Spec, ru.reader, recs, ru.vars)
	if err != nil {
		return err
	}
	fl := &flight{commit: storage.PageCommit{Flow: ru.f.Name, RunID: ru.st.run.ID}, plans: plans, lastCursor: lastCursor,
		planned: Counts{Read: int64(len(recs))}, done: make(chan struct{})}
	for i, p := range plans {
		switch p.action {
		case ActionSkip:
			// Unchanged since the last delivery: whatever a dead letter held for it is delivered.
			fl.planned.Skipped++
			fl.commit.Resolved = append(fl.commit.Resolved, p.rec.Key)
			if ru.rereadUntil != nil && !cursorAfter(p.rec.Cursor, *ru.rereadUntil) {
				continue // read again in the overlap: counted, not recorded (rereadUntil)
			}
			ru.record(&fl.commit, p, ActionSkip, "skipped", p.mapping.TargetKey, "", nil)
		case ActionFail:
			fl.planned.Failed++
			ru.metric("failed")
			ru.record(&fl.commit, p, ActionFail, "permanent", "", "", p.err)
			fl.commit.DeadLetters = append(fl.commit.DeadLetters, deadLetter(p.rec, p.err))
		default:
			if ru.opts.DryRun {
				// A record the target cannot be sent (its payload does not fit the request) is the
				// failure the real run would dead-letter, not a planned write.
				body, _, err := ru.f.Target.Prepare(p.planned())
				if err != nil {
					fl.planned.Failed++
					ru.record(&fl.commit, p, ActionFail, "permanent", targetKeyOf(p), string(body), err)
					continue
				}
				if p.action == ActionAdd {
					fl.planned.Added++
				} else {
					fl.planned.Updated++
				}
				ru.record(&fl.commit, p, p.action, "planned", targetKeyOf(p), string(body), nil)
				continue
			}
			fl.toWrite = append(fl.toWrite, p.planned())
			fl.writeIdx = append(fl.writeIdx, i)
		}
	}
	if len(fl.toWrite) > 0 {
		if err := ru.reserveKeys(ctx, fl.toWrite); err != nil {
			return err
		}
	}
	ru.launch() // the commit of the page landed last runs while this page is delivered
	fl.prog = ru.progress.begin(fl.planned)
	if len(fl.toWrite) == 0 {
		close(fl.done)
	} else {
		fl.keys = make(map[string]bool, len(fl.toWrite))
		for _, p := range fl.toWrite {
			fl.keys[p.Record.Key] = true
		}
		fl.audit = &audit{parent: ru.audit}
		wctx := withProgress(withAudit(ctx, fl.audit), fl.prog)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					fl.panicked = &writePanic{value: p, stack: debug.Stack()}
				}
				close(fl.done)
			}()
			fl.out = ru.f.Target.Write(wctx, fl.toWrite)
		}()
	}
	ru.flights = append(ru.flights, fl)
	keep := 0
	if ru.f.OverlapWrites {
		keep = 1
	}
	for len(ru.flights) > keep {
		if err := ru.land(ctx); err != nil {
			return err
		}
	}
	if limited {
		return errLimitReached
	}
	return nil
}

// land waits for the oldest page in flight to be delivered, counts its outcomes and makes its commit
// the pending one. A page whose delivery failed (transient beyond the retry budget, or cancelled)
// returns the error, and from then on no commit moves the checkpoint: the next run reads the page
// again.
func (ru *runner) land(ctx context.Context) error {
	fl := ru.flights[0]
	ru.flights = ru.flights[1:]
	<-fl.done
	if fl.panicked != nil {
		panic(fl.panicked)
	}
	commit := fl.commit
	delta := fl.planned
	var pageErr error
	for j, d := range fl.out {
		p := fl.plans[fl.writeIdx[j]]
		if fl.toWrite[j].ReservedKey != "" && (d.Err == nil || IsPermanent(d.Err)) {
			// The create is settled (delivered and mapped, or refused): its intent goes. A create
			// whose outcome is unknown keeps it.
			commit.ClearIntents = append(commit.ClearIntents, p.rec.Key)
		}
		switch {
		case d.Err == nil:
			outcome := "added"
			if d.Action == ActionAdd {
				delta.Added++
			} else {
				delta.Updated++
				outcome = "updated"
			}
			ru.metric(outcome)
			commit.Mappings = append(commit.Mappings, storage.Mapping{SourceKey: p.rec.Key, TargetKey: d.TargetKey,
				PayloadHash: p.payload.Hash(), Payload: p.payload.Canonical()})
			commit.Resolved = append(commit.Resolved, p.rec.Key)
			ru.record(&commit, p, d.Action, "ok", d.TargetKey, string(d.Body), nil)
		case IsPermanent(d.Err):
			delta.Failed++
			ru.metric("failed")
			commit.DeadLetters = append(commit.DeadLetters, deadLetter(p.rec, d.Err))
			ru.record(&commit, p, ActionFail, "permanent", d.TargetKey, string(d.Body), d.Err)
		default:
			// Transient beyond the retry budget, or cancelled: not delivered, not dead-lettered; the
			// checkpoint stays before this page so the next run reads it again.
			if pageErr == nil {
				pageErr = d.Err
			}
			ru.metric("transient")
			ru.record(&commit, p, p.action, "transient", d.TargetKey, string(d.Body), d.Err)
		}
	}
	for _, p := range fl.plans {
		if p.action == ActionSkip {
			ru.metric("skipped")
		}
	}
	first := pageErr != nil && !ru.failed
	if pageErr != nil {
		ru.failed = true
	}
	if !ru.failed && ru.moveCheckpoint && cursorAfter(fl.lastCursor, ru.checkpoint) {
		commit.Checkpoint = &fl.lastCursor
	}
	if !ru.failed && ru.windowed && !fl.lastCursor.Time.IsZero() {
		// How far the run has read: where a gateway taking it over resumes.
		commit.RunCursor = &fl.lastCursor
	}
	ru.counts = addCounts(ru.counts, delta)
	ru.counts.Retried = ru.retried()
	counts := ru.counts
	commit.Counts = &counts
	ru.progress.land(fl.prog, counts)
	// The page commits in the background while the next page is read, planned and delivered. The
	// checkpoint is taken as moved now: if this commit fails, the run stops before committing anything
	// after it that moves the checkpoint.
	if err := ru.commitAsync(ctx, commit, fl.audit, func() { ru.st.update(func(r *Run) { r.Counts = maxCounts(r.Counts, counts) }) }); err != nil {
		ru.failed = true
		return err
	}
	if commit.Checkpoint != nil {
		ru.checkpoint = *commit.Checkpoint
	}
	if first {
		return fmt.Errorf("delivery failed, checkpoint kept at the last durable page: %w", pageErr)
	}
	return nil
}

// settle lands the pages in flight and waits for the last commit; it returns the first error.
func (ru *runner) settle(ctx context.Context) error {
	var errs []error
	for len(ru.flights) > 0 {
		if err := ru.land(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := ru.wait(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// addCounts adds b's record counts to a (Retried is the run's own, set separately).
func addCounts(a, b Counts) Counts {
	a.Read += b.Read
	a.Added += b.Added
	a.Updated += b.Updated
	a.Skipped += b.Skipped
	a.Failed += b.Failed
	return a
}

// reserveKeys records, before anything is sent, the target key each create will use (for targets
// that choose their keys), and makes the creates use exactly those keys. A create whose outcome is
// lost is then sent again under the same key by a later run, however the record changed meanwhile.
func (ru *runner) reserveKeys(ctx context.Context, items []Planned) error {
	kr, ok := ru.f.Target.(KeyReserver)
	if !ok {
		return nil
	}
	var fresh []storage.Intent
	for i := range items {
		p := &items[i]
		if p.Action != ActionAdd {
			continue
		}
		if p.ReservedKey == "" {
			key, err := kr.CreateKey(*p)
			if err != nil || key == "" {
				continue // the write fails on it and says why
			}
			p.ReservedKey = key
			fresh = append(fresh, storage.Intent{SourceKey: p.Record.Key, TargetKey: key})
		}
	}
	if err := ru.e.st.RecordIntents(ctx, ru.f.Name, fresh); err != nil {
		return fmt.Errorf("record create intents: %w", err)
	}
	return nil
}

// commit writes c now, after the page commit in flight. A cancelled run still commits what it
// delivered, on a fresh context: a vendor write without its local commit would be a duplicate waiting
// to happen.
func (ru *runner) commit(ctx context.Context, c storage.PageCommit) error {
	if err := ru.settle(ctx); err != nil {
		return err
	}
	if ru.writer == nil { // dry run
		ru.audit.drain()
		return nil
	}
	c.Records = mergeAttempts(ru.audit.drain(), c.Records)
	c.Window, ru.saveWindow = ru.saveWindow, nil
	return ru.write(ctx, c)
}

// commitAsync waits for the page commit in flight, then makes c the pending commit and returns; done
// runs once c is durable. c is written in the background once launched: by the next page, as soon as
// that page's create intents are durable (so the intents' small transaction never waits behind this
// page's commit, SQLite having one writer), or by wait. Until c is durable, the planner sees its
// mappings. commitAsync returns the error of the commit it waited for, and then does not take c.
func (ru *runner) commitAsync(ctx context.Context, c storage.PageCommit, page *audit, done func()) error {
	if err := ru.wait(); err != nil {
		return err
	}
	attempts := ru.audit.drain()
	if page != nil { // the vendor attempts of the page's own Write
		attempts = append(attempts, page.drain()...)
	}
	if ru.writer == nil { // dry run
		done()
		return nil
	}
	c.Records = mergeAttempts(attempts, c.Records)
	c.Window, ru.saveWindow = ru.saveWindow, nil
	p := &pendingCommit{done: make(chan struct{})}
	if len(c.Mappings) > 0 {
		p.mappings = make(map[string]storage.Mapping, len(c.Mappings))
		for _, m := range c.Mappings {
			p.mappings[m.SourceKey] = m
		}
	}
	ru.inflight = p
	ru.reader.setPending(p)
	p.launch = func() {
		go func() {
			defer close(p.done)
			p.err = ru.write(ctx, c)
			ru.reader.clearPending(p)
			if p.err == nil {
				done()
			}
		}()
	}
	return nil
}

// launch starts writing the pending commit, if it has not started.
func (ru *runner) launch() {
	if p := ru.inflight; p != nil && p.launch != nil {
		start := p.launch
		p.launch = nil
		start()
	}
}

// wait waits for the page commit in flight, if any (launching it first), and returns its error.
func (ru *runner) wait() error {
	p := ru.inflight
	if p == nil {
		return nil
	}
	ru.launch()
	<-p.done
	ru.inflight = nil
	return p.err
}

// write commits c on a context that outlives the run's cancellation, bounded by CommitTimeout.
func (ru *runner) write(ctx context.Context, c storage.PageCommit) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ru.e.cfg.CommitTimeout)
	defer cancel()
	if err := ru.writer.CommitPage(cctx, c); err != nil {
		return fmt.Errorf("commit page: %w", err)
	}
	return nil
}

// metric counts one record outcome; dry runs are not counted.
func (ru *runner) metric(outcome string) {
	if !ru.opts.DryRun {
		ru.e.metrics.records.WithLabelValues(ru.f.Name, outcome).Inc()
	}
}

// record adds the per-record audit row (the record's outcome in this run).
func (ru *runner) record(c *storage.PageCommit, p plan, action, outcome, targetKey, body string, err error) {
	row := storage.Record{SourceKey: p.rec.Key, TargetKey: targetKey, Action: action, Vendor: "", Operation: ru.f.Target.Operation(),
		Request: body, Outcome: outcome, At: ru.e.cfg.Now()}
	if err != nil {
		row.Error = err.Error()
	}
	if ru.opts.DryRun {
		// A dry run keeps its outcomes in memory, so only the first few of them.
		keep := ru.e.cfg.DryRunRecords
		ru.st.mu.Lock()
		switch n := len(ru.st.records); {
		case n < keep:
			ru.st.records = append(ru.st.records, RecordOutcome{SourceKey: row.SourceKey, TargetKey: row.TargetKey, Action: row.Action,
				Operation: row.Operation, Request: validText(row.Request), Outcome: row.Outcome, Error: validText(row.Error), At: row.At})
		case n == keep:
			ru.st.records = append(ru.st.records, RecordOutcome{Outcome: "truncated", At: row.At,
				Error: fmt.Sprintf("a dry run keeps its first %d outcomes; the run's counts cover every record", keep)})
		}
		ru.st.mu.Unlock()
		return
	}
	c.Records = append(c.Records, row)
}

// readQuery is the window a run reads: the explicit window, everything (full resync, first run), or
// from the checkpoint less the overlap. move reports whether the run may move the checkpoint.
func readQuery(f *Flow, opts Options, cp storage.Cursor, haveCP bool, now time.Time) (q ReadQuery, move bool) {
	q = ReadQuery{End: now, UseOrgNumbers: opts.UseOrgNumbers}
	switch {
	case opts.Window != nil:
		q.After = storage.Cursor{Time: opts.Window.Start}
		q.End = opts.Window.End
		return q, false
	case opts.FullResync || !haveCP:
		return q, true
	case f.Overlap > 0 || f.TimeOnlyCursor:
		q.After = storage.Cursor{Time: cp.Time.Add(-f.Overlap)}
	default:
		q.After = cp
	}
	return q, true
}

// deadLetter is the letter kept for a record that failed permanently, with its source record to retry
// it from. A record that does not encode as JSON (a value JSON cannot hold) is kept with its values
// as text, and the letter says so, rather than without a record.
func deadLetter(r SourceRecord, cause error) storage.DeadLetter {
	d := storage.DeadLetter{SourceKey: r.Key, Attempts: 1, LastError: cause.Error()}
	fields := r.AllFields()
	b, err := json.Marshal(fields)
	if err != nil {
		text := make(map[string]string, len(fields))
		for k, v := range fields {
			text[k] = fmt.Sprint(v)
		}
		b, _ = json.Marshal(text) // strings always encode
		d.LastError += fmt.Sprintf(" (the source record is kept with its values as text: %v)", err)
	}
	d.Payload = b
	return d
}

func cursorAfter(a, b storage.Cursor) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	return a.Key > b.Key
}

// plan is the planner's decision for one record.
type plan struct {
	spec    *mapping.Spec
	rec     SourceRecord
	payload *mapping.Payload
	action  string
	mapping *storage.Mapping
	// reserved is the target key a create intent recorded for an unmapped record.
	reserved string
	err      error
}

func (p plan) planned() Planned {
	return Planned{Record: p.rec, Payload: p.payload, Action: p.action, Mapping: p.mapping, Spec: p.spec, ReservedKey: p.reserved}
}

func targetKeyOf(p plan) string {
	if p.mapping != nil {
		return p.mapping.TargetKey
	}
	return ""
}

// plan maps records and decides add / update / skip against the id mappings. It only reads the store.
func (e *Engine) plan(ctx context.Context, f *Flow, spec *mapping.Spec, reader storage.Reader, recs []SourceRecord, vars mapping.Vars) ([]plan, error) {
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Key
	}
	maps, err := reader.Mappings(ctx, f.Name, keys)
	if err != nil {
		return nil, err
	}
	var unmapped []string
	for _, k := range keys {
		if _, ok := maps[k]; !ok {
			unmapped = append(unmapped, k)
		}
	}
	var reserved map[string]string
	if _, ok := f.Target.(KeyReserver); ok && len(unmapped) > 0 {
		if reserved, err = reader.Intents(ctx, f.Name, unmapped); err != nil {
			return nil, err
		}
	}
	out := make([]plan, 0, len(recs))
	for _, r := range recs {
		p := plan{spec: spec, rec: r, reserved: reserved[r.Key]}
		if m, ok := maps[r.Key]; ok {
			p.mapping = &m
		}
		p.payload, p.err = spec.Render(r.Fields, vars)
		switch {
		case p.err != nil:
			p.action = ActionFail
			p.err = fmt.Errorf("mapping: %w", p.err)
		case p.mapping == nil:
			p.action = ActionAdd
		case p.mapping.PayloadHash == p.payload.Hash():
			p.action = ActionSkip
		default:
			p.action = ActionUpdate
		}
		out = append(out, p)
	}
	return out, nil
}
