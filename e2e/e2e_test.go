package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

const apiKey = "e2e-key-5f0c1d"

var bins struct{ gateway, mocks string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "syncgate-e2e-")
	if err != nil {
		panic(err)
	}
	root, err := ModuleRoot()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if bins.gateway, err = Build(ctx, root, "./server/cmd/syncgate", dir); err == nil {
			bins.mocks, err = Build(ctx, root, "./mocks/cmd/syncgate-mocks", dir)
		}
		cancel()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// vendors are the mock vendors' process and what it printed.
type vendors struct {
	proc       *Process
	info       VendorInfo
	kd, gc, zl *mockctl.Client
}

func startVendors(t *testing.T, customers, agents int) *vendors {
	t.Helper()
	p := Start(t, "mocks", bins.mocks, []string{"-seed-customers", fmt.Sprint(customers), "-seed-agents", fmt.Sprint(agents), "-seed", "3"}, nil)
	if _, err := p.WaitFor(MocksReady, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	info, err := ParseVendors(p.Output())
	if err != nil {
		t.Fatal(err)
	}
	v := &vendors{proc: p, info: info}
	v.kd, v.gc, v.zl = mockctl.New(info.KingdeeURL, nil), mockctl.New(info.GreatonceURL, nil), mockctl.New(info.ZhilongURL, nil)
	return v
}

// gateway is a running syncgate process.
type gateway struct {
	proc *Process
	url  string
	addr string
	db   string
}

func startGateway(t *testing.T, v *vendors, db string, extra ...string) *gateway {
	t.Helper()
	addr, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := append(GatewayEnv(v.info, db, addr, apiKey, 50, 20), "SYNCGATE_MAPPING_DIR="+activeCustomersSpec(t))
	p := Start(t, "syncgate", bins.gateway, extra, env)
	if _, err := p.WaitFor(GatewayReady, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return &gateway{proc: p, url: "http://" + addr, addr: addr, db: db}
}

func (g *gateway) grpc(t *testing.T) syncgatev1.SyncServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return syncgatev1.NewSyncServiceClient(conn)
}

func authCtx() context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+apiKey)
}

func connectCtx() context.Context {
	ctx, ci := connect.NewClientContext(context.Background())
	ci.RequestHeader().Set("Authorization", "Bearer "+apiKey)
	return ctx
}

