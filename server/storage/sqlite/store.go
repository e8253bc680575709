// Package sqlite is syncgate's SQLite storage backend (server/storage.Store): id mappings,
// checkpoints, runs, the audit trail, dead letters and create intents. It is the only package that
// contains SQL. The schema lives in the migrations package and is applied by golang-migrate when the
// store opens.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"github.com/syncgate/syncgate/server/storage"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/mattn/go-sqlite3"

	"github.com/syncgate/syncgate/migrations"
	"github.com/syncgate/syncgate/server/storage/compact"
)

// Store is the SQLite store. It is safe for concurrent use; writes are serialised by SQLite.
type Store struct {
	db    *sql.DB
	path  string
	codec *compact.Codec
	// stmts are the prepared run-table reads (stmts.go).
	stmts *stmtCache
	// full is set when a write found the database full, and cleared when Ping finds room again.
	full atomic.Bool
}

var (
	_ storage.Store  = (*Store)(nil)
	_ storage.Reader = readOnly{}
)

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

// maxConns is the size of the store's connection pool (see Open).
const maxConns = 8

// connector opens SQLite connections with the settings the DSN cannot carry. It is used through
// sql.OpenDB, so no driver is registered globally for it.
type connector struct {
	dsn    string
	driver *sqlite3.SQLiteDriver
}

func newConnector(path string, o options) *connector {
	return &connector{dsn: dsn(path), driver: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// Checkpoint the WAL every 16k pages (64 MiB at 4 KiB pages) instead of every 1000: a sync
		// commits a few hundred pages per page of records, and pages written again between two
		// checkpoints (B-tree interior pages, the leaf the audit rows are appended to) are then copied
		// into the database once instead of at nearly every commit.
		if _, err := c.Exec("PRAGMA wal_autocheckpoint = 16384", nil); err != nil {
			return err
		}
		if o.maxPageCount > 0 {
			if _, err := c.Exec("PRAGMA max_page_count = "+strconv.FormatInt(o.maxPageCount, 10), nil); err != nil {
				return err
			}
		}
		return nil
	}}}
}

// Option changes how Open opens the store.
type Option func(*options)

type options struct {
	maxPageCount int64
}

// WithMaxPageCount caps the database at n pages (SQLite's max_page_count pragma, set on every
// connection the store opens): a write that would grow the database beyond it fails as on a full
// disk (SQLITE_FULL). It exists for tests of a full database; the gateway does not set it.
func WithMaxPageCount(n int64) Option { return func(o *options) { o.maxPageCount = n } }

func (c *connector) Connect(context.Context) (driver.Conn, error) { return c.driver.Open(c.dsn) }
func (c *connector) Driver() driver.Driver                        { return c.driver }

