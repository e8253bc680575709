// Package jobs runs syncgate's runs and schedules as jobs on River (github.com/riverqueue/river), an
// existing job engine: every run that writes (started over the API, by a schedule or by a dead-letter
// retry) is a River job, and a River periodic job fires the due schedules about once a second.
//
// River's tables live in their own SQLite file (riversqlite over mattn/go-sqlite3, one open
// connection as River's SQLite driver asks). A second file rather than the store's: measured on this
// project's machines, River starves behind the store's page commits when both share one file (stack
// notes: 30 jobs against 316 in 8 s with a busy writer). The package uses River only through its
// driver-independent API, so the PostgreSQL driver can carry the same jobs.
//
// One run per flow at a time: the engine refuses a second run of a flow it is running, and River's
// unique jobs refuse a second queued or running run job of a flow. River requires its unique states to
// include "running"; so that a run job left "running" by a killed process does not block its flow
// until River's rescuer discards it, uniqueness is per gateway start (the job carries the start's
// epoch). After a restart the engine has marked that run failed, and the orphaned job, if River ever
// works it again, finds no run to execute.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	_ "github.com/mattn/go-sqlite3" // the database/sql driver River's SQLite driver runs on
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/syncgate/syncgate/server/engine"
)

// Engine is what the jobs execute.
type Engine interface {
	// Execute runs a registered run to its end.
	Execute(ctx context.Context, runID string) error
	// FireDueSchedules starts the runs of the schedules that are due.
	FireDueSchedules(ctx context.Context) error
	// Running reports whether this engine is running the run (it may have ended while its job has
	// not yet been marked completed).
	Running(runID string) bool
}

// Config configures the job system.
type Config struct {
	// DB is the SQLite file for River's tables (created when missing).
	DB     string
	Logger *slog.Logger
	// Workers is how many run jobs execute at once (default 4; each flow runs one at a time).
	Workers int
	// PollInterval is how often an idle worker looks for new jobs (default 20ms): the delay
	// between queueing a run and its start. SQLite has no LISTEN/NOTIFY, so River polls.
	PollInterval time.Duration
	// TickInterval is how often due schedules are fired (default 1s, River's minimum period).
	TickInterval time.Duration
}

// Jobs is the running job system. It implements engine.Dispatcher.
type Jobs struct {
	db     *sql.DB
	client *river.Client[*sql.Tx]
	eng    Engine
	log    *slog.Logger
	epoch  int64
}

var _ engine.Dispatcher = (*Jobs)(nil)

// runArgs is a run job: the registered run to execute.
type runArgs struct {
	RunID string `json:"run_id"`
	Flow  string `json:"flow" river:"unique"`
	// Epoch is the gateway start that queued the job (see the package doc).
	Epoch int64 `json:"epoch" river:"unique"`
}

func (runArgs) Kind() string { return "syncgate_run" }

// InsertOpts: one attempt (a run is never repeated by River: a failed run is a finished run, and the
// next run resumes from the checkpoint); unique per flow among queued and running jobs.
func (runArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

type runWorker struct {
	river.WorkerDefaults[runArgs]
	eng Engine
	db  *sql.DB
	log *slog.Logger
}

// Timeout: a run takes as long as its records do; it is bounded by cancellation, not by River.
func (w *runWorker) Timeout(*river.Job[runArgs]) time.Duration { return -1 }

func (w *runWorker) Work(ctx context.Context, job *river.Job[runArgs]) error {
	err := w.eng.Execute(ctx, job.Args.RunID)
	// The job's end is recorded at once, not in River's next completion batch: until it is, the
	// flow's unique job holds the next run back (see Dispatch).
	if cerr := w.complete(context.WithoutCancel(ctx), job); cerr != nil {
		w.log.Warn("record the run job's end (River records it later)", "run_id", job.Args.RunID, "error", cerr)
	}
	return err
}

func (w *runWorker) complete(ctx context.Context, job *river.Job[runArgs]) error {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job); err != nil {
		return err
	}
	return tx.Commit()
}

// tickArgs is the periodic job that fires due schedules.
type tickArgs struct{}

func (tickArgs) Kind() string { return "syncgate_schedule_tick" }

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	eng Engine
}

func (w *tickWorker) Timeout(*river.Job[tickArgs]) time.Duration { return 30 * time.Second }

func (w *tickWorker) Work(ctx context.Context, job *river.Job[tickArgs]) error {
	return w.eng.FireDueSchedules(ctx)
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
	}
	if cfg.TickInterval < time.Second {
		cfg.TickInterval = time.Second
	}
	db, err := sql.Open("sqlite3", "file:"+cfg.DB+"?_journal_mode=WAL&_busy_timeout=5000&_txlock=immediate&_synchronous=NORMAL")
	if err != nil {
		return nil, fmt.Errorf("open the job database: %w", err)
	}
	db.SetMaxOpenConns(1) // River's SQLite driver: one connection, or "database is locked"
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("job database migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate the job database %s: %w", cfg.DB, err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &runWorker{eng: eng, db: db, log: cfg.Logger})
	river.AddWorker(workers, &tickWorker{eng: eng})
	client, err := river.NewClient(driver, &river.Config{
		// River reports its routine work (job counts every few seconds) at info: only its warnings
		// and errors reach the gateway's log.
		Logger: slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn}).With("component", "river"),
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.Workers},
			queueSchedules:     {MaxWorkers: 1},
		},
		Workers:           workers,
		FetchPollInterval: cfg.PollInterval,
		FetchCooldown:     min(cfg.PollInterval, 100*time.Millisecond),
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(cfg.TickInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				// Ticks are cheap and frequent: kept for a minute after they complete, not River's
				// default day.
				return tickArgs{}, &river.InsertOpts{Queue: queueSchedules, MaxAttempts: 1,
					UniqueOpts: river.UniqueOpts{ByPeriod: cfg.TickInterval}}
			}, &river.PeriodicJobOpts{ID: "schedules", RunOnStart: true})},
		CompletedJobRetentionPeriod: time.Hour,
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("job client: %w", err)
	}
	return &Jobs{db: db, client: client, eng: eng, log: cfg.Logger, epoch: time.Now().UnixNano()}, nil
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
		res, err := j.client.Insert(ctx, runArgs{RunID: job.RunID, Flow: job.Flow, Epoch: j.epoch}, nil)
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

// Stop stops taking jobs and cancels the running ones' contexts (the engine ends their runs as
// cancelled, with their committed pages kept), waiting until they have returned or ctx ends.
func (j *Jobs) Stop(ctx context.Context) error {
	err := j.client.StopAndCancel(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop the job client: %w", err)
	}
	return nil
}

// Close closes River's database; call it after Stop.
func (j *Jobs) Close() error { return j.db.Close() }

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
