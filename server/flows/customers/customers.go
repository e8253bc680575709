// Package customers is the SyncCustomers flow adapter: Kingdee customers (BD_Customer, read with
// ExecuteBillQuery in keyset pages) become Greatonce distributors (greatonce.distributor.single.sync).
// It implements the engine's Source and Target, and translates the vendors' errors into the engine's
// Failures.
package customers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syncgate/syncgate/clients/greatonce"
	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/flows"
	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage"
)

// Options tune the customers flow.
type Options struct {
	// PageSize is the ExecuteBillQuery Limit (default 1000).
	PageSize int
	// Concurrency bounds concurrent Greatonce calls (default 16).
	Concurrency int
	// UseOrgNumbers restricts reads to these use organisations unless a run names its own.
	UseOrgNumbers []string
	// Overlap re-reads this much before the checkpoint.
	Overlap time.Duration
}

const formCustomer = "BD_Customer"

// New builds SyncCustomers: Kingdee customers (BD_Customer, read with
// ExecuteBillQuery in keyset pages) become Greatonce distributors (greatonce.distributor.single.sync).
//
// The query is the spec's source.request, rendered once here with the page size and a start row of 0
// (the mapping package has checked it for a keyset read): FormId (blank: BD_Customer), Limit (blank
// or 0: o.PageSize), FieldKeys (header fields added to those the templates read) and FilterString,
// the user's condition (blank: every customer), which is ANDed as one group with the flow's own
// conditions (the use organisations, the window end, the keyset cursor) and never replaces them. New fails when the
// request does not render or its FilterString is not one condition (see [kingdee.Text]).
func New(kd *kingdee.Client, gc *greatonce.Client, spec *mapping.Spec, o Options) (*engine.Flow, error) {
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	src := &kingdeeCustomers{kd: kd, spec: spec, pageSize: o.PageSize, orgs: o.UseOrgNumbers, formID: formCustomer}
	if err := src.request(); err != nil {
		return nil, fmt.Errorf("customers spec %s: source.request: %w", spec.Name(), err)
	}
	return &engine.Flow{Name: engine.FlowCustomers, Source: src, Target: &greatonceDistributors{gc: gc, concurrency: max(o.Concurrency, 1), calls: make(chan struct{}, max(o.Concurrency, 1))},
		Spec: spec, Overlap: o.Overlap,
		// Kingdee reads by FCUSTID cheaply: dead letters are retried as the customers are now.
		FetchDeadLetters: true, UseOrgs: true, OverlapWrites: true,
		WithSpec: func(s *mapping.Spec) (*engine.Flow, error) { return New(kd, gc, s, o) }}, nil
}

// kingdeeCustomers reads BD_Customer.
type kingdeeCustomers struct {
	kd       *kingdee.Client
	spec     *mapping.Spec
	pageSize int
	orgs     []string
	// From the spec's source.request: the form, the header FieldKeys and the user's condition (the
	// zero Filter when the request has none).
	formID string
	header []string
	user   kingdee.Filter
}

// request takes the query's parts from the spec's source.request (see [New]).
func (s *kingdeeCustomers) request() error {
	p, err := s.spec.RenderRequest(mapping.Vars{PageSize: s.pageSize, StartRow: 0})
	if err != nil {
		return err
	}
	text := func(name string) string {
		if v := p.Get(name); v != nil {
			return strings.TrimSpace(fmt.Sprint(v))
		}
		return ""
	}
	if f := text("FormId"); f != "" {
		s.formID = f
	}
	if l := text("Limit"); l != "" && l != "0" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return fmt.Errorf("Limit %q is not a page size", l)
		}
		s.pageSize = n
	}
	s.header = []string{"FCUSTID", "FNumber", "FModifyDate"}
	for _, k := range append(s.spec.SourceFields(), mapping.SplitFieldKeys(text("FieldKeys"))...) {
		if !slices.Contains(s.header, k) {
			s.header = append(s.header, k)
		}
	}
	if f := text("FilterString"); f != "" {
		s.user = kingdee.Text(f)
		if _, err := s.user.Build(); err != nil {
			return fmt.Errorf("FilterString: %w", err)
		}
	}
	return nil
}

func (s *kingdeeCustomers) headerKeys() []string { return s.header }

