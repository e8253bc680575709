package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/compact"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
)

const inChunk = 400

// Mappings returns the mappings of the given source keys that exist. The keys are read inChunk at a
// time with statements prepared once for the store's life (sizedKeyChunks).
func (s *Store) Mappings(ctx context.Context, flow string, keys []string) (map[string]storage.Mapping, error) {
	out := make(map[string]storage.Mapping, len(keys))
	for in, args := range sizedKeyChunks(flow, keys) {
		rows, err := s.query(ctx, mappingsSelectHead+in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read mappings: %w", err)
		}
		for rows.Next() {
			m := storage.Mapping{Flow: flow}
			var hash, payload []byte
			var c, u int64
			if err := rows.Scan(&m.SourceKey, &m.TargetKey, &hash, &payload, &c, &u); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read mappings: %w", err)
			}
			if m.Payload, err = s.codec.DecodePayload(payload); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read mapping %s: %w", m.SourceKey, err)
			}
			m.PayloadHash, m.CreatedAt, m.UpdatedAt = compact.DecodeHash(hash), fromNanos(c), fromNanos(u)
			out[m.SourceKey] = m
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("read mappings: %w", err)
		}
	}
	return out, nil
}

// CountMappings returns how many mappings a flow has.
func (s *Store) CountMappings(ctx context.Context, flow string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM mappings WHERE flow = ?`, flow).Scan(&n)
	return n, err
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Checkpoint returns a flow's checkpoint; ok is false when the flow has none.
func (s *Store) Checkpoint(ctx context.Context, flow string) (storage.Cursor, bool, error) {
	var t int64
	var k string
	err := s.queryRow(ctx, `SELECT cursor_time, cursor_key FROM checkpoints WHERE flow = ?`, flow).Scan(&t, &k)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Cursor{}, false, nil
	}
	if err != nil {
		return storage.Cursor{}, false, fmt.Errorf("read checkpoint: %w", err)
	}
	return storage.Cursor{Time: fromNanos(t), Key: k}, true, nil
}

// SetCheckpoint sets a flow's checkpoint outside a page commit (tests and operators).
func (s *Store) SetCheckpoint(ctx context.Context, flow string, c storage.Cursor) error {
	return s.CommitPage(ctx, storage.PageCommit{Flow: flow, Checkpoint: &c})
}

// DeadLetters lists a flow's dead letters, oldest failure first (limit <= 0: all).
func (s *Store) DeadLetters(ctx context.Context, flow string, limit int) ([]storage.DeadLetter, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT source_key, attempts, last_error, payload, first_failed_at, last_failed_at
		FROM dead_letters WHERE flow = ? ORDER BY first_failed_at, source_key LIMIT ?`, flow, limit)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	defer rows.Close()
	var out []storage.DeadLetter
	for rows.Next() {
		d := storage.DeadLetter{Flow: flow}
		var payload string
		var f, l int64
		if err := rows.Scan(&d.SourceKey, &d.Attempts, &d.LastError, &payload, &f, &l); err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		d.Payload, d.FirstFailedAt, d.LastFailedAt = []byte(payload), fromNanos(f), fromNanos(l)
		out = append(out, d)
	}
	return out, rows.Err()
}

// CommitPage writes one page's mappings, audit rows, dead letters, checkpoint and run counts in one
// transaction: either all of it is durable or none of it. The page's payloads and audit block are
// encoded before the transaction begins (encodePage).
func (s *Store) CommitPage(ctx context.Context, p storage.PageCommit) error {
	e := s.encodePage(p)
	return s.inTx(ctx, "commit page", func(tx *sql.Tx) error { return s.commitPage(ctx, tx, p, e) })
}

// inTx runs fn in one transaction: committed when fn succeeds, rolled back otherwise. Errors are
// prefixed with what.
func (s *Store) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, s.classifyWrite(err))
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return fmt.Errorf("%s: %w", what, s.classifyWrite(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, s.classifyWrite(err))
	}
	return nil
}

