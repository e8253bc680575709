package postgres

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/compact"
)

// nanos is t as Unix nanoseconds, 0 for the zero time (columns that always hold a time).
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// nullNanos is t as Unix nanoseconds, nil (NULL) for the zero time (optional times).
func nullNanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// fromNanos is the inverse of nanos and nullNanos: 0 and NULL are the zero time.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func fromNullNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return fromNanos(*n)
}

// nonNil keeps an empty payload an empty bytea: pgx sends a nil []byte as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Mappings returns the mappings of the given source keys that exist.
func (s *Store) Mappings(ctx context.Context, flow string, keys []string) (map[string]storage.Mapping, error) {
	out := make(map[string]storage.Mapping, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT source_key, target_key, payload_hash, payload, created_at, updated_at
		FROM mappings WHERE flow = $1 AND source_key = ANY($2::text[])`, flow, keys)
	if err != nil {
		return nil, fmt.Errorf("read mappings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m := storage.Mapping{Flow: flow}
		var c, u int64
		var hash, payload []byte
		if err := rows.Scan(&m.SourceKey, &m.TargetKey, &hash, &payload, &c, &u); err != nil {
			return nil, fmt.Errorf("read mappings: %w", err)
		}
		if m.Payload, err = s.codec.DecodePayload(payload); err != nil {
			return nil, fmt.Errorf("read mapping %s: %w", m.SourceKey, err)
		}
		m.PayloadHash, m.CreatedAt, m.UpdatedAt = compact.DecodeHash(hash), fromNanos(c), fromNanos(u)
		out[m.SourceKey] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read mappings: %w", err)
	}
	return out, nil
}

// CountMappings returns how many mappings a flow has.
func (s *Store) CountMappings(ctx context.Context, flow string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM mappings WHERE flow = $1`, flow).Scan(&n); err != nil {
		return 0, fmt.Errorf("count mappings: %w", err)
	}
	return n, nil
}

// Checkpoint returns a flow's checkpoint; ok is false when the flow has none.
func (s *Store) Checkpoint(ctx context.Context, flow string) (storage.Cursor, bool, error) {
	var t int64
	var k string
	err := s.pool.QueryRow(ctx, `SELECT cursor_time, cursor_key FROM checkpoints WHERE flow = $1`, flow).Scan(&t, &k)
	if errors.Is(err, pgx.ErrNoRows) {
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

// limitOrAll is a LIMIT argument: NULL (no limit) for limit <= 0.
func limitOrAll(limit int) *int64 {
	if limit <= 0 {
		return nil
	}
	n := int64(limit)
	return &n
}

const deadLetterColumns = `source_key, attempts, last_error, payload, first_failed_at, last_failed_at`

func scanDeadLetters(rows pgx.Rows, flow string, out []storage.DeadLetter) ([]storage.DeadLetter, error) {
	defer rows.Close()
	for rows.Next() {
		d := storage.DeadLetter{Flow: flow}
		var f, l int64
		if err := rows.Scan(&d.SourceKey, &d.Attempts, &d.LastError, &d.Payload, &f, &l); err != nil {
			return nil, err
		}
		d.FirstFailedAt, d.LastFailedAt = fromNanos(f), fromNanos(l)
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeadLetters lists a flow's dead letters, oldest failure first (limit <= 0: all).
func (s *Store) DeadLetters(ctx context.Context, flow string, limit int) ([]storage.DeadLetter, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE flow = $1 ORDER BY first_failed_at, source_key LIMIT $2`, flow, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	out, err := scanDeadLetters(rows, flow, nil)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return out, nil
}

// DeadLetterPage lists a flow's dead letters in source-key order (byte order), those after the key
// after ("" = from the first), at most limit of them (limit <= 0: all).
func (s *Store) DeadLetterPage(ctx context.Context, flow, after string, limit int) ([]storage.DeadLetter, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE flow = $1 AND source_key > $2 ORDER BY source_key LIMIT $3`, flow, after, limitOrAll(limit))
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
// a letter are left out and a key given twice yields its letter once.
func (s *Store) DeadLettersByKey(ctx context.Context, flow string, keys []string) ([]storage.DeadLetter, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE flow = $1 AND source_key = ANY($2::text[]) ORDER BY source_key`, flow, keys)
	if err != nil {
		return nil, fmt.Errorf("read dead letters by key: %w", err)
	}
	out, err := scanDeadLetters(rows, flow, nil)
	if err != nil {
		return nil, fmt.Errorf("read dead letters by key: %w", err)
	}
	return out, nil
}

// CountDeadLetters counts a flow's dead letters.
func (s *Store) CountDeadLetters(ctx context.Context, flow string) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM dead_letters WHERE flow = $1`, flow).Scan(&n); err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return n, nil
}

// CommitPage writes one page's mappings, audit rows, dead letters, checkpoint and run counts in one
// transaction: either all of it is durable or none of it. The page's statements go to the server as
// one pipelined batch (one round trip), the mappings and audit rows each as one statement over
// arrays.
func (s *Store) CommitPage(ctx context.Context, p storage.PageCommit) error {
	b := s.commitBatch(p, time.Now().UnixNano())
	if b.Len() == 0 {
		return nil
	}
	if err := s.sendInTx(ctx, b); err != nil {
		return fmt.Errorf("commit page: %w", err)
	}
	return nil
}

// sendInTx runs the batch in one transaction: committed when every statement succeeds, rolled back
// otherwise.
func (s *Store) sendInTx(ctx context.Context, b *pgx.Batch) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	})
}

