package flows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/flows"
	agentsflow "github.com/syncgate/syncgate/server/flows/agents"
	customersflow "github.com/syncgate/syncgate/server/flows/customers"
	"github.com/syncgate/syncgate/server/storage"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/greatonce"
	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/clients/zhilong"
	mockgo "github.com/syncgate/syncgate/mocks/greatonce"
	mockkd "github.com/syncgate/syncgate/mocks/kingdee"
	"github.com/syncgate/syncgate/mocks/mockctl"
	mockzl "github.com/syncgate/syncgate/mocks/zhilong"
	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

// vendors is a per-test bundle: the three mocks in-process, real clients, a store and an engine with
// both real flows.
type vendors struct {
	ctx          context.Context
	kd, gc, zl   *mockctl.Client
	kdMock       *mockkd.Server
	eng          *engine.Engine
	st           *sqlite.Store
	kdc          *kingdee.Client
	gcc          *greatonce.Client
	zlc          *zhilong.Client
	specs        *mapping.Set
	dbPath       string
	pageSize     int
	customersOpt customersflow.Options
	// cfg is the engine's configuration; wrapStore, when set, wraps the store the engine writes to
	// (a test's failing commits).
	cfg       engine.Config
	wrapStore func(storage.Store) storage.Store
	// storeOpts are the options the store is opened with (a size-limited database).
	storeOpts []sqlite.Option
	// customers and agents are the flows the engine runs.
	customers, agents *engine.Flow
}

func newVendors(t testing.TB, customers, agents, pageSize int) *vendors {
	t.Helper()
	return newVendorsWith(t, customers, agents, pageSize, nil)
}

// newVendorsWith is newVendors with the Kingdee mock behind wrapKD (nil: none), for tests that
// change how it answers.
func newVendorsWith(t testing.TB, customers, agents, pageSize int, wrapKD func(http.Handler) http.Handler) *vendors {
	t.Helper()
	v := &vendors{ctx: context.Background(), pageSize: pageSize}
	kc, gc, zc := mockkd.DefaultConfig(), mockgo.DefaultConfig(), mockzl.DefaultConfig()
	v.kdMock = mockkd.New(kc)
	var kdHandler http.Handler = v.kdMock
	if wrapKD != nil {
		kdHandler = wrapKD(v.kdMock)
	}
	kdSrv, goSrv, zlSrv := httptest.NewServer(kdHandler), httptest.NewServer(mockgo.New(gc)), httptest.NewServer(mockzl.New(zc))
	t.Cleanup(func() { kdSrv.Close(); goSrv.Close(); zlSrv.Close() })
	v.kd, v.gc, v.zl = mockctl.New(kdSrv.URL, nil), mockctl.New(goSrv.URL, nil), mockctl.New(zlSrv.URL, nil)
	if err := v.kd.Seed(v.ctx, customers, 7); err != nil {
		t.Fatal(err)
	}
	if err := v.zl.Seed(v.ctx, agents, 7); err != nil {
		t.Fatal(err)
	}
	bi, bm := time.Millisecond, 5*time.Millisecond
	// The clients report every attempt to the engine that is current when they call.
	hook := func(ctx context.Context, a vendor.Attempt) {
		if v.eng != nil {
			flows.AuditAttempt(ctx, a)
		}
	}
	var err error
	v.kdc, err = kingdee.New(kingdee.Config{BaseURL: kdSrv.URL + "/k3cloud/", AcctID: kc.AcctID, Username: kc.Username, Password: kc.Password,
		Transport: vendor.Transport{Timeout: 2 * time.Second, MaxAttempts: 6, MaxElapsed: 10 * time.Second, BackoffInitial: bi, BackoffMax: bm, Hook: hook}})
	if err != nil {
		t.Fatal(err)
	}
	v.gcc, err = greatonce.New(greatonce.Config{BaseURL: goSrv.URL, AppKey: gc.AppKey, Secret: gc.Secret, CustomerID: gc.CustomerID,
		Transport: vendor.Transport{Timeout: 2 * time.Second, MaxAttempts: 6, MaxElapsed: 10 * time.Second, BackoffInitial: bi, BackoffMax: bm, Hook: hook}})
	if err != nil {
		t.Fatal(err)
	}
	v.zlc, err = zhilong.New(zhilong.Config{BaseURL: zlSrv.URL, Username: zc.Username, Password: zc.Password,
		Transport: vendor.Transport{Timeout: 2 * time.Second, MaxAttempts: 6, MaxElapsed: 10 * time.Second, BackoffInitial: bi, BackoffMax: bm, Hook: hook}})
	if err != nil {
		t.Fatal(err)
	}
	if v.specs, err = mapping.LoadSet(""); err != nil {
		t.Fatal(err)
	}
	v.dbPath = filepath.Join(t.TempDir(), "flows.db")
	v.customersOpt = customersflow.Options{PageSize: pageSize, Concurrency: 8, Overlap: time.Minute}
	v.open(t)
	return v
}