func (s *Store) commitPage(ctx context.Context, tx *sql.Tx, p storage.PageCommit, e encodedPage) error {
	now := e.now
	if len(p.Mappings) > 0 {
		err := s.insertRows(ctx, tx, mappingsInsertHead, mappingsInsertTail, 7, len(p.Mappings), func(i int, args []any) []any {
			i = e.order[i]
			m := p.Mappings[i]
			return append(args, p.Flow, m.SourceKey, m.TargetKey, e.hashes[i], e.payloads[i], now, now)
		})
		if err != nil {
			return fmt.Errorf("upsert mappings: %w", err)
		}
	}
	if e.block != nil {
		var seq int64
		err := s.txQueryRow(ctx, tx, lastSeqQuery, p.RunID).Scan(&seq)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("audit rows: %w", err)
		}
		if err := s.writeBlock(ctx, tx, p.RunID, *e.block, seq); err != nil {
			return fmt.Errorf("audit rows: %w", err)
		}
	}
	if len(p.DeadLetters) > 0 {
		st, err := s.txStmt(ctx, tx, deadLetterUpsert)
		if err != nil {
			return err
		}
		for _, d := range p.DeadLetters {
			if _, err := st.ExecContext(ctx, p.Flow, d.SourceKey, max(d.Attempts, 1), d.LastError, string(d.Payload), now, now); err != nil {
				return fmt.Errorf("dead letter %s: %w", d.SourceKey, err)
			}
		}
	}
	if len(p.Resolved) > 0 {
		// Every delivered record is resolved, but letters are rare: look only when the flow has any.
		var letters int
		if err := s.txQueryRow(ctx, tx, anyDeadLetterQuery, p.Flow).Scan(&letters); err != nil {
			return err
		}
		if letters > 0 {
			if err := s.deleteKeys(ctx, tx, deadLettersDeleteHead, p.Flow, p.Resolved); err != nil {
				return fmt.Errorf("resolve dead letters: %w", err)
			}
		}
	}
	if err := s.deleteKeys(ctx, tx, intentsDeleteHead, p.Flow, p.ClearIntents); err != nil {
		return fmt.Errorf("clear create intents: %w", err)
	}
	if c := p.Checkpoint; c != nil {
		if _, err := s.txExec(ctx, tx, checkpointUpsert, p.Flow, nanos(c.Time), c.Key, now); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if c := p.Counts; c != nil {
		if _, err := s.txExec(ctx, tx, runCountsUpdate, c.Read, c.Added, c.Updated, c.Skipped, c.Failed, c.Retried, p.RunID); err != nil {
			return fmt.Errorf("run counts: %w", err)
		}
	}
	if w := p.Window; w != nil {
		if _, err := s.txExec(ctx, tx, runWindowUpdate, nullNanos(w.Start), nullNanos(w.End), p.RunID); err != nil {
			return fmt.Errorf("run window: %w", err)
		}
	}
	if c := p.RunCursor; c != nil {
		if _, err := s.txExec(ctx, tx, runCursorUpdate, nanos(c.Time), c.Key, p.RunID); err != nil {
			return fmt.Errorf("run cursor: %w", err)
		}
	}
	return nil
}

// keyChunks yields the keys inChunk at a time, each chunk as its IN list of placeholders and its
// arguments (flow first, then the keys).
func keyChunks(flow string, keys []string) iter.Seq2[string, []any] {
	return func(yield func(string, []any) bool) {
		for start := 0; start < len(keys); start += inChunk {
			chunk := keys[start:min(start+inChunk, len(keys))]
			args := make([]any, 0, len(chunk)+1)
			args = append(args, flow)
			for _, k := range chunk {
				args = append(args, k)
			}
			if !yield(placeholders(len(chunk)), args) {
				return
			}
		}
	}
}

