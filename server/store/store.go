// Package store is syncgate's SQLite storage: id mappings, checkpoints, runs, the audit trail and dead
// letters. It is the only package that contains SQL. The schema lives in the migrations package and is
// applied by golang-migrate when the store opens.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite3"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/mattn/go-sqlite3"

	"github.com/syncgate/syncgate/migrations"
)

// ErrNotFound is returned when a run does not exist.
var ErrNotFound = errors.New("not found")

// Store is the SQLite store. It is safe for concurrent use; writes are serialised by SQLite.
type Store struct {
	db *sql.DB
}

// Reader is the read-only view of the store. Preview and dry runs get only this, so they cannot write
// by construction.
type Reader interface {
	Mappings(ctx context.Context, flow string, keys []string) (map[string]Mapping, error)
	Checkpoint(ctx context.Context, flow string) (Cursor, bool, error)
	DeadLetters(ctx context.Context, flow string, limit int) ([]DeadLetter, error)
	GetRun(ctx context.Context, id string) (Run, error)
	ListRuns(ctx context.Context, f RunFilter) ([]Run, string, error)
	RunRecords(ctx context.Context, runID, pageToken string, pageSize int) ([]Record, string, error)
	Intents(ctx context.Context, flow string, keys []string) (map[string]string, error)
}

var _ Reader = (*Store)(nil)

// ReadOnly returns a view of the store that has only the Reader methods. Unlike the *Store itself
// (which also satisfies Reader), the view cannot be converted back into something that writes.
func (s *Store) ReadOnly() Reader { return readOnly{s: s} }

// readOnly forwards the reads of a Store and nothing else.
type readOnly struct{ s *Store }

func (r readOnly) Mappings(ctx context.Context, flow string, keys []string) (map[string]Mapping, error) {
	return r.s.Mappings(ctx, flow, keys)
}

func (r readOnly) Checkpoint(ctx context.Context, flow string) (Cursor, bool, error) {
	return r.s.Checkpoint(ctx, flow)
}

func (r readOnly) DeadLetters(ctx context.Context, flow string, limit int) ([]DeadLetter, error) {
	return r.s.DeadLetters(ctx, flow, limit)
}

func (r readOnly) GetRun(ctx context.Context, id string) (Run, error) { return r.s.GetRun(ctx, id) }

func (r readOnly) ListRuns(ctx context.Context, f RunFilter) ([]Run, string, error) {
	return r.s.ListRuns(ctx, f)
}

func (r readOnly) Intents(ctx context.Context, flow string, keys []string) (map[string]string, error) {
	return r.s.Intents(ctx, flow, keys)
}

func (r readOnly) RunRecords(ctx context.Context, runID, pageToken string, pageSize int) ([]Record, string, error) {
	return r.s.RunRecords(ctx, runID, pageToken, pageSize)
}

func dsn(path string) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	q.Set("_synchronous", "NORMAL")
	// 32 MiB of page cache per connection (SQLite's default is 2 MiB): the id mappings are upserted in
	// source order, not key order, and with the default cache a 100k-record sync spent a third of the
	// gateway's CPU re-reading B-tree pages.
	q.Set("_cache_size", "-32768")
	return "file:" + path + "?" + q.Encode()
}

// connector opens SQLite connections with the settings the DSN cannot carry. It is used through
// sql.OpenDB, so no driver is registered globally for it.
type connector struct {
	dsn    string
	driver *sqlite3.SQLiteDriver
}

func newConnector(path string) *connector {
	return &connector{dsn: dsn(path), driver: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// Checkpoint the WAL every 16k pages (64 MiB at 4 KiB pages) instead of every 1000: a sync
		// commits a few hundred pages per page of records, and pages written again between two
		// checkpoints (B-tree interior pages, the leaf the audit rows are appended to) are then copied
		// into the database once instead of at nearly every commit.
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 16384", nil)
		return err
	}}}
}

func (c *connector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c *connector) Driver() driver.Driver                        { return c.driver }

// Open opens (creating if needed) the database at path and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	db := sql.OpenDB(newConnector(path))
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := migrateDB(db, "up"); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// Migrate applies ("up") or rolls back ("down") every migration of the database at path.
func Migrate(ctx context.Context, path, direction string) error {
	db := sql.OpenDB(newConnector(path))
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	return migrateDB(db, direction)
}

func migrateDB(db *sql.DB, direction string) error {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return fmt.Errorf("migrations source: %w", err)
	}
	drv, err := migratesqlite.WithInstance(db, &migratesqlite.Config{})
	if err != nil {
		return fmt.Errorf("migrations driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite3", drv)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	switch direction {
	case "up":
		err = m.Up()
	case "down":
		err = m.Down()
	default:
		return fmt.Errorf("migrate: unknown direction %q", direction)
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate %s: %w", direction, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// SchemaVersion reports the applied migration version (0 when none).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT version FROM schema_migrations LIMIT 1`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func nullNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}