// open (re)starts the gateway side on the same database, as a restarted process would.
func (v *vendors) open(t testing.TB) {
	t.Helper()
	st, err := sqlite.Open(v.ctx, v.dbPath, v.storeOpts...)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := v.specs.Get(engine.FlowCustomers)
	as, _ := v.specs.Get(engine.FlowAgents)
	v.st = st
	var engineStore storage.Store = st
	if v.wrapStore != nil {
		engineStore = v.wrapStore(st)
	}
	if v.customers, err = customersflow.New(v.kdc, v.gcc, cs, v.customersOpt); err != nil {
		t.Fatal(err)
	}
	v.agents = agentsflow.New(v.zlc, v.kdc, as, agentsflow.Options{PageSize: v.pageSize, BatchSize: 7, Overlap: time.Minute})
	v.eng, err = engine.New(v.cfg, engineStore, v.customers, v.agents)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.eng.Shutdown(context.Background()); st.Close() })
}

func (v *vendors) run(t testing.TB, flow string, opts engine.Options) engine.Run {
	t.Helper()
	r, err := v.eng.Start(v.ctx, flow, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = v.eng.Wait(v.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	return r
}

// syncable counts the Kingdee customers SyncCustomers with the default spec delivers: every one
// (its FilterString is blank, as in the seed).
func (v *vendors) syncable(t *testing.T) int {
	t.Helper()
	cs, err := v.kd.KingdeeCustomers(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

func TestCustomersFlowAgainstMocks(t *testing.T) {
	v := newVendors(t, 60, 0, 7)
	want := v.syncable(t)
	r := v.run(t, engine.FlowCustomers, engine.Options{})
	if r.Status != engine.StatusSucceeded || int(r.Counts.Added) != want {
		t.Fatalf("first run %+v, want %d adds (%s)", r.Counts, want, r.Error)
	}
	dists, _ := v.gc.GreatonceDistributors(v.ctx)
	if len(dists) != want {
		t.Fatalf("greatonce has %d distributors, want %d", len(dists), want)
	}
	before, _ := v.gc.Counts(v.ctx)
	r = v.run(t, engine.FlowCustomers, engine.Options{})
	after, _ := v.gc.Counts(v.ctx)
	if r.Counts.Added+r.Counts.Updated != 0 || after[mockgo.MethodDistributorSync] != before[mockgo.MethodDistributorSync] {
		t.Fatalf("second run wrote: %+v", r.Counts)
	}
	if err := v.kd.Modify(v.ctx, 5, 3); err != nil {
		t.Fatal(err)
	}
	r = v.run(t, engine.FlowCustomers, engine.Options{})
	if r.Counts.Updated != 5 || r.Counts.Added != 0 {
		t.Fatalf("after modifying 5: %+v", r.Counts)
	}
	dists, _ = v.gc.GreatonceDistributors(v.ctx)
	updated := 0
	for _, d := range dists {
		updated += d.Updates
	}
	if len(dists) != want || updated != 5 {
		t.Fatalf("distributors %d (updates %d), want %d (5)", len(dists), updated, want)
	}
}

func TestCustomersFlowRecoversFromTransientFaults(t *testing.T) {
	v := newVendors(t, 40, 0, 6)
	want := v.syncable(t)
	for _, f := range []mockctl.Fault{
		{Endpoint: mockgo.MethodDistributorSync, Kind: "http502", Count: 3},
		{Endpoint: mockgo.MethodDistributorSync, Kind: "rate_limit", Count: 3},
		{Endpoint: mockgo.MethodDistributorSync, Kind: "drop", Count: 2},
		{Endpoint: mockgo.MethodDistributorSync, Kind: "truncated", Count: 2},
		{Endpoint: mockgo.MethodDistributorSync, Kind: "http500", Rate: 0.1},
	} {
		if err := v.gc.SetFault(v.ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []mockctl.Fault{
		{Endpoint: mockkd.EndpointQuery, Kind: "session_lost", Count: 1},
		{Endpoint: mockkd.EndpointQuery, Kind: "html", Count: 1},
		{Endpoint: mockkd.EndpointQuery, Kind: "lock_conflict", Count: 1},
	} {
		if err := v.kd.SetFault(v.ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	r := v.run(t, engine.FlowCustomers, engine.Options{})
	if r.Status != engine.StatusSucceeded || int(r.Counts.Added) != want || r.Counts.Retried == 0 {
		t.Fatalf("run %+v err=%q", r.Counts, r.Error)
	}
	dists, _ := v.gc.GreatonceDistributors(v.ctx)
	if len(dists) != want {
		t.Fatalf("%d distributors, want %d", len(dists), want)
	}
	recs, _, _ := v.eng.RunRecords(v.ctx, r.ID, "", 1000)
	transient := 0
	for _, rec := range recs {
		if rec.Outcome == "transient" {
			transient++
		}
	}
	if transient == 0 {
		t.Fatal("retried attempts are not in the audit trail")
	}
}

func TestCustomersCrashBetweenWriteAndCommitMakesNoDuplicate(t *testing.T) {
	v := newVendors(t, 20, 0, 5)
	want := v.syncable(t)
	v.run(t, engine.FlowCustomers, engine.Options{})
	// Simulate a crash after the vendor writes and before the local commit: the mappings are gone.
	v.eng.Shutdown(v.ctx)
	v.st.Close()
	fresh := filepath.Join(t.TempDir(), "lost.db")
	v.dbPath = fresh
	v.open(t)
	r := v.run(t, engine.FlowCustomers, engine.Options{})
	dists, _ := v.gc.GreatonceDistributors(v.ctx)
	if r.Status != engine.StatusSucceeded || len(dists) != want || int(r.Counts.Updated) != want {
		t.Fatalf("rerun without mappings: %+v, %d distributors (want %d, all reconciled as updates)", r.Counts, len(dists), want)
	}
}

func TestAgentsFlowAgainstMocks(t *testing.T) {
	v := newVendors(t, 0, 45, 8)
	r := v.run(t, engine.FlowAgents, engine.Options{})
	if r.Status != engine.StatusSucceeded || r.Counts.Added != 45 {
		t.Fatalf("first run %+v %s", r.Counts, r.Error)
	}
	custs, _ := v.kd.KingdeeCustomers(v.ctx)
	seen := map[string]int{}
	for _, c := range custs {
		seen[c.F_out_id]++
		if c.FDocumentStatus != "C" {
			t.Fatalf("customer %s not audited", c.FNumber)
		}
	}
	if len(custs) != 45 || len(seen) != 45 {
		t.Fatalf("kingdee has %d customers for %d agents", len(custs), len(seen))
	}
	r = v.run(t, engine.FlowAgents, engine.Options{})
	if r.Counts.Added+r.Counts.Updated != 0 {
		t.Fatalf("second run wrote %+v", r.Counts)
	}
	if err := v.zl.Modify(v.ctx, 4, 9); err != nil {
		t.Fatal(err)
	}
	if err := v.zl.Add(v.ctx, 3, 9); err != nil {
		t.Fatal(err)
	}
	r = v.run(t, engine.FlowAgents, engine.Options{})
	if r.Counts.Updated != 4 || r.Counts.Added != 3 {
		t.Fatalf("after 4 modified and 3 new: %+v", r.Counts)
	}
	custs, _ = v.kd.KingdeeCustomers(v.ctx)
	if len(custs) != 48 {
		t.Fatalf("kingdee has %d customers, want 48", len(custs))
	}
}

func TestAgentsCrashBeforeCommitIsReconciledByOutID(t *testing.T) {
	v := newVendors(t, 0, 12, 5)
	v.run(t, engine.FlowAgents, engine.Options{})
	v.eng.Shutdown(v.ctx)
	v.st.Close()
	v.dbPath = filepath.Join(t.TempDir(), "lost.db")
	v.open(t)
	// Preview already tells: the agents have no mapping, yet the sync will update them, not add.
	items, err := v.eng.Preview(v.ctx, engine.FlowAgents, engine.PreviewInput{Pending: 3})
	if err != nil || len(items) != 3 {
		t.Fatalf("preview: %v, %d items", err, len(items))
	}
	for _, it := range items {
		if len(it.Source) != 86 {
			t.Fatalf("preview shows %d source fields, want all 86", len(it.Source))
		}
		if it.Action != engine.ActionUpdate || it.TargetKey == "" || len(it.Warnings) == 0 ||
			!strings.Contains(it.Warnings[len(it.Warnings)-1].Message, "without a local id mapping") {
			t.Fatalf("preview of an agent already in Kingdee: %+v", it)
		}
	}
	r := v.run(t, engine.FlowAgents, engine.Options{})
	custs, _ := v.kd.KingdeeCustomers(v.ctx)
	if len(custs) != 12 || r.Counts.Added != 0 || r.Counts.Updated != 12 {
		t.Fatalf("rerun without mappings: %+v, %d customers", r.Counts, len(custs))
	}
}

func TestAgentsPermanentFailureDeadLetteredThenDelivered(t *testing.T) {
	v := newVendors(t, 0, 6, 10)
	agents, _ := v.zl.ZhilongAgents(v.ctx)
	// A Kingdee customer already uses the number a mapping spec gives one agent: Kingdee refuses it
	// (duplicate number, permanent), the others go through.
	spec := strings.Replace(string(mustRead(t)), `- name: FNumber
      template: ""`, `- name: FNumber
      template: "{{agentId}}"`, 1)
	v.reopenWithSpec(t, engine.FlowAgents, spec)
	blocker := map[string]any{"FCUSTID": 0, "FName": "占用编码", "FNumber": agents[2].AgentID}
	if _, err := v.kdc.Save(v.ctx, kingdee.SaveRequest{FormID: "BD_Customer", Model: []map[string]any{blocker}}); err != nil {
		t.Fatal(err)
	}
	r := v.run(t, engine.FlowAgents, engine.Options{})
	if r.Status != engine.StatusPartial || r.Counts.Failed != 1 || r.Counts.Added != 5 {
		t.Fatalf("run %+v %s", r.Counts, r.Error)
	}
	dl, _ := v.st.DeadLetters(v.ctx, engine.FlowAgents, 0)
	if len(dl) != 1 || dl[0].SourceKey != agents[2].AgentID || !strings.Contains(dl[0].LastError, "编码唯一") {
		t.Fatalf("dead letters %+v", dl)
	}
	// The letter keeps the whole agent, not only the fields the spec reads.
	var kept map[string]any
	if err := json.Unmarshal(dl[0].Payload, &kept); err != nil || len(kept) != 86 || kept["bindingToIntroduceAgentId"] == nil {
		t.Fatalf("dead letter keeps %d fields (%v): %s", len(kept), err, dl[0].Payload)
	}
	// The cause is fixed in Kingdee: the blocking customer gets another number. The next run retries
	// the dead letter first and delivers it.
	custs, _ := v.kd.KingdeeCustomers(v.ctx)
	for _, c := range custs {
		if c.FName == "占用编码" {
			fix := map[string]any{"FCUSTID": c.FCUSTID, "FNumber": "RENUMBERED"}
			if _, err := v.kdc.Save(v.ctx, kingdee.SaveRequest{FormID: "BD_Customer", Model: []map[string]any{fix}, NeedUpDateFields: []string{"FNumber"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r = v.run(t, engine.FlowAgents, engine.Options{})
	if r.Counts.Added != 1 || r.Status != engine.StatusSucceeded {
		t.Fatalf("after fix %+v %s", r.Counts, r.Error)
	}
	if dl, _ = v.st.DeadLetters(v.ctx, engine.FlowAgents, 0); len(dl) != 0 {
		t.Fatalf("dead letter not resolved: %+v", dl)
	}
}

func mustRead(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../mapping/specs/agents.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAgentsReadLosesNothingWhenAgentsLeaveTheWindowMidRead(t *testing.T) {
	// Page-number paging over a fixed window shifts every later agent one place back when an agent
	// already read is updated (and so leaves the window): the first agent of the next page would be
	// skipped, and the checkpoint would pass it.
	v := newVendors(t, 0, 40, 5)
	end := time.Date(2026, 9, 1, 0, 0, 0, 0, vendor.GMT8()) // after the seeded agents, before "now"
	src := v.agents.Source
	got := map[string]int{}
	pages := 0
	err := src.Read(v.ctx, engine.ReadQuery{End: end}, func(recs []engine.SourceRecord) error {
		pages++
		for _, r := range recs {
			got[r.Key]++
		}
		if pages <= 2 {
			return v.zl.Modify(v.ctx, 12, uint64(pages)) // updated now: out of the window
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := v.zl.ZhilongAgents(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	left := 0
	for _, a := range after {
		if a.UpdateTime.After(end) {
			left++
			continue
		}
		if got[a.AgentID] == 0 {
			t.Errorf("agent %s (updated %s, still in the window) was never read", a.AgentID, a.UpdateTime)
		}
	}
	if left == 0 {
		t.Fatal("no agent left the window: the test tests nothing")
	}
	for k, n := range got {
		if n > 1 {
			t.Errorf("agent %s read %d times", k, n)
		}
	}
}

func TestAuditTrailHasEveryAttemptAndNoCredentials(t *testing.T) {
	v := newVendors(t, 15, 15, 6)
	var rows []engine.RecordOutcome
	for _, flow := range []string{engine.FlowCustomers, engine.FlowAgents} {
		r := v.run(t, flow, engine.Options{})
		if r.Status != engine.StatusSucceeded {
			t.Fatalf("%s: %+v %s", flow, r.Counts, r.Error)
		}
		for tok := ""; ; {
			page, next, err := v.eng.RunRecords(v.ctx, r.ID, tok, 50)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, page...)
			if tok = next; tok == "" {
				break
			}
		}
	}
	ops := map[string]int{}
	for _, row := range rows {
		if row.Vendor != "" { // an attempt's own row, or a record's row that carries its only attempt
			ops[row.Vendor+" "+row.Operation]++
		}
		for _, secret := range []string{mockkd.DefaultConfig().Password, mockgo.DefaultConfig().Secret, mockzl.DefaultConfig().Password} {
			if strings.Contains(row.Request+row.Response+row.Error, secret) {
				t.Fatalf("a credential is in the audit trail: %+v", row)
			}
		}
		for _, key := range []string{`"token":"`, `"KDSVCSessionId":"`, `"SessionId":"`} {
			if i := strings.Index(row.Response, key); i >= 0 && !strings.HasPrefix(row.Response[i+len(key):], vendor.Redacted) {
				t.Fatalf("a session token is in the audit trail: %s", row.Response)
			}
		}
	}
	// Logins, reads and writes of all three vendors were attempted on behalf of the runs.
	if len(ops) < 5 {
		t.Fatalf("vendor calls in the audit trail: %v", ops)
	}
	t.Logf("audited calls: %v", ops)
}

// The default spec reads every customer, drafts and forbidden ones included (the seed's blank
// FilterString); the README's restriction reads only audited, active ones, by key as in runs.
func TestCustomersFetchFollowsTheSpecsFilterString(t *testing.T) {
	v := newVendors(t, 40, 0, 10)
	cs, err := v.kd.KingdeeCustomers(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	want := map[string]bool{}
	for _, c := range cs {
		k := fmt.Sprint(c.FCUSTID)
		keys = append(keys, k)
		if c.FDocumentStatus == "C" && c.FForbidStatus == "A" {
			want[k] = true
		}
	}
	if len(want) == len(keys) {
		t.Fatal("every seeded customer is audited and active: the test tests nothing")
	}
	all, err := v.customers.Source.Fetch(v.ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(keys) {
		t.Fatalf("the default spec fetched %d customers of %d", len(all), len(keys))
	}
	v.withSpec(t, engine.FlowCustomers, defaultFilterString, activeFilterString)
	recs, err := v.customers.Source.Fetch(v.ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want) {
		t.Fatalf("fetched %d customers, want the %d audited, active ones", len(recs), len(want))
	}
	for _, r := range recs {
		if !want[r.Key] {
			t.Fatalf("fetched customer %s, which is a draft or forbidden", r.Key)
		}
	}
}

func TestPreviewDiffAgainstRealTargets(t *testing.T) {
	v := newVendors(t, 12, 12, 5)
	// Agents first: the customers they create in Kingdee are customers the other flow syncs.
	for _, flow := range []string{engine.FlowAgents, engine.FlowCustomers} {
		if r := v.run(t, flow, engine.Options{}); r.Status != engine.StatusSucceeded {
			t.Fatalf("%s: %+v %s", flow, r.Counts, r.Error)
		}
	}
	if err := v.kd.Modify(v.ctx, 3, 11); err != nil {
		t.Fatal(err)
	}
	if err := v.zl.Modify(v.ctx, 3, 11); err != nil {
		t.Fatal(err)
	}
	for _, flow := range []string{engine.FlowCustomers, engine.FlowAgents} {
		items, err := v.eng.Preview(v.ctx, flow, engine.PreviewInput{Pending: 100})
		if err != nil {
			t.Fatal(err)
		}
		updates := 0
		for _, it := range items {
			switch it.Action {
			case engine.ActionSkip:
				if len(it.Diff) != 0 {
					t.Fatalf("%s: unchanged record %s has a diff %+v", flow, it.SourceKey, it.Diff)
				}
			case engine.ActionUpdate:
				updates++
				if len(it.Diff) == 0 {
					t.Fatalf("%s: update of %s without a diff", flow, it.SourceKey)
				}
				for _, c := range it.Diff {
					if c.Field == "actionType" || c.Field == "FCUSTID" || c.Field == "FNumber" {
						t.Fatalf("%s: diff shows call bookkeeping: %+v", flow, it.Diff)
					}
				}
			default:
				t.Fatalf("%s: unexpected %s for %s", flow, it.Action, it.SourceKey)
			}
		}
		if updates != 3 {
			t.Fatalf("%s: %d updates previewed, want 3", flow, updates)
		}
	}
}

func TestPreviewWithSpecTextUsesItsCallOptions(t *testing.T) {
	v := newVendors(t, 0, 3, 5)
	spec := strings.Replace(string(mustRead(t)), "IsAutoSubmitAndAudit: true", "IsAutoSubmitAndAudit: false", 1)
	rec := map[string]any{"agentId": "X9", "agentName": "试用", "updateTime": "2026-11-01 10:00:00"}
	for _, tc := range []struct {
		spec string
		want bool
	}{{"", true}, {spec, false}} {
		items, err := v.eng.Preview(v.ctx, engine.FlowAgents, engine.PreviewInput{Records: []map[string]any{rec}, SpecText: tc.spec})
		if err != nil || len(items) != 1 {
			t.Fatalf("preview: %+v %v", items, err)
		}
		if got := items[0].CallOptions["IsAutoSubmitAndAudit"]; got != tc.want {
			t.Fatalf("IsAutoSubmitAndAudit = %v, want %v", got, tc.want)
		}
	}
}