// deleteKeys runs head + "?,…)" with flow and the keys, inChunk keys at a time (sizedKeyChunks).
func (s *Store) deleteKeys(ctx context.Context, tx *sql.Tx, head, flow string, keys []string) error {
	for in, args := range sizedKeyChunks(flow, keys) {
		if _, err := s.txExec(ctx, tx, head+in+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// RecordIntents durably records the target keys that creates are about to use, before they are sent.
// A key already recorded for a source key stays: the create that may have happened used it.
func (s *Store) RecordIntents(ctx context.Context, flow string, intents []storage.Intent) error {
	if len(intents) == 0 {
		return nil
	}
	order := keyOrder(len(intents), func(i int) string { return intents[i].SourceKey })
	return s.inTx(ctx, "record create intents", func(tx *sql.Tx) error {
		now := time.Now().UnixNano()
		return s.insertRows(ctx, tx, intentsInsertHead, intentsInsertTail, 4, len(intents), func(i int, args []any) []any {
			in := intents[order[i]]
			return append(args, flow, in.SourceKey, in.TargetKey, now)
		})
	})
}

// Intents returns the target keys recorded by create intents for the given source keys (those that
// have one).
func (s *Store) Intents(ctx context.Context, flow string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	for in, args := range sizedKeyChunks(flow, keys) {
		rows, err := s.query(ctx, intentsSelectHead+in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read create intents: %w", err)
		}
		for rows.Next() {
			var k, t string
			if err := rows.Scan(&k, &t); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read create intents: %w", err)
			}
			out[k] = t
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("read create intents: %w", err)
		}
	}
	return out, nil
}

// rowsPerInsert is how many rows one multi-row INSERT carries: a page's rows go in a few statements
// instead of one per row (each statement costs a cgo round trip and database/sql bookkeeping), well
// under SQLite's limit of 32766 parameters.
const rowsPerInsert = 100

// insertRows inserts n rows of cols columns with head + "(?,…),(?,…)…" + tail in the pieces of
// insertPieces, each a statement of the store's cache; row appends row i's values to args.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, head, tail string, cols, n int, row func(i int, args []any) []any) error {
	args := make([]any, 0, cols*min(n, rowsPerInsert))
	for start, end := range insertPieces(n) {
		args = args[:0]
		for i := start; i < end; i++ {
			args = row(i, args)
		}
		if _, err := s.txExec(ctx, tx, insertQuery(head, tail, cols, end-start), args...); err != nil {
			return err
		}
	}
	return nil
}

// CreateRun inserts a new run.
func (s *Store) CreateRun(ctx context.Context, r storage.Run) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO runs (id, flow, options, window_start, window_end, status, started_at, error, trigger, actor)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Flow, string(r.Options), nullNanos(r.WindowStart), nullNanos(r.WindowEnd),
		r.Status, nanos(r.StartedAt), r.Error, r.Trigger, r.Actor)
	if err != nil {
		return fmt.Errorf("create run: %w", s.classifyWrite(err))
	}
	return nil
}

// FinishRun records a run's final status, counts, end time, window and error. The run's flow,
// options, start, trigger and actor stay as CreateRun recorded them.
func (s *Store) FinishRun(ctx context.Context, r storage.Run) error {
	c := r.Counts
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, read = ?, added = ?, updated = ?, skipped = ?, failed = ?, retried = ?,
		finished_at = ?, error = ?, window_start = ?, window_end = ? WHERE id = ?`,
		r.Status, c.Read, c.Added, c.Updated, c.Skipped, c.Failed, c.Retried, nullNanos(r.FinishedAt), r.Error,
		nullNanos(r.WindowStart), nullNanos(r.WindowEnd), r.ID)
	if err != nil {
		return fmt.Errorf("finish run: %w", s.classifyWrite(err))
	}
	return nil
}

// FailInterrupted marks runs still "running" (left by a crash) as failed, and returns how many.
func (s *Store) FailInterrupted(ctx context.Context, at time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET status = 'failed', finished_at = ?, error = 'interrupted: the gateway stopped during the run'
		WHERE status = 'running'`, at.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("fail interrupted runs: %w", s.classifyWrite(err))
	}
	return res.RowsAffected()
}

