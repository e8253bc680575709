package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/config"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

// env is an environment list (KEY=value) holding m.
func env(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func schemaStatus(t *testing.T, db string) sqlite.SchemaStatus {
	t.Helper()
	st, err := sqlite.Status(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestMigrateSubcommand drives every form of `syncgate migrate`, with --db before and after the
// subcommand, from the environment, and checks that nothing touches ./syncgate.db.
func TestMigrateSubcommand(t *testing.T) {
	t.Chdir(t.TempDir()) // the default --db, syncgate.db, would land here
	dir := t.TempDir()
	ctx := context.Background()
	var out bytes.Buffer
	migrate := func(args []string, environ []string) error {
		out.Reset()
		return run(ctx, append([]string{"migrate"}, args...), environ, &out, &out)
	}
	for _, tt := range []struct {
		name    string
		args    []string
		environ []string
	}{
		{"flag after", []string{"up", "--db", filepath.Join(dir, "after.db")}, nil},
		{"flag= after", []string{"up", "--db=" + filepath.Join(dir, "after2.db")}, nil},
		{"flag before", []string{"--db", filepath.Join(dir, "before.db"), "up"}, nil},
		{"environment", []string{"up"}, env(map[string]string{"SYNCGATE_DB": filepath.Join(dir, "env.db")})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := migrate(tt.args, tt.environ); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
		})
	}
	for _, name := range []string{"after.db", "after2.db", "before.db", "env.db"} {
		if st := schemaStatus(t, filepath.Join(dir, name)); st.Version != st.Latest || st.Dirty {
			t.Errorf("%s after migrate up: %+v", name, st)
		}
	}

	db := filepath.Join(dir, "after.db")
	if err := migrate([]string{"status", "--db", db}, nil); err != nil {
		t.Fatal(err)
	}
	latest := schemaStatus(t, db).Latest
	if want := fmt.Sprintf("database: %s\nversion: %d (latest %d, 0 pending)\ndirty: no\n", db, latest, latest); out.String() != want {
		t.Errorf("status printed %q, want %q", out.String(), want)
	}

	err := migrate([]string{"down", "--db", db}, nil)
	if err == nil || !strings.Contains(err.Error(), "add --yes to confirm") {
		t.Fatalf("down without --yes: %v", err)
	}
	if st := schemaStatus(t, db); st.Version != latest {
		t.Fatalf("down without --yes changed the schema: %+v", st)
	}
	if err := migrate([]string{"down", "--db", db, "--yes"}, nil); err != nil {
		t.Fatal(err)
	}
	if st := schemaStatus(t, db); st.Version != 0 || st.Pending == 0 {
		t.Fatalf("after down --yes: %+v", st)
	}

	if err := migrate([]string{"force", "1", "--db", db}, nil); err != nil {
		t.Fatal(err)
	}
	if st := schemaStatus(t, db); st.Version != 1 || st.Dirty {
		t.Fatalf("after force 1: %+v", st)
	}
	for _, bad := range [][]string{{"force", "--db", db}, {"force", "x", "--db", db}, {"force", "-1", "--db", db}, {"force", "999", "--db", db}} {
		if err := migrate(bad, nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}

	missing := filepath.Join(dir, "missing.db")
	for _, args := range [][]string{{"down", "--yes", "--db", missing}, {"force", "1", "--db", missing}, {"status", "--db", missing}} {
		if err := migrate(args, nil); !errors.Is(err, sqlite.ErrNoDatabase) {
			t.Errorf("%v on a missing database: %v", args, err)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a migrate command created %s", missing)
	}
	if err := migrate([]string{"sideways", "--db", db}, nil); err == nil || !strings.Contains(err.Error(), "want up, down --yes, force N or status") {
		t.Fatalf("bad direction: %v", err)
	}
	if err := migrate(nil, nil); err == nil {
		t.Fatal("migrate without a subcommand accepted")
	}
	if _, err := os.Stat("syncgate.db"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("./syncgate.db was touched: %v", err)
	}
}

// TestBoolFlagAlone: --insecure alone is accepted (start-up gets past the exposure check and stops at
// the invalid mapping spec); a separate value is refused instead of silently ignored.
func TestBoolFlagAlone(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, "agents.yaml"), "flow: agents\n"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	base := []string{"--listen", "0.0.0.0:0", "--db", filepath.Join(dir, "x.db"), "--mapping-dir", dir}
	for _, flag := range []string{"--insecure", "--insecure=true"} {
		err := run(context.Background(), append([]string{flag}, base...), env(nil), &out, &out)
		if err == nil || !strings.Contains(err.Error(), "agents.yaml") {
			t.Errorf("%s: err = %v, want start-up to reach the mapping specs", flag, err)
		}
	}
	err := run(context.Background(), append(base, "--insecure", "true"), env(nil), &out, &out)
	if err == nil || !strings.Contains(err.Error(), `unexpected argument "true"`) {
		t.Errorf("--insecure true: err = %v", err)
	}
}

func TestUnknownEnvironmentIsLogged(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, "agents.yaml"), "flow: agents\n"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_ = run(context.Background(), []string{"--db", filepath.Join(dir, "x.db"), "--mapping-dir", dir},
		env(map[string]string{"SYNCGATE_LISTNE": "secret-looking-value"}), &out, &out)
	if !strings.Contains(out.String(), "SYNCGATE_LISTNE") || strings.Contains(out.String(), "secret-looking-value") {
		t.Fatalf("log:\n%s", out.String())
	}
}

func TestRefusesExposedListenWithoutKeys(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--listen", "0.0.0.0:0", "--db", filepath.Join(t.TempDir(), "x.db")}, env(nil), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "refusing to listen") {
		t.Fatalf("err = %v", err)
	}
}

func TestInvalidMappingSpecStopsStartUp(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, "agents.yaml"), "flow: agents\n"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "x.db"), "--mapping-dir", dir}, env(nil), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "agents.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestSettingsCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"settings"}, env(nil), &out, &out); err != nil || !strings.Contains(out.String(), "SYNCGATE_KINGDEE_PASSWORD") {
		t.Fatalf("settings: %v\n%s", err, out.String())
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }

// lockedBuffer is a bytes.Buffer safe for a writer goroutine and a reading test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDebugListenServesProfilingApart checks that --debug-listen serves pprof on its own port and that
// the API port (behind authentication) does not serve it.
// serveForTest runs the gateway in-process with args (vendors unreachable: never called here) until
// the test ends, and returns the URLs it announced for the patterns in want, in order.
func serveForTest(t *testing.T, args []string, want ...*regexp.Regexp) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "x.db")}, args...),
			env(map[string]string{"SYNCGATE_API_KEYS": "k",
				// Vendors are never called here; the clients only need to be constructible.
				"SYNCGATE_KINGDEE_BASE_URL": "http://127.0.0.1:1/k3cloud/", "SYNCGATE_KINGDEE_ACCT_ID": "a", "SYNCGATE_KINGDEE_USERNAME": "u",
				"SYNCGATE_KINGDEE_PASSWORD": "p", "SYNCGATE_GREATONCE_BASE_URL": "http://127.0.0.1:1/", "SYNCGATE_GREATONCE_APP_KEY": "k",
				"SYNCGATE_GREATONCE_SECRET": "s", "SYNCGATE_GREATONCE_CUSTOMER_ID": "c", "SYNCGATE_ZHILONG_BASE_URL": "http://127.0.0.1:1/",
				"SYNCGATE_ZHILONG_USERNAME": "u", "SYNCGATE_ZHILONG_PASSWORD": "p"}), &out, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	urls := make([]string, len(want))
	missing := func() bool { return slices.Contains(urls, "") }
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && missing(); time.Sleep(10 * time.Millisecond) {
		for i, re := range want {
			if m := re.FindStringSubmatch(out.String()); m != nil {
				urls[i] = m[1]
			}
		}
	}
	if missing() {
		t.Fatalf("gateway did not announce %v:\n%s", want, out.String())
	}
	return urls
}

var apiAnnounced = regexp.MustCompile(`syncgate listening on (http://\S+)`)

func TestCORSAllowedOriginsSetting(t *testing.T) {
	api := serveForTest(t, []string{"--cors-allowed-origins", "https://console.example.com"}, apiAnnounced)[0]
	for origin, allowed := range map[string]bool{"https://console.example.com": true, "https://evil.example.com": false} {
		req, _ := http.NewRequest(http.MethodOptions, api+"/syncgate.v1.SyncService/ListRuns", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type") // lower-case and sorted, as browsers send it
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); (got == origin) != allowed {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q", origin, got)
		}
	}
}

func TestDebugListenServesProfilingApart(t *testing.T) {
	dbg := regexp.MustCompile(`syncgate profiling on (http://\S+)/debug/pprof/`)
	urls := serveForTest(t, []string{"--debug-listen", "127.0.0.1:0"}, apiAnnounced, dbg)
	apiURL, dbgURL := urls[0], urls[1]
	get := func(url string) int {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(dbgURL + "/debug/pprof/cmdline"); code != http.StatusOK {
		t.Errorf("debug port: /debug/pprof/cmdline answered %d", code)
	}
	// The API port answers that path with the web console's page (any GET path nothing else serves),
	// never with profiling data.
	res, err := http.Get(apiURL + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode == http.StatusOK && !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || strings.Contains(string(body), "debug-listen") {
		t.Errorf("API port serves /debug/pprof/cmdline (%d, %s): %.200s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
}

func TestDebugListenMustBeLoopback(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--debug-listen", "0.0.0.0:6060", "--db", filepath.Join(t.TempDir(), "x.db")}, env(nil), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "loopback only") {
		t.Fatalf("err = %v", err)
	}
}

func TestTuneRuntimeDefersToTheEnvironment(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	log := slog.New(slog.DiscardHandler)
	cfg := config.Defaults()
	cfg.GCPercent, cfg.MemoryLimitMiB = 250, 64
	if gc, limit := tuneRuntime(cfg, lookupEnv(nil), log); gc != 250 || limit != 64<<20 {
		t.Fatalf("applied %d, %d", gc, limit)
	}
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("GC percent in effect %d, want 250", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("memory limit in effect %d, want 64 MiB", got)
	}
	debug.SetGCPercent(100)
	if gc, limit := tuneRuntime(cfg, lookupEnv([]string{"GOGC=100", "GOMEMLIMIT=1GiB"}), log); gc != -2 || limit != -2 {
		t.Fatalf("GOGC/GOMEMLIMIT set, yet applied %d, %d", gc, limit)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set, yet the GC percent changed to %d", got)
	}
}

// The gateway serves the web console at / and prints its URL; --console=false turns both off.
func TestConsoleSetting(t *testing.T) {
	consoleAnnounced := regexp.MustCompile(`web console: (http://\S+)/`)
	urls := serveForTest(t, nil, apiAnnounced, consoleAnnounced)
	if urls[0] != urls[1] {
		t.Fatalf("console URL %s is not the API's %s", urls[1], urls[0])
	}
	res, err := http.Get(urls[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "<title>syncgate console</title>") ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("GET /: %d %v %.200s", res.StatusCode, res.Header, body)
	}

	off := serveForTest(t, []string{"--console=false"}, apiAnnounced)[0]
	res, err = http.Get(off + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET / with --console=false: %d, want 404", res.StatusCode)
	}
}
