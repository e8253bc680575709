package flows_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/syncgate/syncgate/server/engine"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/syncgate/syncgate/clients/greatonce"
	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/mocks/mockctl"
	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage"
)

// invoiceFields are the fields finance keeps in Kingdee; the seed presets them blank.
var invoiceFields = []string{"FTAXREGISTERCODE", "FINVOICEBANKNAME", "FINVOICETEL", "FINVOICEBANKACCOUNT", "FINVOICEADDRESS"}

// kingdeeValues reads fields of every customer with an F_out_id, keyed by F_out_id.
func (v *vendors) kingdeeValues(t *testing.T, fields ...string) map[string]kingdee.Row {
	t.Helper()
	rows, err := v.kdc.QueryPage(v.ctx, kingdee.Query{FormID: "BD_Customer", FieldKeys: append([]string{"FCUSTID", "F_out_id"}, fields...),
		Filter: kingdee.Ne("F_out_id", "")})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]kingdee.Row{}
	for _, r := range rows {
		out[r.String("F_out_id")] = r
	}
	return out
}

func TestAgentUpdatesNeverEraseWhatPeopleMaintainInKingdee(t *testing.T) {
	v := newVendors(t, 0, 12, 5)
	if r := v.run(t, engine.FlowAgents, engine.Options{}); r.Status != engine.StatusSucceeded || r.Counts.Added != 12 {
		t.Fatalf("first run %+v", r)
	}
	// Finance fills the invoice data of every customer in Kingdee.
	custs := v.kingdeeValues(t)
	req := kingdee.SaveRequest{FormID: "BD_Customer", NeedUpDateFields: invoiceFields}
	for _, c := range custs {
		id, _ := c.Int64("FCUSTID")
		m := map[string]any{"FCUSTID": id}
		for _, f := range invoiceFields {
			m[f] = f + "-kept"
		}
		req.Model = append(req.Model, m)
	}
	if res, err := v.kdc.BatchSave(v.ctx, req); err != nil || len(res.Failed()) > 0 {
		t.Fatalf("finance's save: %v %+v", err, res)
	}
	for round := range 3 {
		if err := v.zl.Modify(v.ctx, 12, uint64(round+1)); err != nil {
			t.Fatal(err)
		}
		r := v.run(t, engine.FlowAgents, engine.Options{})
		if r.Status != engine.StatusSucceeded || r.Counts.Updated == 0 || r.Counts.Added != 0 {
			t.Fatalf("round %d: %+v", round, r)
		}
		// The audit trail shows each update's NeedUpDateFields: no blank preset, no creation-only field.
		recs, _, err := v.eng.RunRecords(v.ctx, r.ID, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		updates := 0
		for _, rec := range recs {
			if rec.Action != engine.ActionUpdate || rec.Outcome != "ok" {
				continue
			}
			updates++
			var sent struct {
				NeedUpDateFields []string
				Model            map[string]any
			}
			if err := json.Unmarshal([]byte(rec.Request), &sent); err != nil || len(sent.NeedUpDateFields) == 0 {
				t.Fatalf("update audit body %q: %v", rec.Request, err)
			}
			for _, never := range append([]string{"FCreateOrgId", "FUseOrgId", "FNumber"}, invoiceFields...) {
				if slices.Contains(sent.NeedUpDateFields, never) || sent.Model[never] != nil {
					t.Fatalf("update sent %s: %s", never, rec.Request)
				}
			}
		}
		if updates != int(r.Counts.Updated) {
			t.Fatalf("round %d: %d update rows for %d updates", round, updates, r.Counts.Updated)
		}
	}
	for outID, c := range v.kingdeeValues(t, invoiceFields...) {
		for _, f := range invoiceFields {
			if got := c.String(f); got != f+"-kept" {
				t.Errorf("agent %s: %s is %q after the agent updates, want what finance entered", outID, f, got)
			}
		}
	}
	// Preview shows the same NeedUpDateFields.
	agents, _ := v.zl.ZhilongAgents(v.ctx)
	if err := v.zl.Modify(v.ctx, 12, 99); err != nil {
		t.Fatal(err)
	}
	items, err := v.eng.Preview(v.ctx, engine.FlowAgents, engine.PreviewInput{Keys: []string{agents[0].AgentID}})
	if err != nil || len(items) != 1 || items[0].Action != engine.ActionUpdate {
		t.Fatalf("preview %v %+v", err, items)
	}
	need, _ := items[0].CallOptions["NeedUpDateFields"].([]string)
	if len(need) == 0 || slices.Contains(need, "FTAXREGISTERCODE") || slices.Contains(need, "FUseOrgId") {
		t.Fatalf("preview NeedUpDateFields %v", need)
	}
}

func TestIfEmptyFillsBlanksAndKeepsValues(t *testing.T) {
	v := newVendors(t, 0, 4, 5)
	// Created without a tax code (as if it had been created before the spec changed).
	if r := v.run(t, engine.FlowAgents, engine.Options{}); r.Counts.Added != 4 {
		t.Fatalf("%+v", r)
	}
	custs := v.kingdeeValues(t)
	var first string
	for outID, c := range custs {
		if first == "" {
			first = outID
			id, _ := c.Int64("FCUSTID")
			if _, err := v.kdc.BatchSave(v.ctx, kingdee.SaveRequest{FormID: "BD_Customer", NeedUpDateFields: []string{"FTAXREGISTERCODE"},
				Model: []map[string]any{{"FCUSTID": id, "FTAXREGISTERCODE": "BY-FINANCE"}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	v.withSpec(t, engine.FlowAgents, "    - name: FTAXREGISTERCODE\n      template: \"\"",
		"    - name: FTAXREGISTERCODE\n      template: \"TAX-{{agentId}}\"\n      on_update: if_empty")
	if err := v.zl.Modify(v.ctx, 4, 5); err != nil {
		t.Fatal(err)
	}
	if r := v.run(t, engine.FlowAgents, engine.Options{}); r.Counts.Updated != 4 {
		t.Fatalf("%+v", r)
	}
	for outID, c := range v.kingdeeValues(t, "FTAXREGISTERCODE") {
		want := "TAX-" + outID
		if outID == first {
			want = "BY-FINANCE"
		}
		if got := c.String("FTAXREGISTERCODE"); got != want {
			t.Errorf("agent %s: FTAXREGISTERCODE %q, want %q", outID, got, want)
		}
	}
}

// withSpec reopens the gateway side with flow's default spec edited (old -> new, which must match).
func (v *vendors) withSpec(t *testing.T, flow, old, new string) {
	t.Helper()
	text, err := mapping.Default(flow)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), old) {
		t.Fatalf("the default %s spec lacks %q", flow, old)
	}
	v.reopenWithSpec(t, flow, strings.Replace(string(text), old, new, 1))
}

// reopenWithSpec restarts the gateway side (same database) with flow's spec replaced by text.
func (v *vendors) reopenWithSpec(t *testing.T, flow, text string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, flow+".yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if v.specs, err = mapping.LoadSet(dir); err != nil {
		t.Fatal(err)
	}
	v.reopen(t)
}

// reopen restarts the gateway side on the same database, with the bundle's current settings.
func (v *vendors) reopen(t *testing.T) {
	t.Helper()
	v.eng.Shutdown(v.ctx)
	v.st.Close()
	v.open(t)
}

func greatonceDistributor(code, name, mobile string) greatonce.Distributor {
	return greatonce.Distributor{DistributorCode: code, DistributorName: name, Mobile: mobile}
}

func TestGreatonceUpdatesKeepFieldsTheMappingLeavesEmpty(t *testing.T) {
	v := newVendors(t, 20, 0, 7)
	v.withSpec(t, engine.FlowCustomers, "    - name: mobile\n      template: \"{{BD_CUSTCONTACT_TContact_Name}}\"", "    - name: mobile\n      template: \"\"")
	if r := v.run(t, engine.FlowCustomers, engine.Options{}); r.Status != engine.StatusSucceeded || r.Counts.Added == 0 {
		t.Fatalf("%+v", r)
	}
	// Someone keeps phone numbers in Greatonce.
	dists, _ := v.gc.GreatonceDistributors(v.ctx)
	for _, d := range dists {
		if _, err := v.gcc.DistributorSync(v.ctx, "update", greatonceDistributor(d.DistributorCode, d.DistributorName, "13800000000")); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.kd.Modify(v.ctx, 20, 4); err != nil {
		t.Fatal(err)
	}
	if r := v.run(t, engine.FlowCustomers, engine.Options{}); r.Counts.Updated == 0 {
		t.Fatalf("%+v", r)
	}
	after, _ := v.gc.GreatonceDistributors(v.ctx)
	updated := 0
	for _, d := range after {
		if d.Mobile != "13800000000" {
			t.Errorf("%s: mobile %q after an update that maps it empty", d.DistributorCode, d.Mobile)
		}
		if d.Updates > 1 {
			updated++
		}
	}
	if updated == 0 {
		t.Fatal("no distributor was updated by the second run")
	}
}

func TestDryRunFailsWhereTheRealRunFails(t *testing.T) {
	v := newVendors(t, 10, 0, 4)
	// Valid as a spec, but a bool cannot go into Greatonce's text field.
	v.withSpec(t, engine.FlowCustomers, "    - name: distributorLevelName\n      template: \"{{F_FML_Combo1}}\"",
		"    - name: distributorLevelName\n      template: \"true\"\n      type: bool")
	want := v.syncable(t)
	dry := v.run(t, engine.FlowCustomers, engine.Options{DryRun: true})
	if dry.Counts.Failed != int64(want) || dry.Counts.Added != 0 || dry.Status != engine.StatusPartial {
		t.Fatalf("dry run %+v, want %d failures", dry, want)
	}
	real := v.run(t, engine.FlowCustomers, engine.Options{})
	if real.Counts.Failed != dry.Counts.Failed || real.Status != dry.Status {
		t.Fatalf("real run %+v, dry run %+v", real.Counts, dry.Counts)
	}
	dls, _ := v.st.DeadLetters(v.ctx, engine.FlowCustomers, 0)
	if len(dls) != want {
		t.Fatalf("%d dead letters, want %d", len(dls), want)
	}
}

func TestMappingWithBadTargetKeyIsDeadLetteredNotCreated(t *testing.T) {
	v := newVendors(t, 0, 5, 5)
	v.run(t, engine.FlowAgents, engine.Options{})
	agents, _ := v.zl.ZhilongAgents(v.ctx)
	key := agents[0].AgentID
	maps, _ := v.st.Mappings(v.ctx, engine.FlowAgents, []string{key})
	m := maps[key]
	m.TargetKey, m.PayloadHash = "not-an-id", "stale"
	if err := v.st.CommitPage(v.ctx, storage.PageCommit{Flow: engine.FlowAgents, Mappings: []storage.Mapping{m}}); err != nil {
		t.Fatal(err)
	}
	before, _ := v.kd.KingdeeCustomers(v.ctx)
	r := v.run(t, engine.FlowAgents, engine.Options{FullResync: true})
	after, _ := v.kd.KingdeeCustomers(v.ctx)
	if len(after) != len(before) {
		t.Fatalf("%d customers, was %d: a bad mapping became a create", len(after), len(before))
	}
	dls, _ := v.st.DeadLetters(v.ctx, engine.FlowAgents, 0)
	if r.Status != engine.StatusPartial || r.Counts.Failed != 1 || len(dls) != 1 || dls[0].SourceKey != key || !strings.Contains(dls[0].LastError, "not-an-id") {
		t.Fatalf("run %+v, dead letters %+v", r, dls)
	}
}

func TestUnreadableDeadLettersDoNotHoldTheirSlots(t *testing.T) {
	v := newVendors(t, 0, 3, 5)
	v.cfg.DeadLetterBatch = 2
	v.reopen(t)
	if err := v.st.CommitPage(v.ctx, storage.PageCommit{Flow: engine.FlowAgents, DeadLetters: []storage.DeadLetter{
		{SourceKey: "X1", Attempts: 1, LastError: "old", Payload: []byte("{not json")},
		{SourceKey: "X2", Attempts: 1, LastError: "old", Payload: []byte(`{"agentId":"OTHER"}`)},
	}}); err != nil {
		t.Fatal(err)
	}
	r := v.run(t, engine.FlowAgents, engine.Options{})
	if r.Status != engine.StatusSucceeded || r.Counts.Added != 3 {
		t.Fatalf("%+v", r)
	}
	if dls, _ := v.st.DeadLetters(v.ctx, engine.FlowAgents, 0); len(dls) != 0 {
		t.Fatalf("unreadable letters kept: %+v", dls)
	}
	recs, _, _ := v.eng.RunRecords(v.ctx, r.ID, "", 100)
	dropped := 0
	for _, rec := range recs {
		if rec.Outcome == "dropped" && strings.Contains(rec.Error, "cannot be read") {
			dropped++
		}
	}
	if dropped != 2 {
		t.Fatalf("%d dropped rows in the audit trail, want 2", dropped)
	}
}

func TestAgentsCreateCommittedAfterTimeoutIsNotDuplicated(t *testing.T) {
	v := newVendors(t, 0, 5, 10)
	// The first BatchSave of creates is committed by Kingdee and never answered: the client times out.
	if err := v.kd.SetFault(v.ctx, mockctl.Fault{Endpoint: "BatchSave", Kind: mockctl.KindCommitDelay, Count: 1}); err != nil {
		t.Fatal(err)
	}
	r := v.run(t, engine.FlowAgents, engine.Options{})
	if r.Status != engine.StatusSucceeded || r.Counts.Added != 5 {
		t.Fatalf("%+v", r)
	}
	recs, _, _ := v.eng.RunRecords(v.ctx, r.ID, "", 100)
	timedOut := false
	for _, rec := range recs {
		timedOut = timedOut || rec.Operation == "BatchSave" && strings.Contains(rec.Error, "timed out")
	}
	if !timedOut {
		t.Fatalf("the fault never struck: %+v", recs)
	}
	custs, _ := v.kd.KingdeeCustomers(v.ctx)
	if len(custs) != 5 {
		t.Fatalf("5 agents became %d Kingdee customers", len(custs))
	}
	// Later runs find them all mapped.
	if r := v.run(t, engine.FlowAgents, engine.Options{FullResync: true}); r.Counts.Skipped != 5 {
		t.Fatalf("rerun %+v", r)
	}
}

func TestCreateLostInACrashThenRenamedMakesOneDistributor(t *testing.T) {
	v := newVendors(t, 20, 0, 5)
	want := v.syncable(t)
	// The first page is delivered to Greatonce, then its commit is lost (the process died).
	v.wrapStore = func(st storage.Store) storage.Store { return &failFirstCommit{Store: st} }
	v.reopen(t)
	if r := v.run(t, engine.FlowCustomers, engine.Options{}); r.Status != engine.StatusFailed {
		t.Fatalf("run with a lost commit: %+v", r)
	}
	delivered, _ := v.gc.GreatonceDistributors(v.ctx)
	if len(delivered) == 0 {
		t.Fatal("nothing reached Greatonce before the lost commit")
	}
	// Every customer is renamed in Kingdee: the code a fresh mapping would make changes.
	var req kingdee.SaveRequest
	req.FormID, req.NeedUpDateFields = "BD_Customer", []string{"FName"}
	for _, c := range v.kingdeeRows(t) {
		id, _ := c.Int64("FCUSTID")
		req.Model = append(req.Model, map[string]any{"FCUSTID": id, "FName": c.String("FName") + "（新）"})
	}
	if res, err := v.kdc.BatchSave(v.ctx, req); err != nil || len(res.Failed()) > 0 {
		t.Fatalf("rename: %v %+v", err, res)
	}
	v.wrapStore = nil
	v.reopen(t)
	if r := v.run(t, engine.FlowCustomers, engine.Options{}); r.Status != engine.StatusSucceeded {
		t.Fatalf("rerun %+v", r)
	}
	dists, _ := v.gc.GreatonceDistributors(v.ctx)
	if len(dists) != want {
		t.Fatalf("%d distributors for %d customers: a lost create was created again under a new code", len(dists), want)
	}
	for _, d := range dists {
		if !strings.HasSuffix(d.DistributorName, "（新）") {
			t.Errorf("%s not updated to the new name: %q", d.DistributorCode, d.DistributorName)
		}
	}
	var ids []string
	for _, c := range v.kingdeeRows(t) {
		ids = append(ids, c.String("FCUSTID"))
	}
	if left, _ := v.st.Intents(v.ctx, engine.FlowCustomers, ids); len(left) != 0 {
		t.Errorf("settled intents left behind: %v", left)
	}
}

// kingdeeRows reads every customer's id and name.
func (v *vendors) kingdeeRows(t *testing.T) []kingdee.Row {
	t.Helper()
	rows, err := v.kdc.QueryPage(v.ctx, kingdee.Query{FormID: "BD_Customer", FieldKeys: []string{"FCUSTID", "FName"}})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// failFirstCommit is a store whose first page commit fails, as if the process died before it.
type failFirstCommit struct {
	storage.Store
	commits atomic.Int32
}

func (s *failFirstCommit) CommitPage(ctx context.Context, p storage.PageCommit) error {
	if s.commits.Add(1) == 1 {
		return errors.New("lost: the process died before this commit")
	}
	return s.Store.CommitPage(ctx, p)
}

// A custom field written as base data (ref: FNumber) reaches Kingdee as a reference by number.
func TestCustomFieldAsBaseData(t *testing.T) {
	v := newVendors(t, 0, 3, 5)
	v.withSpec(t, engine.FlowAgents, "    - name: F_KHLX\n      template: KHLX02_SYS\n", "    - name: F_KHLX\n      template: KHLX02_SYS\n      ref: FNumber\n")
	if r := v.run(t, engine.FlowAgents, engine.Options{}); r.Status != engine.StatusSucceeded || r.Counts.Added != 3 {
		t.Fatalf("%+v", r)
	}
	recs, _, _ := v.eng.RunRecords(v.ctx, v.lastRun(t), "", 10)
	adds := 0
	for _, rec := range recs {
		if rec.Action == engine.ActionAdd {
			adds++
			if !strings.Contains(rec.Request, `"F_KHLX":{"FNumber":"KHLX02_SYS"}`) {
				t.Fatalf("sent %s", rec.Request)
			}
		}
	}
	if adds != 3 {
		t.Fatalf("%d add rows in the audit trail, want 3", adds)
	}
	for outID, c := range v.kingdeeValues(t, "F_KHLX") {
		if got := c.String("F_KHLX"); got != "KHLX02_SYS" {
			t.Errorf("agent %s: F_KHLX %q", outID, got)
		}
	}
}

// lastRun is the id of the newest stored run.
func (v *vendors) lastRun(t *testing.T) string {
	t.Helper()
	runs, _, err := v.eng.ListRuns(v.ctx, engine.ListFilter{PageSize: 1})
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs %v %v", runs, err)
	}
	return runs[0].ID
}
