package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite3"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/syncgate/syncgate/migrations"
)

// legacyAt makes a database at path at version (0: empty schema) with golang-migrate's own sqlite3
// driver, as a syncgate before txDriver did.
func legacyAt(t *testing.T, path string, version int) {
	t.Helper()
	db := rawDB(t, path)
	drv, err := migratesqlite.WithInstance(db, &migratesqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite3", drv)
	if err != nil {
		t.Fatal(err)
	}
	if version > 0 {
		if err := m.Migrate(uint(version)); err != nil {
			t.Fatal(err)
		}
	}
}

// rawDB opens path without migrating; it is closed when the test ends.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func execRaw(t *testing.T, path string, queries ...string) {
	t.Helper()
	db := rawDB(t, path)
	for _, q := range queries {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
}

// markDirty records version as dirty, as golang-migrate's sqlite3 driver does before it runs a migration.
func markDirty(t *testing.T, path string, version int) {
	t.Helper()
	db := rawDB(t, path)
	if _, err := db.Exec(`DELETE FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, dirty) VALUES (?, true)`, version); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func versionsOrFail(t *testing.T) []int {
	t.Helper()
	vs, err := sourceVersions()
	if err != nil || len(vs) == 0 {
		t.Fatalf("migration versions %v: %v", vs, err)
	}
	return vs
}

func openOrFail(t *testing.T, path string) *Store {
	t.Helper()
	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func wantVersion(t *testing.T, st *Store, want int) {
	t.Helper()
	if v, err := st.SchemaVersion(context.Background()); err != nil || v != want {
		t.Fatalf("schema version %d (%v), want %d", v, err, want)
	}
}

// TestDirtyVersionRecoveredWhenProvable covers each state a kill could leave an older syncgate's
// database in, for every migration: an up migration to V interrupted before or after its transaction
// committed (schema at the version before V or at V, V marked dirty), and a down migration from the
// version after V to V likewise. Each must open, at the latest version.
func TestDirtyVersionRecoveredWhenProvable(t *testing.T) {
	versions := versionsOrFail(t)
	latest := versions[len(versions)-1]
	for i, v := range versions {
		prev := 0
		if i > 0 {
			prev = versions[i-1]
		}
		cases := []struct {
			name     string
			schemaAt int
		}{
			{"up not committed", prev},
			{"up committed", v},
		}
		if i+1 < len(versions) {
			cases = append(cases, struct {
				name     string
				schemaAt int
			}{"down not committed", versions[i+1]})
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s_%d", strings.ReplaceAll(c.name, " ", "_"), v), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "dirty.db")
				legacyAt(t, path, c.schemaAt)
				markDirty(t, path, v)
				st, err := Status(context.Background(), path)
				if err != nil || !st.Dirty || st.Recovery != nil || st.RecoversTo != c.schemaAt {
					t.Fatalf("status %+v, %v: want dirty, recovering to %d", st, err, c.schemaAt)
				}
				wantVersion(t, openOrFail(t, path), latest)
			})
		}
	}
}

func TestDirtyRecoveryKeepsData(t *testing.T) {
	versions := versionsOrFail(t)
	path := filepath.Join(t.TempDir(), "dirty.db")
	seedFirstVersion(t, path, 500)
	if len(versions) > 1 {
		markDirty(t, path, versions[1]) // killed while migration 2 ran, before it committed
	} else {
		markDirty(t, path, versions[0])
	}
	st := openOrFail(t, path)
	wantVersion(t, st, versions[len(versions)-1])
	if err := checkSeed(st, 500); err != nil {
		t.Fatal(err)
	}
}

// TestDirtyVersionRefusedWhenNotProvable: a dirty database whose schema matches no candidate state is
// refused with a message naming `syncgate migrate force`, which then gets it going.
func TestDirtyVersionRefusedWhenNotProvable(t *testing.T) {
	versions := versionsOrFail(t)
	ctx := context.Background()
	t.Run("schema changed by hand", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "dirty.db")
		legacyAt(t, path, versions[0])
		execRaw(t, path, `CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)`)
		markDirty(t, path, versions[0])
		_, err := Open(ctx, path)
		if !errors.Is(err, ErrDirty) || !strings.Contains(err.Error(), "syncgate migrate force N --db "+path) {
			t.Fatalf("err = %v, want ErrDirty naming syncgate migrate force", err)
		}
		if st, err := Status(ctx, path); err != nil || !st.Dirty || !errors.Is(st.Recovery, ErrDirty) {
			t.Fatalf("status = %+v, %v", st, err)
		}
		if v, dirty := rawVersion(t, path); v != versions[0] || !dirty {
			t.Fatalf("refused database changed: version %d dirty %t", v, dirty)
		}
		if err := ForceVersion(ctx, path, versions[0]); err != nil {
			t.Fatal(err)
		}
		if st, err := Status(ctx, path); err != nil || st.Dirty || st.Version != versions[0] {
			t.Fatalf("status after force = %+v, %v", st, err)
		}
		wantVersion(t, openOrFail(t, path), versions[len(versions)-1])
	})
	t.Run("unknown version", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "dirty.db")
		legacyAt(t, path, versions[0])
		markDirty(t, path, 999)
		if _, err := Open(ctx, path); !errors.Is(err, ErrDirty) || !strings.Contains(err.Error(), "no migration 999") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestFailedMigrationLeavesPreviousVersionClean: a migration that fails midway rolls back whole, and