const (
	upsertMappings = `INSERT INTO mappings (flow, source_key, target_key, payload_hash, payload, created_at, updated_at)
		SELECT $1, u.source_key, u.target_key, u.payload_hash, u.payload, $6, $6
		FROM unnest($2::text[], $3::text[], $4::bytea[], $5::bytea[]) AS u(source_key, target_key, payload_hash, payload)
		ON CONFLICT (flow, source_key) DO UPDATE SET target_key = excluded.target_key,
			payload_hash = excluded.payload_hash, payload = excluded.payload, updated_at = excluded.updated_at`
	// lockRun serialises the page commits of one run (their audit rows are numbered after the run's
	// last one). FOR NO KEY UPDATE is the lock an UPDATE of the run takes; it does not block the
	// foreign-key checks of other transactions.
	lockRun = `SELECT 1 FROM runs WHERE id = $1 FOR NO KEY UPDATE`
	// insertBlock stores a page's block after the run's last one: its rows are numbered from there
	// (the block holds them numbered from 0, see compact.Codec.EncodeBlock).
	insertBlock = `INSERT INTO run_blocks (run_id, first_seq, last_seq, summary, data)
		SELECT $1, last.seq + 1, last.seq + $2::bigint, $3, $4
		FROM (SELECT COALESCE((SELECT last_seq FROM run_blocks WHERE run_id = $1 ORDER BY first_seq DESC LIMIT 1), 0) AS seq) AS last`
	// insertIndex adds the record index entries of the block just stored (the run's last), by the
	// rows' positions in it.
	insertIndex = `INSERT INTO record_index (source_key, at, run_id, seq)
		SELECT u.source_key, u.at, $1, b.first_seq + u.pos
		FROM (SELECT first_seq FROM run_blocks WHERE run_id = $1 ORDER BY first_seq DESC LIMIT 1) AS b,
			unnest($2::text[], $3::bigint[], $4::bigint[]) AS u(source_key, at, pos)
		ON CONFLICT DO NOTHING`
	upsertDeadLetter = `INSERT INTO dead_letters (flow, source_key, attempts, last_error, payload, first_failed_at, last_failed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (flow, source_key) DO UPDATE SET attempts = dead_letters.attempts + excluded.attempts,
			last_error = excluded.last_error, payload = excluded.payload, last_failed_at = excluded.last_failed_at`
	resolveDeadLetters = `DELETE FROM dead_letters WHERE flow = $1 AND source_key = ANY($2::text[])`
	clearIntents       = `DELETE FROM create_intents WHERE flow = $1 AND source_key = ANY($2::text[])`
	upsertCheckpoint   = `INSERT INTO checkpoints (flow, cursor_time, cursor_key, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (flow) DO UPDATE SET cursor_time = excluded.cursor_time, cursor_key = excluded.cursor_key,
			updated_at = excluded.updated_at`
	updateCounts = `UPDATE runs SET read = $1, added = $2, updated = $3, skipped = $4, failed = $5, retried = $6 WHERE id = $7`
	updateWindow = `UPDATE runs SET window_start = $1, window_end = $2 WHERE id = $3`
	updateCursor = `UPDATE runs SET cursor_time = $1, cursor_key = $2 WHERE id = $3`
)

