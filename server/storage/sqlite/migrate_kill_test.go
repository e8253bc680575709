package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite3"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/syncgate/syncgate/migrations"
)

// childEnv names the database a re-executed test binary opens (see TestMain), as the gateway's
// start-up does, instead of running tests.
const childEnv = "SYNCGATE_STORE_TEST_OPEN"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(openChild(path))
	}
	os.Exit(m.Run())
}

// openChild is the start-up under test: it announces itself, runs Open (every pending migration),
// reports the outcome on stdout and closes the store.
func openChild(path string) int {
	fmt.Println("opening")
	st, err := Open(context.Background(), path)
	if err != nil {
		fmt.Println("error:", err)
		return 3
	}
	fmt.Println("opened")
	if err := st.Close(); err != nil {
		fmt.Println("error:", err)
		return 3
	}
	return 0
}

// seedFirstVersion creates a database at path at the first migration only, with golang-migrate's own
// sqlite3 driver (as a database made by an older syncgate), holding n customer mappings, a run and a
// checkpoint. Every later migration then runs when the store opens it.
func seedFirstVersion(t testing.TB, path string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	drv, err := migratesqlite.WithInstance(db, &migratesqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	first, err := src.First()
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite3", drv)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(first); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
			INSERT INTO mappings (flow, source_key, target_key, payload_hash, payload, created_at, updated_at)
			SELECT 'customers', printf('C%%07d', i), printf('D%%07d', i), printf('h%%d', i),
				printf('{"distributorName":"customer %%d","address":"%%s"}', i, hex(zeroblob(60))), i, i FROM n`, n),
		`INSERT INTO runs (id, flow, options, status, started_at) VALUES ('seed-run', 'customers', '{}', 'succeeded', 1)`,
		`INSERT INTO checkpoints (flow, cursor_time, cursor_key, updated_at) VALUES ('customers', 42, 'C0000042', 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// checkSeed asserts that the data seedFirstVersion wrote is all there.
func checkSeed(st *Store, n int) error {
	ctx := context.Background()
	got, err := st.CountMappings(ctx, "customers")
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%d mappings, want %d", got, n)
	}
	keys := []string{"C0000001", fmt.Sprintf("C%07d", n/2), fmt.Sprintf("C%07d", n)}
	ms, err := st.Mappings(ctx, "customers", keys)
	if err != nil {
		return err
	}
	for _, k := range keys {
		i := strings.TrimLeft(k[1:], "0")
		m, ok := ms[k]
		want := fmt.Sprintf(`{"distributorName":"customer %s","address":"%s"}`, i, strings.Repeat("0", 120))
		if !ok || m.TargetKey != "D"+k[1:] || m.PayloadHash != "h"+i || string(m.Payload) != want {
			return fmt.Errorf("mapping %s = %+v (found %t)", k, m, ok)
		}
	}
	if _, err := st.GetRun(ctx, "seed-run"); err != nil {
		return fmt.Errorf("seed run: %w", err)
	}
	if c, ok, err := st.Checkpoint(ctx, "customers"); err != nil || !ok || c.Key != "C0000042" {
		return fmt.Errorf("checkpoint = %+v, %t, %v", c, ok, err)
	}
	return nil
}

// rawVersion reads schema_migrations as it is, without migrating.
func rawVersion(t testing.TB, path string) (version int, dirty bool) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.QueryRow(`SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&version, &dirty)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return version, dirty
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(to + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// child is a running start-up (openChild in a re-executed test binary).
type child struct {
	cmd     *exec.Cmd
	started time.Time     // when it announced that it was opening the store
	opened  time.Time     // when it announced that Open returned (zero if it did not)
	done    chan struct{} // closed when it has exited
	out     strings.Builder
	err     error // its exit status
}

func startChild(t *testing.T, path string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), childEnv+"="+path)
	c.cmd.Stderr = os.Stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if line != "opening\n" {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		t.Fatalf("child announced %q (%v)", line, err)
	}
	c.started = time.Now()
	go func() {
		for {
			line, err := r.ReadString('\n')
			if line == "opened\n" {
				c.opened = time.Now()
			}
			c.out.WriteString(line)
			if err != nil {
				break
			}
		}
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c
}

// TestKilledStartUpMigrationsAlwaysReopen kills start-up (Open in a child process) with SIGKILL at
// instants spread over its migration window, on a database made at the first migration and holding
// enough mappings for the later migrations (migration 2 copies the mappings table) to take a while.
// After every kill the database must open, migrated, with all its data, and its schema version must
// never be left dirty. The window is measured first with an uninterrupted start-up of the same
// database (from the child's announcement that it is opening the store to its announcement that Open
// returned); the kills are timed from the announcement that it is opening the store.
func TestKilledStartUpMigrationsAlwaysReopen(t *testing.T) {
	kills, rows := 32, 40_000
	if testing.Short() {
		kills, rows = 8, 20_000
	}
	dir := t.TempDir()
	template := filepath.Join(dir, "template.db")
	seedFirstVersion(t, template, rows)
	firstVersion, _ := rawVersion(t, template)
	path := filepath.Join(dir, "start.db")

	// The window: one start-up that runs to the end.
	copyFile(t, template, path)
	calib := startChild(t, path)
	<-calib.done
	window := calib.opened.Sub(calib.started)
	if calib.err != nil || calib.opened.IsZero() {
		t.Fatalf("uninterrupted start-up failed: %v\n%s", calib.err, calib.out.String())
	}
	latest, _ := rawVersion(t, path)
	if latest <= firstVersion {
		t.Fatalf("start-up left version %d, first version %d: nothing to interrupt", latest, firstVersion)
	}
	t.Logf("migrations %d -> %d over %d mappings take %v from the start of Open", firstVersion, latest, rows, window)

	var midMigration, afterCommit, finished int
	for i := range kills {
		at := time.Duration(float64(window) * 1.1 * float64(i) / float64(kills-1))
		copyFile(t, template, path)
		c := startChild(t, path)
		timer := time.NewTimer(time.Until(c.started.Add(at)))
		select {
		case <-timer.C:
			_ = c.cmd.Process.Signal(syscall.SIGKILL)
			<-c.done
		case <-c.done:
			timer.Stop()
		}
		var exit *exec.ExitError
		killed := errors.As(c.err, &exit) && exit.ProcessState.Sys().(syscall.WaitStatus).Signaled()
		if !killed && c.err != nil {
			t.Fatalf("kill %d at %v: start-up failed on its own: %v\n%s", i, at, c.err, c.out.String())
		}
		v, dirty := rawVersion(t, path)
		switch {
		case !killed:
			finished++
		case v < latest:
			midMigration++
		default:
			afterCommit++
		}
		if dirty {
			t.Errorf("kill %d at %v left version %d dirty", i, at, v)
		}

		st, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("kill %d at %v (version %d, dirty %t): the next start does not open: %v", i, at, v, dirty, err)
		}
		if got, err := st.SchemaVersion(context.Background()); err != nil || got != latest {
			t.Errorf("kill %d at %v: the next start left version %d (%v), want %d", i, at, got, err, latest)
		}
		if err := checkSeed(st, rows); err != nil {
			t.Errorf("kill %d at %v (version %d at the kill): data lost: %v", i, at, v, err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d kills: %d during the migrations, %d after the last migration committed, %d start-ups ended before their kill", kills, midMigration, afterCommit, finished)
	if midMigration < kills/3 {
		t.Errorf("only %d of %d kills landed before the last migration committed: the window was not covered", midMigration, kills)
	}
}
