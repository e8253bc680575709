package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/store"
)

// errLimitReached stops a source read once the run's record limit is reached.
var errLimitReached = errors.New("record limit reached")

// runner is one run in progress.
type runner struct {
	e      *Engine
	f      *Flow
	st     *runState
	opts   Options
	log    *slog.Logger
	audit  *audit
	reader store.Reader
	vars   mapping.Vars
	counts Counts
	// checkpoint is the flow's checkpoint as committed so far; it only moves forward.
	checkpoint     store.Cursor
	moveCheckpoint bool
	// dead are the flow's dead-letter keys when the run started; delivering one resolves it.
	dead map[string]bool
}

func (e *Engine) execute(ctx context.Context, f *Flow, st *runState, opts Options) {
	r0, _ := st.snapshot()
	log := e.log.With("run_id", r0.ID, "flow", f.Name)
	ru := &runner{e: e, f: f, st: st, opts: opts, log: log, audit: &audit{dry: opts.DryRun}, reader: e.st, dead: map[string]bool{}}
	ctx = withAudit(ctx, ru.audit)
	err := ru.run(ctx)
	ru.counts.Retried = ru.audit.retried.Load()
	st.update(func(r *Run) { r.Counts = ru.counts })
	switch {
	case err == nil && ru.counts.Failed > 0:
		e.finish(st, StatusPartial, nil)
	case err == nil:
		e.finish(st, StatusSucceeded, nil)
	case ctx.Err() != nil:
		e.finish(st, StatusCancelled, errors.New("run cancelled; pages delivered before the cancel are committed"))
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
	if ru.opts.DryRun {
		ru.moveCheckpoint = false
	}
	ru.vars = mapping.Vars{LastSyncTime: q.After.Time, CurrentTime: q.End}
	ru.st.update(func(r *Run) {
		if len(ru.opts.SourceKeys) == 0 {
			r.WindowStart, r.WindowEnd = q.After.Time, q.End
		}
	})
	ru.log.Info("run started", "window_start", q.After.Time, "window_end", q.End, "dry_run", ru.opts.DryRun,
		"full_resync", ru.opts.FullResync, "keys", len(ru.opts.SourceKeys))

	if len(ru.opts.SourceKeys) > 0 {
		recs, err := ru.f.Source.Fetch(ctx, ru.opts.SourceKeys)
		if err != nil {
			return fmt.Errorf("fetch source records: %w", err)
		}
		ru.moveCheckpoint = false
		return ru.page(ctx, recs)
	}

	// Dead letters first: they are the oldest undelivered records.
	dls, err := ru.reader.DeadLetters(ctx, ru.f.Name, ru.e.cfg.DeadLetterBatch)
	if err != nil {
		return err
	}
	if len(dls) > 0 {
		for _, d := range dls {
			ru.dead[d.SourceKey] = true
		}
		ru.log.Info("retrying dead letters", "count", len(dls))
		// Retried from the source record stored with the letter: some sources (Zhilong) cannot be
		// read by key. A newer version of the record arrives through the window as usual.
		recs := make([]SourceRecord, 0, len(dls))
		for _, d := range dls {
			var fields map[string]any
			if err := json.Unmarshal(d.Payload, &fields); err != nil {
				ru.log.Warn("dead letter without a readable source record", "source_key", d.SourceKey, "error", err)
				continue
			}
			r, err := ru.f.Source.Decode(fields)
			if err != nil {
				ru.log.Warn("dead letter without a readable source record", "source_key", d.SourceKey, "error", err)
				continue
			}
			recs = append(recs, r)
		}
		move := ru.moveCheckpoint
		ru.moveCheckpoint = false
		if err := ru.page(ctx, recs); err != nil {
			return err
		}
		ru.moveCheckpoint = move
	}

	err = ru.f.Source.Read(ctx, q, func(recs []SourceRecord) error { return ru.page(ctx, recs) })
	if errors.Is(err, errLimitReached) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	return nil
}

// page plans, delivers and commits one page of source records.
func (ru *runner) page(ctx context.Context, recs []SourceRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	limited := false
	if ru.opts.Limit > 0 {
		left := ru.opts.Limit - int(ru.counts.Read)
		if left <= 0 {
			return errLimitReached
		}
		if len(recs) >= left {
			recs, limited = recs[:left], true
		}
	}
	if len(recs) == 0 {
		if limited {
			return errLimitReached
		}
		return nil
	}
	ru.counts.Read += int64(len(recs))

	plans, err := ru.e.plan(ctx, ru.f, ru.f.Spec, ru.reader, recs, ru.vars)
	if err != nil {
		return err
	}
	commit := store.PageCommit{Flow: ru.f.Name, RunID: ru.st.run.ID}
	var toWrite []Planned
	var writeIdx []int
	for i, p := range plans {
		switch p.action {
		case ActionSkip:
			ru.counts.Skipped++
			ru.record(&commit, p, ActionSkip, "skipped", p.mapping.TargetKey, "", nil)
		case ActionFail:
			ru.counts.Failed++
			ru.record(&commit, p, ActionFail, "permanent", "", "", p.err)
			commit.DeadLetters = append(commit.DeadLetters, store.DeadLetter{SourceKey: p.rec.Key, Attempts: 1, LastError: p.err.Error(), Payload: sourceJSON(p.rec)})
		default:
			if ru.opts.DryRun {
				if p.action == ActionAdd {
					ru.counts.Added++
				} else {
					ru.counts.Updated++
				}
				body, _, _ := ru.f.Target.Prepare(p.planned())
				ru.record(&commit, p, p.action, "planned", targetKeyOf(p), string(body), nil)
				continue
			}
			toWrite = append(toWrite, p.planned())
			writeIdx = append(writeIdx, i)
		}
	}

	var pageErr error
	if len(toWrite) > 0 {
		deliveries := ru.f.Target.Write(ctx, toWrite)
		for j, d := range deliveries {
			p := plans[writeIdx[j]]
			switch {
			case d.Err == nil:
				if d.Action == ActionAdd {
					ru.counts.Added++
				} else {
					ru.counts.Updated++
				}
				ru.e.metrics.records.WithLabelValues(ru.f.Name, d.Action+"ed").Inc()
				commit.Mappings = append(commit.Mappings, store.Mapping{SourceKey: p.rec.Key, TargetKey: d.TargetKey,
					PayloadHash: p.payload.Hash(), Payload: d.Body})
				if ru.dead[p.rec.Key] {
					commit.Resolved = append(commit.Resolved, p.rec.Key)
				}
				ru.record(&commit, p, d.Action, "ok", d.TargetKey, string(d.Body), nil)
			case vendor.IsPermanent(d.Err):
				ru.counts.Failed++
				ru.e.metrics.records.WithLabelValues(ru.f.Name, "failed").Inc()
				commit.DeadLetters = append(commit.DeadLetters, store.DeadLetter{SourceKey: p.rec.Key, Attempts: 1,
					LastError: d.Err.Error(), Payload: sourceJSON(p.rec)})
				ru.record(&commit, p, ActionFail, "permanent", d.TargetKey, string(d.Body), d.Err)
			default:
				// Transient beyond the retry budget, or cancelled: not delivered, not dead-lettered; the
				// checkpoint stays before this page so the next run reads it again.
				if pageErr == nil {
					pageErr = d.Err
				}
				ru.record(&commit, p, p.action, "transient", d.TargetKey, string(d.Body), d.Err)
			}
		}
	}
	for _, p := range plans {
		if p.action == ActionSkip {
			ru.e.metrics.records.WithLabelValues(ru.f.Name, "skipped").Inc()
		}
	}
	if pageErr == nil && ru.moveCheckpoint {
		last := recs[len(recs)-1].Cursor
		if cursorAfter(last, ru.checkpoint) {
			commit.Checkpoint = &last
		}
	}
	ru.counts.Retried = ru.audit.retried.Load()
	counts := ru.counts
	commit.Counts = &counts
	if err := ru.commit(ctx, commit); err != nil {
		return err
	}
	if commit.Checkpoint != nil {
		ru.checkpoint = *commit.Checkpoint
	}
	ru.st.update(func(r *Run) { r.Counts = ru.counts })
	if pageErr != nil {
		return fmt.Errorf("delivery failed, checkpoint kept at the last durable page: %w", pageErr)
	}
	if limited {
		return errLimitReached
	}
	return nil
}

// commit writes the page. A cancelled run still commits what it delivered, on a fresh context: a
// vendor write without its local commit would be a duplicate waiting to happen.
func (ru *runner) commit(ctx context.Context, c store.PageCommit) error {
	if ru.opts.DryRun {
		ru.audit.drain()
		return nil
	}
	c.Records = append(ru.audit.drain(), c.Records...)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ru.e.cfg.CommitTimeout)
	defer cancel()
	if err := ru.e.st.CommitPage(cctx, c); err != nil {
		return fmt.Errorf("commit page: %w", err)
	}
	return nil
}

