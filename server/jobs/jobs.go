// Package jobs runs syncgate's runs and schedules as jobs on River (github.com/riverqueue/river), an
// existing job engine: every run that writes (started over the API, by a schedule or by a dead-letter
// retry) is a River job, and a River periodic job, enqueued by River's elected leader only, fires the
// due schedules about once a second; another, when configured, runs a retention pass every few minutes.
//
// Two drivers, one package (it uses River only through its driver-independent API):
//
//   - SQLite (the embedded default, one gateway): River's tables live in their own SQLite file
//     (riversqlite over mattn/go-sqlite3, one open connection as River's SQLite driver asks). A second
//     file rather than the store's: measured on this project's machines, River starves behind the
//     store's page commits when both share one file (stack notes: 30 jobs against 316 in 8 s with a
//     busy writer). Uniqueness is per gateway start (the job carries the start's epoch), so that a run
//     job left "running" by a killed process does not block its flow until River's rescuer discards
//     it; at start-up the engine marks such runs failed, and the next run resumes from the checkpoint.
//   - PostgreSQL (Config.Postgres, several replicas on one database, riverpgxv5): River's tables sit in
//     the store's database. A run job is unique per flow across the cluster. Each execution of a run
//     is a slice of at most half of Config.TakeoverAfter, after which it hands the run back at a page
//     boundary (River's JobSnooze(0)) and any replica resumes it. The worker's timeout and River's
//     RescueStuckJobsAfter are TakeoverAfter, so when a replica dies its run job is made available
//     again by River's rescuer (which runs on the leader every 30 s) once TakeoverAfter has passed
//     since the slice began, and another replica resumes the run after its last committed page.
//
// One run per flow at a time: the engine refuses a second run of a flow that is running, and River's
// unique jobs refuse a second queued or running run job of a flow.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/mattn/go-sqlite3" // the database/sql driver River's SQLite driver runs on
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/syncgate/syncgate/server/engine"
)

// Engine is what the jobs execute.
type Engine interface {
	// Execute executes a registered run and reports whether it has ended (false: it was handed back
	// at a page boundary, or its flow is busy on another replica; execute it again).
	Execute(ctx context.Context, runID string, until time.Time) (bool, error)
	// FireDueSchedules starts the runs of the schedules that are due.
	FireDueSchedules(ctx context.Context) error
	// Running reports whether this engine is running the run (it may have ended while its job has
	// not yet been marked completed).
	Running(runID string) bool
	// FailStranded ends the running runs that no job will execute (shared mode).
	FailStranded(ctx context.Context, hasJob func(runID string) bool, grace time.Duration) (int, error)
}

// Config configures the job system.
type Config struct {
	// DB is the SQLite file for River's tables (created when missing), when Postgres is nil.
	DB string
	// PostgresURL, when set, carries River's tables and jobs in this PostgreSQL database (the store's),
	// shared by every replica (see the package doc). The job system keeps its own connection pool.
	PostgresURL string
	// TakeoverAfter bounds, with PostgreSQL, how long a run whose replica died waits before another
	// replica takes it over (plus up to River's 30 s rescuer interval); each execution of a run lasts
	// at most half of it (default 30s, at least 2s).
	TakeoverAfter time.Duration
	Logger        *slog.Logger
	// Workers is how many run jobs execute at once (default 4; each flow runs one at a time).
	Workers int
	// PollInterval is how often an idle worker looks for new jobs (default 20ms on PostgreSQL, 250ms
	// on SQLite). It is the fallback: a queued run wakes the workers through River's notifications
	// (LISTEN/NOTIFY on PostgreSQL; on SQLite River's notification table, which its listener reads
	// every 50ms), and a poll picks up what no notification announced. On SQLite each poll is a write
	// transaction on River's database: at 20ms they cost an idle gateway ~20% of a core.
	PollInterval time.Duration
	// TickInterval is how often due schedules are fired (default 1s, River's minimum period).
	TickInterval time.Duration
	// Retention, when set, is run as a River periodic job every RetentionInterval (default 10m, at
	// least 1s), the first at start-up: one retention pass (server/retention), bounded by the interval.
	// River's leader alone enqueues it, so one replica prunes at a time.
	Retention         func(ctx context.Context) error
	RetentionInterval time.Duration
}

// riverClient is the part of a *river.Client[TTx] the job system uses, whatever the driver.
type riverClient interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	Start(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
}

// Jobs is the running job system. It implements engine.Dispatcher.
type Jobs struct {
	client riverClient
	eng    Engine
	log    *slog.Logger
	epoch  int64
	shared bool
	// slice is how long one execution of a run lasts (shared mode; 0: to its end).
	slice time.Duration
	// complete records a run job's end at once (in its own transaction on River's database).
	complete func(ctx context.Context, job *river.Job[runArgs]) error
	close    func() error
}

