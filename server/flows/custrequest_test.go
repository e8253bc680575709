package flows_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	mockkd "github.com/syncgate/syncgate/mocks/kingdee"
	"github.com/syncgate/syncgate/mocks/mockctl"
	"github.com/syncgate/syncgate/server/engine"
	customersflow "github.com/syncgate/syncgate/server/flows/customers"
	"github.com/syncgate/syncgate/server/mapping"
)

// The customers flow's ExecuteBillQuery comes from the spec's source.request: its FilterString is
// the user's condition, ANDed with the flow's own (audited, active, the keyset cursor); FieldKeys
// and Limit add fields and set the page size; StartRow, TopRowCount and another OrderString are
// refused when the spec is loaded.

// defaultFilterString is the customers spec's FilterString entry as the default writes it.
const defaultFilterString = "    - name: FilterString\n      template: \"\""

// activeFilterString is the README's restriction to audited, active customers.
const activeFilterString = "    - name: FilterString\n      template: \"FDocumentStatus = 'C' and FForbidStatus = 'A'\""

// sentQueries returns the data of every ExecuteBillQuery the Kingdee mock has logged after since.
func (v *vendors) sentQueries(t *testing.T, since int64) []map[string]any {
	t.Helper()
	log, err := v.kd.Log(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, e := range log {
		if e.Seq <= since || e.Endpoint != mockkd.EndpointQuery {
			continue
		}
		var body struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(e.Request), &body); err != nil {
			t.Fatalf("logged query %d: %v", e.Seq, err)
		}
		out = append(out, body.Data)
	}
	return out
}

