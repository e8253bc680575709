package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
)

// replicaTakeover is the takeover_after of the replica suites: short, so that a killed replica's run
// is taken over within seconds (plus up to River's 30 s rescuer interval).
const replicaTakeover = "4s"

// startReplica starts a gateway on the PostgreSQL database db (shared mode) with takeover_after
// replicaTakeover and info logs, whose lines say where each slice of a run executes ("run started",
// "run handed over at a page boundary", "run ended", each with the run's id).
func startReplica(t *testing.T, v *vendors, db string, env ...string) *gateway {
	t.Helper()
	all := append([]string{"SYNCGATE_TAKEOVER_AFTER=" + replicaTakeover, "SYNCGATE_LOG_LEVEL=info"}, env...)
	return startGatewayEnv(t, v, db, "", all...)
}

// executing reports whether g's log shows it executing a slice of the run now ([Process.ExecutingRun]).
func executing(g *gateway, runID string) bool { return g.proc.ExecutingRun(runID) }

// sliceCount counts the slices of the run that g's log shows begun.
func sliceCount(g *gateway, runID string) int {
	n := 0
	for _, l := range g.proc.Lines("run_id=" + runID) {
		if strings.Contains(l, `msg="run started"`) {
			n++
		}
	}
	return n
}

// getRun reads a run through c, failing the test on an error.
func getRun(t *testing.T, c syncgatev1.SyncServiceClient, id string) *syncgatev1.Run {
	t.Helper()
	resp, err := c.GetRun(authCtx(), &syncgatev1.GetRunRequest{RunId: id})
	if err != nil {
		t.Fatalf("GetRun %s: %v", id, err)
	}
	return resp.GetRun()
}

// health asks g's gRPC health service for the SyncService's status.
func health(t *testing.T, g *gateway) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	conn, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "syncgate.v1.SyncService"})
	if err != nil {
		t.Fatalf("health check: %v", err)
	}
	return resp.GetStatus()
}

// outIDs counts the Kingdee mock's customers per F_out_id (the agents the gateway created).
func outIDs(t *testing.T, v *vendors) map[string]int {
	t.Helper()
	cs, err := v.kd.KingdeeCustomers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, c := range cs {
		if c.F_out_id != "" {
			m[c.F_out_id]++
		}
	}
	return m
}

// pgProxy is a TCP proxy owned by a test between gateways and PostgreSQL, which the test stops (every
// connection through it closed, new ones refused) and starts again on the same address, to make the
// database unreachable for those gateways alone.
type pgProxy struct {
	addr           string
	network, upstr string
	mu             sync.Mutex
	ln             net.Listener
	conns          map[net.Conn]struct{}
	wg             sync.WaitGroup
}

// newPGProxy makes a proxy for the database dsn (a pgtest DSN) and returns it, started, with the DSN
// that reaches the same database through it.
func newPGProxy(t *testing.T, dsn string) (*pgProxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal("pgProxy: the database URL does not parse")
	}
	p := &pgProxy{conns: map[net.Conn]struct{}{}}
	q := u.Query()
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	if h := q.Get("host"); h != "" {
		host = h
		q.Del("host")
	}
	switch {
	case host == "" || strings.HasPrefix(host, "/"):
		if host == "" {
			host = "/var/run/postgresql"
		}
		p.network, p.upstr = "unix", filepath.Join(host, ".s.PGSQL."+port)
	default:
		p.network, p.upstr = "tcp", net.JoinHostPort(host, port)
	}
	if p.addr, err = FreePort(); err != nil {
		t.Fatal(err)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	u.Host, u.RawQuery = p.addr, q.Encode()
	if u.User == nil { // over the socket, peer authentication took the OS user: name it
		if cu := currentUser(); cu != "" {
			u.User = url.User(cu)
		}
	}
	return p, u.String()
}

func (p *pgProxy) start() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("pgProxy listen: %w", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial(p.network, p.upstr)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	return nil
}

// stop closes the listener and every connection through the proxy.
func (p *pgProxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}

// currentUser is the OS user's name (empty when unknown).
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