// the database stays at the version before it, clean, with its data.
func TestFailedMigrationLeavesPreviousVersionClean(t *testing.T) {
	versions := versionsOrFail(t)
	if len(versions) < 2 || versions[1] != 2 {
		t.Skip("relies on migration 2 dropping run_records_source")
	}
	path := filepath.Join(t.TempDir(), "fail.db")
	seedFirstVersion(t, path, 100)
	// Migration 2 copies the mappings, then drops run_records_source: without it, it fails at its end.
	execRaw(t, path, `DROP INDEX run_records_source`)
	if _, err := Open(context.Background(), path); err == nil || !strings.Contains(err.Error(), "run_records_source") {
		t.Fatalf("err = %v, want migration 2 to fail on the missing index", err)
	}
	if v, dirty := rawVersion(t, path); v != versions[0] || dirty {
		t.Fatalf("after the failed migration: version %d dirty %t, want %d clean", v, dirty, versions[0])
	}
	var tables int
	if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'mappings_v2'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("half of migration 2 stayed: %d, %v", tables, err)
	}
	execRaw(t, path, `CREATE INDEX run_records_source ON run_records (source_key)`)
	st := openOrFail(t, path)
	wantVersion(t, st, versions[len(versions)-1])
	if err := checkSeed(st, 100); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentStartUps: two processes' worth of Open on one database both succeed; the second waits
// for the first's migration and starts over from the version it recorded.
func TestConcurrentStartUps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "both.db")
	seedFirstVersion(t, path, 2000)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			st, err := Open(context.Background(), path)
			if err == nil {
				err = st.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("start-up %d: %v", i, err)
		}
	}
	versions := versionsOrFail(t)
	st := openOrFail(t, path)
	wantVersion(t, st, versions[len(versions)-1])
	if err := checkSeed(st, 2000); err != nil {
		t.Fatal(err)
	}
}

func TestStatusAndForce(t *testing.T) {
	versions := versionsOrFail(t)
	latest := versions[len(versions)-1]
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	if _, err := Status(ctx, path); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("status of a missing database: %v", err)
	}
	if err := Migrate(ctx, path, "down"); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("down on a missing database: %v", err)
	}
	if err := ForceVersion(ctx, path, versions[0]); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("force on a missing database: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a command that needs a database created one: %v", err)
	}
	legacyAt(t, path, 0)
	if st, err := Status(ctx, path); err != nil || st.Version != 0 || st.Dirty || st.Latest != latest || st.Pending != len(versions) {
		t.Fatalf("empty: %+v, %v", st, err)
	}
	if err := Migrate(ctx, path, "up"); err != nil {
		t.Fatal(err)
	}
	if st, err := Status(ctx, path); err != nil || st.Version != latest || st.Pending != 0 {
		t.Fatalf("migrated: %+v, %v", st, err)
	}
	if err := ForceVersion(ctx, path, 999); err == nil || !strings.Contains(err.Error(), "not a migration") {
		t.Fatalf("force to an unknown version: %v", err)
	}
	if err := ForceVersion(ctx, path, 0); err != nil {
		t.Fatal(err)
	}
	if st, err := Status(ctx, path); err != nil || st.Version != 0 || st.Pending != len(versions) {
		t.Fatalf("forced to 0: %+v, %v", st, err)
	}
}
