// Package retention prunes old runs and their audit trails by the configured policy
// (storage.RetentionPolicy: by age, and/or a number of finished runs per flow), and records what each
// pass removed (storage.RetentionPass), batch by batch in the batches' own transactions.
//
// A pass deletes in small batches: each batch is one short transaction deleting at most Config.Batch
// audit rows of one run (the run itself goes in the batch that finds its trail empty), and between
// two batches the pruner pauses for at least as long as the batch took (Config.Pause at the least).
// SQLite has one writer at a time, so a running sync's page commit waits for at most one batch, never
// for a whole pass; the pause leaves the writer to the sync at least half of the time. A pass is
// cancelled by its context between or inside batches (a batch rolls back whole) and what it did not
// reach is selected again by the next pass: a run half pruned stays listed, with the rest of its
// trail, until a later pass finishes it.
//
// Only finished runs are pruned, never a flow's newest finished run (the overview and the checkpoint
// story read it), and nothing but runs and their audit rows: mappings, checkpoints, dead letters,
// schedules and create intents stay. The gateway runs a pass periodically as a River periodic job
// (server/jobs), so with several replicas on PostgreSQL only River's leader prunes.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// Store is what the pruner needs of a store.
type Store interface {
	storage.Retention
	GetRun(ctx context.Context, id string) (storage.Run, error)
}

// Config configures a Pruner.
type Config struct {
	Policy storage.RetentionPolicy
	// Batch is the most audit rows one transaction deletes (default 1000).
	Batch int
	// Pause is the least time between two batches (default 20ms); the pruner also waits at least as
	// long as the last batch took.
	Pause time.Duration
	// BusyPause is how long the pruner waits before it tries a batch again that found the database
	// busy for the store's whole busy timeout (storage.ErrBusy; default 1s). After maxBusy such
	// tries in a row the pass stops (the next one goes on).
	BusyPause time.Duration
	Logger    *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// AfterBatch, when set, is called after each committed batch with the pass so far (tests).
	AfterBatch func(storage.RetentionPass)
}

// DefaultBatch is Config.Batch's default.
const DefaultBatch = 1000

// Pruner prunes a store by its policy, one pass at a time (it is not meant for concurrent passes).
type Pruner struct {
	st  Store
	cfg Config
}

// New returns a pruner of st.
func New(st Store, cfg Config) *Pruner {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 20 * time.Millisecond
	}
	if cfg.BusyPause <= 0 {
		cfg.BusyPause = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Pruner{st: st, cfg: cfg}
}

// PolicyText renders a policy as a pass records it.
func PolicyText(p storage.RetentionPolicy) string {
	return fmt.Sprintf("age %s, runs %d", p.MaxAge, p.KeepRuns)
}

// Enabled reports whether the policy prunes anything (a pass with it off does nothing).
func (p *Pruner) Enabled() bool { return p.cfg.Policy.Enabled() }

// Status is the policy and the latest recorded pass, as the overview reports them.
type Status struct {
	// Enabled is false when the policy keeps everything (no pass runs).
	Enabled bool
	// Policy is the policy as a pass records it (PolicyText).
	Policy string
	// LastPass is the latest recorded pass, of any gateway sharing the store (nil before the first).
	LastPass *storage.RetentionPass
}

// Status returns the policy and the latest recorded pass.
func (p *Pruner) Status(ctx context.Context) (Status, error) {
	s := Status{Enabled: p.Enabled(), Policy: PolicyText(p.cfg.Policy)}
	passes, err := p.st.RetentionPasses(ctx, 1)
	if err != nil {
		return s, err
	}
	if len(passes) > 0 {
		s.LastPass = &passes[0]
	}
	return s, nil
}

// candidatesPerList is how many run ids a pass lists at a time.
const candidatesPerList = 100