// commitBatch is the statements of one page commit, in the SQLite backend's order.
func (s *Store) commitBatch(p storage.PageCommit, now int64) *pgx.Batch {
	b := &pgx.Batch{}
	if len(p.Mappings) > 0 {
		// One statement cannot upsert a row twice: a key given twice keeps its last mapping, as the
		// SQLite backend's row-by-row upserts leave it.
		ms := lastPerKey(p.Mappings)
		keys, targets := make([]string, len(ms)), make([]string, len(ms))
		hashes, payloads := make([][]byte, len(ms)), make([][]byte, len(ms))
		for i, m := range ms {
			keys[i], targets[i] = m.SourceKey, m.TargetKey
			hashes[i], payloads[i] = compact.EncodeHash(m.PayloadHash), s.codec.EncodePayload(m.Payload)
		}
		b.Queue(upsertMappings, p.Flow, keys, targets, hashes, payloads, now)
	}
	if n := len(p.Records); n > 0 {
		recs := make([]storage.Record, n)
		var keys []string
		var ats, pos []int64
		for i, r := range p.Records {
			r.Seq = int64(i) // numbered from 0: the block's first sequence number is added in SQL
			if r.At.IsZero() {
				r.At = time.Unix(0, now)
			}
			recs[i] = r
			if compact.Indexed(r) {
				keys, ats, pos = append(keys, r.SourceKey), append(ats, r.At.UnixNano()), append(pos, int64(i))
			}
		}
		b.Queue(lockRun, p.RunID)
		b.Queue(insertBlock, p.RunID, int64(n), compact.Summary(recs), s.codec.EncodeBlock(0, recs))
		if len(keys) > 0 {
			b.Queue(insertIndex, p.RunID, keys, ats, pos)
		}
	}
	for _, d := range p.DeadLetters {
		b.Queue(upsertDeadLetter, p.Flow, d.SourceKey, max(d.Attempts, 1), d.LastError, nonNil(d.Payload), now)
	}
	if len(p.Resolved) > 0 {
		b.Queue(resolveDeadLetters, p.Flow, p.Resolved)
	}
	if len(p.ClearIntents) > 0 {
		b.Queue(clearIntents, p.Flow, p.ClearIntents)
	}
	if c := p.Checkpoint; c != nil {
		b.Queue(upsertCheckpoint, p.Flow, nanos(c.Time), c.Key, now)
	}
	if c := p.Counts; c != nil {
		b.Queue(updateCounts, c.Read, c.Added, c.Updated, c.Skipped, c.Failed, c.Retried, p.RunID)
	}
	if w := p.Window; w != nil {
		b.Queue(updateWindow, nullNanos(w.Start), nullNanos(w.End), p.RunID)
	}
	if c := p.RunCursor; c != nil {
		b.Queue(updateCursor, nanos(c.Time), c.Key, p.RunID)
	}
	return b
}

// lastPerKey returns the mappings with each source key's last one only, in the order of those.
func lastPerKey(ms []storage.Mapping) []storage.Mapping {
	last := make(map[string]int, len(ms))
	for i, m := range ms {
		last[m.SourceKey] = i
	}
	if len(last) == len(ms) {
		return ms
	}
	out := make([]storage.Mapping, 0, len(last))
	for i, m := range ms {
		if last[m.SourceKey] == i {
			out = append(out, m)
		}
	}
	return out
}

