package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/compact"
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
// once its trail is gone, and counts them into the recorded pass passID in that transaction.
func (s *Store) DeleteRunTrail(ctx context.Context, passID int64, runID string, limit int) (deleted int64, done bool, err error) {
	limit = max(limit, 1)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		deleted, done = 0, false
		var status string
		var started int64
		switch err := tx.QueryRow(ctx, `SELECT status, started_at FROM runs WHERE id = $1 FOR UPDATE`, runID).Scan(&status, &started); {
		case errors.Is(err, pgx.ErrNoRows):
			done = true
			return nil
		case err != nil:
			return err
		case status == "running":
			return errRunning
		}
		var err error
		var remaining bool
		if deleted, remaining, err = s.deleteTrailBatch(ctx, tx, runID, limit); err != nil {
			return err
		}
		if !remaining {
			if _, err := tx.Exec(ctx, `DELETE FROM runs WHERE id = $1`, runID); err != nil {
				return err
			}
			done = true
		}
		return countIntoPass(ctx, tx, passID, runID, started, deleted, !remaining)
	})
	if err != nil {
		return 0, false, fmt.Errorf("prune run %s: %w", runID, err)
	}
	return deleted, done, nil
}

// passCount adds a batch's deleted audit rows (and its run, when the batch deleted it: the pass's
// first deleted run is its oldest, the last its newest) to a recorded pass, as the SQLite backend's.
const passCount = `UPDATE retention_passes SET records = records + $1, runs = runs + $2,
		oldest_run_id = CASE WHEN $2 = 1 AND oldest_run_id = '' THEN $3 ELSE oldest_run_id END,
		oldest_started_at = CASE WHEN $2 = 1 AND oldest_run_id = '' THEN $4 ELSE oldest_started_at END,
		newest_run_id = CASE WHEN $2 = 1 THEN $3 ELSE newest_run_id END,
		newest_started_at = CASE WHEN $2 = 1 THEN $4 ELSE newest_started_at END
	WHERE id = $5`

// countIntoPass counts a batch into pass passID (none when 0 or the batch deleted nothing).
func countIntoPass(ctx context.Context, tx pgx.Tx, passID int64, runID string, started, deleted int64, runDeleted bool) error {
	if passID == 0 || (deleted == 0 && !runDeleted) {
		return nil
	}
	var runs int64
	if runDeleted {
		runs = 1
	}
	if _, err := tx.Exec(ctx, passCount, deleted, runs, runID, started, passID); err != nil {
		return fmt.Errorf("count into retention pass %d: %w", passID, err)
	}
	return nil
}

// deleteTrailBatch deletes the run's first blocks (by sequence), whole, as many as hold at most
// limit audit rows together (at least one, whatever its size: a block is one page commit's rows),
// with their record index entries, and returns how many audit rows it deleted and whether any block
// is left. It is the one place retention deletes audit rows.
func (s *Store) deleteTrailBatch(ctx context.Context, tx pgx.Tx, runID string, limit int) (deleted int64, remaining bool, err error) {
	rows, err := tx.Query(ctx, `SELECT first_seq, last_seq FROM run_blocks WHERE run_id = $1 ORDER BY first_seq LIMIT $2`, runID, limit+1)
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
	var keys []string
	var ats, seqs []int64
	for _, first := range firsts {
		var data []byte
		if err := tx.QueryRow(ctx, `DELETE FROM run_blocks WHERE run_id = $1 AND first_seq = $2 RETURNING data`, runID, first).Scan(&data); err != nil {
			return 0, false, err
		}
		recs, err := s.codec.DecodeBlock(runID, first, data)
		if err != nil {
			return 0, false, fmt.Errorf("block %d of run %s: %w", first, runID, err)
		}
		for _, r := range recs {
			if compact.Indexed(r) {
				keys, ats, seqs = append(keys, r.SourceKey), append(ats, r.At.UnixNano()), append(seqs, r.Seq)
			}
		}
	}
	if len(keys) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM record_index AS ri USING unnest($2::text[], $3::bigint[], $4::bigint[]) AS u(source_key, at, seq)
			WHERE ri.source_key = u.source_key AND ri.at = u.at AND ri.run_id = $1 AND ri.seq = u.seq`, runID, keys, ats, seqs); err != nil {
			return 0, false, err
		}
	}
	return deleted, remaining, nil
}

// BeginRetention records a pass begun and drops the passes beyond the newest
// storage.RetentionPassesKept.
func (s *Store) BeginRetention(ctx context.Context, p storage.RetentionPass) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO retention_passes (started_at, finished_at, policy) VALUES ($1, 0, $2) RETURNING id`,
			nanos(p.StartedAt), p.Policy).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM retention_passes WHERE id <= (
			SELECT id FROM retention_passes ORDER BY id DESC LIMIT 1 OFFSET $1)`, storage.RetentionPassesKept)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record retention pass: %w", err)
	}
	return id, nil
}

// FinishRetention records the end of pass passID.
func (s *Store) FinishRetention(ctx context.Context, passID int64, finishedAt time.Time, errText string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE retention_passes SET finished_at = $1, error = $2 WHERE id = $3`,
		nanos(finishedAt), errText, passID); err != nil {
		return fmt.Errorf("record retention pass %d: %w", passID, err)
	}
	return nil
}

// RetentionPasses lists the newest recorded passes first, at most limit of them.
func (s *Store) RetentionPasses(ctx context.Context, limit int) ([]storage.RetentionPass, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, started_at, finished_at, policy, runs, records, oldest_run_id,
		oldest_started_at, newest_run_id, newest_started_at, error
		FROM retention_passes ORDER BY id DESC LIMIT $1`, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("read retention passes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.RetentionPass, error) {
		var p storage.RetentionPass
		var started, finished int64
		var oldest, newest *int64
		err := row.Scan(&p.ID, &started, &finished, &p.Policy, &p.Runs, &p.Records, &p.OldestRunID, &oldest, &p.NewestRunID, &newest, &p.Error)
		p.StartedAt, p.FinishedAt, p.OldestStartedAt, p.NewestStartedAt = fromNanos(started), fromNanos(finished), fromNullNanos(oldest), fromNullNanos(newest)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read retention passes: %w", err)
	}
	return out, nil
}
