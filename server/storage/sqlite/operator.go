package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// The reads and writes unattended operation needs: dead letters by page and by key, a record's
// history across runs, and the flows' schedules.

const deadLetterColumns = `source_key, attempts, last_error, payload, first_failed_at, last_failed_at`

func scanDeadLetters(rows *sql.Rows, flow string, out []storage.DeadLetter) ([]storage.DeadLetter, error) {
	defer rows.Close()
	for rows.Next() {
		d := storage.DeadLetter{Flow: flow}
		var payload string
		var f, l int64
		if err := rows.Scan(&d.SourceKey, &d.Attempts, &d.LastError, &payload, &f, &l); err != nil {
			return nil, err
		}
		d.Payload, d.FirstFailedAt, d.LastFailedAt = []byte(payload), fromNanos(f), fromNanos(l)
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeadLetterPage lists a flow's dead letters in source-key order (byte order), those after the key
// after ("" = from the first), at most limit of them (limit <= 0: all).
func (s *Store) DeadLetterPage(ctx context.Context, flow, after string, limit int) ([]storage.DeadLetter, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE flow = ? AND source_key > ? ORDER BY source_key LIMIT ?`, flow, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	out, err := scanDeadLetters(rows, flow, nil)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return out, nil
}

// DeadLettersByKey returns the dead letters of these source keys in source-key order; keys without
// a letter are left out and a key given twice yields its letter once. The keys are looked up
// inChunk at a time, so any number of them stays under SQLite's limit on parameters.
func (s *Store) DeadLettersByKey(ctx context.Context, flow string, keys []string) ([]storage.DeadLetter, error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var out []storage.DeadLetter
	for in, args := range keyChunks(flow, keys) {
		rows, err := s.db.QueryContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
			WHERE flow = ? AND source_key IN (`+in+`) ORDER BY source_key`, args...)
		if err != nil {
			return nil, fmt.Errorf("read dead letters by key: %w", err)
		}
		// The chunks are sorted and disjoint, so appending them in turn keeps the whole in order.
		if out, err = scanDeadLetters(rows, flow, out); err != nil {
			return nil, fmt.Errorf("read dead letters by key: %w", err)
		}
	}
	return out, nil
}

