// Package postgres is syncgate's PostgreSQL storage backend (server/storage.Store), with the semantics
// of the SQLite backend (server/storage/sqlite) and the contract suite (server/storage/storagetest) as
// their definition: id mappings, checkpoints, runs, the audit trail, dead letters, create intents and
// schedules. The schema lives in the migrations package (migrations.Postgres) and is applied by
// golang-migrate, under its PostgreSQL advisory lock, when the store opens, so several gateway
// replicas may start on one database at once.
//
// Times are stored as Unix nanoseconds (BIGINT), as in SQLite; page tokens are opaque base64 text
// that names the listing it belongs to, so a token of another listing, or one this backend did not
// issue, is refused with storage.ErrBadPageToken.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/syncgate/syncgate/migrations"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/compact"
)

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	// pool classifies every error of the database (classify): the store's callers can tell a full
	// database (storage.ErrFull) and one that cannot be reached (storage.ErrUnavailable) from other
	// failures.
	pool db
	// connConfig makes the connections that hold flow locks (LockFlow), outside the pool.
	connConfig *pgx.ConnConfig
	lockCheck  time.Duration
	codec      *compact.Codec
}

var (
	_ storage.Store  = (*Store)(nil)
	_ storage.Reader = readOnly{}
)

// Option changes how Open connects.
type Option func(*options)

type options struct {
	pool      *pgxpool.Config
	lockCheck time.Duration
}

// WithMaxConns sets the most connections the store's pool opens (pgxpool's default: the larger of 4
// and the number of CPUs; a DSN's pool_max_conns parameter also sets it). Flow locks use connections
// of their own, outside the pool.
func WithMaxConns(n int32) Option {
	return func(o *options) { o.pool.MaxConns = n }
}

// errBadDSN is returned for a DSN that is not a postgres:// URL or does not parse. Its text is fixed:
// the parser's own message may quote the DSN, password included.
var errBadDSN = errors.New("open postgres store: the DSN is not a valid postgres:// or postgresql:// URL")

// Open connects to the database named by dsn (a postgres:// or postgresql:// URL), applies pending
// migrations and returns the store. Errors never quote the DSN's password; when the server cannot
// be reached they match storage.ErrUnavailable.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil, errBadDSN
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errBadDSN
	}
	o := options{pool: cfg, lockCheck: defaultLockCheck}
	for _, opt := range opts {
		opt(&o)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", classify(ctx, err))
	}
	if err := migrateUp(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	codec, err := compact.New()
	if err != nil {
		pool.Close()
		return nil, err
	}
	st := &Store{pool: db{pool}, connConfig: cfg.ConnConfig, lockCheck: o.lockCheck, codec: codec}
	if err := st.convertLegacyTrail(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return st, nil
}

// migrateUp applies the pending migrations with golang-migrate's pgx driver, which holds a PostgreSQL
// advisory lock (per database and migrations table) while it reads and changes the version, so
// concurrent Opens on one database apply each migration once and wait for one another.
func migrateUp(ctx context.Context, pool *pgxpool.Pool) error {
	// golang-migrate's driver takes a database/sql handle; this one borrows the pool's connections.
	// The driver's Close closes it (not the pool).
	db := stdlib.OpenDBFromPool(pool)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("migrate postgres: %w", classify(ctx, err))
	}
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		db.Close()
		return fmt.Errorf("migrate postgres: %w", err)
	}
	src, err := iofs.New(migrations.Postgres, "postgres")
	if err != nil {
		drv.Close()
		return fmt.Errorf("migrate postgres: migrations source: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		src.Close()
		drv.Close()
		return fmt.Errorf("migrate postgres: %w", err)
	}
	defer m.Close() // closes the source and the driver
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate postgres up: %w", err)
	}
	return nil
}

// Close closes the store's connections.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers (the gateway's health check); its error matches
// storage.ErrUnavailable while the server cannot be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// SchemaVersion reports the applied migration version (0 when none).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// ReadOnly returns a view of the store that has only the Reader methods. Unlike the *Store itself
// (which also satisfies Reader), the view cannot be converted back into something that writes.
func (s *Store) ReadOnly() storage.Reader { return readOnly{s: s} }

// readOnly forwards the reads of a Store and nothing else.
type readOnly struct{ s *Store }

func (r readOnly) Mappings(ctx context.Context, flow string, keys []string) (map[string]storage.Mapping, error) {
	return r.s.Mappings(ctx, flow, keys)
}

func (r readOnly) Checkpoint(ctx context.Context, flow string) (storage.Cursor, bool, error) {
	return r.s.Checkpoint(ctx, flow)
}

func (r readOnly) DeadLetters(ctx context.Context, flow string, limit int) ([]storage.DeadLetter, error) {
	return r.s.DeadLetters(ctx, flow, limit)
}

func (r readOnly) GetRun(ctx context.Context, id string) (storage.Run, error) {
	return r.s.GetRun(ctx, id)
}

func (r readOnly) ListRuns(ctx context.Context, f storage.RunFilter) ([]storage.Run, string, error) {
	return r.s.ListRuns(ctx, f)
}

func (r readOnly) Intents(ctx context.Context, flow string, keys []string) (map[string]string, error) {
	return r.s.Intents(ctx, flow, keys)
}

func (r readOnly) RunRecords(ctx context.Context, runID string, f storage.RecordFilter, pageToken string, pageSize int) ([]storage.Record, string, error) {
	return r.s.RunRecords(ctx, runID, f, pageToken, pageSize)
}

func (r readOnly) DeadLetterPage(ctx context.Context, flow, after string, limit int) ([]storage.DeadLetter, error) {
	return r.s.DeadLetterPage(ctx, flow, after, limit)
}

func (r readOnly) DeadLettersByKey(ctx context.Context, flow string, keys []string) ([]storage.DeadLetter, error) {
	return r.s.DeadLettersByKey(ctx, flow, keys)
}

func (r readOnly) CountDeadLetters(ctx context.Context, flow string) (int64, error) {
	return r.s.CountDeadLetters(ctx, flow)
}

func (r readOnly) RecordHistory(ctx context.Context, flow, sourceKey, pageToken string, pageSize int) ([]storage.Record, string, error) {
	return r.s.RecordHistory(ctx, flow, sourceKey, pageToken, pageSize)
}

func (r readOnly) Schedules(ctx context.Context) ([]storage.Schedule, error) {
	return r.s.Schedules(ctx)
}
