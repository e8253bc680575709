package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// A write that does not fit a capped database fails matching storage.ErrFull (SQLite's text still
// wrapped for the log), Ping reports the database full until room returns, and reads keep working.
func TestFullDatabaseIsClassifiedAndPingFollowsIt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "full.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.ExecContext(ctx, `CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(2097152))`); err != nil {
		t.Fatal(err)
	}
	var pages int64
	if err := st.db.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err = Open(ctx, path, WithMaxPageCount(pages+4)); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping before any write failed = %v", err)
	}

	now := time.Now()
	if err := st.CreateRun(ctx, storage.Run{ID: "r0", Flow: "agents", Status: "running", StartedAt: now, Options: []byte(`{}`)}); err != nil {
		t.Fatalf("a small write within the cap: %v", err)
	}
	big := storage.Run{ID: "r1", Flow: "agents", Status: "running", StartedAt: now, Options: []byte(`{}`), Error: strings.Repeat("x", 1<<20)}
	err = st.CreateRun(ctx, big)
	if !errors.Is(err, storage.ErrFull) || !strings.Contains(err.Error(), "full") {
		t.Fatalf("CreateRun beyond the cap = %v, want storage.ErrFull", err)
	}
	err = st.CommitPage(ctx, storage.PageCommit{Flow: "agents", RunID: "r0", Records: []storage.Record{{SourceKey: "A1", Action: "add", Outcome: "ok", Request: incompressible(1 << 20)}}})
	if !errors.Is(err, storage.ErrFull) {
		t.Fatalf("CommitPage beyond the cap = %v, want storage.ErrFull", err)
	}
	if err := st.Ping(ctx); !errors.Is(err, storage.ErrFull) {
		t.Fatalf("Ping after a full write = %v, want storage.ErrFull", err)
	}
	if _, _, err := st.ListRuns(ctx, storage.RunFilter{}); err != nil {
		t.Fatalf("reads on a full database: %v", err)
	}

	// Room returns: other data is deleted (its pages go to the free list).
	other, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, `DROP TABLE filler`); err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping after room returned = %v", err)
	}
	if err := st.CreateRun(ctx, big); err != nil {
		t.Fatalf("CreateRun after room returned: %v", err)
	}
}

// incompressible returns n bytes of hex digits of pseudo-random bytes: the audit trail is stored
// compressed, and a repeated letter would not fill anything.
func incompressible(n int) string {
	r := rand.New(rand.NewChaCha8([32]byte{1}))
	b := make([]byte, n/2)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}
