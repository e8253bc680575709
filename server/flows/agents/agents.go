// Package agents is the SyncAgents flow adapter: Zhilong agents (/api/agentInfo/list, read over the
// update-time window) become Kingdee customers (BatchSave on BD_Customer). It implements the engine's
// Source and Target, and translates the vendors' errors into the engine's Failures.
package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/clients/zhilong"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/flows"
	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage"
)

// Options tune the agents flow.
type Options struct {
	// PageSize is the Zhilong pageSize (default 500).
	PageSize int
	// BatchSize is the number of Model items per Kingdee BatchSave (default 500).
	BatchSize int
	// Concurrency bounds the BatchSave calls of one page in flight at once (default 4).
	Concurrency int
	// Overlap re-reads this much before the checkpoint.
	Overlap time.Duration
}

// formCustomer is Kingdee's customer business object.
const formCustomer = "BD_Customer"

// errAllFound stops Fetch's read once every key is found.
var errAllFound = errors.New("every key found")

// New builds SyncAgents: Zhilong agents (/api/agentInfo/list over the update-time window)
// become Kingdee customers (BatchSave on BD_Customer).
func New(zl *zhilong.Client, kd *kingdee.Client, spec *mapping.Spec, o Options) *engine.Flow {
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	outIDField := spec.TargetKeyField()
	if outIDField == "" {
		outIDField = "F_out_id"
	}
	return &engine.Flow{
		Name:   engine.FlowAgents,
		Source: &zhilongAgents{zl: zl, spec: spec, pageSize: o.PageSize, fields: specAgentFields(spec)},
		Target: &kingdeeCustomerWriter{kd: kd, spec: spec, batchSize: o.BatchSize, concurrency: o.Concurrency, outIDField: outIDField,
			calls: make(chan struct{}, o.Concurrency)},
		Spec: spec, Overlap: o.Overlap,
		// A page's BatchSaves start while the page before finishes its own (and its commit): the
		// writer's bound on calls in flight holds across both.
		OverlapWrites: true,
		// Zhilong pages by number over a time window: a run restarts at the checkpoint's time and the
		// planner skips what was already delivered.
		TimeOnlyCursor: true,
		WithSpec:       func(s *mapping.Spec) (*engine.Flow, error) { return New(zl, kd, s, o), nil },
	}
}

// zhilongAgents reads agents page by page over an update-time window, stopping on the total.
type zhilongAgents struct {
	zl *zhilong.Client
	// spec's source.request is the agentInfo/list body: the window as its templates render it.
	spec     *mapping.Spec
	pageSize int
	// fields are the agent fields a record carries in Fields: those the spec reads, the key and the
	// cursor. The other 70-odd of the 86 are built only when asked for (AllFields).
	fields []string
}