// CountDeadLetters counts a flow's dead letters.
func (s *Store) CountDeadLetters(ctx context.Context, flow string) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM dead_letters WHERE flow = ?`, flow).Scan(&n); err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return n, nil
}

// historyPrefix marks RecordHistory's page tokens, so that another listing's token is refused.
const historyPrefix = "h|"

// historyPosition is the last row of a history page: the next page starts below it.
type historyPosition struct {
	at    int64
	seq   int64
	runID string
}

func (p historyPosition) token() string {
	return base64.RawURLEncoding.EncodeToString([]byte(historyPrefix + strconv.FormatInt(p.at, 10) + "|" +
		strconv.FormatInt(p.seq, 10) + "|" + p.runID))
}

func decodeHistoryToken(tok string) (historyPosition, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return historyPosition{}, storage.ErrBadPageToken
	}
	rest, ok := strings.CutPrefix(string(b), historyPrefix)
	if !ok {
		return historyPosition{}, storage.ErrBadPageToken
	}
	parts := strings.SplitN(rest, "|", 3)
	if len(parts) != 3 || parts[2] == "" {
		return historyPosition{}, storage.ErrBadPageToken
	}
	at, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return historyPosition{}, storage.ErrBadPageToken
	}
	return historyPosition{at: at, seq: seq, runID: parts[2]}, nil
}

// RecordHistory pages through one record's audit rows across the flow's runs, newest first (by time,
// then run id, then sequence, descending), pageSize rows at a time (<= 0: 100). Unchanged skips
// (action skip, outcome skipped) are not in it: they have no record index entry (see
// storage.Reader.RecordHistory).
//
// The query walks the table record_index (source_key, at, run_id, seq) backwards from the page token:
// no sort, and only the page's entries are read (plus entries of another flow's runs with the same
// key, which the join on runs filters out). The CROSS JOIN fixes record_index as the outer loop of
// SQLite's join, so the planner never drives the query from a flow's runs instead. The rows
// themselves are read from their runs' blocks, each block decoded once per call.
func (s *Store) RecordHistory(ctx context.Context, flow, sourceKey, pageToken string, pageSize int) ([]storage.Record, string, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	where, args := "ri.source_key = ? AND r.flow = ?", []any{sourceKey, flow}
	if pageToken != "" {
		pos, err := decodeHistoryToken(pageToken)
		if err != nil {
			return nil, "", err
		}
		where += " AND (ri.at, ri.run_id, ri.seq) < (?, ?, ?)"
		args = append(args, pos.at, pos.runID, pos.seq)
	}
	args = append(args, pageSize+1)
	rows, err := s.db.QueryContext(ctx, historyQuery(where), args...)
	if err != nil {
		return nil, "", fmt.Errorf("read record history: %w", err)
	}
	type entry struct {
		runID string
		seq   int64
	}
	var entries []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.runID, &e.seq); err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("read record history: %w", err)
		}
		entries = append(entries, e)
	}
	if err := rows.Close(); err != nil {
		return nil, "", fmt.Errorf("read record history: %w", err)
	}
	blocks := s.codec.NewBlocks(func(runID string, seq int64) (int64, []byte, error) {
		var first int64
		var data []byte
		err := s.db.QueryRowContext(ctx, `SELECT first_seq, data FROM run_blocks WHERE run_id = ? AND first_seq <= ?
			ORDER BY first_seq DESC LIMIT 1`, runID, seq).Scan(&first, &data)
		return first, data, err
	})
	out := make([]storage.Record, 0, len(entries))
	for _, e := range entries {
		r, err := blocks.Get(e.runID, e.seq)
		if err != nil {
			return nil, "", fmt.Errorf("read record history: %w", err)
		}
		out = append(out, r)
	}
	next := ""
	if len(out) > pageSize {
		out = out[:pageSize]
		last := out[len(out)-1]
		next = historyPosition{at: last.At.UnixNano(), seq: last.Seq, runID: last.RunID}.token()
	}
	return out, next, nil
}

func historyQuery(where string) string {
	return `SELECT ri.run_id, ri.seq FROM record_index AS ri CROSS JOIN runs AS r ON r.id = ri.run_id
		WHERE ` + where + ` ORDER BY ri.at DESC, ri.run_id DESC, ri.seq DESC LIMIT ?`
}

// Schedules returns the stored schedules, by flow.
func (s *Store) Schedules(ctx context.Context) ([]storage.Schedule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT flow, every_ns, jitter_ns, cron, paused, next_run_at, configured,
		last_fired_at, last_run_id, last_result FROM schedules ORDER BY flow`)
	if err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	defer rows.Close()
	var out []storage.Schedule
	for rows.Next() {
		var sc storage.Schedule
		var every, jitter int64
		var next, fired sql.NullInt64
		if err := rows.Scan(&sc.Flow, &every, &jitter, &sc.Cron, &sc.Paused, &next, &sc.Configured,
			&fired, &sc.LastRunID, &sc.LastResult); err != nil {
			return nil, fmt.Errorf("read schedules: %w", err)
		}
		sc.Every, sc.Jitter = time.Duration(every), time.Duration(jitter)
		sc.NextRunAt, sc.LastFiredAt = fromNanos(next.Int64), fromNanos(fired.Int64)
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	return out, nil
}

// PutSchedule creates or replaces a flow's schedule, every field of it.
func (s *Store) PutSchedule(ctx context.Context, sc storage.Schedule) error {
	if sc.Flow == "" {
		return errors.New("put schedule: no flow")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO schedules (flow, every_ns, jitter_ns, cron, paused, next_run_at, configured,
			last_fired_at, last_run_id, last_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (flow) DO UPDATE SET every_ns = excluded.every_ns, jitter_ns = excluded.jitter_ns, cron = excluded.cron,
			paused = excluded.paused, next_run_at = excluded.next_run_at, configured = excluded.configured,
			last_fired_at = excluded.last_fired_at, last_run_id = excluded.last_run_id, last_result = excluded.last_result`,
		sc.Flow, int64(sc.Every), int64(sc.Jitter), sc.Cron, sc.Paused, nullNanos(sc.NextRunAt), sc.Configured,
		nullNanos(sc.LastFiredAt), sc.LastRunID, sc.LastResult)
	if err != nil {
		return fmt.Errorf("put schedule %s: %w", sc.Flow, err)
	}
	return nil
}

// FireSchedule records that flow's schedule fired at due, in one compare-and-set statement: only
// when next_run_at still equals due does it move next_run_at to next (zero: none) and record the
// firing, and report true. A schedule without a next run (paused, unscheduled) never fires.
func (s *Store) FireSchedule(ctx context.Context, flow string, due, next time.Time, fired storage.ScheduleFiring) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE schedules SET next_run_at = ?, last_fired_at = ?, last_run_id = ?, last_result = ?
		WHERE flow = ? AND next_run_at = ?`,
		nullNanos(next), nullNanos(fired.At), fired.RunID, fired.Result, flow, nullNanos(due))
	if err != nil {
		return false, fmt.Errorf("fire schedule %s: %w", flow, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("fire schedule %s: %w", flow, err)
	}
	return n == 1, nil
}
