package pgtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// The database exists, is usable and empty during the test, and is gone after it, even with a
// connection left open.
func TestDatabaseIsCreatedAndDropped(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		dsn := Database(t)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		// Left open on purpose: the drop must not wait for it.
		t.Cleanup(func() { conn.Close(context.Background()) })
		var tables int
		if err := conn.QueryRow(ctx, `SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&name, &tables); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "syncgate_test_") || tables != 0 {
			t.Fatalf("database %q with %d tables", name, tables)
		}
		if !databaseExists(t, name) {
			t.Fatalf("database %s not listed", name)
		}
		if other := Database(t); other == dsn {
			t.Fatal("two calls gave the same database")
		}
	})
	if name == "" {
		t.Fatal("the subtest did not run")
	}
	if databaseExists(t, name) {
		t.Fatalf("database %s is still there after its test", name)
	}
}

// With an unreachable server the test is skipped, or fails when CI is set. Run as a subprocess (the
// test binary itself) so that the failure can be observed.
func TestUnreachableSkipsOrFailsInCI(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") != "" {
		Database(t)
		t.Fatal("Database returned for an unreachable server")
	}
	for _, c := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP"},
		{"true", true, "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnreachableSkipsOrFailsInCI$", "-test.v")
		cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", "CI="+c.ci,
			EnvAdminDSN+"=postgres://nobody:s3cret-pw@127.0.0.1:1/postgres?connect_timeout=5")
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.wantFail || !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "unreachable") {
			t.Errorf("CI=%q: err %v, output:\n%s", c.ci, err, out)
		}
		if strings.Contains(string(out), "s3cret-pw") {
			t.Errorf("CI=%q: the output shows the password:\n%s", c.ci, out)
		}
	}
}