// RecordIntents durably records the target keys that creates are about to use, before they are sent.
// A key already recorded for a source key stays: the create that may have happened used it (and of a
// key given twice here, the first stays).
func (s *Store) RecordIntents(ctx context.Context, flow string, intents []storage.Intent) error {
	if len(intents) == 0 {
		return nil
	}
	keys, targets := make([]string, len(intents)), make([]string, len(intents))
	for i, in := range intents {
		keys[i], targets[i] = in.SourceKey, in.TargetKey
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO create_intents (flow, source_key, target_key, created_at)
		SELECT $1, u.source_key, u.target_key, $4 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(source_key, target_key, ord)
		ORDER BY u.ord
		ON CONFLICT (flow, source_key) DO NOTHING`, flow, keys, targets, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("record create intents: %w", err)
	}
	return nil
}

// Intents returns the target keys recorded by create intents for the given source keys (those that
// have one).
func (s *Store) Intents(ctx context.Context, flow string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT source_key, target_key FROM create_intents WHERE flow = $1 AND source_key = ANY($2::text[])`, flow, keys)
	if err != nil {
		return nil, fmt.Errorf("read create intents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, t string
		if err := rows.Scan(&k, &t); err != nil {
			return nil, fmt.Errorf("read create intents: %w", err)
		}
		out[k] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read create intents: %w", err)
	}
	return out, nil
}

// CreateRun inserts a new run.
func (s *Store) CreateRun(ctx context.Context, r storage.Run) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO runs (id, flow, options, window_start, window_end, status, started_at, error, trigger, actor)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, r.ID, r.Flow, nonNil(r.Options), nullNanos(r.WindowStart), nullNanos(r.WindowEnd),
		r.Status, nanos(r.StartedAt), r.Error, r.Trigger, r.Actor)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	return nil
}

// FinishRun records a run's final status, counts, end time, window and error. The run's flow,
// options, start, trigger and actor stay as CreateRun recorded them.
func (s *Store) FinishRun(ctx context.Context, r storage.Run) error {
	c := r.Counts
	_, err := s.pool.Exec(ctx, `UPDATE runs SET status = $1, read = $2, added = $3, updated = $4, skipped = $5, failed = $6, retried = $7,
		finished_at = $8, error = $9, window_start = $10, window_end = $11 WHERE id = $12`,
		r.Status, c.Read, c.Added, c.Updated, c.Skipped, c.Failed, c.Retried, nullNanos(r.FinishedAt), r.Error,
		nullNanos(r.WindowStart), nullNanos(r.WindowEnd), r.ID)
	if err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	return nil
}

// FailInterrupted marks runs still "running" (left by a crash) as failed, and returns how many.
func (s *Store) FailInterrupted(ctx context.Context, at time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET status = 'failed', finished_at = $1, error = 'interrupted: the gateway stopped during the run'
		WHERE status = 'running'`, at.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("fail interrupted runs: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RequestCancel marks a running run as asked to stop; false when it is not running, ErrNotFound when
// it does not exist.
func (s *Store) RequestCancel(ctx context.Context, runID string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET cancel_requested = true WHERE id = $1 AND status = 'running'`, runID)
	if err != nil {
		return false, fmt.Errorf("request cancel: %w", err)
	}
	if tag.RowsAffected() > 0 {
		return true, nil
	}
	if _, err := s.GetRun(ctx, runID); err != nil {
		return false, err
	}
	return false, nil
}

// PublishProgress records a running run's live counts and returns whether it was asked to stop; a run
// that is no longer running is left unchanged.
func (s *Store) PublishProgress(ctx context.Context, runID string, live storage.Counts) (bool, error) {
	b, err := json.Marshal(live)
	if err != nil {
		return false, fmt.Errorf("publish progress: %w", err)
	}
	var cancel bool
	err = s.pool.QueryRow(ctx, `UPDATE runs SET live = $1 WHERE id = $2 AND status = 'running' RETURNING cancel_requested`, string(b), runID).Scan(&cancel)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("publish progress: %w", err)
	}
	return cancel, nil
}

const runColumns = `id, flow, options, window_start, window_end, status, read, added, updated, skipped, failed, retried, started_at, finished_at, error, trigger, actor,
	cursor_time, cursor_key, cancel_requested, live`