var _ engine.Dispatcher = (*Jobs)(nil)

// runArgs is a run job: the registered run to execute.
type runArgs struct {
	RunID string `json:"run_id"`
	Flow  string `json:"flow" river:"unique"`
	// Epoch is the gateway start that queued the job (SQLite; 0 with PostgreSQL: see the package doc).
	Epoch int64 `json:"epoch" river:"unique"`
}

func (runArgs) Kind() string { return "syncgate_run" }

// liveStates are the states of a run job that will still execute (or is executing).
var liveStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	rivertype.JobStateRetryable,
}

// insertOpts: with SQLite, one attempt (a run is never repeated by River: a failed run is a finished
// run, and the next run resumes from the checkpoint); with PostgreSQL, an attempt per takeover (a
// slice handed back does not count: River's snoozes keep the attempt). Unique per flow among the
// jobs that will still execute.
func (j *Jobs) insertOpts() *river.InsertOpts {
	o := &river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: liveStates[:4]}}
	if j.shared {
		o.MaxAttempts, o.UniqueOpts.ByState = maxTakeovers, liveStates
	}
	return o
}

// maxTakeovers is how many times a run job may be taken over (or fail to read its run) before River
// gives it up; the leader then fails the run as stranded.
const maxTakeovers = 25

type runWorker struct {
	river.WorkerDefaults[runArgs]
	j *Jobs
}

// Timeout: with SQLite, a run takes as long as its records do; it is bounded by cancellation, not
// by River. With PostgreSQL, the slice's bound (TakeoverAfter): River's rescuer takes a job over only
// once its attempt is older than its timeout.
func (w *runWorker) Timeout(*river.Job[runArgs]) time.Duration {
	if w.j.shared {
		return 2 * w.j.slice
	}
	return -1
}

// NextRetry: a run job taken over (River's rescuer found its replica gone) is executed again at
// once; one whose run could not be read (the database is unreachable) after a growing pause.
func (w *runWorker) NextRetry(job *river.Job[runArgs]) time.Time {
	if n := len(job.Errors); n > 0 && strings.Contains(job.Errors[n-1].Error, "rescued") {
		return time.Now()
	}
	return time.Now().Add(min(time.Duration(job.Attempt)*time.Second, 10*time.Second))
}

func (w *runWorker) Work(ctx context.Context, job *river.Job[runArgs]) error {
	var until time.Time
	if w.j.shared {
		until = time.Now().Add(w.j.slice)
	}
	ended, err := w.j.eng.Execute(ctx, job.Args.RunID, until)
	if err != nil {
		return err
	}
	if !ended {
		// Handed back at a page boundary, or the flow is busy elsewhere: any replica goes on with it.
		wait := time.Duration(0)
		if !w.j.eng.Running(job.Args.RunID) && ctx.Err() == nil && time.Until(until) > 0 {
			wait = time.Second // busy: another replica is finishing a page of this flow
		}
		return river.JobSnooze(wait)
	}
	// The job's end is recorded at once, not in River's next completion batch: until it is, the
	// flow's unique job holds the next run back (see Dispatch).
	if cerr := w.j.complete(context.WithoutCancel(ctx), job); cerr != nil {
		w.j.log.Warn("record the run job's end (River records it later)", "run_id", job.Args.RunID, "error", cerr)
	}
	return nil
}

// tickArgs is the periodic job that fires due schedules (and, with PostgreSQL, fails stranded runs).
type tickArgs struct{}

func (tickArgs) Kind() string { return "syncgate_schedule_tick" }

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	j *Jobs
}

func (w *tickWorker) Timeout(*river.Job[tickArgs]) time.Duration { return 30 * time.Second }

func (w *tickWorker) Work(ctx context.Context, job *river.Job[tickArgs]) error {
	err := w.j.eng.FireDueSchedules(ctx)
	if w.j.shared {
		if n, serr := w.j.eng.FailStranded(ctx, w.j.hasJob(ctx), strandedGrace); serr != nil {
			err = errors.Join(err, serr)
		} else if n > 0 {
			w.j.log.Warn("failed stranded runs", "runs", n)
		}
	}
	return err
}

// retentionArgs is the periodic job that runs a retention pass.
type retentionArgs struct{}

func (retentionArgs) Kind() string { return "syncgate_retention" }

type retentionWorker struct {
	river.WorkerDefaults[retentionArgs]
	pass     func(ctx context.Context) error
	interval time.Duration
}

