// Package storage is the engine's storage seam: the records a sync keeps (id mappings, checkpoints,
// runs, the audit trail, dead letters, create intents) and the interfaces a backend implements. The
// engine depends on this package only; backends (server/storage/sqlite) implement it, and the contract
// suite in server/storage/storagetest pins the semantics the engine relies on for every backend.
package storage

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a run does not exist.
var ErrNotFound = errors.New("not found")

// ErrFull is wrapped by a backend's error for a write that failed because the database is full (its
// disk, or a size limit), and by Ping while such a failure is not yet resolved by free space.
var ErrFull = errors.New("the database is full")

// ErrUnavailable is wrapped by a backend's error when the database cannot be reached: the
// connection is refused or lost, or the server is shutting down or starting up. The call may succeed
// later. Ping's error wraps it too while the server is down.
var ErrUnavailable = errors.New("the database cannot be reached")

// ErrBadPageToken is returned for a page token the backend did not issue.
var ErrBadPageToken = errors.New("invalid page token")

// Reader is the read-only view of the store. Preview and dry runs get only this, so they cannot write
// by construction.
type Reader interface {
	Mappings(ctx context.Context, flow string, keys []string) (map[string]Mapping, error)
	Checkpoint(ctx context.Context, flow string) (Cursor, bool, error)
	DeadLetters(ctx context.Context, flow string, limit int) ([]DeadLetter, error)
	GetRun(ctx context.Context, id string) (Run, error)
	ListRuns(ctx context.Context, f RunFilter) ([]Run, string, error)
	// RunRecords pages through a run's audit rows in sequence order, keeping those f selects (a page
	// token continues the same filter).
	RunRecords(ctx context.Context, runID string, f RecordFilter, pageToken string, pageSize int) ([]Record, string, error)
	Intents(ctx context.Context, flow string, keys []string) (map[string]string, error)
	// DeadLetterPage lists a flow's dead letters in source-key order, those after the key after
	// ("" = from the first), at most limit of them.
	DeadLetterPage(ctx context.Context, flow, after string, limit int) ([]DeadLetter, error)
	// DeadLettersByKey returns the dead letters of these source keys (keys without one are left out),
	// in source-key order.
	DeadLettersByKey(ctx context.Context, flow string, keys []string) ([]DeadLetter, error)
	// CountDeadLetters counts a flow's dead letters.
	CountDeadLetters(ctx context.Context, flow string) (int64, error)
	// RecordHistory pages through one record's audit rows across the flow's runs, newest first (by
	// time, then run, then sequence, descending). It reads an index: fast at millions of rows. The
	// unchanged skips (action "skip", outcome "skipped": the record was unchanged and nothing was
	// sent), which every full resync writes for every unchanged record, are not in it: they are kept
	// in their run's trail (RunRecords) only, so a record's history lists what was sent, failed,
	// dropped, discarded or planned, not each run that found it unchanged.
	RecordHistory(ctx context.Context, flow, sourceKey, pageToken string, pageSize int) ([]Record, string, error)
	// Schedules returns the stored schedules, by flow.
	Schedules(ctx context.Context) ([]Schedule, error)
}

// Store is a storage backend: the reads, and the writes a run makes. It is safe for concurrent use.
type Store interface {
	Reader
	// ReadOnly returns a view with only the Reader methods, which cannot be converted back into
	// something that writes (dry runs and Preview get only this).
	ReadOnly() Reader
	// CommitPage writes everything one delivered page changes in one transaction: all of it is
	// durable, or none of it.
	CommitPage(ctx context.Context, p PageCommit) error
	// RecordIntents durably records the target keys that creates are about to use, before they are
	// sent; a key already recorded for a source key stays.
	RecordIntents(ctx context.Context, flow string, intents []Intent) error
	// CreateRun records a new run; FinishRun records its end (status, counts, window, error).
	CreateRun(ctx context.Context, r Run) error
	FinishRun(ctx context.Context, r Run) error
	// FailInterrupted marks the runs still "running" (their process died) as failed, and returns how
	// many there were.
	FailInterrupted(ctx context.Context, at time.Time) (int64, error)
	// PutSchedule creates or replaces a flow's schedule (all its fields).
	PutSchedule(ctx context.Context, s Schedule) error
	// FireSchedule records that flow's schedule fired at its due time: only when the stored NextRunAt
	// still equals due (so a tick fires once, whichever of several tickers gets there first), it sets
	// NextRunAt to next and LastFiredAt, LastRunID and LastResult from fired, and reports true;
	// otherwise it changes nothing and reports false.
	FireSchedule(ctx context.Context, flow string, due, next time.Time, fired ScheduleFiring) (bool, error)
	// RequestCancel records that a running run is to stop at its next page boundary, wherever it
	// runs; it reports false (changing nothing) when the run is not running, and ErrNotFound when it
	// does not exist.
	RequestCancel(ctx context.Context, runID string) (bool, error)
	// PublishProgress records a running run's live counts (Run.Live) and reports whether the run was
	// asked to stop (Run.CancelRequested). A run that is no longer running is left unchanged.
	PublishProgress(ctx context.Context, runID string, live Counts) (cancelRequested bool, err error)
	// Ping checks that the store can be reached.
	Ping(ctx context.Context) error
}

