package engine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/clients/zhilong"
	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/store"
)

// AgentsOptions tune the agents flow.
type AgentsOptions struct {
	// PageSize is the Zhilong pageSize (default 500).
	PageSize int
	// BatchSize is the number of Model items per Kingdee BatchSave (default 500).
	BatchSize int
	// Concurrency bounds the BatchSave calls of one page in flight at once (default 4).
	Concurrency int
	// Overlap re-reads this much before the checkpoint.
	Overlap time.Duration
}

// NewAgentsFlow builds SyncAgents: Zhilong agents (/api/agentInfo/list over the update-time window)
// become Kingdee customers (BatchSave on BD_Customer).
func NewAgentsFlow(zl *zhilong.Client, kd *kingdee.Client, spec *mapping.Spec, o AgentsOptions) *Flow {
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
	return &Flow{
		Name:   FlowAgents,
		Source: &zhilongAgents{zl: zl, pageSize: o.PageSize, fields: specAgentFields(spec)},
		Target: &kingdeeCustomerWriter{kd: kd, spec: spec, batchSize: o.BatchSize, concurrency: o.Concurrency, outIDField: outIDField},
		Spec:   spec, Overlap: o.Overlap,
		// Zhilong pages by number over a time window: a run restarts at the checkpoint's time and the
		// planner skips what was already delivered.
		TimeOnlyCursor: true,
	}
}

