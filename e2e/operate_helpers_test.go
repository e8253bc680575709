package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

// startGatewayEnv is startGateway with extra environment (added after GatewayEnv's, so a variable
// given here wins) and the mapping directory dir (empty: the active-customers spec alone).
func startGatewayEnv(t *testing.T, v *vendors, db, dir string, env ...string) *gateway {
	t.Helper()
	addr, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if dir == "" {
		dir = activeCustomersSpec(t)
	}
	all := append(GatewayEnv(v.info, db, addr, apiKey, 50, 20), "SYNCGATE_MAPPING_DIR="+dir)
	all = append(all, env...)
	p := Start(t, "syncgate", bins.gateway, nil, all)
	if _, err := p.WaitFor(GatewayReady, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return &gateway{proc: p, url: "http://" + addr, addr: addr, db: db}
}

// stop ends the gateway with SIGTERM and waits for it to exit.
func (g *gateway) stop(t *testing.T) {
	t.Helper()
	if err := g.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := g.proc.Wait(30 * time.Second); err != nil {
		t.Fatalf("graceful shutdown: %v\n%s", err, g.proc.Output())
	}
}

// keyCtx is a gRPC context carrying key as the bearer token.
func keyCtx(key string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
}

// cliResult is what one CLI invocation printed and its exit code.
type cliResult struct {
	stdout, stderr string
	code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout ---\n%s--- stderr ---\n%s", r.code, r.stdout, r.stderr)
}

// cli runs `syncgate ARGS…` (the client commands of the gateway binary) against url with key in
// SYNCGATE_API_KEY (none when empty); stdout is a pipe, not a terminal.
func cli(t *testing.T, url, key string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.gateway, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "SYNCGATE_URL=" + url, "TZ=UTC"}
	if key != "" {
		cmd.Env = append(cmd.Env, "SYNCGATE_API_KEY="+key)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("syncgate %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// mustCLI is cli expecting exit code want.
func mustCLI(t *testing.T, want int, url, key string, args ...string) cliResult {
	t.Helper()
	r := cli(t, url, key, args...)
	if r.code != want {
		t.Fatalf("syncgate %s: want exit %d, got %s", strings.Join(args, " "), want, r)
	}
	return r
}

// waitUntil polls cond every 50ms until it holds, failing the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sleepUntil waits until the wall clock reaches at (for tests whose subject is time itself).
func sleepUntil(at time.Time) {
	if d := time.Until(at); d > 0 {
		time.Sleep(d)
	}
}

// allRuns lists every run of flow (newest first) over the gRPC API with ctx's key.
func allRuns(t *testing.T, ctx context.Context, c syncgatev1.SyncServiceClient, flow syncgatev1.Flow) []*syncgatev1.Run {
	t.Helper()
	var out []*syncgatev1.Run
	req := &syncgatev1.ListRunsRequest{Flow: flow, PageSize: 500}
	for {
		resp, err := c.ListRuns(ctx, req)
		if err != nil {
			t.Fatalf("ListRuns: %v", err)
		}
		out = append(out, resp.GetRuns()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// schedule returns flow's schedule from ListSchedules.
func schedule(t *testing.T, c syncgatev1.SyncServiceClient, flow syncgatev1.Flow) *syncgatev1.Schedule {
	t.Helper()
	resp, err := c.ListSchedules(authCtx(), &syncgatev1.ListSchedulesRequest{})
	if err != nil {
		t.Fatalf("ListSchedules: %v", err)
	}
	for _, s := range resp.GetSchedules() {
		if s.GetFlow() == flow {
			return s
		}
	}
	t.Fatalf("ListSchedules has no %s schedule: %v", flow, resp)
	return nil
}

// waitRunEnded polls GetRun until the run has ended and returns it.
func waitRunEnded(t *testing.T, c syncgatev1.SyncServiceClient, id string, timeout time.Duration) *syncgatev1.Run {
	t.Helper()
	var run *syncgatev1.Run
	waitUntil(t, timeout, "run "+id+" to end", func() bool {
		resp, err := c.GetRun(authCtx(), &syncgatev1.GetRunRequest{RunId: id})
		if err != nil {
			t.Fatalf("GetRun %s: %v", id, err)
		}
		run = resp.GetRun()
		return run.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_RUNNING
	})
	return run
}

// distributorCodes counts the Greatonce mock's distributors by code.
func distributorCodes(t *testing.T, v *vendors) (int, map[string]int) {
	t.Helper()
	ds, err := v.gc.GreatonceDistributors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int{}
	for _, d := range ds {
		codes[d.DistributorCode]++
	}
	return len(ds), codes
}

// kingdeeCustomer finds the Kingdee mock's customer whose field (per get) equals want.
func kingdeeCustomer(t *testing.T, v *vendors, get func(mockctl.KingdeeCustomer) string, want string) (mockctl.KingdeeCustomer, bool) {
	t.Helper()
	cs, err := v.kd.KingdeeCustomers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if get(c) == want {
			return c, true
		}
	}
	return mockctl.KingdeeCustomer{}, false
}

// writeFile writes text to name in a temporary directory of the test and returns its path.
func writeFile(t *testing.T, dir, name string, text []byte) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, text, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