// Pass prunes what the policy selects now and returns what it removed. The pass is recorded before
// it deletes anything (a pass that cannot be recorded deletes nothing), each batch counts what it
// deleted into that record in its own transaction, and the end is recorded last (also when the pass
// stopped early: its Error says why), so a pass whose process dies keeps a record of what it
// deleted, without an end. With the policy off it does nothing and records nothing.
func (p *Pruner) Pass(ctx context.Context) (storage.RetentionPass, error) {
	pass := storage.RetentionPass{StartedAt: p.cfg.Now(), Policy: PolicyText(p.cfg.Policy)}
	if !p.cfg.Policy.Enabled() {
		return pass, nil
	}
	id, err := p.st.BeginRetention(ctx, pass)
	if err != nil {
		err = fmt.Errorf("record the retention pass: %w", err)
		p.cfg.Logger.Warn("retention pass not run (the next one tries again)", "policy", pass.Policy, "error", err)
		return pass, err
	}
	pass.ID = id
	err = p.prune(ctx, &pass)
	pass.FinishedAt = p.cfg.Now()
	if err != nil {
		pass.Error = err.Error()
	}
	// The end is recorded even when ctx ended (shutdown): briefly, without its cancellation.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := p.st.FinishRetention(rctx, id, pass.FinishedAt, pass.Error); rerr != nil {
		err = errors.Join(err, fmt.Errorf("record the retention pass's end: %w", rerr))
	}
	attrs := []any{"policy", pass.Policy, "runs", pass.Runs, "records", pass.Records,
		"oldest_run_id", pass.OldestRunID, "newest_run_id", pass.NewestRunID, "took", pass.FinishedAt.Sub(pass.StartedAt)}
	switch {
	case err != nil:
		p.cfg.Logger.Warn("retention pass stopped early (the rest is pruned next time)", append(attrs, "error", err)...)
	case pass.Runs > 0 || pass.Records > 0:
		p.cfg.Logger.Info("retention pass", attrs...)
	default:
		p.cfg.Logger.Debug("retention pass: nothing to prune", attrs...)
	}
	return pass, err
}

// prune deletes the selected runs, oldest first, batch by batch, counting into pass.
func (p *Pruner) prune(ctx context.Context, pass *storage.RetentionPass) error {
	now := pass.StartedAt
	for {
		ids, err := p.st.PruneCandidates(ctx, p.cfg.Policy, now, candidatesPerList)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		for _, id := range ids {
			if err := p.pruneRun(ctx, id, pass); err != nil {
				return err
			}
		}
	}
}

// pruneRun deletes one run's trail and then the run, one batch per transaction, pausing between
// batches.
func (p *Pruner) pruneRun(ctx context.Context, id string, pass *storage.RetentionPass) error {
	run, err := p.st.GetRun(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // pruned meanwhile (another pass)
	}
	if err != nil {
		return fmt.Errorf("read run %s: %w", id, err)
	}
	busy := 0
	for {
		began := time.Now()
		n, done, err := p.st.DeleteRunTrail(ctx, pass.ID, id, p.cfg.Batch)
		if errors.Is(err, storage.ErrBusy) && busy < maxBusy {
			// Other writers (a sync committing back to back) had the database throughout: they go
			// first, and the batch is tried again.
			busy++
			if err := p.wait(ctx, p.cfg.BusyPause); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		busy = 0
		took := time.Since(began)
		pass.Records += n
		if done {
			pass.Runs++
			if pass.OldestRunID == "" {
				pass.OldestRunID, pass.OldestStartedAt = id, run.StartedAt
			}
			pass.NewestRunID, pass.NewestStartedAt = id, run.StartedAt
		}
		if p.cfg.AfterBatch != nil {
			p.cfg.AfterBatch(*pass)
		}
		if err := p.yield(ctx, took); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// maxBusy is how many times in a row a batch is tried again after storage.ErrBusy.
const maxBusy = 10

// yield leaves the database to other writers for at least as long as the last batch took
// (Config.Pause at the least), or until ctx ends.
func (p *Pruner) yield(ctx context.Context, took time.Duration) error {
	return p.wait(ctx, max(p.cfg.Pause, took))
}

// wait waits for d or until ctx ends.
func (p *Pruner) wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