// FlowLocker is implemented by stores that several gateways share (PostgreSQL): LockFlow takes the
// flow's run lock if it is free, so that a run executes on one gateway at a time, also while a run
// taken over from a replica thought dead is in fact still finishing its page. The lock is held until
// unlock is called or the holder's connection to the database ends (its process died), whichever
// comes first; lost is closed if the connection ends before unlock (the holder must stop).
type FlowLocker interface {
	LockFlow(ctx context.Context, flow string) (unlock func(), lost <-chan struct{}, ok bool, err error)
}

// Schedule is when a flow runs by itself. Exactly one of Every (> 0) and Cron is set, or neither
// (unscheduled).
type Schedule struct {
	Flow string
	// Every is the interval between runs, each delayed by a random time up to Jitter.
	Every, Jitter time.Duration
	// Cron is a cron expression.
	Cron   string
	Paused bool
	// NextRunAt is when the schedule fires next (zero when paused or unscheduled).
	NextRunAt time.Time
	// Configured is the schedule as the configuration last gave it (its text form), so that a change
	// of the configuration is applied once at start-up and an API change is not undone by a restart
	// with the same configuration.
	Configured string
	// What the last firing did.
	LastFiredAt time.Time
	LastRunID   string
	LastResult  string
}

// ScheduleFiring is what one firing of a schedule did.
type ScheduleFiring struct {
	At     time.Time
	RunID  string
	Result string
}

// Mapping records which target record a source record became and what was last delivered to it.
type Mapping struct {
	Flow, SourceKey, TargetKey string
	// PayloadHash is the hash of the mapped payload last delivered; Payload is that payload as canonical
	// JSON (the mapping's output, without the call's bookkeeping such as actionType or FCUSTID).
	PayloadHash string
	Payload     []byte
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Cursor is a tie-safe position in a source: modification time, then source key.
type Cursor struct {
	Time time.Time
	Key  string
}

// Counts are a run's record counts.
type Counts struct {
	Read, Added, Updated, Skipped, Failed, Retried int64
}

// Run is one execution of a flow.
type Run struct {
	ID, Flow string
	// Options is the run's options as JSON.
	Options                []byte
	WindowStart, WindowEnd time.Time
	Status                 string
	Counts                 Counts
	StartedAt, FinishedAt  time.Time
	Error                  string
	// Trigger is what started the run (api, schedule, retry, discard; empty for runs stored before
	// triggers were kept) and Actor who: an API key's name, "schedule", or empty.
	Trigger, Actor string
	// Cursor is how far the run has read its window: the last cursor of its last committed page that
	// set one (PageCommit.RunCursor); nil before that.
	Cursor *Cursor
	// CancelRequested is set by RequestCancel.
	CancelRequested bool
	// Live are the live counts last published (PublishProgress) while the run runs; nil when none.
	Live *Counts
}

// Window is an interval of source modification times.
type Window struct {
	Start, End time.Time
}

// Record is one audit row: one attempt at one record.
type Record struct {
	RunID                string
	Seq                  int64
	SourceKey, TargetKey string
	Action               string
	Attempt              int
	Vendor, Operation    string
	Request, Response    string
	Outcome, Error       string
	At                   time.Time
}

// DeadLetter is a record that failed permanently.
type DeadLetter struct {
	Flow, SourceKey string
	Attempts        int
	LastError       string
	Payload         []byte
	FirstFailedAt   time.Time
	LastFailedAt    time.Time
}

// RecordFilter selects a run's audit rows for RunRecords: rows with this action ("add", "update",
// "skip", "fail") and this outcome ("ok", "transient", …); an empty field matches any.
type RecordFilter struct {
	Action, Outcome string
}

// RunFilter selects runs for ListRuns.
type RunFilter struct {
	Flow, Status string // empty: any
	PageSize     int
	PageToken    string
}

// PageCommit is everything one delivered page changes, written in one transaction.
type PageCommit struct {
	Flow, RunID string
	// Mappings are upserted (by flow and source key).
	Mappings []Mapping
	// Records are appended to the run's audit trail, numbered after the existing ones.
	Records []Record
	// DeadLetters are upserted; an existing letter's attempts grow by the new letter's attempts.
	DeadLetters []DeadLetter
	// Resolved removes these source keys from the dead letters (delivered now); keys without a letter
	// are ignored. Applied after DeadLetters.
	Resolved []string
	// Checkpoint, when set, becomes the flow's checkpoint.
	Checkpoint *Cursor
	// Counts, when set, become the run's counts.
	Counts *Counts
	// Window, when set, becomes the run's window (WindowStart, WindowEnd), and RunCursor its cursor
	// (Run.Cursor): what a gateway taking the run over resumes from.
	Window    *Window
	RunCursor *Cursor
	// ClearIntents removes the create intents of these source keys (their creates are settled: the
	// page records their mappings or dead letters).
	ClearIntents []string
}

// Intent is a create about to be sent: the target key it uses.
type Intent struct {
	SourceKey, TargetKey string
}