// specAgentFields lists the fields spec reads, plus agentId and updateTime.
func specAgentFields(spec *mapping.Spec) []string {
	fields := spec.SourceFields()
	for _, f := range []string{"agentId", "updateTime"} {
		if !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	return fields
}

// Read pages through the window in (updateTime, agentId) order. Zhilong pages by number, and a
// number is an offset into a window that changes while we read: an agent updated meanwhile leaves the
// window and shifts every later agent one place back, so plain pageNum+1 would skip one. Instead,
// after each page the window restarts at the last agent's update time (page 1 again), and the agents
// at exactly that time that were already passed on are left out. Only a run of equal update times
// longer than a page is paged by number.
func (s *zhilongAgents) Read(ctx context.Context, q engine.ReadQuery, page func([]engine.SourceRecord) error) error {
	w := zhilong.Window{Start: q.After.Time, End: q.End}
	if w.Start.IsZero() {
		w.Start = time.Date(2000, 1, 1, 0, 0, 0, 0, vendor.GMT8())
	}
	next := func(ctx context.Context, at zhilongPos) ([]engine.SourceRecord, zhilongPos, bool, error) {
		w.Start = at.start
		body, err := s.requestBody(w, at.pageNum)
		if err != nil {
			return nil, at, true, err
		}
		agents, total, err := s.zl.PageBody(ctx, body, at.pageNum, s.pageSize)
		if err != nil {
			return nil, at, true, err
		}
		recs := make([]engine.SourceRecord, 0, len(agents))
		var last time.Time
		for i := range agents {
			r, err := s.decodeAgent(&agents[i])
			if err != nil {
				return nil, at, true, err
			}
			if i > 0 && r.Cursor.Time.Before(last) {
				return nil, at, true, flows.BadSourceData("zhilong", "agentInfo/list", "agents out of updateTime order (%s after %s): an incremental read needs ascending order",
					r.Cursor.Time.Format(vendor.DateTimeLayout), last.Format(vendor.DateTimeLayout))
			}
			last = r.Cursor.Time
			if !(at.seen[r.Key] && r.Cursor.Time.Equal(at.start)) {
				recs = append(recs, r)
			}
		}
		// Stop on the total, never on an empty page: past the last page Zhilong answers the last page again.
		if at.pageNum*s.pageSize >= total || len(agents) == 0 {
			return recs, at, true, nil
		}
		nextAt := zhilongPos{start: at.start, pageNum: at.pageNum + 1, seen: at.seen} // a page of one update time
		if last.After(at.start) {
			nextAt = zhilongPos{start: last, pageNum: 1, seen: map[string]bool{}}
		}
		for _, r := range recs {
			if r.Cursor.Time.Equal(nextAt.start) {
				nextAt.seen[r.Key] = true
			}
		}
		return recs, nextAt, false, nil
	}
	return flows.Translate(engine.Prefetch(ctx, zhilongPos{start: w.Start, pageNum: 1, seen: map[string]bool{}}, next, page))
}

// requestBody is the agentInfo/list body for window w: the spec's source.request rendered with the
// window's start as {{LAST_SYNC_TIME}} (where this read resumes) and its end as {{CURRENT_TIME}}. A
// spec that leaves out updateTimeStart or updateTimeEnd gets the seed's template for it
// ({{LAST_SYNC_TIME datetime}}, {{CURRENT_TIME datetime}}): the read pages through that window.
func (s *zhilongAgents) requestBody(w zhilong.Window, pageNum int) ([]byte, error) {
	p, err := s.spec.RenderRequest(mapping.Vars{LastSyncTime: w.Start, CurrentTime: w.End, PageSize: s.pageSize, StartPage: pageNum})
	if err != nil {
		return nil, fmt.Errorf("render the agentInfo/list request (source.request): %w", err)
	}
	for _, d := range []struct {
		field string
		at    time.Time
	}{{"updateTimeStart", w.Start}, {"updateTimeEnd", w.End}} {
		if p.Get(d.field) == nil {
			p.Set(d.field, vendor.FormatDateTime(d.at))
		}
	}
	return p.MarshalJSON()
}

// zhilongPos is where the next agents page is read: the window's start, the page number within it,
// and the agents at exactly that start time already passed on.
type zhilongPos struct {
	start   time.Time
	pageNum int
	seen    map[string]bool
}

// decodeAgent makes a record of an agent with the fields the spec reads; AllFields builds the rest
// from the agent (which stays with its page).
func (s *zhilongAgents) decodeAgent(a *zhilong.Agent) (engine.SourceRecord, error) {
	fields := make(mapping.Record, len(s.fields))
	for _, f := range s.fields {
		if v, ok := a.Field(f); ok {
			fields[f] = v
		}
	}
	r, err := recordFromFields(fields)
	r.All = func() mapping.Record { return mapping.Record(a.Fields()) }
	return r, err
}

func recordFromFields(fields mapping.Record) (engine.SourceRecord, error) {
	id := fmt.Sprint(fields["agentId"])
	if fields["agentId"] == nil || id == "" {
		return engine.SourceRecord{}, flows.BadSourceData("zhilong", "agentInfo/list", "agent without agentId")
	}
	var t time.Time
	if s, _ := fields["updateTime"].(string); s != "" {
		var err error
		if t, err = zhilong.ParseTime(s); err != nil {
			return engine.SourceRecord{}, flows.BadSourceData("zhilong", "agentInfo/list", "agent %s: %v", id, err)
		}
	}
	return engine.SourceRecord{Key: id, Cursor: storage.Cursor{Time: t, Key: id}, Fields: fields}, nil
}

// Fetch finds agents by id. Zhilong has no lookup by id, so this pages through the whole history and
// stops once every key is found: fine for a handful of keys, slow on a large platform.
func (s *zhilongAgents) Fetch(ctx context.Context, keys []string) ([]engine.SourceRecord, error) {
	recs, _, _, err := s.FetchScan(ctx, keys, 0)
	return recs, err
}

// FetchScan pages through the agents (Zhilong has no lookup by id) until every key is found, the list
// ends, or maxPages pages were read (0: no bound); see engine.ScanFetcher.
func (s *zhilongAgents) FetchScan(ctx context.Context, keys []string, maxPages int) ([]engine.SourceRecord, int, bool, error) {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var out []engine.SourceRecord
	pages, truncated := 0, false
	err := s.Read(ctx, engine.ReadQuery{End: time.Now()}, func(recs []engine.SourceRecord) error {
		pages++
		for _, r := range recs {
			if want[r.Key] {
				out = append(out, r)
				delete(want, r.Key)
			}
		}
		if len(want) == 0 {
			return errAllFound
		}
		if maxPages > 0 && pages >= maxPages {
			truncated = true
			return errAllFound
		}
		return nil
	})
	if err != nil && err != errAllFound {
		return nil, pages, false, err
	}
	return out, pages, truncated, nil
}

// Decode takes an agent as /api/agentInfo/list returns it.
func (s *zhilongAgents) Decode(raw map[string]any) (engine.SourceRecord, error) {
	return recordFromFields(mapping.Record(raw))
}

// kingdeeCustomerWriter writes BD_Customer with BatchSave.
type kingdeeCustomerWriter struct {
	kd          *kingdee.Client
	spec        *mapping.Spec
	batchSize   int
	concurrency int
	outIDField  string
	// calls bounds the BatchSave calls in flight, across Write calls (OverlapWrites).
	calls chan struct{}
}

func (t *kingdeeCustomerWriter) Operation() string { return "BD_Customer BatchSave" }

// options are the call options of the spec the payload was rendered with (a preview may try a spec
// other than the flow's).
func (t *kingdeeCustomerWriter) options(spec *mapping.Spec) (audit, verify bool) {
	if spec == nil {
		spec = t.spec
	}
	opts := spec.Options()
	audit, _ = opts["IsAutoSubmitAndAudit"].(bool)
	verify, _ = opts["IsVerifyBaseDataField"].(bool)
	return audit, verify
}

func (t *kingdeeCustomerWriter) specOf(p engine.Planned) *mapping.Spec {
	if p.Spec != nil {
		return p.Spec
	}
	return t.spec
}

// customerID is the FCUSTID a planned record updates: 0 for a create. A mapping whose target key is
// not a customer id is an error, never a create: creating would duplicate the customer it maps to.
func customerID(p engine.Planned) (int64, error) {
	if p.Mapping == nil || p.Mapping.TargetKey == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(p.Mapping.TargetKey, 10, 64)
	if err != nil || id <= 0 {
		return 0, &vendor.Error{Vendor: "kingdee", Op: "BatchSave", Kind: vendor.Permanent, Code: "bad_mapping",
			Message: fmt.Sprintf("the id mapping names %q, which is not a Kingdee customer id (FCUSTID)", p.Mapping.TargetKey)}
	}
	return id, nil
}

// change is one Model item as it is sent: a create carries the whole mapped payload with FCUSTID 0;
// an update carries FCUSTID and only the fields its NeedUpDateFields name, which the spec's update
// policies choose (mapping.Spec.UpdateFields): an empty value never overwrites what Kingdee holds,
// creation-only fields are never sent again, if_empty fields only where Kingdee's value is empty.
type change struct {
	id     int64
	fields []string // NeedUpDateFields of an update
	model  []byte
}

// prepare builds the change for p; current holds Kingdee's values of the spec's if_empty fields for
// the customer p updates (nil when not read: no if_empty field is then sent).
func (t *kingdeeCustomerWriter) prepare(p engine.Planned, id int64, current map[string]any) (change, error) {
	c := change{id: id}
	if id == 0 && p.Payload.Get("FCUSTID") == nil {
		// A create sends the whole payload with FCUSTID 0 last: what Set and MarshalJSON below render,
		// without copying the payload.
		b, err := p.Payload.AppendJSON(make([]byte, 0, 64*(p.Payload.Len()+1)))
		if err != nil {
			return c, &vendor.Error{Vendor: "kingdee", Op: "BatchSave", Kind: vendor.Permanent, Message: "payload does not encode as JSON: " + err.Error()}
		}
		b = b[:len(b)-1] // the closing brace
		if len(b) > 1 {
			b = append(b, ',')
		}
		c.model = append(b, `"FCUSTID":0}`...)
		return c, nil
	}
	m := p.Payload.Clone()
	if id != 0 {
		var empty func(string) bool
		if current != nil {
			empty = func(f string) bool { return mapping.IsEmpty(current[f]) }
		}
		c.fields = t.specOf(p).UpdateFields(p.Payload, empty)
		for _, f := range p.Payload.Fields() {
			if !slices.Contains(c.fields, f) {
				m.Delete(f)
			}
		}
	}
	m.Set("FCUSTID", id)
	var err error
	if c.model, err = m.MarshalJSON(); err != nil {
		return c, &vendor.Error{Vendor: "kingdee", Op: "BatchSave", Kind: vendor.Permanent, Message: "payload does not encode as JSON: " + err.Error()}
	}
	return c, nil
}

// auditBody is what the record's audit row keeps of its part of the call: the Model item, and for
// an update the NeedUpDateFields it was sent with.
func (c change) auditBody() []byte {
	if c.id == 0 {
		return c.model
	}
	fields, _ := json.Marshal(c.fields)
	return slices.Concat([]byte(`{"NeedUpDateFields":`), fields, []byte(`,"Model":`), c.model, []byte(`}`))
}

func (t *kingdeeCustomerWriter) Prepare(p engine.Planned) ([]byte, map[string]any, error) {
	return t.prepareWith(p, nil)
}

// PrepareLive is Prepare with Kingdee's current values of the spec's if_empty fields read first, so
// that a preview shows the NeedUpDateFields the sync would send. It only reads.
func (t *kingdeeCustomerWriter) PrepareLive(ctx context.Context, p engine.Planned) ([]byte, map[string]any, error) {
	body, opts, err := t.prepareLive(ctx, p)
	return body, opts, flows.Translate(err)
}

func (t *kingdeeCustomerWriter) prepareLive(ctx context.Context, p engine.Planned) ([]byte, map[string]any, error) {
	id, err := customerID(p)
	if err != nil {
		return nil, nil, err
	}
	var current map[string]any
	if id != 0 {
		cur, err := t.currentValues(ctx, t.specOf(p), []int64{id})
		if err != nil {
			return nil, nil, err
		}
		current = cur[id]
	}
	return t.prepareWith(p, current)
}

func (t *kingdeeCustomerWriter) prepareWith(p engine.Planned, current map[string]any) ([]byte, map[string]any, error) {
	id, err := customerID(p)
	if err != nil {
		return nil, nil, err
	}
	c, err := t.prepare(p, id, current)
	if err != nil {
		return nil, nil, err
	}
	audit, verify := t.options(p.Spec)
	opts := map[string]any{"FormId": formCustomer, "IsAutoSubmitAndAudit": audit, "IsVerifyBaseDataField": verify}
	if id != 0 {
		opts["NeedUpDateFields"] = c.fields
	}
	return c.model, opts, nil
}

// currentValues reads Kingdee's values of the spec's if_empty fields for the given customers (nil
// when the spec has none), keyed by FCUSTID and then by target field.
func (t *kingdeeCustomerWriter) currentValues(ctx context.Context, spec *mapping.Spec, ids []int64) (map[int64]map[string]any, error) {
	fields := spec.IfEmptyFields()
	if len(fields) == 0 || len(ids) == 0 {
		return nil, nil
	}
	keys := []string{"FCUSTID"}
	for _, f := range fields {
		keys = append(keys, fieldKey(spec, f))
	}
	out := make(map[int64]map[string]any, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		rows, err := t.kd.QueryPage(ctx, kingdee.Query{FormID: formCustomer, FieldKeys: keys, Filter: kingdee.In("FCUSTID", chunk...)})
		if err != nil {
			return nil, fmt.Errorf("read the current values of if_empty fields: %w", err)
		}
		for _, r := range rows {
			id, err := r.Int64("FCUSTID")
			if err != nil {
				continue
			}
			cur := map[string]any{}
			for i, f := range fields {
				cur[f] = r[keys[i+1]]
			}
			out[id] = cur
		}
	}
	return out, nil
}

// fieldKey is the ExecuteBillQuery FieldKey of a target field: FGroup.FNumber for a base-data
// reference written by number.
func fieldKey(spec *mapping.Spec, field string) string {
	if ref := spec.FieldRef(field); ref != "" {
		return field + "." + ref
	}
	return field
}

// FindExisting finds the unmapped items that already exist in Kingdee, by their external id (the
// spec's target key field, F_out_id), and returns their FCUSTIDs by item index. It only reads.
func (t *kingdeeCustomerWriter) FindExisting(ctx context.Context, items []engine.Planned) (map[int]string, error) {
	found, err := t.findExisting(ctx, items)
	return found, flows.Translate(err)
}

func (t *kingdeeCustomerWriter) findExisting(ctx context.Context, items []engine.Planned) (map[int]string, error) {
	var idx []int
	for i, p := range items {
		if p.Mapping == nil || p.Mapping.TargetKey == "" {
			idx = append(idx, i)
		}
	}
	ids, err := t.lookup(ctx, items, idx)
	if err != nil {
		return nil, err
	}
	found := make(map[int]string, len(ids))
	for i, id := range ids {
		found[i] = strconv.FormatInt(id, 10)
	}
	return found, nil
}

// lookup finds the items at idx in Kingdee by their external id and returns their FCUSTIDs by item
// index (only those found).
func (t *kingdeeCustomerWriter) lookup(ctx context.Context, items []engine.Planned, idx []int) (map[int]int64, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	outIDs := make([]string, len(idx))
	for j, i := range idx {
		outIDs[j] = fmt.Sprint(items[i].Payload.Get(t.outIDField))
	}
	rows, err := t.kd.QueryPage(ctx, kingdee.Query{FormID: formCustomer, FieldKeys: []string{"FCUSTID", t.outIDField},
		Filter: kingdee.In(t.outIDField, outIDs...)})
	if err != nil {
		return nil, err
	}
	byOutID := map[string]int64{}
	for _, r := range rows {
		if id, err := r.Int64("FCUSTID"); err == nil && id > 0 {
			byOutID[r.String(t.outIDField)] = id
		}
	}
	found := map[int]int64{}
	for j, i := range idx {
		if id := byOutID[outIDs[j]]; id > 0 {
			found[i] = id
		}
	}
	return found, nil
}

func (t *kingdeeCustomerWriter) Write(ctx context.Context, items []engine.Planned) []engine.Delivery {
	return flows.TranslateAll(t.write(ctx, items))
}

func (t *kingdeeCustomerWriter) write(ctx context.Context, items []engine.Planned) []engine.Delivery {
	out := make([]engine.Delivery, len(items))
	ids := make([]int64, len(items))
	var unmapped, updates []int
	for i, p := range items {
		var err error
		switch ids[i], err = customerID(p); {
		case err != nil:
			out[i] = engine.Delivery{Action: engine.ActionUpdate, Err: err}
		case ids[i] == 0:
			unmapped = append(unmapped, i)
		default:
			updates = append(updates, i)
		}
	}
	var spec *mapping.Spec // one run renders every item with the same spec
	if len(items) > 0 {
		spec = t.specOf(items[0])
	}
	w := &pageWrite{t: t, items: items, ids: ids, spec: spec, changes: make([]change, len(items)), out: out,
		sem: t.calls}
	w.audit, w.verify = t.options(spec)
	// The batches of a page are saved concurrently (they hold disjoint records), up to concurrency
	// calls at a time: each BatchSave is a round trip the server works through on its own. Unmapped
	// agents may exist in Kingdee already (written before a crash, before the local commit): each
	// chunk of them is first looked up by its external id, in the chunk's own turn, so that one
	// chunk's lookup overlaps another's save; those found are updated instead of created twice.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var found []int
	for start := 0; start < len(unmapped); start += t.batchSize {
		chunk := unmapped[start:min(start+t.batchSize, len(unmapped))]
		w.sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-w.sem; wg.Done() }()
			if f := w.create(ctx, chunk); len(f) > 0 {
				mu.Lock()
				found = append(found, f...)
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.update(ctx, updates)
	}()
	wg.Wait()
	if len(found) > 0 {
		slices.Sort(found)
		w.update(ctx, found)
	}
	return out
}

// pageWrite is one page's BatchSave calls: each item's change and delivery at its index.
type pageWrite struct {
	t             *kingdeeCustomerWriter
	items         []engine.Planned
	ids           []int64 // FCUSTID per item (0: create)
	spec          *mapping.Spec
	audit, verify bool
	changes       []change
	out           []engine.Delivery
	sem           chan struct{} // bounds the calls in flight (the writer's, shared by the pages in flight)
}

// create looks the unmapped items at idx up by their external id and creates those Kingdee does not
// hold, with one BatchSave; it returns the items found (their ids set), to be updated.
func (w *pageWrite) create(ctx context.Context, idx []int) (found []int) {
	got, err := w.t.lookup(ctx, w.items, idx)
	if err != nil {
		for _, i := range idx {
			w.out[i] = engine.Delivery{Action: w.items[i].Action, Err: err}
		}
		return nil
	}
	var creates []int
	for _, i := range idx {
		if id, ok := got[i]; ok {
			w.ids[i] = id
			found = append(found, i)
			continue
		}
		c, err := w.t.prepare(w.items[i], 0, nil)
		if err != nil {
			w.out[i] = engine.Delivery{Action: w.items[i].Action, Err: err}
			continue
		}
		w.changes[i] = c
		creates = append(creates, i)
	}
	if len(creates) > 0 {
		w.t.saveBatch(ctx, w.items, w.changes, creates, w.audit, w.verify, w.out)
	}
	return found
}

// update updates the items at idx (their ids set): Kingdee's current values of the spec's if_empty
// fields are read first, and updates with different NeedUpDateFields go in separate calls
// (NeedUpDateFields applies to a whole call), up to the page's concurrency at a time.
func (w *pageWrite) update(ctx context.Context, idx []int) {
	if len(idx) == 0 {
		return
	}
	ids := make([]int64, len(idx))
	for j, i := range idx {
		ids[j] = w.ids[i]
	}
	current, err := w.t.currentValues(ctx, w.spec, ids)
	if err != nil {
		for _, i := range idx {
			w.out[i] = engine.Delivery{Action: w.items[i].Action, Err: err}
		}
		return
	}
	groups := map[string][]int{}
	var order []string
	for _, i := range idx {
		c, err := w.t.prepare(w.items[i], w.ids[i], current[w.ids[i]])
		if err != nil {
			w.out[i] = engine.Delivery{Action: w.items[i].Action, Err: err}
			continue
		}
		w.changes[i] = c
		k := strings.Join(c.fields, ",")
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var wg sync.WaitGroup
	for _, group := range mapValues(groups, order) {
		for start := 0; start < len(group); start += w.t.batchSize {
			batch := group[start:min(start+w.t.batchSize, len(group))]
			w.sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-w.sem; wg.Done() }()
				w.t.saveBatch(ctx, w.items, w.changes, batch, w.audit, w.verify, w.out)
			}()
		}
	}
	wg.Wait()
}

