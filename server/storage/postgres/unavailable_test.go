package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/pgtest"
	"github.com/syncgate/syncgate/server/storage/postgres"
)

// proxy forwards TCP connections on 127.0.0.1 to a test database's server (over TCP or its Unix
// socket, as the DSN names it). Stall makes it stop forwarding (a call in flight then waits for its
// answer); Silence drops every connection and holds the new ones unanswered (a server that hangs);
// Close closes the listener and every connection: to whoever connects through it, the server is
// gone, and new connections are refused.
type proxy struct {
	t        testing.TB
	ln       net.Listener
	dsn      string // the test database's DSN, through the proxy
	upstream [2]string

	mu      sync.Mutex
	conns   []net.Conn
	stalled chan struct{} // closed while forwarding goes on; nil: not stalled
	silent  bool
	wg      sync.WaitGroup
}

func newProxy(t testing.TB, dsn string) *proxy {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, upstream: [2]string{"tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}}
	if strings.HasPrefix(cfg.Host, "/") {
		p.upstream = [2]string{"unix", filepath.Join(cfg.Host, fmt.Sprintf(".s.PGSQL.%d", cfg.Port))}
	}
	if p.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("host")
	q.Del("port")
	u.Host, u.RawQuery = p.ln.Addr().String(), q.Encode()
	p.dsn = u.String()
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		silent := p.silent
		if silent {
			p.conns = append(p.conns, c)
		}
		p.mu.Unlock()
		if silent {
			continue
		}
		up, err := net.Dial(p.upstream[0], p.upstream[1])
		if err != nil {
			p.t.Logf("proxy: dial the server: %v", err)
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies from src to dst, holding each chunk while the proxy is stalled.
func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			stalled := p.stalled
			p.mu.Unlock()
			if stalled != nil {
				<-stalled
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Stall stops forwarding until Close.
func (p *proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

// Silence closes every connection and holds the new ones, unanswered, until Close.
func (p *proxy) Silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.silent = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Close closes the listener and every connection, and waits for the forwarding to end.
func (p *proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// wantUnavailable fails the test unless err says the database cannot be reached: it matches
// storage.ErrUnavailable and the engine classifies it so.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	t.Logf("%s: %v", what, err)
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("%s = %v, want storage.ErrUnavailable", what, err)
		return
	}
	if k := engine.Classify(err); k != engine.KindStorageUnavailable {
		t.Errorf("%s: engine.Classify = %v, want KindStorageUnavailable", what, k)
	}
	if text, _ := engine.PublicText(err); !strings.HasPrefix(text, "the database cannot be reached (ref ") {
		t.Errorf("%s is shown as %q", what, text)
	}
}

// testRun is the run the tests below create before the server goes.
func testRun(now time.Time) storage.Run {
	return storage.Run{ID: "r1", Flow: "agents", Options: []byte("{}"), Status: "running", StartedAt: now}
}

// openThrough opens a store on dsn's database through a new proxy, and checks that it works.
func openThrough(t *testing.T, dsn string) (*postgres.Store, *proxy) {
	t.Helper()
	p := newProxy(t, dsn)
	st, err := postgres.Open(context.Background(), p.dsn, postgres.WithMaxConns(2))
	if err != nil {
		t.Fatal(err)
	}
	// The proxy first: the pool's Close waits (up to 15 s) for a connection the silent proxy holds.
	t.Cleanup(func() { p.Close(); st.Close() })
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st, p
}

// When the connection to the server drops while a call waits for its answer, the call fails with an
// error matching storage.ErrUnavailable, which the engine classifies as KindStorageUnavailable.
func TestConnectionDroppedMidCallIsUnavailable(t *testing.T) {
	ctx := context.Background()
	st, p := openThrough(t, pgtest.Database(t))
	if err := st.CreateRun(ctx, testRun(time.Now())); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	inFlight := make(chan error, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := st.GetRun(cctx, "r1")
		inFlight <- err
	}()
	time.Sleep(200 * time.Millisecond) // the query is sent; its answer is held
	p.Close()
	select {
	case err := <-inFlight:
		wantUnavailable(t, "GetRun in flight", err)
	case <-time.After(30 * time.Second):
		t.Fatal("GetRun in flight did not return after the connection dropped")
	}
}

// A call that finds the pool's connection dead (the server went while it was idle) fails so too: a
// read, a write and Ping, each the first call after the connection was lost.
func TestIdleConnectionLostIsUnavailable(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	now := time.Now()
	for _, c := range []struct {
		name string
		call func(st *postgres.Store) error
	}{
		{"GetRun", func(st *postgres.Store) error { _, err := st.GetRun(ctx, "r1"); return err }},
		{"ListRuns", func(st *postgres.Store) error { _, _, err := st.ListRuns(ctx, storage.RunFilter{}); return err }},
		{"CommitPage", func(st *postgres.Store) error {
			return st.CommitPage(ctx, storage.PageCommit{Flow: "agents", RunID: "r1", Counts: &storage.Counts{Read: 1},
				Records: []storage.Record{{SourceKey: "k", Action: "add", Outcome: "ok"}}})
		}},
		{"CreateRun", func(st *postgres.Store) error {
			r := testRun(now)
			r.ID = "r-" + now.String()
			return st.CreateRun(ctx, r)
		}},
		{"Ping", func(st *postgres.Store) error { return st.Ping(ctx) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, p := openThrough(t, dsn)
			if _, err := st.GetRun(ctx, "r1"); errors.Is(err, storage.ErrNotFound) {
				if err := st.CreateRun(ctx, testRun(now)); err != nil {
					t.Fatal(err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			p.Close()
			err := c.call(st)
			wantUnavailable(t, c.name, err)
			// The call found the dead connection (no new connection was tried): pgxpool checks an idle
			// connection only after a second of rest.
			var ce *pgconn.ConnectError
			if errors.As(err, &ce) {
				t.Errorf("%s did not meet the dead connection: %v", c.name, err)
			}
		})
	}
}

// A server that accepts connections and never answers them, met with the DSN's connect_timeout while
// the call's own context has time left, cannot be reached either: no deadline of the caller passed.
func TestSilentServerIsUnavailable(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("connect_timeout", "1")
	u.RawQuery = q.Encode()
	st, p := openThrough(t, u.String())
	p.Silence()
	for i := range 2 { // the first call may meet the pooled connection, dropped; the second connects
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := st.GetRun(cctx, "r1")
		cancel()
		wantUnavailable(t, "GetRun", err)
		if i == 1 && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("GetRun did not time out connecting (the test no longer tests what it says): %v", err)
		}
	}
	if err := st.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping of a silent server = %v, want storage.ErrUnavailable after the connect_timeout", err)
	}
}

// When the server cannot be reached (it went, and new connections are refused), every call of the
// store fails with an error matching storage.ErrUnavailable, reads, writes and Ping alike, and Open
// too; the engine classifies it as KindStorageUnavailable.
func TestUnreachableServerIsUnavailable(t *testing.T) {
	ctx := context.Background()
	st, p := openThrough(t, pgtest.Database(t))
	now := time.Now()
	run := testRun(now)
	if err := st.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	p.Close()

	cursor := storage.Cursor{Time: now, Key: "k"}
	policy := storage.RetentionPolicy{KeepRuns: 1}
	calls := map[string]func(ctx context.Context) error{
		"Ping":           func(ctx context.Context) error { return st.Ping(ctx) },
		"SchemaVersion":  func(ctx context.Context) error { _, err := st.SchemaVersion(ctx); return err },
		"Mappings":       func(ctx context.Context) error { _, err := st.Mappings(ctx, "agents", []string{"k"}); return err },
		"CountMappings":  func(ctx context.Context) error { _, err := st.CountMappings(ctx, "agents"); return err },
		"Checkpoint":     func(ctx context.Context) error { _, _, err := st.Checkpoint(ctx, "agents"); return err },
		"SetCheckpoint":  func(ctx context.Context) error { return st.SetCheckpoint(ctx, "agents", cursor) },
		"DeadLetters":    func(ctx context.Context) error { _, err := st.DeadLetters(ctx, "agents", 0); return err },
		"DeadLetterPage": func(ctx context.Context) error { _, err := st.DeadLetterPage(ctx, "agents", "", 10); return err },
		"DeadLettersByKey": func(ctx context.Context) error {
			_, err := st.DeadLettersByKey(ctx, "agents", []string{"k"})
			return err
		},
		"CountDeadLetters": func(ctx context.Context) error { _, err := st.CountDeadLetters(ctx, "agents"); return err },
		"CommitPage": func(ctx context.Context) error {
			return st.CommitPage(ctx, storage.PageCommit{Flow: "agents", RunID: "r1", Checkpoint: &cursor,
				Records: []storage.Record{{SourceKey: "k", Action: "add", Outcome: "ok"}}})
		},
		"RecordIntents": func(ctx context.Context) error {
			return st.RecordIntents(ctx, "agents", []storage.Intent{{SourceKey: "k", TargetKey: "t"}})
		},
		"Intents":         func(ctx context.Context) error { _, err := st.Intents(ctx, "agents", []string{"k"}); return err },
		"CreateRun":       func(ctx context.Context) error { r := run; r.ID = "r2"; return st.CreateRun(ctx, r) },
		"FinishRun":       func(ctx context.Context) error { r := run; r.Status = "succeeded"; return st.FinishRun(ctx, r) },
		"FailInterrupted": func(ctx context.Context) error { _, err := st.FailInterrupted(ctx, now); return err },
		"RequestCancel":   func(ctx context.Context) error { _, err := st.RequestCancel(ctx, "r1"); return err },
		"PublishProgress": func(ctx context.Context) error {
			_, err := st.PublishProgress(ctx, "r1", storage.Counts{Read: 1})
			return err
		},
		"GetRun":   func(ctx context.Context) error { _, err := st.GetRun(ctx, "r1"); return err },
		"ListRuns": func(ctx context.Context) error { _, _, err := st.ListRuns(ctx, storage.RunFilter{}); return err },
		"RunRecords": func(ctx context.Context) error {
			_, _, err := st.RunRecords(ctx, "r1", storage.RecordFilter{}, "", 10)
			return err
		},
		"RecordHistory": func(ctx context.Context) error {
			_, _, err := st.RecordHistory(ctx, "agents", "k", "", 10)
			return err
		},
		"Schedules": func(ctx context.Context) error { _, err := st.Schedules(ctx); return err },
		"PutSchedule": func(ctx context.Context) error {
			return st.PutSchedule(ctx, storage.Schedule{Flow: "agents", Every: time.Hour})
		},
		"FireSchedule": func(ctx context.Context) error {
			_, err := st.FireSchedule(ctx, "agents", now, now.Add(time.Hour), storage.ScheduleFiring{At: now})
			return err
		},
		"LockFlow": func(ctx context.Context) error {
			unlock, _, _, err := st.LockFlow(ctx, "agents")
			if unlock != nil {
				unlock()
			}
			return err
		},
		"PruneCandidates": func(ctx context.Context) error { _, err := st.PruneCandidates(ctx, policy, now, 10); return err },
		"DeleteRunTrail":  func(ctx context.Context) error { _, _, err := st.DeleteRunTrail(ctx, 0, "r1", 10); return err },
		"BeginRetention": func(ctx context.Context) error {
			_, err := st.BeginRetention(ctx, storage.RetentionPass{StartedAt: now})
			return err
		},
		"FinishRetention": func(ctx context.Context) error { return st.FinishRetention(ctx, 1, now, "") },
		"RetentionPasses": func(ctx context.Context) error { _, err := st.RetentionPasses(ctx, 10); return err },
		"ReadOnly().GetRun": func(ctx context.Context) error {
			_, err := st.ReadOnly().GetRun(ctx, "r1")
			return err
		},
		"Open": func(ctx context.Context) error {
			s, err := postgres.Open(ctx, p.dsn)
			if err == nil {
				s.Close()
			}
			return err
		},
	}
	// Every method of the store that can fail is called above.
	var missing []string
	for i, typ := 0, reflect.TypeOf(st); i < typ.NumMethod(); i++ {
		m := typ.Method(i)
		if n := m.Type.NumOut(); n > 0 && m.Type.Out(n-1) == reflect.TypeFor[error]() && calls[m.Name] == nil {
			missing = append(missing, m.Name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("methods not checked with the server gone: %v", missing)
	}
	for _, name := range slices.Sorted(maps.Keys(calls)) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := calls[name](cctx)
		cancel()
		wantUnavailable(t, name, err)
	}
}

// When the server ends the store's session (an administrator's pg_terminate_backend, as a shutdown
// does: SQLSTATE 57P01), the call fails with an error matching storage.ErrUnavailable, and the store
// works again as soon as the server takes connections.
func TestTerminatedSessionIsUnavailable(t *testing.T) {
	ctx := context.Background()
	st, dsn := open(t)
	if err := st.CreateRun(ctx, testRun(time.Now())); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, pgtest.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, cfg.Database).Scan(&n); err != nil || n == 0 {
		t.Fatalf("terminate the store's sessions: %d terminated, %v", n, err)
	}
	// Termination is asynchronous: the sessions are waited for to end (a query sent first would
	// still be answered).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
			cfg.Database).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the store still there 10 s after their termination", n)
		}
	}
	_, err = st.GetRun(ctx, "r1")
	wantUnavailable(t, "GetRun after the session was terminated", err)
	if _, err := st.GetRun(ctx, "r1"); err != nil {
		t.Fatalf("GetRun once the server takes connections again: %v", err)
	}
}

// Only the driver's errors are classified: a stored value that does not decode, though its decoder
// reports io.ErrUnexpectedEOF (a truncated zstd frame), is no lost connection.
func TestCorruptDataIsNotUnavailable(t *testing.T) {
	ctx := context.Background()
	st, dsn := open(t)
	payload := []byte(`[1,2,3,"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", {"x": [1,2,3,4,5,6,7,8,9]}]`)
	if err := st.CommitPage(ctx, storage.PageCommit{Flow: "agents",
		Mappings: []storage.Mapping{{SourceKey: "k", TargetKey: "t", PayloadHash: "h", Payload: payload}}}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE mappings SET payload = substring(payload from 1 for 4)`); err != nil {
		t.Fatal(err)
	}
	_, err = st.Mappings(ctx, "agents", []string{"k"})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("reading a truncated payload = %v, want the decoder's io.ErrUnexpectedEOF (the test no longer tests what it says)", err)
	}
	if errors.Is(err, storage.ErrUnavailable) || engine.Classify(err) != engine.KindInternal {
		t.Fatalf("a payload that does not decode = %v (%v), want an internal error", err, engine.Classify(err))
	}
}
