package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/syncgate/syncgate/migrations"
)

// TestDownMigrationsRestoreSchemas: for every version V, a database migrated to the latest version
// and then down to V has exactly the schema that migrating up to V gives (as readSchema renders it,
// the comparison start-up's dirty recovery relies on). One known exception: migration 2's down
// rebuilds mappings and renames the copy, which SQLite records as CREATE TABLE "mappings" (quoted);
// after down to 1 the schemas may differ in that quoting only.
func TestDownMigrationsRestoreSchemas(t *testing.T) {
	ctx := context.Background()
	versions := versionsOrFail(t)
	want, err := expectedSchemas(ctx, versions)
	if err != nil {
		t.Fatal(err)
	}
	targets := append([]int{0}, versions[:len(versions)-1]...)
	for _, v := range targets {
		t.Run(fmt.Sprint("down to ", v), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "down.db")
			openOrFail(t, path).Close()
			db := rawDB(t, path)
			drv, err := newTxDriver(ctx, db)
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
			if v == 0 {
				err = m.Down()
			} else {
				err = m.Migrate(uint(v))
			}
			if err != nil {
				t.Fatal(err)
			}
			have, err := readSchema(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			key := v
			if v == 0 {
				key = -1 // database.NilVersion
			}
			if v == 1 {
				have = strings.Replace(have, `CREATE TABLE "mappings" (`, `CREATE TABLE mappings (`, 1)
			}
			if have != want[key] {
				t.Fatalf("schema after down to %d:\n%s\nwant (up to %d):\n%s", v, have, v, want[key])
			}
		})
	}
}

// Migration 4 adds the runs' trigger and actor (empty for existing runs), the history index and the
// schedules table; going back to 3 keeps the runs and their audit rows (dropping the runs table
// would cascade to them). The audit rows are checked at version 5: from version 6 on they live in
// compressed blocks, which a down migration (SQL) cannot decompress (see 000006's down file);
// TestMigration6ConvertsTrail covers the move of such rows into blocks.
func TestMigration4KeepsRunsAndAudit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m4.db")
	legacyAt(t, path, 3)
	execRaw(t, path,
		`INSERT INTO runs (id, flow, options, status, started_at) VALUES ('old-run', 'customers', '{}', 'succeeded', 1)`,
		`INSERT INTO run_records (run_id, seq, source_key, action, outcome, at) VALUES ('old-run', 1, 'K', 'add', 'ok', 5)`)

	db := sql.OpenDB(newConnector(path, options{})) // with the store's settings: foreign keys on
	defer db.Close()
	drv, err := newTxDriver(ctx, db)
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
	if err := m.Migrate(5); err != nil {
		t.Fatal(err)
	}
	var trigger, actor string
	if err := db.QueryRow(`SELECT trigger, actor FROM runs WHERE id = 'old-run'`).Scan(&trigger, &actor); err != nil || trigger != "" || actor != "" {
		t.Fatalf("old run after migration 4: trigger %q actor %q (%v)", trigger, actor, err)
	}
	if err := m.Migrate(3); err != nil {
		t.Fatal(err)
	}
	var runs, records int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM runs WHERE id = 'old-run'), (SELECT count(*) FROM run_records WHERE run_id = 'old-run')`).Scan(&runs, &records); err != nil ||
		runs != 1 || records != 1 {
		t.Fatalf("after down to 3: %d runs, %d audit rows (%v)", runs, records, err)
	}
}

// TestRecordHistoryUsesIndex: the history query is a range search of record_index's primary key
// joined to runs by primary key, with no sort, with and without a page token.
func TestRecordHistoryUsesIndex(t *testing.T) {
	b := setup(t)
	for _, c := range []struct {
		where string
		args  []any
	}{
		{"ri.source_key = ? AND r.flow = ?", []any{"K", "customers", 11}},
		{"ri.source_key = ? AND r.flow = ? AND (ri.at, ri.run_id, ri.seq) < (?, ?, ?)", []any{"K", "customers", 5, "r", 2, 11}},
	} {
		rows, err := b.st.db.QueryContext(b.ctx, "EXPLAIN QUERY PLAN "+historyQuery(c.where), c.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		if len(plan) != 2 || !strings.HasPrefix(plan[0], "SEARCH ri USING PRIMARY KEY (source_key=?") ||
			!strings.HasPrefix(plan[1], "SEARCH r USING INDEX sqlite_autoindex_runs_1 (id=?)") || strings.Contains(text, "TEMP B-TREE") {
			t.Fatalf("plan of %s:\n%s", c.where, text)
		}
	}
}
