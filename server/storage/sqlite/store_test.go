package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite3"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/syncgate/syncgate/migrations"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/storagetest"
)

// bundle is the per-test fixture: a fresh database in a temp dir.
type bundle struct {
	ctx  context.Context
	path string
	st   *Store
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "test.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &bundle{ctx: ctx, path: path, st: st}
}

func TestMigrations(t *testing.T) {
	b := setup(t)
	v, err := b.st.SchemaVersion(b.ctx)
	if err != nil || v != 6 {
		t.Fatalf("version after up from empty = %d, %v", v, err)
	}
	if err := b.st.CreateRun(b.ctx, storage.Run{ID: "r1", Flow: "agents", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b.st.Close()

	// Restart with nothing to do keeps the data.
	st, err := Open(b.ctx, b.path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if _, err := st.GetRun(b.ctx, "r1"); err != nil {
		t.Fatalf("data lost on reopen: %v", err)
	}
	st.Close()

	// Down then up: empty schema again, usable.
	if err := Migrate(b.ctx, b.path, "down"); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(b.ctx, b.path, "down"); err != nil {
		t.Fatalf("down with nothing to undo: %v", err)
	}
	if err := Migrate(b.ctx, b.path, "up"); err != nil {
		t.Fatal(err)
	}
	st, err = Open(b.ctx, b.path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetRun(b.ctx, "r1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("after down/up the run should be gone: %v", err)
	}
	if err := Migrate(b.ctx, b.path, "sideways"); err == nil {
		t.Fatal("unknown direction accepted")
	}
}

func TestConnectionSettings(t *testing.T) {
	b := setup(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "wal_autocheckpoint": "16384", "cache_size": "-32768", "foreign_keys": "1", "synchronous": "1"} {
		var got string
		if err := b.st.db.QueryRowContext(b.ctx, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", pragma, got, err, want)
		}
	}
}

// Migration 2 rebuilds mappings as a rowid table and drops the audit trail's source-key index; the
// mappings survive it in both directions.
func TestMigration2KeepsMappings(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m2.db")
	db := sql.OpenDB(newConnector(path, options{}))
	defer db.Close()
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	drv, err := migratesqlite.WithInstance(db, &migratesqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite3", drv)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO mappings VALUES ('agents', 'A1', '100', 'h', '{"FName":"x"}', 1, 2)`); err != nil {
		t.Fatal(err)
	}
	schema := func(name string) string {
		var sqlText string
		db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = ?`, name).Scan(&sqlText)
		return sqlText
	}
	check := func(version uint, rowid bool) {
		t.Helper()
		var target, payload string
		if err := db.QueryRowContext(ctx, `SELECT target_key, payload FROM mappings WHERE flow = 'agents' AND source_key = 'A1'`).Scan(&target, &payload); err != nil ||
			target != "100" || payload != `{"FName":"x"}` {
			t.Fatalf("v%d: mapping %q %q, %v", version, target, payload, err)
		}
		if got := !strings.Contains(schema("mappings"), "WITHOUT ROWID"); got != rowid {
			t.Fatalf("v%d: mappings schema %s", version, schema("mappings"))
		}
		if hasIndex := schema("run_records_source") != "" && schema("mappings_target") != ""; hasIndex == rowid {
			t.Fatalf("v%d: indexes run_records_source=%q mappings_target=%q", version, schema("run_records_source"), schema("mappings_target"))
		}
	}
	check(1, false)
	if err := m.Migrate(2); err != nil {
		t.Fatal(err)
	}
	check(2, true)
	if err := m.Migrate(1); err != nil {
		t.Fatal(err)
	}
	check(1, false)
}

// TestContract runs the storage contract suite against the SQLite backend.
func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return setup(t).st })
}

func TestCountMappings(t *testing.T) {
	b := setup(t)
	ms := []storage.Mapping{{SourceKey: "1", TargetKey: "T1", PayloadHash: "h", Payload: []byte("{}")}, {SourceKey: "2", TargetKey: "T2", PayloadHash: "h", Payload: []byte("{}")}}
	if err := b.st.CommitPage(b.ctx, storage.PageCommit{Flow: "agents", Mappings: ms}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.st.CountMappings(b.ctx, "agents"); err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}
	if n, _ := b.st.CountMappings(b.ctx, "customers"); n != 0 {
		t.Fatalf("count across flows = %d", n)
	}
}
