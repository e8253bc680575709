package storage

import (
	"context"
	"errors"
	"time"
)

// ErrBusy is wrapped by DeleteRunTrail's error when the database stayed locked by other writers for
// its whole busy timeout (SQLite: a sync committing back to back); nothing was deleted, and the batch
// may be tried again later.
var ErrBusy = errors.New("the database is busy")

// RetentionPolicy selects the finished runs that retention prunes, with their audit trails. A running
// run and the newest finished run of each flow are never selected. With both limits zero nothing is.
type RetentionPolicy struct {
	// MaxAge selects finished runs that finished more than MaxAge before the pass (one without an end
	// time by its start; 0: no age limit).
	MaxAge time.Duration
	// KeepRuns selects, per flow, the finished runs beyond the newest KeepRuns by start time (0: no
	// count limit).
	KeepRuns int
}

// Enabled reports whether the policy selects anything at all.
func (p RetentionPolicy) Enabled() bool { return p.MaxAge > 0 || p.KeepRuns > 0 }

// RetentionPass is what one retention pass removed, as the store records it: BeginRetention records
// it begun, each DeleteRunTrail batch counts its deletions into it in the batch's own transaction,
// and FinishRetention records its end.
type RetentionPass struct {
	// ID is the store's id of the recorded pass.
	ID int64
	// FinishedAt is zero while the pass runs, and stays zero for a pass that never finished (its
	// process died): its counts are still what it deleted.
	StartedAt, FinishedAt time.Time
	// Policy is the policy the pass applied, as text (e.g. "age 2160h0m0s, runs 0").
	Policy string
	// Runs and Records count the runs and audit rows the pass deleted.
	Runs, Records int64
	// OldestRunID and NewestRunID are the first and last run the pass deleted, by start time (empty
	// when it deleted none); OldestStartedAt and NewestStartedAt their start times.
	OldestRunID, NewestRunID         string
	OldestStartedAt, NewestStartedAt time.Time
	// Error is why the pass stopped early ("" when it did not): what remains is pruned next time.
	Error string
}

// Retention is the part of a store that retention uses (both backends implement it). Only runs and
// their audit trails are ever deleted: mappings, checkpoints, dead letters, schedules and create
// intents stay.
type Retention interface {
	// PruneCandidates lists, oldest first by start time, at most limit ids of the runs policy selects
	// at now.
	PruneCandidates(ctx context.Context, policy RetentionPolicy, now time.Time, limit int) ([]string, error)
	// BeginRetention records a pass begun (its StartedAt and Policy; no end, nothing removed yet) and
	// returns its id; only the newest RetentionPassesKept passes are kept.
	BeginRetention(ctx context.Context, pass RetentionPass) (passID int64, err error)
	// DeleteRunTrail deletes, in one transaction, at most limit of a finished run's audit rows, and
	// the run itself once none are left (done), and counts what it deleted into the recorded pass
	// passID in the same transaction (0: into none), so that what is deleted is recorded even if the
	// process dies right after. A run that no longer exists is done with nothing deleted; a running
	// run is refused (an error, nothing deleted). An error wrapping ErrBusy means other writers held
	// the database throughout: nothing was deleted.
	DeleteRunTrail(ctx context.Context, passID int64, runID string, limit int) (deleted int64, done bool, err error)
	// FinishRetention records the end of pass passID and why it stopped early ("" when it did not).
	FinishRetention(ctx context.Context, passID int64, finishedAt time.Time, errText string) error
	// RetentionPasses lists the newest recorded passes first, at most limit of them.
	RetentionPasses(ctx context.Context, limit int) ([]RetentionPass, error)
}

// RetentionPassesKept is how many recorded retention passes a store keeps (about a week of passes
// every 10 minutes).
const RetentionPassesKept = 1000
