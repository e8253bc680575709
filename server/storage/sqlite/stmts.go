package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// stmtCache keeps prepared statements for the hot run-table reads (GetRun, ListRuns, Checkpoint)
// and the sync's hot path (hot.go), keyed by their SQL text. go-sqlite3 prepares (parses and plans) every statement it is given per
// call; the API's readers ask the same few queries hundreds of times a second while a sync runs, and
// that preparation was a large share of their cost. A *sql.Stmt of database/sql prepares its query
// once on each pooled connection it runs on and reuses it there, so with the store's fixed pool each
// query is prepared at most maxConns times for the life of the store.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
	// oneOff counts the statements txStmt prepared for one transaction because the cache had none.
	oneOff atomic.Int64
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// errStmtCacheClosed is returned by get after close.
var errStmtCacheClosed = errors.New("sqlite: store closed")

// get returns the prepared statement for query, preparing it the first time it is asked for.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errStmtCacheClosed
	}
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.stmts[query] = st
	return st, nil
}

// lookup returns the prepared statement for query if there is one, without preparing it.
func (c *stmtCache) lookup(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[query]
	return st, ok && !c.closed
}

// len is the number of statements prepared so far.
func (c *stmtCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmts)
}

// close closes every statement; get fails afterwards.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for q, st := range c.stmts {
		if err := st.Close(); err != nil {
			errs = append(errs, err)
		}
		delete(c.stmts, q)
	}
	return errors.Join(errs...)
}

// queryRow runs a cached single-row query. An error preparing it is returned by the Row's Scan.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	st, err := s.stmts.get(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// query runs a cached query.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// rowScanner is what a single-row query gives: *sql.Row, or errRow when the statement failed to prepare.
type rowScanner interface{ Scan(dest ...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
