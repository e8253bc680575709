package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/pgtest"
	"github.com/syncgate/syncgate/server/storage/postgres"
	"github.com/syncgate/syncgate/server/storage/storagetest"
)

// open opens a store on a fresh database, closed when the test ends.
func open(t testing.TB) (*postgres.Store, string) {
	t.Helper()
	dsn := pgtest.Database(t)
	st, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, dsn
}

// TestContract runs the storage contract suite against the PostgreSQL backend, a fresh database per
// test, as the SQLite backend runs it.
func TestContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		st, _ := open(t)
		return st
	})
}

func TestOpenMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	st, dsn := open(t)
	if v, err := st.SchemaVersion(ctx); err != nil || v != 3 {
		t.Fatalf("schema version = %d, %v", v, err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRun(ctx, storage.Run{ID: "r1", Flow: "agents", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Reopening with nothing to migrate keeps the data; the postgresql:// scheme works too.
	st2, err := postgres.Open(ctx, strings.Replace(dsn, "postgres://", "postgresql://", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if _, err := st2.GetRun(ctx, "r1"); err != nil {
		t.Fatalf("data lost on reopen: %v", err)
	}
}

// Several gateway replicas starting at once on one fresh database all open it: golang-migrate's
// advisory lock makes one of them migrate and the others wait.
func TestConcurrentOpensOnAFreshDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	stores := make([]*postgres.Store, replicas)
	for i := range replicas {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(ctx, dsn, postgres.WithMaxConns(2)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
		if v, err := stores[i].SchemaVersion(ctx); err != nil || v != 3 {
			t.Errorf("replica %d: schema version %d, %v", i, v, err)
		}
	}
}

// Open refuses DSNs that are not postgres URLs, and no error, whether the DSN does not parse or the
// server cannot be reached, quotes the DSN's password.
func TestOpenErrorsNeverShowThePassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const pw = "s3cret-Pa55"
	for _, dsn := range []string{
		"postgres://root:" + pw + "@127.0.0.1:1/syncgate?connect_timeout=5", // nothing listens on port 1
		"postgres://root:" + pw + "@127.0.0.1:notaport/syncgate",
		"postgres://root:" + pw + "@[::1/syncgate",
		"postgresql://root:" + pw + "@127.0.0.1:1/syncgate?sslmode=bogus",
		"mysql://root:" + pw + "@127.0.0.1/syncgate",
		"host=127.0.0.1 password=" + pw,
	} {
		st, err := postgres.Open(ctx, dsn)
		if err == nil {
			st.Close()
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), url.QueryEscape(pw)) {
			t.Errorf("Open(%q) error shows the password: %v", dsn, err)
		}
		if !strings.Contains(err.Error(), "postgres") {
			t.Errorf("Open(%q) error does not say what failed: %v", dsn, err)
		}
	}
}

// Ping reports a store that cannot reach its database.
func TestPingFailsAfterClose(t *testing.T) {
	st, _ := open(t)
	st.Close()
	if err := st.Ping(context.Background()); err == nil {
		t.Fatal("Ping of a closed store succeeded")
	}
}

// A page commit's mappings may name a key twice (one statement cannot upsert a row twice): the last
// one stays, as the SQLite backend's row-by-row upserts leave it. Dead letters named twice add up;
// of create intents named twice in one call, the first stays.
func TestCommitPageRepeatedKeys(t *testing.T) {
	ctx := context.Background()
	st, _ := open(t)
	if err := st.RecordIntents(ctx, "agents", []storage.Intent{{SourceKey: "I", TargetKey: "first"}, {SourceKey: "I", TargetKey: "second"}}); err != nil {
		t.Fatal(err)
	}
	if in, err := st.Intents(ctx, "agents", []string{"I"}); err != nil || in["I"] != "first" {
		t.Fatalf("intents = %v, %v", in, err)
	}
	err := st.CommitPage(ctx, storage.PageCommit{Flow: "agents",
		Mappings: []storage.Mapping{
			{SourceKey: "A", TargetKey: "T1", PayloadHash: "h1", Payload: []byte(`{"v":1}`)},
			{SourceKey: "B", TargetKey: "TB", PayloadHash: "hb", Payload: []byte(`{}`)},
			{SourceKey: "A", TargetKey: "T2", PayloadHash: "h2", Payload: []byte(`{"v":2}`)},
		},
		DeadLetters: []storage.DeadLetter{{SourceKey: "X", Attempts: 1, LastError: "one"}, {SourceKey: "X", Attempts: 2, LastError: "two"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := st.Mappings(ctx, "agents", []string{"A", "B"})
	if err != nil || len(ms) != 2 || ms["A"].TargetKey != "T2" || string(ms["A"].Payload) != `{"v":2}` {
		t.Fatalf("mappings = %+v, %v", ms, err)
	}
	dl, err := st.DeadLetters(ctx, "agents", 0)
	if err != nil || len(dl) != 1 || dl[0].Attempts != 3 || dl[0].LastError != "two" {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
}

// Page tokens of one listing are refused by the others.
func TestPageTokensAreNotInterchangeable(t *testing.T) {
	ctx := context.Background()
	st, _ := open(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := st.CreateRun(ctx, storage.Run{ID: fmt.Sprint("r", i), Flow: "agents", Options: []byte("{}"), Status: "running", StartedAt: base.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	recs := []storage.Record{{SourceKey: "K", Action: "add", Outcome: "ok", At: base}, {SourceKey: "K", Action: "add", Outcome: "ok", At: base}}
	if err := st.CommitPage(ctx, storage.PageCommit{Flow: "agents", RunID: "r0", Records: recs}); err != nil {
		t.Fatal(err)
	}
	_, runsTok, err := st.ListRuns(ctx, storage.RunFilter{PageSize: 1})
	if err != nil || runsTok == "" {
		t.Fatalf("runs token %q, %v", runsTok, err)
	}
	_, recTok, err := st.RunRecords(ctx, "r0", storage.RecordFilter{}, "", 1)
	if err != nil || recTok == "" {
		t.Fatalf("records token %q, %v", recTok, err)
	}
	_, histTok, err := st.RecordHistory(ctx, "agents", "K", "", 1)
	if err != nil || histTok == "" {
		t.Fatalf("history token %q, %v", histTok, err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrBadPageToken) {
			t.Errorf("%s: %v, want ErrBadPageToken", what, err)
		}
	}
	for _, tok := range []string{recTok, histTok, "garbage!"} {
		_, _, err := st.ListRuns(ctx, storage.RunFilter{PageToken: tok})
		check("ListRuns("+tok+")", err)
	}
	for _, tok := range []string{runsTok, histTok, "garbage!"} {
		_, _, err := st.RunRecords(ctx, "r0", storage.RecordFilter{}, tok, 1)
		check("RunRecords("+tok+")", err)
	}
	for _, tok := range []string{runsTok, recTok, "garbage!"} {
		_, _, err := st.RecordHistory(ctx, "agents", "K", tok, 1)
		check("RecordHistory("+tok+")", err)
	}
}

// RecordHistory's query reads the key's range of record_index's primary key from the page token,
// and checks each row's flow by a probe of runs: its cost follows the key's rows, never the number of
// runs (the plan a join invites: the flow's runs as the outer loop, one index probe per run, then a
// sort). Checked for a key with a few rows and for one with 4000 of the 20000, after a VACUUM (which
// autovacuum runs on an insert-only table too): record_index is all key, and on a visible table the
// scan is index-only; before any vacuum the planner may read the key's entries by bitmap and sort them.
func TestRecordHistoryUsesTheIndex(t *testing.T) {
	ctx := context.Background()
	st, dsn := open(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for run := range 4 {
		id := fmt.Sprint("run-", run)
		if err := st.CreateRun(ctx, storage.Run{ID: id, Flow: []string{"customers", "agents"}[run%2], Options: []byte("{}"), Status: "running", StartedAt: base}); err != nil {
			t.Fatal(err)
		}
		p := storage.PageCommit{Flow: "customers", RunID: id}
		for i := range 5000 {
			key := fmt.Sprint(100000 + (i*7919)%5000)
			if i%5 == 0 {
				key = "HOT"
			}
			p.Records = append(p.Records, storage.Record{SourceKey: key, Action: "update", Outcome: "ok",
				At: base.Add(time.Duration(run*5000+i) * time.Millisecond)})
		}
		if err := st.CommitPage(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}
	plan := func(key string) string {
		t.Helper()
		explain := strings.Replace(postgres.HistoryQuery, "SELECT", "EXPLAIN SELECT", 1)
		rows, err := conn.Query(ctx, explain, key, "customers", int64(1<<63-1), "\U0010FFFF", int64(1<<63-1), 51)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	for _, key := range []string{"100007", "HOT"} {
		p := plan(key)
		if !strings.Contains(p, "Index") || !strings.Contains(p, "record_index_pkey") ||
			!strings.Contains(p, "Index Cond: ((source_key = '"+key+"'::text) AND (ROW(at, run_id, seq) < ROW(") ||
			strings.Contains(p, "Nested Loop") || strings.Contains(p, "Join") || strings.Contains(p, "Seq Scan on record_index") || strings.Contains(p, "Sort") {
			t.Errorf("history plan of key %s does not read the key's range of record_index alone:\n%s", key, p)
		} else {
			t.Logf("plan of key %s:\n%s", key, p)
		}
	}
}

// Audit bodies are vendor bytes (made valid UTF-8 by the engine, which leaves U+0000 in place):
// PostgreSQL's text type refuses U+0000, so a body holding one must still commit, and read back as
// it was, as SQLite keeps it.
func TestAuditBodiesKeepNULs(t *testing.T) {
	ctx := context.Background()
	st, _ := open(t)
	if err := st.CreateRun(ctx, storage.Run{ID: "r1", Flow: "agents", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rec := storage.Record{SourceKey: "K", Action: "call", Outcome: "ok", Request: "req\x00body", Response: "resp\x00\x00", At: time.Unix(1, 0)}
	if err := st.CommitPage(ctx, storage.PageCommit{Flow: "agents", RunID: "r1", Records: []storage.Record{rec}}); err != nil {
		t.Fatal(err)
	}
	recs, _, err := st.RunRecords(ctx, "r1", storage.RecordFilter{}, "", 10)
	if err != nil || len(recs) != 1 || recs[0].Request != rec.Request || recs[0].Response != rec.Response {
		t.Fatalf("records = %+v, %v", recs, err)
	}
	hist, _, err := st.RecordHistory(ctx, "agents", "K", "", 10)
	if err != nil || len(hist) != 1 || hist[0].Request != rec.Request || hist[0].Response != rec.Response {
		t.Fatalf("history = %+v, %v", hist, err)
	}
}