// record adds the per-record audit row (the record's outcome in this run).
func (ru *runner) record(c *store.PageCommit, p plan, action, outcome, targetKey, body string, err error) {
	row := store.Record{SourceKey: p.rec.Key, TargetKey: targetKey, Action: action, Vendor: "", Operation: ru.f.Target.Operation(),
		Request: body, Outcome: outcome, At: ru.e.cfg.Now()}
	if err != nil {
		row.Error = err.Error()
	}
	if ru.opts.DryRun {
		ru.st.mu.Lock()
		ru.st.records = append(ru.st.records, RecordOutcome{SourceKey: row.SourceKey, TargetKey: row.TargetKey, Action: row.Action,
			Operation: row.Operation, Request: row.Request, Outcome: row.Outcome, Error: row.Error, At: row.At})
		ru.st.mu.Unlock()
		return
	}
	c.Records = append(c.Records, row)
}

// readQuery is the window a run reads: the explicit window, everything (full resync, first run), or
// from the checkpoint less the overlap. move reports whether the run may move the checkpoint.
func readQuery(f *Flow, opts Options, cp store.Cursor, haveCP bool, now time.Time) (q ReadQuery, move bool) {
	q = ReadQuery{End: now, UseOrgNumbers: opts.UseOrgNumbers}
	switch {
	case opts.Window != nil:
		q.After = store.Cursor{Time: opts.Window.Start}
		q.End = opts.Window.End
		return q, false
	case opts.FullResync || !haveCP:
		return q, true
	case f.Overlap > 0 || f.TimeOnlyCursor:
		q.After = store.Cursor{Time: cp.Time.Add(-f.Overlap)}
	default:
		q.After = cp
	}
	return q, true
}