// baseFilter selects the customers the flow syncs: those in the given use organisations (all when
// none are given) and within the spec's FilterString when it has one (blank, as in the seed: every
// customer): `[FUseOrgId.FNumber in (…)] [and (user)]`. It may be empty.
func (s *kingdeeCustomers) baseFilter(orgs []string) kingdee.Filter {
	var f kingdee.Filter
	if len(orgs) > 0 {
		f = kingdee.In("FUseOrgId.FNumber", orgs...)
	}
	return kingdee.And(f, s.user)
}

func (s *kingdeeCustomers) Read(ctx context.Context, q engine.ReadQuery, page func([]engine.SourceRecord) error) error {
	orgs := q.UseOrgNumbers
	if len(orgs) == 0 {
		orgs = s.orgs
	}
	next := func(ctx context.Context, after storage.Cursor) ([]engine.SourceRecord, storage.Cursor, bool, error) {
		// Times keep their milliseconds: Kingdee stores FModifyDate with them, and a seconds-only
		// keyset bound would re-read (or skip) records inside one second.
		filter := kingdee.And(s.baseFilter(orgs), kingdee.Lte("FModifyDate", q.End))
		if !after.Time.IsZero() {
			if after.Key == "" {
				filter = kingdee.And(filter, kingdee.Gte("FModifyDate", after.Time))
			} else {
				id, _ := strconv.ParseInt(after.Key, 10, 64)
				filter = kingdee.And(filter, kingdee.Or(kingdee.Gt("FModifyDate", after.Time),
					kingdee.And(kingdee.Eq("FModifyDate", after.Time), kingdee.Gt("FCUSTID", id))))
			}
		}
		rows, err := s.kd.QueryPage(ctx, kingdee.Query{FormID: s.formID, FieldKeys: s.headerKeys(),
			Filter: filter, OrderBy: mapping.KeysetOrder, Limit: s.pageSize})
		if err != nil || len(rows) == 0 {
			return nil, after, true, err
		}
		recs, err := s.records(ctx, rows)
		if err != nil {
			return nil, after, true, err
		}
		last := recs[len(recs)-1].Cursor
		return recs, storage.Cursor{Time: last.Time, Key: strings.TrimLeft(last.Key, "0")}, len(rows) < s.pageSize, nil
	}
	return flows.Translate(engine.Prefetch(ctx, q.After, next, page))
}

// records turns header rows into source records and adds the address sub-record values.
func (s *kingdeeCustomers) records(ctx context.Context, rows []kingdee.Row) ([]engine.SourceRecord, error) {
	recs := make([]engine.SourceRecord, 0, len(rows))
	ids := make([]int64, 0, len(rows))
	for _, row := range rows {
		r, err := s.decodeRow(row)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
		id, _ := row.Int64("FCUSTID")
		ids = append(ids, id)
	}
	entryKeys := s.spec.EntryFields()
	if len(entryKeys) == 0 || len(ids) == 0 {
		return recs, nil
	}
	keys := append([]string{"FCUSTID", "FIsDefaultConsignee"}, entryKeys...)
	erows, err := s.kd.QueryPage(ctx, kingdee.Query{FormID: s.formID, FieldKeys: keys,
		Filter: kingdee.In("FCUSTID", ids...), OrderBy: "FCUSTID ASC"})
	if err != nil {
		return nil, fmt.Errorf("read customer addresses: %w", err)
	}
	chosen := map[string]kingdee.Row{}
	for _, er := range erows {
		id := er.String("FCUSTID")
		if _, seen := chosen[id]; !seen {
			chosen[id] = er
			continue
		}
		if def, _ := er.Bool("FIsDefaultConsignee"); def {
			if cur, _ := chosen[id].Bool("FIsDefaultConsignee"); !cur {
				chosen[id] = er
			}
		}
	}
	for i := range recs {
		er := chosen[recs[i].Key]
		for _, k := range entryKeys {
			recs[i].Fields[k] = er.String(k)
		}
	}
	return recs, nil
}