// Timeout: a pass lasts at most until the next one is due (at least a minute); what it did not reach
// the next pass prunes.
func (w *retentionWorker) Timeout(*river.Job[retentionArgs]) time.Duration {
	return max(w.interval, time.Minute)
}

func (w *retentionWorker) Work(ctx context.Context, job *river.Job[retentionArgs]) error {
	return w.pass(ctx)
}

// queueRetention is the retention passes' queue: one at a time, never taking a run's worker.
const queueRetention = "retention"

// strandedGrace is how old a running run without a job must be before it is failed as stranded: a
// run is stored just before its job is queued.
const strandedGrace = time.Minute

// hasJob returns a lookup of the runs that have a run job that will still execute, listed once, when
// first asked.
func (j *Jobs) hasJob(ctx context.Context) func(string) bool {
	var ids map[string]bool
	return func(runID string) bool {
		if ids == nil {
			ids = map[string]bool{}
			params := river.NewJobListParams().Kinds(runArgs{}.Kind()).States(liveStates...).First(1000)
			res, err := j.client.JobList(ctx, params)
			if err != nil {
				j.log.Warn("list run jobs", "error", err)
				ids = nil
				return true // unknown: fail nothing
			}
			for _, row := range res.Jobs {
				ids[runIDOf(row)] = true
			}
		}
		return ids[runID]
	}
}

// Open opens (and migrates) River's database and builds the job system over eng; Start starts it.
func Open(ctx context.Context, cfg Config, eng Engine) (*Jobs, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 20 * time.Millisecond
		if cfg.PostgresURL == "" {
			cfg.PollInterval = 250 * time.Millisecond
		}
	}
	if cfg.TickInterval < time.Second {
		cfg.TickInterval = time.Second
	}
	if cfg.TakeoverAfter <= 0 {
		cfg.TakeoverAfter = 30 * time.Second
	}
	cfg.TakeoverAfter = max(cfg.TakeoverAfter, 2*time.Second)
	j := &Jobs{eng: eng, log: cfg.Logger, epoch: time.Now().UnixNano()}
	if cfg.PostgresURL != "" {
		j.shared, j.epoch, j.slice = true, 0, cfg.TakeoverAfter/2
		return j, openPostgres(ctx, j, cfg)
	}
	return j, openSQLite(ctx, j, cfg)
}

func openSQLite(ctx context.Context, j *Jobs, cfg Config) error {
	db, err := sql.Open("sqlite3", "file:"+cfg.DB+"?_journal_mode=WAL&_busy_timeout=5000&_txlock=immediate&_synchronous=NORMAL")
	if err != nil {
		return fmt.Errorf("open the job database: %w", err)
	}
	db.SetMaxOpenConns(1) // River's SQLite driver: one connection, or "database is locked"
	driver := riversqlite.New(db)
	if err := migrate(ctx, driver); err != nil {
		db.Close()
		return fmt.Errorf("migrate the job database %s: %w", cfg.DB, err)
	}
	rc := j.riverConfig(cfg)
	// A notified fetch (a run queued) follows the last fetch by at most 20 ms, as at the 20 ms poll
	// PostgreSQL keeps, not by min(PollInterval, 100 ms).
	rc.FetchCooldown = min(cfg.PollInterval, 20*time.Millisecond)
	client, err := river.NewClient(driver, rc)
	if err != nil {
		db.Close()
		return fmt.Errorf("job client: %w", err)
	}
	j.client, j.close = client, db.Close
	j.complete = func(ctx context.Context, job *river.Job[runArgs]) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job); err != nil {
			return err
		}
		return tx.Commit()
	}
	return nil
}

// migrationLock is the PostgreSQL advisory lock key under which River's migrations run, so that
// replicas starting together on a fresh database migrate one after the other.
const migrationLock = 0x73796e63676174 // "syncgat"

func openPostgres(ctx context.Context, j *Jobs, cfg Config) (err error) {
	pool, err := pgxpool.New(ctx, cfg.PostgresURL)
	if err != nil {
		return errors.New("job database: the PostgreSQL URL does not parse") // the URL may hold a password
	}
	defer func() {
		if err != nil {
			pool.Close()
		}
	}()
	driver := riverpgxv5.New(pool)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("job database: %w", err)
	}
	_, err = conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock))
	if err == nil {
		err = migrate(ctx, driver)
		_, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
		err = errors.Join(err, uerr)
	}
	conn.Release()
	if err != nil {
		return fmt.Errorf("migrate the job tables: %w", err)
	}
	rc := j.riverConfig(cfg)
	rc.JobTimeout, rc.RescueStuckJobsAfter = 2*j.slice, 2*j.slice
	client, err := river.NewClient(driver, rc)
	if err != nil {
		return fmt.Errorf("job client: %w", err)
	}
	j.client, j.close = client, func() error { pool.Close(); return nil }
	j.complete = func(ctx context.Context, job *river.Job[runArgs]) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	return nil
}