func scanRun(row pgx.Row) (storage.Run, error) {
	var r storage.Run
	var ws, we, fin, ct *int64
	var st int64
	var ck, live string
	c := &r.Counts
	err := row.Scan(&r.ID, &r.Flow, &r.Options, &ws, &we, &r.Status, &c.Read, &c.Added, &c.Updated, &c.Skipped, &c.Failed, &c.Retried,
		&st, &fin, &r.Error, &r.Trigger, &r.Actor, &ct, &ck, &r.CancelRequested, &live)
	if err != nil {
		return storage.Run{}, err
	}
	if ct != nil {
		r.Cursor = &storage.Cursor{Time: fromNanos(*ct), Key: ck}
	}
	if live != "" {
		var lc storage.Counts
		if err := json.Unmarshal([]byte(live), &lc); err != nil {
			return storage.Run{}, fmt.Errorf("run %s live counts: %w", r.ID, err)
		}
		r.Live = &lc
	}
	r.StartedAt = fromNanos(st)
	r.WindowStart, r.WindowEnd, r.FinishedAt = fromNullNanos(ws), fromNullNanos(we), fromNullNanos(fin)
	return r, nil
}

// GetRun reads one run; ErrNotFound when it does not exist.
func (s *Store) GetRun(ctx context.Context, id string) (storage.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.Run{}, fmt.Errorf("run %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return storage.Run{}, fmt.Errorf("read run: %w", err)
	}
	return r, nil
}

// Page tokens: base64url (no padding) of a prefix naming the listing, then the position of the
// page's last row. A token without its listing's prefix, or whose position does not parse, is
// refused with storage.ErrBadPageToken.
const (
	runsPrefix    = "runs|"
	recordsPrefix = "records|"
	historyPrefix = "history|"
)

func encodeToken(prefix string, parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + strings.Join(parts, "|")))
}

// decodeToken returns the n parts of a token of the listing prefix names (the last part may hold "|").
func decodeToken(tok, prefix string, n int) ([]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, storage.ErrBadPageToken
	}
	rest, ok := strings.CutPrefix(string(b), prefix)
	if !ok {
		return nil, storage.ErrBadPageToken
	}
	parts := strings.SplitN(rest, "|", n)
	if len(parts) != n {
		return nil, storage.ErrBadPageToken
	}
	return parts, nil
}