func (s *kingdeeCustomers) decodeRow(row kingdee.Row) (engine.SourceRecord, error) {
	id, err := row.Int64("FCUSTID")
	if err != nil || id <= 0 {
		return engine.SourceRecord{}, flows.BadSourceData("kingdee", "ExecuteBillQuery", "customer row without a valid FCUSTID: %v", row["FCUSTID"])
	}
	mod, err := row.Time("FModifyDate")
	if err != nil {
		return engine.SourceRecord{}, flows.BadSourceData("kingdee", "ExecuteBillQuery", "customer %d: %v", id, err)
	}
	// The row is this record's own (freshly decoded), so it becomes the record's fields in place.
	fields := mapping.Record(row)
	for k, v := range row {
		if str, ok := v.(string); ok && str != "" && strings.TrimSpace(str) == "" {
			fields[k] = "" // Kingdee sends " " for empty text
		}
	}
	key := strconv.FormatInt(id, 10)
	return engine.SourceRecord{Key: key, Cursor: storage.Cursor{Time: mod, Key: fmt.Sprintf("%019d", id)}, Fields: fields}, nil
}

// Fetch reads customers by FCUSTID or by customer number (FNumber); dead letters use FCUSTID, people
// usually know the number. Only customers the flow syncs come back (in the configured use
// organisations and the spec's FilterString): a customer the filter excludes is never sent, not even
// when asked for by key.
func (s *kingdeeCustomers) Fetch(ctx context.Context, keys []string) ([]engine.SourceRecord, error) {
	recs, err := s.fetch(ctx, keys)
	return recs, flows.Translate(err)
}