// Open opens (creating if needed) the database at path and applies pending migrations. A database
// that an interrupted migration of an earlier syncgate left marked dirty is first recovered where
// that is provably safe (see provableVersion); otherwise Open fails with an error wrapping ErrDirty
// that names `syncgate migrate force N`.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	db := sql.OpenDB(newConnector(path, o))
	// A bounded pool of connections kept open: database/sql keeps two idle connections by default, so
	// a burst of concurrent reads (200 ListRuns callers) opened and closed a connection per call, each
	// with its connect hook and a fresh page cache (p99 0.6 s on an idle demo, measured). SQLite has
	// one writer at a time anyway; readers share the WAL.
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := migrateDB(ctx, db, path, "up"); err != nil {
		db.Close()
		return nil, err
	}
	codec, err := compact.New()
	if err != nil {
		db.Close()
		return nil, err
	}
	st := &Store{db: db, path: path, codec: codec, stmts: newStmtCache(db)}
	if err := st.warm(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := st.convertLegacyTrail(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

// ErrDirty reports a database whose migration state cannot be recovered automatically.
var ErrDirty = errors.New("database schema is dirty")

// ErrNoDatabase reports a database file that does not exist where one is required.
var ErrNoDatabase = errors.New("no database")

// Migrate applies ("up") or rolls back ("down") every migration of the database at path. "up" creates
// the database if needed; "down" (which drops every table, data included) requires it to exist.
func Migrate(ctx context.Context, path, direction string) error {
	switch direction {
	case "up":
		return withDB(ctx, path, true, func(db *sql.DB) error { return migrateDB(ctx, db, path, direction) })
	case "down":
		return withDB(ctx, path, false, func(db *sql.DB) error { return migrateDB(ctx, db, path, direction) })
	default:
		return fmt.Errorf("migrate: unknown direction %q", direction)
	}
}

// ForceVersion records version (0: none) as the database's clean schema version without running any
// migration. It is the manual way out of a dirty state that start-up cannot recover on its own: the
// caller asserts that the schema is exactly that of version.
func ForceVersion(ctx context.Context, path string, version int) error {
	versions, err := sourceVersions()
	if err != nil {
		return err
	}
	if version != 0 && !slices.Contains(versions, version) {
		return fmt.Errorf("force: version %d is not a migration of this syncgate (0 for none, or one of %s)", version, formatVersions(versions))
	}
	if version == 0 {
		version = database.NilVersion
	}
	return withDB(ctx, path, false, func(db *sql.DB) error {
		drv, err := newTxDriver(ctx, db)
		if err != nil {
			return err
		}
		if err := drv.SetVersion(version, false); err != nil {
			return fmt.Errorf("force version: %w", err)
		}
		return nil
	})
}

// SchemaStatus is the migration state of a database.
type SchemaStatus struct {
	// Version is the applied migration version (0: none).
	Version int
	// Dirty reports a version that an interrupted migration of an earlier syncgate left marked dirty.
	Dirty bool
	// Latest is the newest migration this syncgate carries.
	Latest int
	// Pending counts the migrations that start-up (or migrate up) would apply.
	Pending int
	// RecoversTo is, for a dirty database, the version its schema provably is at, which start-up
	// records before migrating on (0: none); meaningful when Recovery is nil.
	RecoversTo int
	// Recovery is, for a dirty database, why start-up would refuse it (nil: it recovers).
	Recovery error
}

// Status reports the migration state of the existing database at path without changing it.
func Status(ctx context.Context, path string) (SchemaStatus, error) {
	versions, err := sourceVersions()
	if err != nil {
		return SchemaStatus{}, err
	}
	var st SchemaStatus
	err = withDB(ctx, path, false, func(db *sql.DB) error {
		v, dirty, err := readVersion(ctx, db)
		if err != nil {
			return err
		}
		st.Version, st.Dirty = max(v, 0), dirty
		if dirty {
			to, err := provableVersion(ctx, db, path, v, versions)
			st.RecoversTo, st.Recovery = max(to, 0), err
		}
		return nil
	})
	if err != nil {
		return SchemaStatus{}, err
	}
	st.Latest = versions[len(versions)-1]
	from := st.Version
	if st.Dirty && st.Recovery == nil {
		from = st.RecoversTo
	}
	for _, v := range versions {
		if v > from {
			st.Pending++
		}
	}
	return st, nil
}

// withDB opens the database at path for fn; unless create is set, the file must exist already (SQLite
// would otherwise create an empty one).
func withDB(ctx context.Context, path string, create bool, fn func(*sql.DB) error) error {
	if !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w at %s", ErrNoDatabase, path)
		} else if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
	}
	db := sql.OpenDB(newConnector(path, options{}))
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	return fn(db)
}

// migrateDB runs every migration in direction ("up" or "down") through txDriver, after recovering a
// dirty version that an earlier syncgate left. If another process migrated the database in between,
// it starts over from the version that process recorded.
func migrateDB(ctx context.Context, db *sql.DB, path, direction string) error {
	if direction != "up" && direction != "down" {
		return fmt.Errorf("migrate: unknown direction %q", direction)
	}
	for attempt := 1; ; attempt++ {
		err := migrateOnce(ctx, db, path, direction)
		if errors.Is(err, errVersionMoved) && attempt < 3 {
			continue
		}
		return err
	}
}