// sourceJSON is the source record kept with a dead letter, to retry it from.
func sourceJSON(r SourceRecord) []byte {
	b, _ := json.Marshal(r.Fields)
	return b
}

func cursorAfter(a, b store.Cursor) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	return a.Key > b.Key
}

// plan is the planner's decision for one record.
type plan struct {
	rec     SourceRecord
	payload *mapping.Payload
	action  string
	mapping *store.Mapping
	err     error
}

func (p plan) planned() Planned {
	return Planned{Record: p.rec, Payload: p.payload, Action: p.action, Mapping: p.mapping}
}

func targetKeyOf(p plan) string {
	if p.mapping != nil {
		return p.mapping.TargetKey
	}
	return ""
}

// plan maps records and decides add / update / skip against the id mappings. It only reads the store.
func (e *Engine) plan(ctx context.Context, f *Flow, spec *mapping.Spec, reader store.Reader, recs []SourceRecord, vars mapping.Vars) ([]plan, error) {
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.Key
	}
	maps, err := reader.Mappings(ctx, f.Name, keys)
	if err != nil {
		return nil, err
	}
	out := make([]plan, 0, len(recs))
	for _, r := range recs {
		p := plan{rec: r}
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

// publicError is the message of a run error as callers see it. Vendor errors never carry credentials
// (clients/vendor guarantees it); store errors are reduced to a generic text.
func publicError(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "sqlite") || strings.Contains(msg, "commit page") {
		return "internal storage error; see the gateway log"
	}
	return msg
}