func (s *kingdeeCustomers) fetch(ctx context.Context, keys []string) ([]engine.SourceRecord, error) {
	var out []engine.SourceRecord
	for start := 0; start < len(keys); start += 200 {
		chunk := keys[start:min(start+200, len(keys))]
		var ids []int64
		for _, k := range chunk {
			if n, err := strconv.ParseInt(k, 10, 64); err == nil {
				ids = append(ids, n)
			}
		}
		byKey := kingdee.In("FNumber", chunk...)
		if len(ids) > 0 {
			byKey = kingdee.Or(kingdee.In("FCUSTID", ids...), byKey)
		}
		filter := kingdee.And(s.baseFilter(s.orgs), kingdee.Group(byKey))
		rows, err := s.kd.QueryPage(ctx, kingdee.Query{FormID: s.formID, FieldKeys: s.headerKeys(), Filter: filter, OrderBy: mapping.KeysetOrder})
		if err != nil {
			return nil, err
		}
		recs, err := s.records(ctx, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// Aliases are the other keys a customer answers to: its number (FNumber) besides its FCUSTID.
func (s *kingdeeCustomers) Aliases(r engine.SourceRecord) []string {
	if n, ok := r.Fields["FNumber"].(string); ok && n != "" {
		return []string{n}
	}
	return nil
}

// Decode takes a customer in BillQuery shape (an object keyed by FieldKeys).
func (s *kingdeeCustomers) Decode(raw map[string]any) (engine.SourceRecord, error) {
	row := kingdee.Row(copyMap(raw)) // decodeRow keeps the map as the record's fields: not the caller's
	if _, ok := raw["FModifyDate"]; !ok {
		row["FModifyDate"] = ""
	}
	return s.decodeRow(row)
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// greatonceDistributors writes distributors, one signed call per record, with bounded concurrency.
type greatonceDistributors struct {
	gc          *greatonce.Client
	concurrency int
	// calls bounds the calls in flight across Write calls (the engine delivers a page while the one
	// before it finishes: OverlapWrites).
	calls chan struct{}
}

func (t *greatonceDistributors) Operation() string { return greatonce.MethodDistributorSync }

// distributor builds the request: the mapped payload, the action, and, for a mapped record, the
// distributor code it was created with (a renamed customer keeps its code).
func (t *greatonceDistributors) distributor(p engine.Planned) (greatonce.Distributor, error) {
	// Read the mapped fields straight into the request: the spec's target schema is exactly these
	// fields, all text (a JSON round trip per record cost 12% of a customers run's CPU).
	text := func(field string) (string, error) {
		switch v := p.Payload.Get(field).(type) {
		case nil:
			return "", nil
		case string:
			return v, nil
		default:
			return "", fmt.Errorf("payload does not fit the distributor request: %s is %T, not text", field, v)
		}
	}
	var d greatonce.Distributor
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"address", &d.Address}, {"balance_deduct_type", &d.BalanceDeductType}, {"distributorCode", &d.DistributorCode},
		{"distributorCompanyName", &d.DistributorCompanyName}, {"distributorName", &d.DistributorName},
		{"mobile", &d.Mobile}, {"contact", &d.Contact}, {"distributorLevelName", &d.DistributorLevelName},
	} {
		v, err := text(f.name)
		if err != nil {
			return d, err
		}
		*f.dst = v
	}
	d.ActionType = p.Action
	switch {
	case p.Mapping != nil && p.Mapping.TargetKey != "":
		d.DistributorCode = p.Mapping.TargetKey
	case p.ReservedKey != "":
		// An earlier attempt at this create used this code (its intent is in the store): keep it, so
		// that a create whose outcome was lost finds its distributor whatever the customer is called now.
		d.DistributorCode = p.ReservedKey
	}
	d.Unset = unsetOnUpdate(p, p.Action)
	return d, nil
}

// distributorOptional are the request's optional fields, which an update may leave out.
var distributorOptional = []string{"address", "balance_deduct_type", "distributorCompanyName", "mobile", "contact", "distributorLevelName"}

// unsetOnUpdate lists the optional fields an update leaves out under the spec's update policies (an
// empty value, or on_update: keep), so that Greatonce keeps what it holds for them; an add sends all.
func unsetOnUpdate(p engine.Planned, action string) []string {
	if action != engine.ActionUpdate || p.Spec == nil {
		return nil
	}
	send := p.Spec.UpdateFields(p.Payload, nil)
	var out []string
	for _, f := range distributorOptional {
		if !slices.Contains(send, f) {
			out = append(out, f)
		}
	}
	return out
}

// CreateKey is the distributor code an add of p sends: the code a distributor keeps for life.
func (t *greatonceDistributors) CreateKey(p engine.Planned) (string, error) {
	d, err := t.distributor(p)
	return d.DistributorCode, err
}

func (t *greatonceDistributors) Prepare(p engine.Planned) ([]byte, map[string]any, error) {
	d, err := t.distributor(p)
	if err != nil {
		return nil, nil, err
	}
	body, err := greatonce.Body(d)
	return body, nil, err
}

// Write delivers the items with up to concurrency calls in flight, from a pool of workers (long-lived
// goroutines keep their grown stacks; one goroutine per record paid for stack growth every time).
// Two Writes at once (two pages) share the bound.
func (t *greatonceDistributors) Write(ctx context.Context, items []engine.Planned) []engine.Delivery {
	out := make([]engine.Delivery, len(items))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(t.concurrency, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) {
					return
				}
				t.calls <- struct{}{}
				d := t.deliver(engine.WithRecord(ctx, items[i].Record.Key), items[i])
				<-t.calls
				d.Err = flows.Translate(d.Err)
				out[i] = d
				engine.ReportDelivery(ctx, d)
			}
		}()
	}
	wg.Wait()
	return flows.TranslateAll(out)
}

func (t *greatonceDistributors) deliver(ctx context.Context, p engine.Planned) engine.Delivery {
	d, err := t.distributor(p)
	if err != nil {
		return engine.Delivery{Action: p.Action, Err: &vendor.Error{Vendor: greatonce.VendorName, Op: greatonce.MethodDistributorSync, Kind: vendor.Permanent, Message: err.Error()}}
	}
	action := p.Action
	body, err := t.gc.DistributorSync(ctx, action, d)
	switch {
	case err != nil && action == engine.ActionAdd && greatonce.IsAlreadyExists(err):
		// Delivered before but not recorded (a crash between the write and the commit): reconcile.
		action = engine.ActionUpdate
		d.Unset = unsetOnUpdate(p, action)
		body, err = t.gc.DistributorSync(ctx, action, d)
	case err != nil && action == engine.ActionUpdate && greatonce.IsNotFound(err):
		// Removed on the Greatonce side: create it again under the same code.
		action = engine.ActionAdd
		d.Unset = nil
		body, err = t.gc.DistributorSync(ctx, action, d)
	}
	if body == nil { // refused before sending: show what would have been sent
		d.ActionType = action
		body, _ = greatonce.Body(d)
	}
	return engine.Delivery{Action: action, TargetKey: d.DistributorCode, Body: body, Err: err}
}
