package flows_test

import (
	"context"
	"encoding/json"
	"github.com/syncgate/syncgate/server/engine"
	agentsflow "github.com/syncgate/syncgate/server/flows/agents"
	customersflow "github.com/syncgate/syncgate/server/flows/customers"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
	mockkd "github.com/syncgate/syncgate/mocks/kingdee"
	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage"
)

// The exact FilterStrings the flows send, read back from the Kingdee mock's request log: the
// builder must render today's filters byte for byte, and the mock's parser must accept them.

// logMark is the sequence number of the Kingdee mock's latest logged request (0: none).
func (v *vendors) logMark(t *testing.T) int64 {
	t.Helper()
	log, err := v.kd.Log(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) == 0 {
		return 0
	}
	return log[len(log)-1].Seq
}

// sentFilters returns the FilterString of every ExecuteBillQuery the Kingdee mock has logged after
// the request numbered since, oldest first.
func (v *vendors) sentFilters(t *testing.T, since int64) []string {
	t.Helper()
	log, err := v.kd.Log(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range log {
		if e.Seq <= since || e.Endpoint != mockkd.EndpointQuery {
			continue
		}
		var body struct {
			Data struct {
				FilterString string `json:"FilterString"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(e.Request), &body); err != nil {
			t.Fatalf("logged query %d does not decode (clipped?): %v", e.Seq, err)
		}
		if strings.HasPrefix(e.Response, "fault") || strings.Contains(e.Response, "过滤条件错误") {
			t.Fatalf("the mock refused filter %q: %s", body.Data.FilterString, e.Response)
		}
		out = append(out, body.Data.FilterString)
	}
	return out
}

// keysetLiteral is a cursor time as the customers flow writes it: GMT+8, milliseconds only when the
// time has them.
func keysetLiteral(t time.Time) string {
	t = t.In(vendor.GMT8())
	if t.Nanosecond()/int(time.Millisecond) == 0 {
		return "'" + t.Format("2006-01-02 15:04:05") + "'"
	}
	return "'" + t.Format("2006-01-02 15:04:05.000") + "'"
}

func TestCustomersReadSendsExactFilters(t *testing.T) {
	v := newVendors(t, 6, 0, 2)
	spec, _ := v.specs.Get(engine.FlowCustomers)
	flow, err := customersflow.New(v.kdc, v.gcc, spec, customersflow.Options{PageSize: 2, UseOrgNumbers: []string{"ignored"}})
	if err != nil {
		t.Fatal(err)
	}
	src := flow.Source
	custs, err := v.kd.KingdeeCustomers(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var orgs []string
	for _, c := range custs {
		if !slices.Contains(orgs, c.FUseOrgNumber) {
			orgs = append(orgs, c.FUseOrgNumber)
		}
	}
	orgs = append(orgs, "O'Org")
	// Changed records carry the mock clock's milliseconds, which keyset bounds keep.
	if err := v.kd.Modify(v.ctx, 3, 1); err != nil {
		t.Fatal(err)
	}
	mark := v.logMark(t)
	gmt8 := vendor.GMT8()
	end := time.Date(2099, 1, 2, 3, 4, 5, 678_900_000, gmt8)
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, gmt8)
	var pages [][]engine.SourceRecord
	err = src.Read(v.ctx, engine.ReadQuery{After: storage.Cursor{Time: start}, End: end, UseOrgNumbers: orgs}, func(recs []engine.SourceRecord) error {
		pages = append(pages, recs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 2 {
		t.Fatalf("read %d pages, want at least 2 for a keyset page", len(pages))
	}
	if !slices.ContainsFunc(pages, func(p []engine.SourceRecord) bool { return p[len(p)-1].Cursor.Time.Nanosecond() != 0 }) {
		t.Fatal("no page ends on a cursor with milliseconds to keep")
	}
	quoted := make([]string, len(orgs))
	for i, o := range orgs {
		quoted[i] = "'" + strings.ReplaceAll(o, "'", "''") + "'"
	}
	base := "FUseOrgId.FNumber in (" + strings.Join(quoted, ", ") + ")" +
		" and FModifyDate <= '2099-01-02 03:04:05.678'"
	addresses := func(recs []engine.SourceRecord) string {
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.Key
		}
		return "FCUSTID in (" + strings.Join(ids, ", ") + ")"
	}
	want := []string{base + " and FModifyDate >= '2000-01-01 00:00:00'", addresses(pages[0])}
	for i := 1; i <= len(pages); i++ {
		last := pages[i-1][len(pages[i-1])-1]
		id, _ := strconv.ParseInt(last.Key, 10, 64)
		lit := keysetLiteral(last.Cursor.Time)
		want = append(want, base+" and (FModifyDate > "+lit+" or (FModifyDate = "+lit+" and FCUSTID > "+strconv.FormatInt(id, 10)+"))")
		if i < len(pages) {
			want = append(want, addresses(pages[i]))
		}
	}
	if got := v.sentFilters(t, mark); !slices.Equal(got, want) {
		t.Fatalf("filters sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCustomersFetchSendsExactFilters(t *testing.T) {
	v := newVendors(t, 3, 0, 10)
	spec, _ := v.specs.Get(engine.FlowCustomers)
	flow, err := customersflow.New(v.kdc, v.gcc, spec, customersflow.Options{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	src := flow.Source
	custs, err := v.kd.KingdeeCustomers(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	mark := v.logMark(t)
	// The numeric key is also tried as a customer number; a number with a quote stays a literal.
	id := strconv.FormatInt(custs[0].FCUSTID, 10)
	if _, err := src.Fetch(v.ctx, []string{id, custs[1].FNumber, "O'Brien"}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Fetch(v.ctx, []string{custs[2].FNumber}); err != nil {
		t.Fatal(err)
	}
	got := v.sentFilters(t, mark)
	var queries []string
	for _, f := range got {
		if !strings.HasPrefix(f, "FCUSTID in (") || strings.Contains(f, " or ") { // not an address read
			queries = append(queries, f)
		}
	}
	want := []string{
		"FCUSTID in (" + id + ") or FNumber in ('" + id + "', '" + custs[1].FNumber + "', 'O''Brien')",
		"FNumber in ('" + custs[2].FNumber + "')",
	}
	if !slices.Equal(queries, want) {
		t.Fatalf("filters sent:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAgentsSendExactFilters(t *testing.T) {
	v := newVendors(t, 0, 1, 5)
	agents, err := v.zl.ZhilongAgents(v.ctx)
	if err != nil || len(agents) != 1 {
		t.Fatalf("agents %v %v", agents, err)
	}
	mark := v.logMark(t)
	if r := v.run(t, engine.FlowAgents, engine.Options{}); r.Status != engine.StatusSucceeded || r.Counts.Added != 1 {
		t.Fatalf("%+v", r)
	}
	// The unmapped agent is looked for by its external id before it is created.
	if got, want := v.sentFilters(t, mark), []string{"F_out_id in ('" + agents[0].AgentID + "')"}; !slices.Equal(got, want) {
		t.Fatalf("filters sent %q, want %q", got, want)
	}

	// The current values of if_empty fields are read by FCUSTID.
	text, err := mapping.Default(engine.FlowAgents)
	if err != nil {
		t.Fatal(err)
	}
	old := "    - name: FTAXREGISTERCODE\n      template: \"\""
	if !strings.Contains(string(text), old) {
		t.Fatalf("the default agents spec lacks %q", old)
	}
	spec, err := mapping.Parse(engine.FlowAgents, []byte(strings.Replace(string(text), old,
		"    - name: FTAXREGISTERCODE\n      template: \"T\"\n      on_update: if_empty", 1)))
	if err != nil {
		t.Fatal(err)
	}
	// An update's Preview reads Kingdee's current values of the if_empty fields first.
	lp := agentsflow.New(v.zlc, v.kdc, spec, agentsflow.Options{}).Target.(interface {
		PrepareLive(context.Context, engine.Planned) ([]byte, map[string]any, error)
	})
	payload, err := spec.Render(mapping.Record{"agentId": "A1", "agentName": "N"}, mapping.Vars{})
	if err != nil {
		t.Fatal(err)
	}
	mark = v.logMark(t)
	if _, _, err := lp.PrepareLive(v.ctx, engine.Planned{Payload: payload, Action: engine.ActionUpdate, Spec: spec,
		Mapping: &storage.Mapping{TargetKey: "100001"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := v.sentFilters(t, mark), []string{"FCUSTID in (100001)"}; !slices.Equal(got, want) {
		t.Fatalf("filters sent %q, want %q", got, want)
	}
}