func mapValues(m map[string][]int, order []string) [][]int {
	out := make([][]int, len(order))
	for i, k := range order {
		out[i] = m[k]
	}
	return out
}

// saveBatch saves the items at the indexes in batch with one BatchSave and writes their deliveries
// into out at the same indexes. A batch of creates is safe to retry: before a resend, the items are
// looked up by their external id again and those found (the failed attempt had created them) are
// not created twice.
func (t *kingdeeCustomerWriter) saveBatch(ctx context.Context, items []engine.Planned, changes []change, batch []int, audit, verify bool, out []engine.Delivery) {
	req := kingdee.SaveRequest{FormID: formCustomer, IsAutoSubmitAndAudit: audit, IsVerifyBaseDataField: verify}
	for _, i := range batch {
		req.Models = append(req.Models, changes[i].model)
	}
	first := changes[batch[0]]
	if first.id != 0 {
		req.NeedUpDateFields = first.fields
	} else {
		req.Resolve = func(ctx context.Context, pending []int) (map[int]int64, error) {
			idx := make([]int, len(pending))
			for j, k := range pending {
				idx[j] = batch[k]
			}
			found, err := t.lookup(ctx, items, idx)
			if err != nil {
				return nil, err
			}
			byPending := make(map[int]int64, len(found))
			for j, k := range pending {
				if id, ok := found[idx[j]]; ok {
					byPending[k] = id
				}
			}
			return byPending, nil
		}
	}
	res, err := t.kd.BatchSave(ctx, req)
	for j, i := range batch {
		action := engine.ActionAdd
		if changes[i].id != 0 {
			action = engine.ActionUpdate
		}
		d := engine.Delivery{Action: action, Body: changes[i].auditBody()}
		switch {
		case err != nil:
			d.Err = err
		case j >= len(res.Items):
			d.Err = &vendor.Error{Vendor: "kingdee", Op: "BatchSave", Kind: vendor.Transient, Message: "no result for this item"}
		case res.Items[j].Err != nil:
			d.Err = res.Items[j].Err
		default:
			id := res.Items[j].ID
			if id == 0 {
				id = changes[i].id
			}
			d.TargetKey = strconv.FormatInt(id, 10)
		}
		out[i] = d
		rd := d
		rd.Err = flows.Translate(d.Err)
		engine.ReportDelivery(ctx, rd)
	}
}