func migrateOnce(ctx context.Context, db *sql.DB, path, direction string) error {
	drv, err := newTxDriver(ctx, db)
	if err != nil {
		return err
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return fmt.Errorf("migrations source: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite3", drv)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer m.Close() // closes the source and the driver, not db
	v, dirty, err := drv.Version()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if dirty {
		versions, err := sourceVersions()
		if err != nil {
			return err
		}
		to, err := provableVersion(ctx, db, path, v, versions)
		if err != nil {
			return err
		}
		if err := drv.replaceDirty(v, to); err != nil {
			return fmt.Errorf("migrate: recover dirty version %d: %w", v, err)
		}
	}
	if direction == "up" {
		err = m.Up()
	} else {
		err = m.Down()
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate %s: %w", direction, err)
	}
	return nil
}

// provableVersion decides, for a database whose schema_migrations row says version dirty is dirty,
// which version its schema is at, or refuses.
//
// Why this is safe. golang-migrate marks version V dirty in one transaction, runs V's migration file
// in a second and marks V clean in a third (its sqlite3 driver; syncgate before txDriver). SQLite DDL
// is transactional and each file runs in one transaction, so a process killed while V is dirty left
// the database in exactly one of two states: V's transaction committed, or it did not. For an
// interrupted up migration to V those are the states after V and after the version before V; for an
// interrupted down migration (which marks the version it goes to, V, dirty) after V and after the
// version after V. Each of those states is computed here by applying the embedded migrations to an
// empty in-memory database, and the database's schema (every table, index, view and trigger in
// sqlite_master, with its SQL as SQLite stores it) is compared with them. A schema equal to exactly
// one of the candidates identifies the state, because the other candidates' schemas differ from it
// and the transaction is all-or-nothing, so data written by the migration (an INSERT ... SELECT
// copying a table) is complete exactly when its DDL is. Anything else (no match: the schema was
// changed by hand or by another tool; several: a migration that changes no schema, so the two states
// cannot be told apart) is refused with an error wrapping ErrDirty that names
// `syncgate migrate force N`. Databases written by txDriver are never dirty: it commits the version
// with the migration.
func provableVersion(ctx context.Context, db *sql.DB, path string, dirty int, versions []int) (int, error) {
	force := fmt.Sprintf("inspect it (e.g. sqlite3 %s .schema), then run `syncgate migrate force N --db %s` with the version its schema is at (0: none)", path, path)
	idx := slices.Index(versions, dirty)
	if idx < 0 {
		return 0, fmt.Errorf("%w: %s says version %d is dirty, and this syncgate has no migration %d (it has %s); %s",
			ErrDirty, path, dirty, dirty, formatVersions(versions), force)
	}
	candidates := []int{database.NilVersion}
	if idx > 0 {
		candidates[0] = versions[idx-1]
	}
	candidates = append(candidates, dirty)
	if idx+1 < len(versions) {
		candidates = append(candidates, versions[idx+1])
	}
	want, err := expectedSchemas(ctx, versions[:min(idx+2, len(versions))])
	if err != nil {
		return 0, err
	}
	have, err := readSchema(ctx, db)
	if err != nil {
		return 0, err
	}
	var matches []int
	for _, c := range candidates {
		if want[c] == have {
			matches = append(matches, c)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return 0, fmt.Errorf("%w: %s says an interrupted migration left version %d dirty, and its schema is that of none of versions %s; refusing to guess: %s",
			ErrDirty, path, dirty, formatVersions(candidates), force)
	default:
		return 0, fmt.Errorf("%w: %s says an interrupted migration left version %d dirty, and versions %s have the same schema, so which one it is at cannot be told; %s",
			ErrDirty, path, dirty, formatVersions(matches), force)
	}
}

// expectedSchemas applies versions, in order, to an empty in-memory database and returns the schema
// after each of them (and, under database.NilVersion, the empty one).
func expectedSchemas(ctx context.Context, versions []int) (map[int]string, error) {
	mem := sql.OpenDB(&connector{dsn: "file::memory:?_foreign_keys=on", driver: &sqlite3.SQLiteDriver{}})
	defer mem.Close()
	mem.SetMaxOpenConns(1) // each connection would have its own in-memory database
	drv, err := newTxDriver(ctx, mem)
	if err != nil {
		return nil, err
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations source: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite3", drv)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer m.Close()
	out := map[int]string{}
	if out[database.NilVersion], err = readSchema(ctx, mem); err != nil {
		return nil, err
	}
	for _, v := range versions {
		if err := m.Migrate(uint(v)); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return nil, fmt.Errorf("reference schema of version %d: %w", v, err)
		}
		if out[v], err = readSchema(ctx, mem); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readSchema renders the database's schema (tables, indexes, views and triggers with their SQL as
// SQLite stores it, migration bookkeeping and SQLite's internal objects left out) comparably.
func readSchema(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master
		WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\' AND tbl_name <> 'schema_migrations' ORDER BY type, name`)
	if err != nil {
		return "", fmt.Errorf("read schema: %w", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name, tbl, text string
		if err := rows.Scan(&typ, &name, &tbl, &text); err != nil {
			return "", fmt.Errorf("read schema: %w", err)
		}
		fmt.Fprintf(&b, "%s %s ON %s: %s\n", typ, name, tbl, text)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read schema: %w", err)
	}
	return b.String(), nil
}

// sourceVersions lists the embedded migrations' versions in order.
func sourceVersions() ([]int, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations source: %w", err)
	}
	defer src.Close()
	var out []int
	v, err := src.First()
	for err == nil {
		out = append(out, int(v))
		v, err = src.Next(v)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("migrations source: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("migrations source: no migrations")
	}
	return out, nil
}

func formatVersions(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(max(v, 0))
	}
	return strings.Join(s, ", ")
}

// errVersionMoved reports that another process changed schema_migrations while this one migrated.
var errVersionMoved = errors.New("schema version changed by another process")

// txDriver is the golang-migrate database.Driver syncgate migrates SQLite with. Unlike golang-migrate's
// sqlite3 driver, which commits "version V, dirty", then V's migration, then "version V, clean" in
// three transactions (so a process killed during the migration leaves V dirty and the next start
// refusing the database), txDriver runs all three in one transaction: SetVersion(V, dirty) begins it,
// Run executes the migration file in it, and SetVersion(V, clean) records the version and commits.
// The dirty mark is never committed, so after a kill at any instant the database is at the previous
// version or at V, clean either way, with V's changes wholly absent or wholly present (SQLite's
// transactions are atomic and durable across a crash, DDL included; a kill rolls back through the
// WAL on the next open). A failed migration rolls back, leaving the previous version clean.
//
// The transaction begins IMMEDIATE (the store's DSN), so it holds SQLite's write lock throughout; it
// first checks that schema_migrations still holds the version this driver last read, so that two
// processes starting on one database cannot apply a migration twice (the second one starts over).
//
// golang-migrate's Driver interface takes no context; txDriver keeps the one it was made with.
type txDriver struct {
	ctx    context.Context
	db     *sql.DB
	locked atomic.Bool
	// tx is the migration in progress, between SetVersion(txVersion, true) and SetVersion(txVersion, false).
	tx        *sql.Tx
	txVersion int
	// known is the version last read or committed; a migration may only start from it.
	known int
}

var _ database.Driver = (*txDriver)(nil)

func newTxDriver(ctx context.Context, db *sql.DB) (*txDriver, error) {
	d := &txDriver{ctx: ctx, db: db, known: database.NilVersion}
	// The table and index golang-migrate's sqlite3 driver makes, so existing databases carry on.
	err := d.inTx(func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version uint64, dirty bool);
			CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version);`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migrations table: %w", err)
	}
	return d, nil
}

// Open is not supported: txDriver is made with newTxDriver over the store's own connections.
func (d *txDriver) Open(string) (database.Driver, error) {
	return nil, errors.New("txDriver: Open is not supported")
}

// Close rolls back a migration still in progress; the database itself belongs to the caller.
func (d *txDriver) Close() error { return d.rollback() }

// Lock guards against concurrent use within this process; across processes SQLite's write lock,
// held by each migration's transaction, serialises migrations.
func (d *txDriver) Lock() error {
	if !d.locked.CompareAndSwap(false, true) {
		return database.ErrLocked
	}
	return nil
}

// Unlock releases the lock, rolling back a migration that did not finish.
func (d *txDriver) Unlock() error {
	err := d.rollback()
	if !d.locked.CompareAndSwap(true, false) {
		return errors.Join(err, database.ErrNotLocked)
	}
	return err
}

// Run executes a migration file inside the transaction SetVersion(V, true) began.
func (d *txDriver) Run(migration io.Reader) error {
	if d.tx == nil {
		return errors.New("txDriver: migration run outside its version transaction")
	}
	body, err := io.ReadAll(migration)
	if err != nil {
		return errors.Join(fmt.Errorf("read migration %d: %w", d.txVersion, err), d.rollback())
	}
	if _, err := d.tx.ExecContext(d.ctx, string(body)); err != nil {
		return errors.Join(fmt.Errorf("migration %d: %w", d.txVersion, err), d.rollback())
	}
	return nil
}

// SetVersion with dirty set begins a migration's transaction; with dirty unset it records version
// in that transaction and commits it, or, outside a migration (force, recovery), records it alone.
func (d *txDriver) SetVersion(version int, dirty bool) error {
	if dirty {
		if d.tx != nil {
			return errors.New("txDriver: a migration is already in progress")
		}
		tx, err := d.db.BeginTx(d.ctx, nil)
		if err != nil {
			return fmt.Errorf("begin migration %d: %w", version, err)
		}
		cur, curDirty, err := readVersion(d.ctx, tx)
		if err == nil && (cur != d.known || curDirty) {
			err = fmt.Errorf("%w: version %d (dirty %t), expected %d", errVersionMoved, cur, curDirty, d.known)
		}
		if err != nil {
			return errors.Join(err, tx.Rollback())
		}
		d.tx, d.txVersion = tx, version
		return nil
	}
	if d.tx == nil {
		if err := d.inTx(func(tx *sql.Tx) error { return writeVersion(d.ctx, tx, version) }); err != nil {
			return err
		}
		d.known = version
		return nil
	}
	if version != d.txVersion {
		return errors.Join(fmt.Errorf("txDriver: migration %d finished as version %d", d.txVersion, version), d.rollback())
	}
	if err := writeVersion(d.ctx, d.tx, version); err != nil {
		return errors.Join(err, d.rollback())
	}
	err := d.tx.Commit()
	d.tx = nil
	if err != nil {
		return fmt.Errorf("commit migration %d: %w", version, err)
	}
	d.known = version
	return nil
}

// Version reports the recorded version and dirty mark (database.NilVersion when none).
func (d *txDriver) Version() (int, bool, error) {
	v, dirty, err := readVersion(d.ctx, d.db)
	if err != nil {
		return 0, false, err
	}
	d.known = v
	return v, dirty, nil
}

// Drop is not supported: `migrate down` rolls the schema back through the down migrations instead.
func (d *txDriver) Drop() error { return errors.New("txDriver: Drop is not supported") }

// replaceDirty records version to, clean, in place of version from marked dirty, if that is still
// what schema_migrations holds.
func (d *txDriver) replaceDirty(from, to int) error {
	err := d.inTx(func(tx *sql.Tx) error {
		cur, dirty, err := readVersion(d.ctx, tx)
		if err != nil {
			return err
		}
		if cur != from || !dirty {
			return fmt.Errorf("%w: version %d (dirty %t), expected %d dirty", errVersionMoved, cur, dirty, from)
		}
		return writeVersion(d.ctx, tx, to)
	})
	if err == nil {
		d.known = to
	}
	return err
}

func (d *txDriver) rollback() error {
	if d.tx == nil {
		return nil
	}
	err := d.tx.Rollback()
	d.tx = nil
	if err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("roll back migration %d: %w", d.txVersion, err)
	}
	return nil
}

func (d *txDriver) inTx(fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(d.ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readVersion(ctx context.Context, q querier) (version int, dirty bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
	if errors.Is(err, sql.ErrNoRows) {
		return database.NilVersion, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read schema version: %w", err)
	}
	return version, dirty, nil
}

func writeVersion(ctx context.Context, tx *sql.Tx, version int) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_migrations`); err != nil {
		return fmt.Errorf("record version %d: %w", version, err)
	}
	if version >= 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, dirty) VALUES (?, false)`, version); err != nil {
			return fmt.Errorf("record version %d: %w", version, err)
		}
	}
	return nil
}

// Ping checks that the database file can be read and, once a write found the database full, that
// there is room in it again: until then it returns an error matching storage.ErrFull (a full database
// may still answer reads).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1 FROM runs LIMIT 1`).Scan(&one); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("ping the store: %w", err)
	}
	if s.full.Load() {
		return s.checkRoom(ctx)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return errors.Join(s.stmts.close(), s.db.Close()) }

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
