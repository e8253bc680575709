package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/compact"
)

var _ storage.Retention = (*Store)(nil)

// candidatesQuery ranks each flow's finished runs newest first by start time and keeps those beyond
// the newest (rank 1 is never pruned) that are beyond the count limit or finished before the age
// limit. Runs are a small table (one row per run); the audit rows are what retention deletes.
const candidatesQuery = `SELECT id FROM (
		SELECT id, started_at, coalesce(nullif(finished_at, 0), started_at) AS ended,
			row_number() OVER (PARTITION BY flow ORDER BY started_at DESC, id DESC) AS n
		FROM runs WHERE status <> 'running')
	WHERE n > 1 AND ((? > 0 AND n > ?) OR (? > 0 AND ended < ?))
	ORDER BY started_at, id LIMIT ?`

// PruneCandidates lists, oldest first, at most limit ids of the runs policy selects at now.
func (s *Store) PruneCandidates(ctx context.Context, p storage.RetentionPolicy, now time.Time, limit int) ([]string, error) {
	if !p.Enabled() || limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, candidatesQuery, p.KeepRuns, p.KeepRuns, int64(p.MaxAge), now.Add(-p.MaxAge).UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("list runs to prune: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list runs to prune: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs to prune: %w", err)
	}
	return ids, nil
}

// errRunning refuses to prune a run that is running.
var errRunning = errors.New("the run is running")