// ListRuns lists runs newest first (by start time, then id, descending), a page at a time.
func (s *Store) ListRuns(ctx context.Context, f storage.RunFilter) ([]storage.Run, string, error) {
	if f.PageSize <= 0 {
		f.PageSize = 50
	}
	where, args := []string{"true"}, []any{}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Flow != "" {
		where = append(where, "flow = "+arg(f.Flow))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.PageToken != "" {
		parts, err := decodeToken(f.PageToken, runsPrefix, 2)
		if err != nil {
			return nil, "", err
		}
		at, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil || parts[1] == "" {
			return nil, "", storage.ErrBadPageToken
		}
		where = append(where, "(started_at, id) < ("+arg(at)+", "+arg(parts[1])+")")
	}
	limit := arg(f.PageSize + 1)
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs WHERE `+strings.Join(where, " AND ")+
		` ORDER BY started_at DESC, id DESC LIMIT `+limit, args...)
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
		next = encodeToken(runsPrefix, strconv.FormatInt(nanos(last.StartedAt), 10), last.ID)
	}
	return out, next, nil
}

const recordColumns = `seq, source_key, target_key, action, attempt, vendor, operation, request, response, outcome, error, at`

func scanRecord(rows pgx.Row, r *storage.Record) error {
	var at int64
	var req, resp []byte
	if err := rows.Scan(&r.Seq, &r.SourceKey, &r.TargetKey, &r.Action, &r.Attempt, &r.Vendor, &r.Operation,
		&req, &resp, &r.Outcome, &r.Error, &at); err != nil {
		return err
	}
	r.Request, r.Response, r.At = string(req), string(resp), fromNanos(at)
	return nil
}

// RunRecords returns a page of a run's audit trail in order, the rows f selects (pageSize <= 0: 100).
func (s *Store) RunRecords(ctx context.Context, runID string, f storage.RecordFilter, pageToken string, pageSize int) ([]storage.Record, string, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	var after int64
	if pageToken != "" {
		parts, err := decodeToken(pageToken, recordsPrefix, 1)
		if err != nil {
			return nil, "", err
		}
		if after, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
			return nil, "", storage.ErrBadPageToken
		}
	}
	blocks, err := s.runBlocks(ctx, runID, after)
	if err != nil {
		return nil, "", fmt.Errorf("read run records: %w", err)
	}
	out, err := s.codec.PageRun(runID, blocks, func(first int64) ([]byte, error) {
		var data []byte
		err := s.pool.QueryRow(ctx, `SELECT data FROM run_blocks WHERE run_id = $1 AND first_seq = $2`, runID, first).Scan(&data)
		return data, err
	}, f, after, pageSize+1)
	if err != nil {
		return nil, "", fmt.Errorf("read run records: %w", err)
	}
	next := ""
	if len(out) > pageSize {
		out = out[:pageSize]
		next = encodeToken(recordsPrefix, strconv.FormatInt(out[len(out)-1].Seq, 10))
	}
	return out, next, nil
}

// historyQuery reads a record's history newest first: its record index entries, from which the rows
// are read from their blocks. It is one backward range scan of record_index's primary key
// (source_key, at, run_id, seq) from the page token, with no sort, that stops after the page's
// entries (TestRecordHistoryUsesTheIndex checks the plan). The flow is checked per entry by a scalar
// subquery (a primary-key probe of runs), which PostgreSQL cannot turn into a join: as a join, the
// planner may drive the query from the flow's runs instead, probing the index once per run and
// sorting, which grows with the number of runs rather than with the page (the role of the CROSS JOIN
// in the SQLite backend).
const historyQuery = `SELECT ri.run_id, ri.seq
	FROM record_index AS ri
	WHERE ri.source_key = $1 AND (ri.at, ri.run_id, ri.seq) < ($3, $4, $5)
		AND (SELECT r.flow FROM runs AS r WHERE r.id = ri.run_id) = $2
	ORDER BY ri.at DESC, ri.run_id DESC, ri.seq DESC LIMIT $6`

// RecordHistory pages through one record's audit rows across the flow's runs, newest first (by time,
// then run id, then sequence, descending), pageSize rows at a time (<= 0: 100). Unchanged skips are
// not in it (see storage.Reader.RecordHistory).
func (s *Store) RecordHistory(ctx context.Context, flow, sourceKey, pageToken string, pageSize int) ([]storage.Record, string, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	// From the top: a position above every row (no row's time is the largest int64).
	at, runID, seq := int64(1<<63-1), "\U0010FFFF", int64(1<<63-1)
	if pageToken != "" {
		parts, err := decodeToken(pageToken, historyPrefix, 3)
		if err != nil {
			return nil, "", err
		}
		var err1, err2 error
		at, err1 = strconv.ParseInt(parts[0], 10, 64)
		seq, err2 = strconv.ParseInt(parts[1], 10, 64)
		runID = parts[2]
		if err1 != nil || err2 != nil || runID == "" {
			return nil, "", storage.ErrBadPageToken
		}
	}
	rows, err := s.pool.Query(ctx, historyQuery, sourceKey, flow, at, runID, seq, pageSize+1)
	if err != nil {
		return nil, "", fmt.Errorf("read record history: %w", err)
	}
	type entry struct {
		runID string
		seq   int64
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (entry, error) {
		var e entry
		return e, row.Scan(&e.runID, &e.seq)
	})
	if err != nil {
		return nil, "", fmt.Errorf("read record history: %w", err)
	}
	blocks := s.codec.NewBlocks(func(runID string, seq int64) (int64, []byte, error) {
		var first int64
		var data []byte
		err := s.pool.QueryRow(ctx, `SELECT first_seq, data FROM run_blocks WHERE run_id = $1 AND first_seq <= $2
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
		next = encodeToken(historyPrefix, strconv.FormatInt(last.At.UnixNano(), 10), strconv.FormatInt(last.Seq, 10), last.RunID)
	}
	return out, next, nil
}

// runBlocks lists a run's blocks that end after seq after, in order, without their data.
func (s *Store) runBlocks(ctx context.Context, runID string, after int64) ([]compact.Block, error) {
	rows, err := s.pool.Query(ctx, `SELECT first_seq, last_seq, summary FROM run_blocks WHERE run_id = $1 AND last_seq > $2 ORDER BY first_seq`, runID, after)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (compact.Block, error) {
		var b compact.Block
		return b, row.Scan(&b.FirstSeq, &b.LastSeq, &b.Summary)
	})
}

