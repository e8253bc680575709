package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/config"
	"github.com/syncgate/syncgate/server/store"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestMigrateSubcommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	var out bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"migrate", "--db", db, "up"}, env(nil), &out, &out); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := st.SchemaVersion(ctx)
	st.Close()
	if v != 3 {
		t.Fatalf("schema version %d after migrate up", v)
	}
	if err := run(ctx, []string{"migrate", "--db", db, "down"}, env(nil), &out, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"migrate", "--db", db, "sideways"}, env(nil), &out, &out); err == nil || !strings.Contains(err.Error(), "want 'up' or 'down'") {
		t.Fatalf("bad direction: %v", err)
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
func TestDebugListenServesProfilingApart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--debug-listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "x.db")},
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
	api := regexp.MustCompile(`syncgate listening on (http://\S+)`)
	dbg := regexp.MustCompile(`syncgate profiling on (http://\S+)/debug/pprof/`)
	var apiURL, dbgURL string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && (apiURL == "" || dbgURL == ""); time.Sleep(10 * time.Millisecond) {
		if m := api.FindStringSubmatch(out.String()); m != nil {
			apiURL = m[1]
		}
		if m := dbg.FindStringSubmatch(out.String()); m != nil {
			dbgURL = m[1]
		}
	}
	if apiURL == "" || dbgURL == "" {
		t.Fatalf("gateway did not announce both addresses:\n%s", out.String())
	}
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
	if code := get(apiURL + "/debug/pprof/cmdline"); code == http.StatusOK {
		t.Errorf("API port serves /debug/pprof/cmdline (%d)", code)
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
	if gc, limit := tuneRuntime(cfg, env(nil), log); gc != 250 || limit != 64<<20 {
		t.Fatalf("applied %d, %d", gc, limit)
	}
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("GC percent in effect %d, want 250", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("memory limit in effect %d, want 64 MiB", got)
	}
	debug.SetGCPercent(100)
	if gc, limit := tuneRuntime(cfg, env(map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}), log); gc != -2 || limit != -2 {
		t.Fatalf("GOGC/GOMEMLIMIT set, yet applied %d, %d", gc, limit)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set, yet the GC percent changed to %d", got)
	}
}
