package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"iter"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/compact"
)

// The sync's hot path (the planner's Mappings and Intents reads, RecordIntents and CommitPage) runs
// statements of a bounded set of shapes, each prepared once for the store's life in its stmtCache:
// go-sqlite3 otherwise parses and plans every statement per call, and a page's multi-row INSERTs and
// IN lists carry hundreds of parameters each. A list of keys or rows of any length is cut into
// pieces of a few fixed sizes so that the set of shapes stays small: IN lists of inChunk keys and
// a last piece padded to a power of two (repeating its last key, which IN ignores), INSERTs of
// rowsPerInsert rows and a remainder cut into powers of two.

// inSizes are the sizes of the IN lists the hot reads and deletes use.
var inSizes = pieceSizes(inChunk)

// insertSizes are the row counts of the multi-row INSERTs the hot writes use.
var insertSizes = pieceSizes(rowsPerInsert)

// pieceSizes returns full and the powers of two below it, largest first.
func pieceSizes(full int) []int {
	out := []int{full}
	for p := 1 << (bits.Len(uint(full)) - 1); p >= 1; p >>= 1 {
		if p != full {
			out = append(out, p)
		}
	}
	return out
}

// inSize is the IN list size that n (1..inChunk) keys are padded to: the next power of two, or
// inChunk when that is larger.
func inSize(n int) int {
	p := 1 << bits.Len(uint(n-1))
	return min(p, inChunk)
}

// sizedKeyChunks is keyChunks with each chunk's IN list padded to inSize by repeating its last key,
// so that every chunk runs one of the few statements of inSizes.
func sizedKeyChunks(flow string, keys []string) iter.Seq2[string, []any] {
	return func(yield func(string, []any) bool) {
		for start := 0; start < len(keys); start += inChunk {
			chunk := keys[start:min(start+inChunk, len(keys))]
			size := inSize(len(chunk))
			args := make([]any, 0, size+1)
			args = append(args, flow)
			for _, k := range chunk {
				args = append(args, k)
			}
			for len(args) < size+1 {
				args = append(args, chunk[len(chunk)-1])
			}
			if !yield(placeholders(size), args) {
				return
			}
		}
	}
}

// insertPieces yields the [start, end) row ranges that n rows are inserted in: rowsPerInsert rows at
// a time, then the remainder in powers of two, largest first.
func insertPieces(n int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		start := 0
		for ; n-start >= rowsPerInsert; start += rowsPerInsert {
			if !yield(start, start+rowsPerInsert) {
				return
			}
		}
		for _, size := range insertSizes[1:] { // the remainder, under rowsPerInsert, in binary
			if n-start >= size {
				if !yield(start, start+size) {
					return
				}
				start += size
			}
		}
	}
}

// insertQuery is head + rows placeholder tuples of cols columns + " " + tail.
func insertQuery(head, tail string, cols, rows int) string {
	one := "(" + placeholders(cols) + ")"
	return head + strings.TrimSuffix(strings.Repeat(one+",", rows), ",") + " " + tail
}

// The hot statements' texts (or their heads and tails).
const (
	mappingsInsertHead = `INSERT INTO mappings (flow, source_key, target_key, payload_hash, payload, created_at, updated_at) VALUES `
	mappingsInsertTail = `ON CONFLICT (flow, source_key) DO UPDATE SET target_key = excluded.target_key,
				payload_hash = excluded.payload_hash, payload = excluded.payload, updated_at = excluded.updated_at`
	intentsInsertHead = `INSERT INTO create_intents (flow, source_key, target_key, created_at) VALUES `
	intentsInsertTail = `ON CONFLICT (flow, source_key) DO NOTHING`
	indexInsertHead   = `INSERT INTO record_index (source_key, at, run_id, seq) VALUES `
	indexInsertTail   = `ON CONFLICT DO NOTHING`

	mappingsSelectHead = `SELECT source_key, target_key, payload_hash, payload, created_at, updated_at
			FROM mappings WHERE flow = ? AND source_key IN (`
	intentsSelectHead     = `SELECT source_key, target_key FROM create_intents WHERE flow = ? AND source_key IN (`
	deadLettersDeleteHead = `DELETE FROM dead_letters WHERE flow = ? AND source_key IN (`
	intentsDeleteHead     = `DELETE FROM create_intents WHERE flow = ? AND source_key IN (`

	lastSeqQuery     = `SELECT last_seq FROM run_blocks WHERE run_id = ? ORDER BY first_seq DESC LIMIT 1`
	blockInsert      = `INSERT INTO run_blocks (run_id, first_seq, last_seq, summary, data) VALUES (?, ?, ?, ?, ?)`
	deadLetterUpsert = `INSERT INTO dead_letters (flow, source_key, attempts, last_error, payload, first_failed_at, last_failed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (flow, source_key) DO UPDATE SET attempts = dead_letters.attempts + excluded.attempts,
				last_error = excluded.last_error, payload = excluded.payload, last_failed_at = excluded.last_failed_at`
	anyDeadLetterQuery = `SELECT COUNT(*) FROM (SELECT 1 FROM dead_letters WHERE flow = ? LIMIT 1)`
	checkpointUpsert   = `INSERT INTO checkpoints (flow, cursor_time, cursor_key, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (flow) DO UPDATE SET cursor_time = excluded.cursor_time, cursor_key = excluded.cursor_key, updated_at = excluded.updated_at`
	runCountsUpdate = `UPDATE runs SET read = ?, added = ?, updated = ?, skipped = ?, failed = ?, retried = ? WHERE id = ?`
	runWindowUpdate = `UPDATE runs SET window_start = ?, window_end = ? WHERE id = ?`
	runCursorUpdate = `UPDATE runs SET cursor_time = ?, cursor_key = ? WHERE id = ?`
)