// activeCustomersSpec is a mapping directory restricting customers to audited, active ones
// ([WriteActiveCustomersSpec]). The e2e suites count on that restriction: it is what their syncable
// customers are.
func activeCustomersSpec(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteActiveCustomersSpec(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// syncable counts the customers the e2e gateway's spec selects: audited and active.
func syncable(t *testing.T, v *vendors) int {
	t.Helper()
	cs, err := v.kd.KingdeeCustomers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cs {
		if c.FDocumentStatus == "C" && c.FForbidStatus == "A" {
			n++
		}
	}
	return n
}

func TestFullSyncsThroughGRPCAndConnect(t *testing.T) {
	v := startVendors(t, 300, 250)
	g := startGateway(t, v, filepath.Join(t.TempDir(), "e2e.db"))
	client := g.grpc(t)
	want := syncable(t, v)

	resp, err := client.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetRun(); r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED || int(r.GetCounts().GetAdded()) != want {
		t.Fatalf("first customers run: %v (want %d adds)", r, want)
	}
	dists, _ := v.gc.GreatonceDistributors(context.Background())
	if len(dists) != want {
		t.Fatalf("greatonce has %d distributors, want %d", len(dists), want)
	}
	// A delivered record's body reads back whole, as Greatonce received it, through GetRun and
	// GetRecord (the store keeps the audit trail compressed).
	firstRun := resp.GetRun().GetId()
	adds, err := client.GetRun(authCtx(), &syncgatev1.GetRunRequest{RunId: firstRun, IncludeRecords: true, PageSize: 1, Action: syncgatev1.Action_ACTION_ADD})
	if err != nil || len(adds.GetRecords()) != 1 {
		t.Fatalf("GetRun, first add: %v %v", adds, err)
	}
	added := adds.GetRecords()[0]
	var sent mockctl.GreatonceDistributor
	if err := json.Unmarshal([]byte(added.GetRequest()), &sent); err != nil || sent.DistributorCode == "" {
		t.Fatalf("the add's request body %q: %v", added.GetRequest(), err)
	}
	if i := slices.IndexFunc(dists, func(d mockctl.GreatonceDistributor) bool { return d.DistributorCode == sent.DistributorCode }); i < 0 ||
		dists[i].DistributorName != sent.DistributorName || dists[i].Address != sent.Address || dists[i].Mobile != sent.Mobile {
		t.Fatalf("the add's request body %q is not what Greatonce holds", added.GetRequest())
	}
	story, err := client.GetRecord(authCtx(), &syncgatev1.GetRecordRequest{Flow: syncgatev1.Flow_FLOW_CUSTOMERS, SourceKey: added.GetSourceKey()})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(story.GetHistory(), func(h *syncgatev1.RecordOutcome) bool {
		return h.GetRunId() == firstRun && h.GetAction() == syncgatev1.Action_ACTION_ADD
	}); i < 0 ||
		story.GetHistory()[i].GetRequest() != added.GetRequest() || story.GetHistory()[i].GetResponse() != added.GetResponse() || added.GetResponse() == "" {
		t.Fatalf("GetRecord %s: history %v, want the add with the bodies GetRun shows", added.GetSourceKey(), story.GetHistory())
	}
	before, _ := v.gc.Counts(context.Background())
	resp, err = client.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := v.gc.Counts(context.Background())
	if c := resp.GetRun().GetCounts(); c.GetAdded()+c.GetUpdated() != 0 || after["greatonce.distributor.single.sync"] != before["greatonce.distributor.single.sync"] {
		t.Fatalf("immediate second run wrote: %v", c)
	}

	// Agents through the Connect client (HTTP/1.1 JSON), followed with WatchRun. The read-only calls
	// go as HTTP GETs (falling back to POST when a request would make a long URL).
	cc := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, g.url, connect.WithProtoJSON(),
		connect.WithHTTPGet(), connect.WithHTTPGetMaxURLSize(8<<10, true))
	ar, err := cc.SyncAgents(connectCtx(), &syncgatev1.SyncAgentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := cc.WatchRun(connectCtx(), &syncgatev1.WatchRunRequest{RunId: ar.GetRun().GetId()})
	if err != nil {
		t.Fatal(err)
	}
	var last *syncgatev1.Run
	for stream.Receive() {
		last = stream.Msg().GetRun()
	}
	if err := stream.Err(); err != nil || last.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED || last.GetCounts().GetAdded() != 250 {
		t.Fatalf("watched agents run: %v %v", last, err)
	}
	// Read it back by HTTP GET, with a page of its audit trail (Chinese names and all).
	read, err := cc.GetRun(connectCtx(), &syncgatev1.GetRunRequest{RunId: last.GetId(), IncludeRecords: true, PageSize: 50})
	if err != nil || read.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED || len(read.GetRecords()) == 0 {
		t.Fatalf("GetRun by GET: %v %v", read.GetRun(), err)
	}
	custs, _ := v.kd.KingdeeCustomers(context.Background())
	outIDs := map[string]int{}
	for _, c := range custs {
		if c.F_out_id != "" {
			outIDs[c.F_out_id]++
		}
	}
	if len(outIDs) != 250 {
		t.Fatalf("kingdee has %d agents' customers, want 250", len(outIDs))
	}
	for id, n := range outIDs {
		if n != 1 {
			t.Fatalf("agent %s is in kingdee %d times", id, n)
		}
	}
	got, err := client.GetRun(authCtx(), &syncgatev1.GetRunRequest{RunId: ar.GetRun().GetId(), IncludeRecords: true, PageSize: 10})
	if err != nil || len(got.GetRecords()) != 10 || got.GetNextPageToken() == "" {
		t.Fatalf("GetRun with records: %v %v", got, err)
	}
	list, err := client.ListRuns(authCtx(), &syncgatev1.ListRunsRequest{Flow: syncgatev1.Flow_FLOW_CUSTOMERS})
	if err != nil || len(list.GetRuns()) != 2 {
		t.Fatalf("ListRuns: %v %v", list, err)
	}
}

func TestRefusalsAndSecrets(t *testing.T) {
	v := startVendors(t, 400, 0)
	db := filepath.Join(t.TempDir(), "e2e.db")
	g := startGateway(t, v, db)
	client := g.grpc(t)
	ctx := context.Background()

	if _, err := client.ListRuns(ctx, &syncgatev1.ListRunsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no key: %v", err)
	}
	bad := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer wrong")
	if _, err := client.ListRuns(bad, &syncgatev1.ListRunsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := client.Preview(authCtx(), &syncgatev1.PreviewRequest{Flow: syncgatev1.Flow_FLOW_AGENTS}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("invalid preview: %v", err)
	}
	// Preview and a dry run write nothing at the vendors.
	if _, err := client.Preview(authCtx(), &syncgatev1.PreviewRequest{Flow: syncgatev1.Flow_FLOW_CUSTOMERS,
		Source: &syncgatev1.PreviewRequest_Pending{Pending: &syncgatev1.PendingRecords{Count: 5}}}); err != nil {
		t.Fatal(err)
	}
	dry, err := client.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{DryRun: true, Wait: true}})
	if err != nil || dry.GetRun().GetCounts().GetAdded() == 0 {
		t.Fatalf("dry run: %v %v", dry, err)
	}
	if d, _ := v.gc.GreatonceDistributors(ctx); len(d) != 0 {
		t.Fatalf("preview or dry run wrote %d distributors", len(d))
	}

	// A real agents run (the vendors hold no agents): its logins and page reads are audited.
	if ag, err := client.SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Wait: true}}); err != nil ||
		ag.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("agents run: %v %v", ag, err)
	}

	// Two simultaneous calls: slow Greatonce keeps the first one running.
	if err := v.gc.SetFault(ctx, mockctl.Fault{Endpoint: "greatonce.distributor.single.sync", Kind: "latency", Rate: 1, LatencyMS: 20}); err != nil {
		t.Fatal(err)
	}
	first, err := client.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), first.GetRun().GetId()) {
		t.Fatalf("second concurrent call: %v", err)
	}

	// SIGTERM: the run is cancelled cleanly and the process exits.
	if err := g.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := g.proc.Wait(30 * time.Second); err != nil {
		t.Fatalf("graceful shutdown: %v\n%s", err, g.proc.Output())
	}
	secrets := []string{v.info.KingdeePass, v.info.GreatonceSecret, v.info.ZhilongPass, apiKey}
	dbBytes, _ := os.ReadFile(db)
	wal, _ := os.ReadFile(db + "-wal")
	for _, s := range secrets {
		if strings.Contains(g.proc.Output(), s) {
			t.Errorf("the gateway log contains a secret (%d chars)", len(s))
		}
		if bytes.Contains(dbBytes, []byte(s)) || bytes.Contains(wal, []byte(s)) {
			t.Errorf("the database contains a secret (%d chars)", len(s))
		}
	}
	// Restarted, the gateway reports the cancelled run.
	g2 := startGateway(t, v, db)
	c2 := g2.grpc(t)
	r, err := c2.GetRun(authCtx(), &syncgatev1.GetRunRequest{RunId: first.GetRun().GetId()})
	if err != nil || r.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_CANCELLED {
		t.Fatalf("run after SIGTERM: %v %v", r, err)
	}
	// The audit trail is stored compressed, where the file scan above cannot see a body: read every
	// run's trail back through the API and look for the secrets in the bodies too.
	runs, err := c2.ListRuns(authCtx(), &syncgatev1.ListRunsRequest{PageSize: 100})
	if err != nil || len(runs.GetRuns()) == 0 {
		t.Fatalf("ListRuns after restart: %v %v", runs, err)
	}
	rows := 0
	for _, run := range runs.GetRuns() {
		for tok := ""; ; {
			page, err := c2.GetRun(authCtx(), &syncgatev1.GetRunRequest{RunId: run.GetId(), IncludeRecords: true, PageSize: 1000, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range page.GetRecords() {
				rows++
				for _, s := range secrets {
					if strings.Contains(rec.GetRequest(), s) || strings.Contains(rec.GetResponse(), s) || strings.Contains(rec.GetError(), s) {
						t.Errorf("run %s's audit row %s holds a secret (%d chars)", run.GetId(), rec.GetSourceKey(), len(s))
					}
				}
			}
			if tok = page.GetNextPageToken(); tok == "" {
				break
			}
		}
	}
	if rows == 0 {
		t.Fatal("no audit rows to look for secrets in")
	}
}

func TestKill9DuringRunsLosesNothingAndDuplicatesNothing(t *testing.T) {
	v := startVendors(t, 600, 600)
	db := filepath.Join(t.TempDir(), "e2e.db")
	ctx := context.Background()
	want := syncable(t, v)
	// Slow vendors so that the kills land mid-run: during Greatonce writes, during Kingdee batches.
	v.gc.SetFault(ctx, mockctl.Fault{Endpoint: "greatonce.distributor.single.sync", Kind: "latency", Rate: 1, LatencyMS: 5})
	v.kd.SetFault(ctx, mockctl.Fault{Endpoint: "BatchSave", Kind: "latency", Rate: 1, LatencyMS: 40})
	for i, delay := range []time.Duration{150 * time.Millisecond, 400 * time.Millisecond, 700 * time.Millisecond} {
		g := startGateway(t, v, db)
		client := g.grpc(t)
		if _, err := client.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{}); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		if _, err := client.SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{}); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		time.Sleep(delay)
		g.proc.Kill() // kill -9
	}
	v.gc.ClearFaults(ctx)
	v.kd.ClearFaults(ctx)
	g := startGateway(t, v, db)
	client := g.grpc(t)
	// The kills landed mid-run: the restarted gateway marks those runs failed (interrupted).
	failed, err := client.ListRuns(authCtx(), &syncgatev1.ListRunsRequest{Status: syncgatev1.RunStatus_RUN_STATUS_FAILED})
	if err != nil || len(failed.GetRuns()) < 3 || !strings.Contains(failed.GetRuns()[0].GetError(), "interrupted") {
		t.Fatalf("interrupted runs: %v %v", failed, err)
	}
	for _, call := range []func() (*syncgatev1.Run, error){
		func() (*syncgatev1.Run, error) {
			r, err := client.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
			return r.GetRun(), err
		},
		func() (*syncgatev1.Run, error) {
			r, err := client.SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
			return r.GetRun(), err
		},
	} {
		r, err := call()
		if err != nil || r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
			t.Fatalf("final run: %v %v", r, err)
		}
	}
	// Agents: exactly one Kingdee customer per agent.
	custs, _ := v.kd.KingdeeCustomers(ctx)
	outIDs := map[string]int{}
	for _, c := range custs {
		if c.F_out_id != "" {
			outIDs[c.F_out_id]++
		}
	}
	for id, n := range outIDs {
		if n != 1 {
			t.Fatalf("agent %s is in kingdee %d times", id, n)
		}
	}
	if len(outIDs) != 600 {
		t.Fatalf("%d agents in kingdee, want 600", len(outIDs))
	}
	// Customers: every syncable customer (the seeded ones and the agents' new ones) is one distributor.
	want = syncable(t, v)
	r, err := client.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil {
		t.Fatal(err)
	}
	dists, _ := v.gc.GreatonceDistributors(ctx)
	if len(dists) != want {
		t.Fatalf("%d distributors for %d syncable customers (last run %v)", len(dists), want, r.GetRun())
	}
	byNumber := map[string]int{}
	for _, d := range dists {
		byNumber[d.DistributorCode]++
	}
	if len(byNumber) != len(dists) {
		t.Fatal("duplicate distributor codes")
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal("unreachable")
	}
}