// DeleteRunTrail deletes at most limit audit rows of a finished run in one transaction, and the run
// once its trail is gone, and counts them into the recorded pass passID in that transaction.
func (s *Store) DeleteRunTrail(ctx context.Context, passID int64, runID string, limit int) (deleted int64, done bool, err error) {
	limit = max(limit, 1)
	err = s.inTx(ctx, "prune run "+runID, func(tx *sql.Tx) error {
		deleted, done = 0, false
		var status string
		var started int64
		switch err := tx.QueryRowContext(ctx, `SELECT status, started_at FROM runs WHERE id = ?`, runID).Scan(&status, &started); {
		case errors.Is(err, sql.ErrNoRows):
			done = true
			return nil
		case err != nil:
			return err
		case status == "running":
			return errRunning
		}
		var remaining bool
		if deleted, remaining, err = s.deleteTrailBatch(ctx, tx, runID, limit); err != nil {
			return err
		}
		if !remaining {
			if _, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE id = ?`, runID); err != nil {
				return err
			}
			done = true
		}
		return countIntoPass(ctx, tx, passID, runID, started, deleted, !remaining)
	})
	if err != nil {
		var se sqlite3.Error
		if errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked) {
			err = &busyError{err: err}
		}
		return 0, false, err
	}
	return deleted, done, nil
}

// passCount adds a batch's deleted audit rows (and its run, when the batch deleted it: the pass's
// first deleted run is its oldest, the last its newest) to a recorded pass. Every expression reads
// the row as it was before the update.
const passCount = `UPDATE retention_passes SET records = records + ?1, runs = runs + ?2,
		oldest_run_id = CASE WHEN ?2 = 1 AND oldest_run_id = '' THEN ?3 ELSE oldest_run_id END,
		oldest_started_at = CASE WHEN ?2 = 1 AND oldest_run_id = '' THEN ?4 ELSE oldest_started_at END,
		newest_run_id = CASE WHEN ?2 = 1 THEN ?3 ELSE newest_run_id END,
		newest_started_at = CASE WHEN ?2 = 1 THEN ?4 ELSE newest_started_at END
	WHERE id = ?5`

// countIntoPass counts a batch into pass passID (none when 0 or the batch deleted nothing).
func countIntoPass(ctx context.Context, tx *sql.Tx, passID int64, runID string, started, deleted int64, runDeleted bool) error {
	if passID == 0 || (deleted == 0 && !runDeleted) {
		return nil
	}
	runs := 0
	if runDeleted {
		runs = 1
	}
	if _, err := tx.ExecContext(ctx, passCount, deleted, runs, runID, started, passID); err != nil {
		return fmt.Errorf("count into retention pass %d: %w", passID, err)
	}
	return nil
}

// busyError is a write that waited out the busy timeout; it matches storage.ErrBusy and wraps
// SQLite's error.
type busyError struct{ err error }

func (e *busyError) Error() string   { return e.err.Error() }
func (e *busyError) Unwrap() []error { return []error{storage.ErrBusy, e.err} }

// deleteTrailBatch deletes the run's first blocks (by sequence), whole, as many as hold at most
// limit audit rows together (at least one, whatever its size: a block is one page commit's rows),
// with their record index entries, and returns how many audit rows it deleted and whether any block
// is left. It is the one place retention deletes audit rows.
func (s *Store) deleteTrailBatch(ctx context.Context, tx *sql.Tx, runID string, limit int) (deleted int64, remaining bool, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT first_seq, last_seq FROM run_blocks WHERE run_id = ? ORDER BY first_seq LIMIT ?`, runID, limit+1)
	if err != nil {
		return 0, false, err
	}
	var firsts []int64
	for rows.Next() {
		var first, last int64
		if err := rows.Scan(&first, &last); err != nil {
			rows.Close()
			return 0, false, err
		}
		if n := last - first + 1; len(firsts) == 0 || deleted+n <= int64(limit) {
			firsts, deleted = append(firsts, first), deleted+n
			continue
		}
		remaining = true
		break
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, false, err
	}
	for _, first := range firsts {
		var data []byte
		if err := tx.QueryRowContext(ctx, `DELETE FROM run_blocks WHERE run_id = ? AND first_seq = ? RETURNING data`, runID, first).Scan(&data); err != nil {
			return 0, false, err
		}
		recs, err := s.codec.DecodeBlock(runID, first, data)
		if err != nil {
			return 0, false, fmt.Errorf("block %d of run %s: %w", first, runID, err)
		}
		for _, r := range recs {
			if !compact.Indexed(r) {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM record_index WHERE source_key = ? AND at = ? AND run_id = ? AND seq = ?`,
				r.SourceKey, r.At.UnixNano(), runID, r.Seq); err != nil {
				return 0, false, err
			}
		}
	}
	return deleted, remaining, nil
}

// BeginRetention records a pass begun and drops the passes beyond the newest
// storage.RetentionPassesKept.
func (s *Store) BeginRetention(ctx context.Context, p storage.RetentionPass) (int64, error) {
	var id int64
	err := s.inTx(ctx, "record retention pass", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO retention_passes (started_at, finished_at, policy) VALUES (?, 0, ?) RETURNING id`,
			nanos(p.StartedAt), p.Policy).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM retention_passes WHERE id <= (
			SELECT id FROM retention_passes ORDER BY id DESC LIMIT 1 OFFSET ?)`, storage.RetentionPassesKept)
		return err
	})
	return id, err
}

// FinishRetention records the end of pass passID.
func (s *Store) FinishRetention(ctx context.Context, passID int64, finishedAt time.Time, errText string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE retention_passes SET finished_at = ?, error = ? WHERE id = ?`,
		nanos(finishedAt), errText, passID); err != nil {
		return fmt.Errorf("record retention pass %d: %w", passID, s.classifyWrite(err))
	}
	return nil
}

// RetentionPasses lists the newest recorded passes first, at most limit of them.
func (s *Store) RetentionPasses(ctx context.Context, limit int) ([]storage.RetentionPass, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, started_at, finished_at, policy, runs, records, oldest_run_id,
		coalesce(oldest_started_at, 0), newest_run_id, coalesce(newest_started_at, 0), error
		FROM retention_passes ORDER BY id DESC LIMIT ?`, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("read retention passes: %w", err)
	}
	defer rows.Close()
	var out []storage.RetentionPass
	for rows.Next() {
		var p storage.RetentionPass
		var started, finished, oldest, newest int64
		if err := rows.Scan(&p.ID, &started, &finished, &p.Policy, &p.Runs, &p.Records, &p.OldestRunID, &oldest, &p.NewestRunID, &newest, &p.Error); err != nil {
			return nil, fmt.Errorf("read retention passes: %w", err)
		}
		p.StartedAt, p.FinishedAt, p.OldestStartedAt, p.NewestStartedAt = fromNanos(started), fromNanos(finished), fromNanos(oldest), fromNanos(newest)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read retention passes: %w", err)
	}
	return out, nil
}
