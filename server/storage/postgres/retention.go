package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncgate/syncgate/server/storage"
)

var _ storage.Retention = (*Store)(nil)

// candidatesQuery ranks each flow's finished runs newest first by start time and keeps those beyond
// the newest (rank 1 is never pruned) that are beyond the count limit or finished before the age
// limit (as the SQLite backend's query).
const candidatesQuery = `SELECT id FROM (
		SELECT id, started_at, coalesce(nullif(finished_at, 0), started_at) AS ended,
			row_number() OVER (PARTITION BY flow ORDER BY started_at DESC, id DESC) AS n
		FROM runs WHERE status <> 'running') AS ranked
	WHERE n > 1 AND (($1::bigint > 0 AND n > $1::bigint) OR ($2::bigint > 0 AND ended < $3::bigint))
	ORDER BY started_at, id LIMIT $4`

// PruneCandidates lists, oldest first, at most limit ids of the runs policy selects at now.
func (s *Store) PruneCandidates(ctx context.Context, p storage.RetentionPolicy, now time.Time, limit int) ([]string, error) {
	if !p.Enabled() || limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, candidatesQuery, int64(p.KeepRuns), int64(p.MaxAge), now.Add(-p.MaxAge).UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("list runs to prune: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list runs to prune: %w", err)
	}
	return ids, nil
}

// errRunning refuses to prune a run that is running.
var errRunning = errors.New("the run is running")

// DeleteRunTrail deletes at most limit audit rows of a finished run in one transaction, and the run
// once its trail is gone.
func (s *Store) DeleteRunTrail(ctx context.Context, runID string, limit int) (deleted int64, done bool, err error) {
	limit = max(limit, 1)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		deleted, done = 0, false
		var status string
		switch err := tx.QueryRow(ctx, `SELECT status FROM runs WHERE id = $1 FOR UPDATE`, runID).Scan(&status); {
		case errors.Is(err, pgx.ErrNoRows):
			done = true
			return nil
		case err != nil:
			return err
		case status == "running":
			return errRunning
		}
		var err error
		if deleted, err = deleteTrailBatch(ctx, tx, runID, limit); err != nil {
			return err
		}
		if deleted < int64(limit) {
			if _, err := tx.Exec(ctx, `DELETE FROM runs WHERE id = $1`, runID); err != nil {
				return err
			}
			done = true
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("prune run %s: %w", runID, classifyWrite(err))
	}
	return deleted, done, nil
}

// deleteTrailBatch deletes the first limit audit rows of a run (by sequence) and returns how many it
// deleted: fewer than limit means the trail is gone. It is the one place retention deletes audit
// rows, so a change of the audit layout changes only this function.
func deleteTrailBatch(ctx context.Context, tx pgx.Tx, runID string, limit int) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM run_records WHERE run_id = $1 AND seq IN (
		SELECT seq FROM run_records WHERE run_id = $1 ORDER BY seq LIMIT $2)`, runID, limit)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// RecordRetention stores what a pass removed and drops the passes beyond the newest
// storage.RetentionPassesKept.
func (s *Store) RecordRetention(ctx context.Context, p storage.RetentionPass) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO retention_passes (started_at, finished_at, policy, runs, records,
			oldest_run_id, oldest_started_at, newest_run_id, newest_started_at, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			nanos(p.StartedAt), nanos(p.FinishedAt), p.Policy, p.Runs, p.Records,
			p.OldestRunID, nullNanos(p.OldestStartedAt), p.NewestRunID, nullNanos(p.NewestStartedAt), p.Error)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM retention_passes WHERE id <= (
			SELECT id FROM retention_passes ORDER BY id DESC LIMIT 1 OFFSET $1)`, storage.RetentionPassesKept)
		return err
	})
	if err != nil {
		return fmt.Errorf("record retention pass: %w", classifyWrite(err))
	}
	return nil
}

// RetentionPasses lists the newest recorded passes first, at most limit of them.
func (s *Store) RetentionPasses(ctx context.Context, limit int) ([]storage.RetentionPass, error) {
	rows, err := s.pool.Query(ctx, `SELECT started_at, finished_at, policy, runs, records, oldest_run_id,
		oldest_started_at, newest_run_id, newest_started_at, error
		FROM retention_passes ORDER BY id DESC LIMIT $1`, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("read retention passes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.RetentionPass, error) {
		var p storage.RetentionPass
		var started, finished int64
		var oldest, newest *int64
		err := row.Scan(&started, &finished, &p.Policy, &p.Runs, &p.Records, &p.OldestRunID, &oldest, &p.NewestRunID, &newest, &p.Error)
		p.StartedAt, p.FinishedAt, p.OldestStartedAt, p.NewestStartedAt = fromNanos(started), fromNanos(finished), fromNullNanos(oldest), fromNullNanos(newest)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read retention passes: %w", err)
	}
	return out, nil
}