// RequestCancel marks a running run as asked to stop; false when it is not running.
func (s *Store) RequestCancel(ctx context.Context, runID string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status = 'running'`, runID)
	if err != nil {
		return false, fmt.Errorf("request cancel: %w", s.classifyWrite(err))
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return n > 0, err
	}
	if _, err := s.GetRun(ctx, runID); err != nil {
		return false, err
	}
	return false, nil
}

// PublishProgress records a running run's live counts and returns whether it was asked to stop.
func (s *Store) PublishProgress(ctx context.Context, runID string, live storage.Counts) (bool, error) {
	b, _ := json.Marshal(live)
	var cancel bool
	err := s.db.QueryRowContext(ctx, `UPDATE runs SET live = ? WHERE id = ? AND status = 'running' RETURNING cancel_requested`, string(b), runID).Scan(&cancel)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("publish progress: %w", s.classifyWrite(err))
	}
	return cancel, nil
}

const runColumns = `id, flow, options, window_start, window_end, status, read, added, updated, skipped, failed, retried, started_at, finished_at, error, trigger, actor,
	cursor_time, cursor_key, cancel_requested, live`

func scanRun(sc interface{ Scan(...any) error }) (storage.Run, error) {
	var r storage.Run
	var opts string
	var ws, we, fin sql.NullInt64
	var st int64
	var ct sql.NullInt64
	var ck, live string
	c := &r.Counts
	err := sc.Scan(&r.ID, &r.Flow, &opts, &ws, &we, &r.Status, &c.Read, &c.Added, &c.Updated, &c.Skipped, &c.Failed, &c.Retried, &st, &fin, &r.Error, &r.Trigger, &r.Actor,
		&ct, &ck, &r.CancelRequested, &live)
	if err != nil {
		return storage.Run{}, err
	}
	if ct.Valid {
		r.Cursor = &storage.Cursor{Time: fromNanos(ct.Int64), Key: ck}
	}
	if live != "" {
		var lc storage.Counts
		if err := json.Unmarshal([]byte(live), &lc); err != nil {
			return storage.Run{}, fmt.Errorf("run %s live counts: %w", r.ID, err)
		}
		r.Live = &lc
	}
	r.Options, r.StartedAt = []byte(opts), fromNanos(st)
	r.WindowStart, r.WindowEnd, r.FinishedAt = fromNanos(ws.Int64), fromNanos(we.Int64), fromNanos(fin.Int64)
	return r, nil
}

// GetRun reads one run; ErrNotFound when it does not exist.
func (s *Store) GetRun(ctx context.Context, id string) (storage.Run, error) {
	r, err := scanRun(s.queryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Run{}, fmt.Errorf("run %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return storage.Run{}, fmt.Errorf("read run: %w", err)
	}
	return r, nil
}

// ListRuns lists runs newest first, a page at a time.
func (s *Store) ListRuns(ctx context.Context, f storage.RunFilter) ([]storage.Run, string, error) {
	if f.PageSize <= 0 {
		f.PageSize = 50
	}
	where, args := []string{"1=1"}, []any{}
	if f.Flow != "" {
		where, args = append(where, "flow = ?"), append(args, f.Flow)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.PageToken != "" {
		at, id, err := decodeRunToken(f.PageToken)
		if err != nil {
			return nil, "", err
		}
		where, args = append(where, "(started_at, id) < (?, ?)"), append(args, at, id)
	}
	args = append(args, f.PageSize+1)
	rows, err := s.query(ctx, `SELECT `+runColumns+` FROM runs WHERE `+strings.Join(where, " AND ")+
		` ORDER BY started_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []storage.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list runs: %w", err)
	}
	next := ""
	if len(out) > f.PageSize {
		out = out[:f.PageSize]
		last := out[len(out)-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(nanos(last.StartedAt), 10) + "|" + last.ID))
	}
	return out, next, nil
}

func decodeRunToken(tok string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, "", storage.ErrBadPageToken
	}
	at, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return 0, "", storage.ErrBadPageToken
	}
	return n, id, nil
}

