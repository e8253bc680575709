package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/grpchealth"

	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

// observedStore passes Ping to the real store and reports each answer once the health loop has it.
type observedStore struct {
	st     *sqlite.Store
	pinged chan error
}

func (o observedStore) Ping(ctx context.Context) error {
	err := o.st.Ping(ctx)
	select {
	case o.pinged <- err:
	case <-ctx.Done():
	}
	return err
}

// syncBuffer is a log buffer safe for the health loop's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Health goes NOT_SERVING (the log saying the database is full) once a write finds a SQLite database
// full, though it still answers reads, and SERVING again when there is room.
func TestHealthFollowsAFullDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "full.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var pages int64
	if _, err := other.Exec(`CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(2097152))`); err != nil {
		t.Fatal(err)
	}
	if err := other.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err = sqlite.Open(ctx, path, sqlite.WithMaxPageCount(pages+4)); err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	health := grpchealth.NewStaticChecker("syncgate.v1.SyncService")
	var logs syncBuffer
	obs := observedStore{st: st, pinged: make(chan error)}
	hctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchStoreHealth(hctx, obs, health, slog.New(slog.NewTextHandler(&logs, nil)), 5*time.Millisecond)
	}()
	defer func() { stop(); <-done }()

	// status waits for three more pings and returns the status: the first may have been answered
	// before the test's last change, the second was not, and the third shows the loop acted on it.
	status := func() grpchealth.Status {
		t.Helper()
		for range 3 {
			<-obs.pinged
		}
		res, err := health.Check(ctx, &grpchealth.CheckRequest{Service: "syncgate.v1.SyncService"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Status
	}
	if s := status(); s != grpchealth.StatusServing {
		t.Fatalf("health before the database filled = %v", s)
	}

	run := storage.Run{ID: "r1", Flow: "agents", Status: "running", StartedAt: time.Now(), Options: []byte(`{}`), Error: strings.Repeat("x", 1<<20)}
	if err := st.CreateRun(ctx, run); !errors.Is(err, storage.ErrFull) {
		t.Fatalf("write beyond the cap = %v, want storage.ErrFull", err)
	}
	if s := status(); s != grpchealth.StatusNotServing {
		t.Fatalf("health with the database full = %v, want NOT_SERVING", s)
	}
	if !strings.Contains(logs.String(), `msg="the database is full: health is NOT_SERVING`) {
		t.Fatalf("log does not say why:\n%s", logs.String())
	}

	if _, err := other.Exec(`DROP TABLE filler`); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != grpchealth.StatusServing {
		t.Fatalf("health after room returned = %v, want SERVING\n%s", s, logs.String())
	}
}