// migrate brings River's tables up to date with River's own migrator.
func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return err
	}
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// riverConfig is River's configuration for either driver.
func (j *Jobs) riverConfig(cfg Config) *river.Config {
	workers := river.NewWorkers()
	river.AddWorker(workers, &runWorker{j: j})
	river.AddWorker(workers, &tickWorker{j: j})
	queues := map[string]river.QueueConfig{
		river.QueueDefault: {MaxWorkers: cfg.Workers},
		queueSchedules:     {MaxWorkers: 1},
	}
	periodic := []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(cfg.TickInterval),
		func() (river.JobArgs, *river.InsertOpts) {
			return tickArgs{}, &river.InsertOpts{Queue: queueSchedules, MaxAttempts: 1,
				UniqueOpts: river.UniqueOpts{ByPeriod: cfg.TickInterval}}
		}, &river.PeriodicJobOpts{ID: "schedules", RunOnStart: true})}
	if cfg.Retention != nil {
		every := cfg.RetentionInterval
		if every <= 0 {
			every = 10 * time.Minute
		}
		every = max(every, time.Second)
		river.AddWorker(workers, &retentionWorker{pass: cfg.Retention, interval: every})
		queues[queueRetention] = river.QueueConfig{MaxWorkers: 1}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(every),
			func() (river.JobArgs, *river.InsertOpts) {
				return retentionArgs{}, &river.InsertOpts{Queue: queueRetention, MaxAttempts: 1,
					UniqueOpts: river.UniqueOpts{ByPeriod: every}}
			}, &river.PeriodicJobOpts{ID: "retention", RunOnStart: true}))
	}
	return &river.Config{
		// River reports its routine work (job counts every few seconds) at info: only its warnings
		// and errors reach the gateway's log.
		Logger:                      slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn}).With("component", "river"),
		Queues:                      queues,
		Workers:                     workers,
		FetchPollInterval:           cfg.PollInterval,
		FetchCooldown:               min(cfg.PollInterval, 100*time.Millisecond),
		PeriodicJobs:                periodic,
		CompletedJobRetentionPeriod: time.Hour,
	}
}

// queueSchedules is the queue of the schedule ticks, so that they never wait behind runs.
const queueSchedules = "schedules"

// Start starts working jobs (in the background; it returns at once).
func (j *Jobs) Start(ctx context.Context) error {
	if err := j.client.Start(ctx); err != nil {
		return fmt.Errorf("start the job client: %w", err)
	}
	return nil
}

// Dispatch queues a run job (engine.Dispatcher). A flow that already has a queued or running run job
// is a *engine.RunInProgressError naming that run.
//
// River marks a job completed shortly after its work function returns (it batches completions), so
// a run started the moment the previous one ended can meet the previous job still "running". When
// the engine says that run has ended, the insert is retried for up to completeWait.
func (j *Jobs) Dispatch(ctx context.Context, job engine.RunJob) error {
	wait := 5 * time.Millisecond
	deadline := time.Now().Add(completeWait)
	for {
		res, err := j.client.Insert(ctx, runArgs{RunID: job.RunID, Flow: job.Flow, Epoch: j.epoch}, j.insertOpts())
		if err != nil {
			return fmt.Errorf("insert the run job: %w", err)
		}
		if !res.UniqueSkippedAsDuplicate {
			return nil
		}
		other := runIDOf(res.Job)
		if j.eng.Running(other) || time.Now().After(deadline) {
			return &engine.RunInProgressError{Flow: job.Flow, RunID: other}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// completeWait bounds how long Dispatch waits for River to record the end of a run's job that the
// engine has already ended.
const completeWait = 5 * time.Second

// Stop stops taking jobs and cancels the running ones' contexts (with SQLite the engine ends their
// runs as cancelled, with their committed pages kept; with PostgreSQL the engine's shutdown has
// handed them over already), waiting until they have returned or ctx ends.
func (j *Jobs) Stop(ctx context.Context) error {
	err := j.client.StopAndCancel(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop the job client: %w", err)
	}
	return nil
}

// Close closes River's database connections; call it after Stop.
func (j *Jobs) Close() error { return j.close() }

// runIDOf reads the run id out of a run job's encoded arguments.
func runIDOf(job *rivertype.JobRow) string {
	if job == nil {
		return ""
	}
	var a runArgs
	if err := json.Unmarshal(job.EncodedArgs, &a); err != nil {
		return ""
	}
	return a.RunID
}

// minLevel passes only records at or above its level to the handler it wraps.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