// hotQueries lists every statement text of the hot path, for warm.
func hotQueries() []string {
	out := []string{lastSeqQuery, blockInsert, deadLetterUpsert, anyDeadLetterQuery, checkpointUpsert,
		runCountsUpdate, runWindowUpdate, runCursorUpdate}
	for _, n := range insertSizes {
		out = append(out, insertQuery(mappingsInsertHead, mappingsInsertTail, 7, n), insertQuery(intentsInsertHead, intentsInsertTail, 4, n),
			insertQuery(indexInsertHead, indexInsertTail, 4, n))
	}
	for _, n := range inSizes {
		in := placeholders(n)
		out = append(out, mappingsSelectHead+in+`)`, intentsSelectHead+in+`)`, deadLettersDeleteHead+in+`)`, intentsDeleteHead+in+`)`)
	}
	return out
}

// warm prepares the hot path's statements. It runs at Open, before any transaction: a statement
// prepared through the pool while a transaction holds a connection would wait for another one.
func (s *Store) warm(ctx context.Context) error {
	for _, q := range hotQueries() {
		if _, err := s.stmts.get(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// txStmt returns query's statement for use in tx: the store's prepared statement when it has one
// (database/sql prepares it on tx's connection the first time and reuses it there), otherwise one
// prepared for tx alone.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.lookup(query); ok {
		return tx.StmtContext(ctx, st), nil
	}
	s.stmts.oneOff.Add(1)
	return tx.PrepareContext(ctx, query)
}

// txExec runs query with args in tx through txStmt.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// txQueryRow runs the single-row query in tx through txStmt.
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) rowScanner {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// encodedBlock is a block of audit rows encoded before the transaction that writes it. Its sequence
// numbers are relative: the transaction adds the run's last sequence number (a block's encoding
// stores sequence numbers relative to its first, so the bytes do not depend on it).
type encodedBlock struct {
	first, last int64
	summary     string
	data        []byte
	indexed     []indexEntry
}

// indexEntry is a record index entry of an encodedBlock, seq relative as the block's.
type indexEntry struct {
	key     string
	at, seq int64
}

// encodeBlock encodes recs (of one run, in sequence order, Seq and At set).
func (s *Store) encodeBlock(recs []storage.Record) encodedBlock {
	b := encodedBlock{first: recs[0].Seq, last: recs[len(recs)-1].Seq, summary: compact.Summary(recs), data: s.codec.EncodeBlock(recs[0].Seq, recs)}
	for _, r := range recs {
		if compact.Indexed(r) {
			b.indexed = append(b.indexed, indexEntry{key: r.SourceKey, at: r.At.UnixNano(), seq: r.Seq})
		}
	}
	// In key order: see encodedPage.
	slices.SortFunc(b.indexed, func(x, y indexEntry) int {
		return cmp.Or(strings.Compare(x.key, y.key), cmp.Compare(x.at, y.at), cmp.Compare(x.seq, y.seq))
	})
	return b
}

// encodedPage is the part of a page commit that needs no database: the mappings' stored hashes
// and payloads and the audit rows' block, computed before the write transaction begins so that the
// one SQLite writer holds its lock for the writes alone.
//
// The mappings are upserted in source-key order (order), the record index entries in key order:
// keys arrive scattered (FCUSTIDs in modification-date order), and SQLite inserts sorted keys into
// its B-trees with far less work (BenchmarkCommitPage). The rows stored are the same; a key given
// twice in a page keeps its place after the other (the sort is stable), so the last one still wins.
type encodedPage struct {
	now              int64
	hashes, payloads [][]byte
	order            []int
	block            *encodedBlock
}

func (s *Store) encodePage(p storage.PageCommit) encodedPage {
	e := encodedPage{now: time.Now().UnixNano()}
	if len(p.Mappings) > 0 {
		e.order = keyOrder(len(p.Mappings), func(i int) string { return p.Mappings[i].SourceKey })
		e.hashes, e.payloads = make([][]byte, len(p.Mappings)), make([][]byte, len(p.Mappings))
		for i, m := range p.Mappings {
			e.hashes[i], e.payloads[i] = compact.EncodeHash(m.PayloadHash), s.codec.EncodePayload(m.Payload)
		}
	}
	if len(p.Records) > 0 {
		recs := make([]storage.Record, len(p.Records))
		for i, r := range p.Records {
			r.Seq = int64(i) + 1
			if r.At.IsZero() {
				r.At = time.Unix(0, e.now)
			}
			recs[i] = r
		}
		b := s.encodeBlock(recs)
		e.block = &b
	}
	return e
}

// keyOrder returns the indexes 0..n-1 sorted by key(i), stably: the order in which to insert n rows
// whose keys arrive scattered.
func keyOrder(n int, key func(i int) string) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(key(a), key(b)) })
	return order
}