// RunRecords returns a page of a run's audit trail in order.
func (s *Store) RunRecords(ctx context.Context, runID string, f storage.RecordFilter, pageToken string, pageSize int) ([]storage.Record, string, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	var after int64
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil {
			return nil, "", storage.ErrBadPageToken
		}
		if after, err = strconv.ParseInt(string(b), 10, 64); err != nil {
			return nil, "", storage.ErrBadPageToken
		}
	}
	blocks, err := s.runBlocks(ctx, runID, after)
	if err != nil {
		return nil, "", fmt.Errorf("read run records: %w", err)
	}
	out, err := s.codec.PageRun(runID, blocks, func(first int64) ([]byte, error) {
		var data []byte
		err := s.db.QueryRowContext(ctx, `SELECT data FROM run_blocks WHERE run_id = ? AND first_seq = ?`, runID, first).Scan(&data)
		return data, err
	}, f, after, pageSize+1)
	if err != nil {
		return nil, "", fmt.Errorf("read run records: %w", err)
	}
	next := ""
	if len(out) > pageSize {
		out = out[:pageSize]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(out[len(out)-1].Seq, 10)))
	}
	return out, next, nil
}

// runBlocks lists a run's blocks that end after seq after, in order, without their data.
func (s *Store) runBlocks(ctx context.Context, runID string, after int64) ([]compact.Block, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT first_seq, last_seq, summary FROM run_blocks WHERE run_id = ? AND last_seq > ? ORDER BY first_seq`, runID, after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []compact.Block
	for rows.Next() {
		var b compact.Block
		if err := rows.Scan(&b.FirstSeq, &b.LastSeq, &b.Summary); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// writeBlock writes an encoded block of one run and its record index entries, its sequence numbers
// shifted by base.
func (s *Store) writeBlock(ctx context.Context, tx *sql.Tx, runID string, b encodedBlock, base int64) error {
	if _, err := s.txExec(ctx, tx, blockInsert, runID, base+b.first, base+b.last, b.summary, b.data); err != nil {
		return fmt.Errorf("block: %w", err)
	}
	if len(b.indexed) == 0 {
		return nil
	}
	err := s.insertRows(ctx, tx, indexInsertHead, indexInsertTail, 4, len(b.indexed), func(i int, args []any) []any {
		r := b.indexed[i]
		return append(args, r.key, r.at, runID, base+r.seq)
	})
	if err != nil {
		return fmt.Errorf("record index: %w", err)
	}
	return nil
}

// legacyBatch is how many audit rows of run_records one transaction of convertLegacyTrail moves.
const legacyBatch = 1000

// convertLegacyTrail moves the audit rows that a database made before migration 6 keeps in
// run_records into blocks and the record index, legacyBatch rows of one run per transaction (each
// batch is deleted from run_records and written as one block in the same transaction, so an
// interrupted conversion resumes where it stopped at the next open).
func (s *Store) convertLegacyTrail(ctx context.Context) error {
	for {
		var runID string
		err := s.db.QueryRowContext(ctx, `SELECT run_id FROM run_records LIMIT 1`).Scan(&runID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("convert audit rows: %w", err)
		}
		err = s.inTx(ctx, "convert audit rows", func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `DELETE FROM run_records WHERE run_id = ? AND seq IN
				(SELECT seq FROM run_records WHERE run_id = ? ORDER BY seq LIMIT ?)
				RETURNING seq, source_key, target_key, action, attempt, vendor, operation, request, response, outcome, error, at`,
				runID, runID, legacyBatch)
			if err != nil {
				return err
			}
			var recs []storage.Record
			for rows.Next() {
				r := storage.Record{RunID: runID}
				var at int64
				if err := rows.Scan(&r.Seq, &r.SourceKey, &r.TargetKey, &r.Action, &r.Attempt, &r.Vendor, &r.Operation,
					&r.Request, &r.Response, &r.Outcome, &r.Error, &at); err != nil {
					rows.Close()
					return err
				}
				r.At = fromNanos(at)
				recs = append(recs, r)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if len(recs) == 0 {
				return nil
			}
			slices.SortFunc(recs, func(a, b storage.Record) int { return cmp.Compare(a.Seq, b.Seq) })
			return s.writeBlock(ctx, tx, runID, s.encodeBlock(recs), 0)
		})
		if err != nil {
			return err
		}
	}
}