// legacyBatch is how many audit rows of run_records one transaction of convertLegacyTrail moves.
const legacyBatch = 1000

// convertLegacyTrail moves the audit rows that a database made before migration 2 keeps in
// run_records into blocks and the record index, legacyBatch rows of one run per transaction: each
// batch is deleted from run_records (its rows locked, so a gateway opening at the same time gets
// none of them) and written as one block in the same transaction, so an interrupted conversion
// resumes at the next open.
func (s *Store) convertLegacyTrail(ctx context.Context) error {
	for {
		var runID string
		err := s.pool.QueryRow(ctx, `SELECT run_id FROM run_records LIMIT 1`).Scan(&runID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("convert audit rows: %w", err)
		}
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `DELETE FROM run_records WHERE run_id = $1 AND seq IN
				(SELECT seq FROM run_records WHERE run_id = $1 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
				RETURNING `+recordColumns, runID, legacyBatch)
			if err != nil {
				return err
			}
			recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Record, error) {
				r := storage.Record{RunID: runID}
				return r, scanRecord(row, &r)
			})
			if err != nil || len(recs) == 0 {
				return err
			}
			slices.SortFunc(recs, func(a, b storage.Record) int { return cmp.Compare(a.Seq, b.Seq) })
			first := recs[0].Seq
			if _, err := tx.Exec(ctx, `INSERT INTO run_blocks (run_id, first_seq, last_seq, summary, data) VALUES ($1, $2, $3, $4, $5)`,
				runID, first, recs[len(recs)-1].Seq, compact.Summary(recs), s.codec.EncodeBlock(first, recs)); err != nil {
				return err
			}
			var keys []string
			var ats, pos []int64
			for _, r := range recs {
				if compact.Indexed(r) {
					keys, ats, pos = append(keys, r.SourceKey), append(ats, r.At.UnixNano()), append(pos, r.Seq-first)
				}
			}
			if len(keys) == 0 {
				return nil
			}
			_, err = tx.Exec(ctx, `INSERT INTO record_index (source_key, at, run_id, seq)
				SELECT u.source_key, u.at, $1, $2::bigint + u.pos FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS u(source_key, at, pos)
				ON CONFLICT DO NOTHING`, runID, first, keys, ats, pos)
			return err
		})
		if err != nil {
			return fmt.Errorf("convert audit rows: %w", err)
		}
	}
}

// Schedules returns the stored schedules, by flow.
func (s *Store) Schedules(ctx context.Context) ([]storage.Schedule, error) {
	rows, err := s.pool.Query(ctx, `SELECT flow, every_ns, jitter_ns, cron, paused, next_run_at, configured,
		last_fired_at, last_run_id, last_result FROM schedules ORDER BY flow`)
	if err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	defer rows.Close()
	var out []storage.Schedule
	for rows.Next() {
		var sc storage.Schedule
		var every, jitter int64
		var next, fired *int64
		if err := rows.Scan(&sc.Flow, &every, &jitter, &sc.Cron, &sc.Paused, &next, &sc.Configured,
			&fired, &sc.LastRunID, &sc.LastResult); err != nil {
			return nil, fmt.Errorf("read schedules: %w", err)
		}
		sc.Every, sc.Jitter = time.Duration(every), time.Duration(jitter)
		sc.NextRunAt, sc.LastFiredAt = fromNullNanos(next), fromNullNanos(fired)
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
	_, err := s.pool.Exec(ctx, `INSERT INTO schedules (flow, every_ns, jitter_ns, cron, paused, next_run_at, configured,
			last_fired_at, last_run_id, last_result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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
// firing, and report true. A schedule without a next run (paused, unscheduled) never fires: NULL
// equals nothing.
func (s *Store) FireSchedule(ctx context.Context, flow string, due, next time.Time, fired storage.ScheduleFiring) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE schedules SET next_run_at = $1, last_fired_at = $2, last_run_id = $3, last_result = $4
		WHERE flow = $5 AND next_run_at = $6`,
		nullNanos(next), nullNanos(fired.At), fired.RunID, fired.Result, flow, nullNanos(due))
	if err != nil {
		return false, fmt.Errorf("fire schedule %s: %w", flow, err)
	}
	return tag.RowsAffected() == 1, nil
}