// zhilongAgents reads agents page by page over an update-time window, stopping on the total.
type zhilongAgents struct {
	zl       *zhilong.Client
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
func (s *zhilongAgents) Read(ctx context.Context, q ReadQuery, page func([]SourceRecord) error) error {
	w := zhilong.Window{Start: q.After.Time, End: q.End}
	if w.Start.IsZero() {
		w.Start = time.Date(2000, 1, 1, 0, 0, 0, 0, vendor.GMT8())
	}
	next := func(ctx context.Context, at zhilongPos) ([]SourceRecord, zhilongPos, bool, error) {
		w.Start = at.start
		agents, total, err := s.zl.Page(ctx, w, at.pageNum, s.pageSize)
		if err != nil {
			return nil, at, true, err
		}
		recs := make([]SourceRecord, 0, len(agents))
		var last time.Time
		for i := range agents {
			r, err := s.decodeAgent(&agents[i])
			if err != nil {
				return nil, at, true, err
			}
			if i > 0 && r.Cursor.Time.Before(last) {
				return nil, at, true, fmt.Errorf("zhilong returned agents out of updateTime order (%s after %s): an incremental read needs ascending order",
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
	return prefetch(ctx, zhilongPos{start: w.Start, pageNum: 1, seen: map[string]bool{}}, next, page)
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
func (s *zhilongAgents) decodeAgent(a *zhilong.Agent) (SourceRecord, error) {
	fields := make(mapping.Record, len(s.fields))
	for _, f := range s.fields {
		if v, ok := a.Field(f); ok {
			fields[f] = v
		}
	}
	r, err := recordFromFields(fields)
	r.all = func() mapping.Record { return mapping.Record(a.Fields()) }
	return r, err
}

func recordFromFields(fields mapping.Record) (SourceRecord, error) {
	id := fmt.Sprint(fields["agentId"])
	if fields["agentId"] == nil || id == "" {
		return SourceRecord{}, fmt.Errorf("agent without agentId")
	}
	var t time.Time
	if s, _ := fields["updateTime"].(string); s != "" {
		var err error
		if t, err = zhilong.ParseTime(s); err != nil {
			return SourceRecord{}, fmt.Errorf("agent %s: %w", id, err)
		}
	}
	return SourceRecord{Key: id, Cursor: store.Cursor{Time: t, Key: id}, Fields: fields}, nil
}

// Fetch finds agents by id. Zhilong has no lookup by id, so this pages through the whole history and
// stops once every key is found: fine for a handful of keys, slow on a large platform.
func (s *zhilongAgents) Fetch(ctx context.Context, keys []string) ([]SourceRecord, error) {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var out []SourceRecord
	err := s.Read(ctx, ReadQuery{End: time.Now()}, func(recs []SourceRecord) error {
		for _, r := range recs {
			if want[r.Key] {
				out = append(out, r)
				delete(want, r.Key)
			}
		}
		if len(want) == 0 {
			return errLimitReached
		}
		return nil
	})
	if err != nil && err != errLimitReached {
		return nil, err
	}
	return out, nil
}

// Decode takes an agent as /api/agentInfo/list returns it.
func (s *zhilongAgents) Decode(raw map[string]any) (SourceRecord, error) {
	return recordFromFields(mapping.Record(raw))
}

// kingdeeCustomerWriter writes BD_Customer with BatchSave.
type kingdeeCustomerWriter struct {
	kd          *kingdee.Client
	spec        *mapping.Spec
	batchSize   int
	concurrency int
	outIDField  string
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

// model is the Model item as sent: the mapped payload with FCUSTID 0 for a create or the mapped id
// for an update. An update never sends an empty FNumber: the number Kingdee's coding rule assigned
// stays.
func (t *kingdeeCustomerWriter) model(p Planned, custID int64) ([]byte, error) {
	m := p.Payload.Clone()
	m.Set("FCUSTID", custID)
	if n, _ := m.Get("FNumber").(string); custID != 0 && n == "" {
		m.Delete("FNumber")
	}
	return m.MarshalJSON()
}

// updateFields are the NeedUpDateFields of an update: the payload's fields less an empty FNumber.
func updateFields(p Planned) []string {
	var out []string
	for _, f := range p.Payload.Fields() {
		if n, _ := p.Payload.Get(f).(string); f == "FNumber" && n == "" {
			continue
		}
		out = append(out, f)
	}
	return out
}

func (t *kingdeeCustomerWriter) Prepare(p Planned) ([]byte, map[string]any, error) {
	var id int64
	if p.Mapping != nil {
		id, _ = strconv.ParseInt(p.Mapping.TargetKey, 10, 64)
	}
	body, err := t.model(p, id)
	if err != nil {
		return nil, nil, err
	}
	audit, verify := t.options(p.Spec)
	opts := map[string]any{"FormId": formCustomer, "IsAutoSubmitAndAudit": audit, "IsVerifyBaseDataField": verify}
	if id != 0 {
		opts["NeedUpDateFields"] = updateFields(p)
	}
	return body, opts, nil
}

// FindExisting finds the unmapped items that already exist in Kingdee, by their external id (the
// spec's target key field, F_out_id), and returns their FCUSTIDs by item index. It only reads.
func (t *kingdeeCustomerWriter) FindExisting(ctx context.Context, items []Planned) (map[int]string, error) {
	var outIDs []any
	for _, p := range items {
		if p.Mapping == nil || p.Mapping.TargetKey == "" {
			outIDs = append(outIDs, fmt.Sprint(p.Payload.Get(t.outIDField)))
		}
	}
	if len(outIDs) == 0 {
		return nil, nil
	}
	rows, err := t.kd.QueryPage(ctx, kingdee.Query{FormID: formCustomer, FieldKeys: []string{"FCUSTID", t.outIDField},
		Filter: kingdee.In(t.outIDField, outIDs...).String()})
	if err != nil {
		return nil, err
	}
	byOutID := map[string]int64{}
	for _, r := range rows {
		if id, err := r.Int64("FCUSTID"); err == nil && id > 0 {
			byOutID[r.String(t.outIDField)] = id
		}
	}
	found := map[int]string{}
	for i, p := range items {
		if p.Mapping == nil || p.Mapping.TargetKey == "" {
			if id := byOutID[fmt.Sprint(p.Payload.Get(t.outIDField))]; id > 0 {
				found[i] = strconv.FormatInt(id, 10)
			}
		}
	}
	return found, nil
}

func (t *kingdeeCustomerWriter) Write(ctx context.Context, items []Planned) []Delivery {
	out := make([]Delivery, len(items))
	ids := make([]int64, len(items))
	for i, p := range items {
		if p.Mapping != nil {
			ids[i], _ = strconv.ParseInt(p.Mapping.TargetKey, 10, 64)
		}
	}
	// Unmapped agents may exist in Kingdee already (written before a crash, before the local commit):
	// find them by their external id and update them instead of creating duplicates.
	existing, err := t.FindExisting(ctx, items)
	if err != nil {
		for i := range out {
			out[i] = Delivery{Action: items[i].Action, Err: err}
		}
		return out
	}
	for i, key := range existing {
		ids[i], _ = strconv.ParseInt(key, 10, 64)
	}
	// Creates and updates go in separate calls: NeedUpDateFields applies to a whole call.
	var creates, updates []int
	for i := range items {
		if ids[i] == 0 {
			creates = append(creates, i)
		} else {
			updates = append(updates, i)
		}
	}
	var spec *mapping.Spec // one run renders every item with the same spec
	if len(items) > 0 {
		spec = items[0].Spec
	}
	audit, verify := t.options(spec)
	// The batches of a page are saved concurrently (they hold disjoint records), up to concurrency at a
	// time: each BatchSave is a round trip the server works through on its own.
	var batches [][]int
	for _, group := range [][]int{creates, updates} {
		for start := 0; start < len(group); start += t.batchSize {
			batches = append(batches, group[start:min(start+t.batchSize, len(group))])
		}
	}
	sem := make(chan struct{}, max(t.concurrency, 1))
	var wg sync.WaitGroup
	for _, batch := range batches {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t.saveBatch(ctx, items, ids, batch, audit, verify, out)
		}()
	}
	wg.Wait()
	return out
}

// saveBatch saves the items at the indexes in batch with one BatchSave and writes their deliveries
// into out at the same indexes.
func (t *kingdeeCustomerWriter) saveBatch(ctx context.Context, items []Planned, ids []int64, batch []int, audit, verify bool, out []Delivery) {
	req := kingdee.SaveRequest{FormID: formCustomer, IsAutoSubmitAndAudit: audit, IsVerifyBaseDataField: verify}
	bodies := make([][]byte, len(batch))
	var encErr error
	for j, i := range batch {
		if bodies[j], encErr = t.model(items[i], ids[i]); encErr != nil {
			break
		}
		req.Models = append(req.Models, bodies[j])
	}
	if ids[batch[0]] != 0 {
		req.NeedUpDateFields = updateFields(items[batch[0]])
	}
	var res *kingdee.SaveResult
	err := encErr
	if err == nil {
		res, err = t.kd.BatchSave(ctx, req)
	} else {
		err = &vendor.Error{Vendor: "kingdee", Op: "BatchSave", Kind: vendor.Permanent, Message: "payload does not encode as JSON: " + err.Error()}
	}
	for j, i := range batch {
		action := ActionAdd
		if ids[i] != 0 {
			action = ActionUpdate
		}
		d := Delivery{Action: action, Body: bodies[j]}
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
				id = ids[i]
			}
			d.TargetKey = strconv.FormatInt(id, 10)
		}
		out[i] = d
	}
}