func TestCustomersFilterStringFromTheSpec(t *testing.T) {
	v := newVendors(t, 60, 0, 7)
	custs, err := v.kd.KingdeeCustomers(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The customers the restricted flow should read, in keyset order (the mock lists them so).
	var want []mockctl.KingdeeCustomer
	for _, c := range custs {
		if c.FUseOrgNumber == "101" {
			want = append(want, c)
		}
	}
	if len(want) == 0 || len(want) == v.syncable(t) {
		t.Fatalf("the seed has %d customers of org 101 among %d: the test needs some of both", len(want), v.syncable(t))
	}
	v.withSpec(t, engine.FlowCustomers, defaultFilterString, "    - name: FilterString\n      template: \"FUseOrgId.FNumber = '101'\"")

	// Preview sees the same restriction: the pending window holds only org 101's customers, and a
	// customer of another organisation is not found by key.
	items, err := v.eng.Preview(v.ctx, engine.FlowCustomers, engine.PreviewInput{Pending: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(want) {
		t.Fatalf("Preview pending shows %d customers, want the %d of org 101", len(items), len(want))
	}
	for _, it := range items {
		if it.Source["FUseOrgId.FNumber"] != "101" {
			t.Fatalf("Preview pending shows customer %s of org %v", it.SourceKey, it.Source["FUseOrgId.FNumber"])
		}
	}
	var other string
	for _, c := range custs {
		if c.FUseOrgNumber != "101" {
			other = c.FNumber
			break
		}
	}
	items, err = v.eng.Preview(v.ctx, engine.FlowCustomers, engine.PreviewInput{Keys: []string{want[0].FNumber, other}})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].SourceKey != strconv.FormatInt(want[0].FCUSTID, 10) || items[0].Action != engine.ActionAdd ||
		items[1].SourceKey != other || items[1].Action != engine.ActionFail || len(items[1].Errors) != 1 {
		t.Fatalf("Preview of keys %s (org 101) and %s (another org): want an add and a not-found, got %d items", want[0].FNumber, other, len(items))
	}

	mark := v.logMark(t)
	r := v.run(t, engine.FlowCustomers, engine.Options{})
	if r.Status != engine.StatusSucceeded || int(r.Counts.Read) != len(want) || int(r.Counts.Added) != len(want) {
		t.Fatalf("run %+v, want %d customers read and added (%s)", r.Counts, len(want), r.Error)
	}
	dists, _ := v.gc.GreatonceDistributors(v.ctx)
	if len(dists) != len(want) {
		t.Fatalf("greatonce has %d distributors, want %d", len(dists), len(want))
	}

	// The exact FilterStrings: the user's as one group, then the window's end and the keyset cursor;
	// the address reads are by FCUSTID alone.
	base := "(FUseOrgId.FNumber = '101') and FModifyDate <= " + keysetLiteral(r.WindowEnd)
	wantFilters := []string{base}
	for end := v.pageSize; end <= len(want); end += v.pageSize {
		last := want[end-1]
		lit := keysetLiteral(last.FModifyDate)
		wantFilters = append(wantFilters, base+" and (FModifyDate > "+lit+" or (FModifyDate = "+lit+" and FCUSTID > "+strconv.FormatInt(last.FCUSTID, 10)+"))")
	}
	var headers []string
	for _, f := range v.sentFilters(t, mark) {
		if strings.HasPrefix(f, "FCUSTID in (") {
			if strings.Contains(f, "FUseOrgId") || strings.Contains(f, " and ") {
				t.Errorf("address read %q carries more than its keys", f)
			}
			continue
		}
		headers = append(headers, f)
	}
	if !slices.Equal(headers, wantFilters) {
		t.Fatalf("filters sent:\n%s\nwant:\n%s", strings.Join(headers, "\n"), strings.Join(wantFilters, "\n"))
	}
}

// FieldKeys adds header fields to those the templates read; Limit sets the page size; FormId and
// the keyset order pass through.
func TestCustomersFieldKeysAndLimitFromTheSpec(t *testing.T) {
	v := newVendors(t, 12, 0, 7)
	text, err := mapping.Default(engine.FlowCustomers)
	if err != nil {
		t.Fatal(err)
	}
	spec := string(text)
	for _, e := range [][2]string{
		{"    - name: Limit\n      template: \"{{PAGINATION_PAGE_SIZE}}\"", "    - name: Limit\n      template: \"4\""},
		{"    - name: FieldKeys\n      template: \"\"", "    - name: FieldKeys\n      template: \"FDescription, FShortName\""},
		{"    - name: FormId\n      template: BD_Customer", "    - name: FormId\n      template: BD_Customer\n    - name: OrderString\n      template: \"FModifyDate ASC, FCUSTID ASC\""},
	} {
		if !strings.Contains(spec, e[0]) {
			t.Fatalf("the default customers spec lacks %q", e[0])
		}
		spec = strings.Replace(spec, e[0], e[1], 1)
	}
	v.reopenWithSpec(t, engine.FlowCustomers, spec)
	mark := v.logMark(t)
	r := v.run(t, engine.FlowCustomers, engine.Options{})
	if want := v.syncable(t); r.Status != engine.StatusSucceeded || int(r.Counts.Added) != want {
		t.Fatalf("run %+v, want %d adds (%s)", r.Counts, want, r.Error)
	}
	pages := 0
	for _, q := range v.sentQueries(t, mark) {
		if strings.HasPrefix(q["FilterString"].(string), "FCUSTID in (") {
			continue // an address read
		}
		pages++
		keys := strings.Split(q["FieldKeys"].(string), ",")
		if q["FormId"] != "BD_Customer" || q["Limit"] != 4.0 || q["OrderString"] != "FModifyDate ASC, FCUSTID ASC" ||
			!slices.Contains(keys, "FDescription") || !slices.Contains(keys, "FShortName") || !slices.Contains(keys, "FName") {
			t.Fatalf("query %v: want FormId BD_Customer, Limit 4, the keyset order, FieldKeys with FDescription, FShortName and FName", q)
		}
	}
	if want := v.syncable(t)/4 + 1; pages != want {
		t.Fatalf("%d header pages read, want %d of 4 rows", pages, want)
	}
	custs, _ := v.kd.KingdeeCustomers(v.ctx)
	items, err := v.eng.Preview(v.ctx, engine.FlowCustomers, engine.PreviewInput{Keys: []string{custs[0].FNumber}})
	if err != nil || len(items) > 1 {
		t.Fatalf("preview %+v %v", items, err)
	}
	if len(items) == 1 {
		if _, ok := items[0].Source["FDescription"]; !ok {
			t.Fatalf("the source record lacks the FieldKeys field FDescription: %v", items[0].Source)
		}
	}
}

// A request the keyset read cannot honour stops the gateway at start-up, naming the place; so does a
// FilterString that is not one condition.
func TestCustomersRequestRefused(t *testing.T) {
	text, err := mapping.Default(engine.FlowCustomers)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		old, new, want string
	}{
		{"    - name: StartRow\n      template: \"{{PAGINATION_START_ROW}}\"", "    - name: StartRow\n      template: \"100\"",
			`request field "StartRow": renders "100": keyset paging reads from the cursor; StartRow/TopRowCount are not supported`},
		{"    - name: FormId\n      template: BD_Customer", "    - name: FormId\n      template: BD_Customer\n    - name: OrderString\n      template: FNumber DESC",
			`request field "OrderString": "FNumber DESC": keyset paging needs the order "FModifyDate ASC, FCUSTID ASC" (or leave it blank)`},
	} {
		if !strings.Contains(string(text), tc.old) {
			t.Fatalf("the default customers spec lacks %q", tc.old)
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "customers.yaml")
		if err := os.WriteFile(path, []byte(strings.Replace(string(text), tc.old, tc.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := mapping.LoadSet(dir)
		if err == nil || !strings.Contains(err.Error(), path+":") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loading %s: error %v, want one at %s naming %q", tc.new, err, path, tc.want)
		}
	}

	v := newVendors(t, 0, 0, 5)
	spec, err := mapping.Parse("custom.yaml", []byte(strings.Replace(string(text), defaultFilterString,
		"    - name: FilterString\n      template: \"FUseOrgId.FNumber = '101') or (1 = 1\"", 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = customersflow.New(v.kdc, v.gcc, spec, customersflow.Options{})
	if err == nil || !strings.Contains(err.Error(), "custom.yaml") || !strings.Contains(err.Error(), "FilterString") || !strings.Contains(err.Error(), "closes no '('") {
		t.Fatalf("New with an unbalanced FilterString: %v", err)
	}
}

// Preview given spec text reads as that spec's request says, not as the active spec's: the
// playground shows what an edited FilterString would read.
func TestPreviewWithSpecTextReadsWithItsRequest(t *testing.T) {
	v := newVendors(t, 40, 0, 7)
	custs, err := v.kd.KingdeeCustomers(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want int
	for _, c := range custs {
		if c.FUseOrgNumber == "101" {
			want++
		}
	}
	if want == 0 || want == len(custs) {
		t.Fatalf("the seed has %d customers of org 101 among %d: the test needs some of both", want, len(custs))
	}
	text, err := mapping.Default(engine.FlowCustomers)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(text), defaultFilterString, "    - name: FilterString\n      template: \"FUseOrgId.FNumber = '101'\"", 1)
	items, err := v.eng.Preview(v.ctx, engine.FlowCustomers, engine.PreviewInput{Pending: 1000, SpecText: edited})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != want {
		t.Fatalf("Preview pending with the edited spec shows %d customers, want the %d of org 101", len(items), want)
	}
	// The active spec is untouched: without spec text every customer is pending.
	if items, err = v.eng.Preview(v.ctx, engine.FlowCustomers, engine.PreviewInput{Pending: 1000}); err != nil || len(items) != len(custs) {
		t.Fatalf("Preview pending with the active spec: %d items, %v; want %d", len(items), err, len(custs))
	}
	// A request the flow cannot use is the caller's error.
	bad := strings.Replace(string(text), defaultFilterString, "    - name: FilterString\n      template: \"(FNumber = 'x'\"", 1)
	if _, err := v.eng.Preview(v.ctx, engine.FlowCustomers, engine.PreviewInput{Pending: 10, SpecText: bad}); engine.Classify(err) != engine.KindInvalidInput {
		t.Fatalf("Preview with an unbalanced FilterString: %v", err)
	}
}
