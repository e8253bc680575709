package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

// fakeSource is an in-memory agents source with keyset paging.
type fakeSource struct {
	mu       sync.Mutex
	recs     map[string]mapping.Record
	pageSize int
	reads    int
}

func agentFields(i int, t time.Time, name string) mapping.Record {
	return mapping.Record{
		"agentId": fmt.Sprintf("A%04d", i), "agentName": name, "houseAddress": "上海市徐汇区漕溪北路" + fmt.Sprint(i) + "号",
		"remark": "r", "updateTime": t.In(vendor.GMT8()).Format(vendor.DateTimeLayout), "mobile": "13800000000",
	}
}

func (s *fakeSource) put(r mapping.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[r["agentId"].(string)] = r
}

func (s *fakeSource) sorted() []SourceRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SourceRecord
	for _, f := range s.recs {
		r, err := recordFromFields(f)
		if err != nil {
			panic(err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return cursorAfter(out[j].Cursor, out[i].Cursor) })
	return out
}

func (s *fakeSource) Read(ctx context.Context, q ReadQuery, page func([]SourceRecord) error) error {
	var win []SourceRecord
	for _, r := range s.sorted() {
		if r.Cursor.Time.After(q.End) {
			continue
		}
		if !q.After.Time.IsZero() {
			if q.After.Key == "" && r.Cursor.Time.Before(q.After.Time) || q.After.Key != "" && !cursorAfter(r.Cursor, q.After) {
				continue
			}
		}
		win = append(win, r)
	}
	for start := 0; start < len(win); start += s.pageSize {
		s.mu.Lock()
		s.reads++
		s.mu.Unlock()
		if err := page(win[start:min(start+s.pageSize, len(win))]); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeSource) Fetch(ctx context.Context, keys []string) ([]SourceRecord, error) {
	var out []SourceRecord
	for _, r := range s.sorted() {
		for _, k := range keys {
			if r.Key == k {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

func (s *fakeSource) Decode(raw map[string]any) (SourceRecord, error) { return recordFromFields(raw) }

// fakeTarget stores bodies by target key and injects failures per source key.
type fakeTarget struct {
	mu        sync.Mutex
	bodies    map[string][]byte
	writes    int
	permanent map[string]bool
	transient map[string]bool
	next      int
	calls     int
	// onWrite, when set, is called at the start of each Write with the number of calls so far.
	onWrite func(call int)
}

func (t *fakeTarget) Operation() string { return "fake.write" }

func (t *fakeTarget) Prepare(p Planned) ([]byte, map[string]any, error) {
	b, err := json.Marshal(p.Payload)
	return b, map[string]any{"action": p.Action}, err
}

func (t *fakeTarget) Write(ctx context.Context, items []Planned) []Delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls++
	if t.onWrite != nil {
		t.onWrite(t.calls)
	}
	out := make([]Delivery, len(items))
	for i, p := range items {
		body, _, _ := t.Prepare(p)
		switch {
		case t.permanent[p.Record.Key]:
			out[i] = Delivery{Action: p.Action, Body: body, Err: &Failure{Kind: Permanent, Err: errors.New("fake: rejected")}}
			continue
		case t.transient[p.Record.Key]:
			out[i] = Delivery{Action: p.Action, Body: body, Err: &Failure{Kind: Transient, Err: errors.New("fake: unavailable")}}
			continue
		}
		key := ""
		if p.Mapping != nil {
			key = p.Mapping.TargetKey
		} else {
			t.next++
			key = fmt.Sprint(t.next)
		}
		t.writes++
		t.bodies[key] = body
		out[i] = Delivery{Action: p.Action, TargetKey: key, Body: body}
	}
	return out
}

type tbundle struct {
	ctx     context.Context
	st      *sqlite.Store
	spec    *mapping.Spec
	reg     *prometheus.Registry
	overlap time.Duration
	src     *fakeSource
	tgt     *fakeTarget
	eng     *Engine
	now     time.Time
	nowMu   sync.Mutex
	base    time.Time
	dbPath  string
}

func (b *tbundle) clock() time.Time {
	b.nowMu.Lock()
	defer b.nowMu.Unlock()
	return b.now
}

func (b *tbundle) advance(d time.Duration) {
	b.nowMu.Lock()
	b.now = b.now.Add(d)
	b.nowMu.Unlock()
}

func newTestBundle(t *testing.T, n, pageSize int, overlap time.Duration) *tbundle {
	t.Helper()
	ctx := context.Background()
	b := &tbundle{ctx: ctx, base: time.Date(2026, 10, 1, 8, 0, 0, 0, vendor.GMT8())}
	b.now = b.base.Add(30 * 24 * time.Hour)
	b.dbPath = filepath.Join(t.TempDir(), "e.db")
	st, err := sqlite.Open(ctx, b.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	specs, err := mapping.LoadSet("")
	if err != nil {
		t.Fatal(err)
	}
	spec, ok := specs.Get(FlowAgents)
	if !ok {
		t.Fatal("no agents spec")
	}
	b.st = st
	b.src = &fakeSource{recs: map[string]mapping.Record{}, pageSize: pageSize}
	for i := range n {
		// Ties: three records share each timestamp, so pages cut through groups of equal times.
		b.src.put(agentFields(i, b.base.Add(time.Duration(i/3)*time.Minute), fmt.Sprintf("植隆代理商%04d", i)))
	}
	b.tgt = &fakeTarget{bodies: map[string][]byte{}, permanent: map[string]bool{}, transient: map[string]bool{}}
	b.spec, b.overlap = spec, overlap
	b.rebuild(t)
	return b
}

// engineSetup is what a test bundle builds its engine from: the configuration, the one flow and the
// store the engine is given.
type engineSetup struct {
	cfg   Config
	flow  Flow
	store storage.Store
}

// engineOpt changes a bundle's engine setup.
type engineOpt func(*engineSetup)

func withSource(src Source) engineOpt       { return func(s *engineSetup) { s.flow.Source = src } }
func withTarget(tgt Target) engineOpt       { return func(s *engineSetup) { s.flow.Target = tgt } }
func withFlow(fn func(*Flow)) engineOpt     { return func(s *engineSetup) { fn(&s.flow) } }
func withConfig(fn func(*Config)) engineOpt { return func(s *engineSetup) { fn(&s.cfg) } }

// withStore wraps the store the engine is given (a test's failing or gated commits).
func withStore(wrap func(storage.Store) storage.Store) engineOpt {
	return func(s *engineSetup) { s.store = wrap(s.store) }
}

// rebuild replaces the bundle's engine (shutting the old one down) by one built over the same store,
// source and target, changed by opts, as a restarted gateway would be.
func (b *tbundle) rebuild(t *testing.T, opts ...engineOpt) {
	t.Helper()
	if b.eng != nil {
		b.eng.Shutdown(b.ctx)
	}
	b.reg = prometheus.NewRegistry()
	s := engineSetup{cfg: Config{Now: b.clock, Registerer: b.reg}, store: b.st,
		flow: Flow{Name: FlowAgents, Source: b.src, Target: b.tgt, Spec: b.spec, Overlap: b.overlap}}
	for _, o := range opts {
		o(&s)
	}
	eng, err := New(s.cfg, s.store, &s.flow)
	if err != nil {
		t.Fatal(err)
	}
	b.eng = eng
	t.Cleanup(func() { eng.Shutdown(context.Background()) })
}

// metric is the value of the engine's counter name with the given labels.
func (b *tbundle) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func (b *tbundle) sync(t *testing.T, opts Options) Run {
	t.Helper()
	r, err := b.eng.Start(b.ctx, FlowAgents, opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err = b.eng.Wait(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFirstRunDeliversAllOnceAndSecondWritesNothing(t *testing.T) {
	for _, overlap := range []time.Duration{0, 5 * time.Minute} {
		t.Run(fmt.Sprint("overlap=", overlap), func(t *testing.T) {
			b := newTestBundle(t, 50, 7, overlap)
			r := b.sync(t, Options{})
			if r.Status != StatusSucceeded || r.Counts.Read != 50 || r.Counts.Added != 50 {
				t.Fatalf("first run = %+v", r)
			}
			if b.tgt.writes != 50 || len(b.tgt.bodies) != 50 {
				t.Fatalf("target got %d writes, %d records", b.tgt.writes, len(b.tgt.bodies))
			}
			b.advance(time.Minute)
			r = b.sync(t, Options{})
			if r.Status != StatusSucceeded || r.Counts.Added+r.Counts.Updated != 0 || b.tgt.writes != 50 {
				t.Fatalf("second run wrote: %+v (writes %d)", r, b.tgt.writes)
			}
			if overlap > 0 && r.Counts.Skipped == 0 {
				t.Fatal("overlap re-read nothing")
			}
			cp, ok, _ := b.st.Checkpoint(b.ctx, FlowAgents)
			last := b.src.sorted()[49].Cursor
			if !ok || !sameCursor(cp, last) {
				t.Fatalf("checkpoint %+v, want %+v", cp, last)
			}
		})
	}
}

func TestModifiedRecordsCauseExactlyThoseUpdates(t *testing.T) {
	b := newTestBundle(t, 30, 4, 2*time.Minute)
	b.sync(t, Options{})
	b.advance(time.Hour)
	for _, i := range []int{3, 11, 29} {
		b.src.put(agentFields(i, b.clock().Add(-time.Minute), fmt.Sprintf("改名代理商%04d", i)))
	}
	b.src.put(agentFields(30, b.clock().Add(-time.Minute), "新代理商"))
	r := b.sync(t, Options{})
	if r.Counts.Updated != 3 || r.Counts.Added != 1 || r.Status != StatusSucceeded {
		t.Fatalf("run = %+v", r.Counts)
	}
	if b.tgt.writes != 34 {
		t.Fatalf("writes = %d, want 34", b.tgt.writes)
	}
}

func TestTiesAcrossPageBoundariesAreNotLost(t *testing.T) {
	// Page size 2 and three records per timestamp: every page boundary cuts a tie group. A limit
	// stops runs mid-group, and the next run must resume inside the group.
	b := newTestBundle(t, 12, 2, 0)
	var total int64
	for range 10 {
		r := b.sync(t, Options{Limit: 3})
		total += r.Counts.Added
		b.advance(time.Second)
	}
	if total != 12 || len(b.tgt.bodies) != 12 || b.tgt.writes != 12 {
		t.Fatalf("delivered %d (writes %d, distinct %d), want 12 each", total, b.tgt.writes, len(b.tgt.bodies))
	}
}

func TestTransientFailureKeepsCheckpointAtLastDurablePage(t *testing.T) {
	b := newTestBundle(t, 20, 5, 0)
	recs := b.src.sorted()
	b.tgt.transient[recs[12].Key] = true // third page
	r := b.sync(t, Options{})
	if r.Status != StatusFailed || !strings.Contains(r.Error, "unavailable") {
		t.Fatalf("run = %+v", r)
	}
	cp, _, _ := b.st.Checkpoint(b.ctx, FlowAgents)
	if !sameCursor(cp, recs[9].Cursor) {
		t.Fatalf("checkpoint %+v, want end of page 2 %+v", cp, recs[9].Cursor)
	}
	// The outage ends: the next run delivers the rest, nothing twice.
	delete(b.tgt.transient, recs[12].Key)
	b.advance(time.Minute)
	r = b.sync(t, Options{})
	if r.Status != StatusSucceeded || len(b.tgt.bodies) != 20 || b.tgt.writes != 20 {
		t.Fatalf("after recovery: %+v, %d records, %d writes", r, len(b.tgt.bodies), b.tgt.writes)
	}
}

func TestPermanentFailuresGoToDeadLettersAndAreRetried(t *testing.T) {
	b := newTestBundle(t, 10, 4, 0)
	bad := b.src.sorted()[5].Key
	b.tgt.permanent[bad] = true
	r := b.sync(t, Options{})
	if r.Status != StatusPartial || r.Counts.Failed != 1 || r.Counts.Added != 9 {
		t.Fatalf("run = %+v", r)
	}
	dl, _ := b.st.DeadLetters(b.ctx, FlowAgents, 0)
	if len(dl) != 1 || dl[0].SourceKey != bad {
		t.Fatalf("dead letters = %+v", dl)
	}
	cp, _, _ := b.st.Checkpoint(b.ctx, FlowAgents)
	if !sameCursor(cp, b.src.sorted()[9].Cursor) {
		t.Fatal("checkpoint did not pass the dead-lettered record")
	}
	// Still broken: it stays a dead letter, attempts grow.
	b.advance(time.Minute)
	b.sync(t, Options{})
	dl, _ = b.st.DeadLetters(b.ctx, FlowAgents, 0)
	if len(dl) != 1 || dl[0].Attempts != 2 {
		t.Fatalf("dead letters after retry = %+v", dl)
	}
	// Cause fixed: delivered, letter resolved.
	delete(b.tgt.permanent, bad)
	b.advance(time.Minute)
	r = b.sync(t, Options{})
	if r.Counts.Added != 1 || len(b.tgt.bodies) != 10 {
		t.Fatalf("after fix: %+v, %d delivered", r.Counts, len(b.tgt.bodies))
	}
	if dl, _ = b.st.DeadLetters(b.ctx, FlowAgents, 0); len(dl) != 0 {
		t.Fatalf("resolved letter still there: %+v", dl)
	}
}

func dbSnapshot(t *testing.T, b *tbundle) string {
	t.Helper()
	runs, _, _ := b.st.ListRuns(b.ctx, storage.RunFilter{PageSize: 1000})
	maps, _ := b.st.CountMappings(b.ctx, FlowAgents)
	cp, ok, _ := b.st.Checkpoint(b.ctx, FlowAgents)
	dl, _ := b.st.DeadLetters(b.ctx, FlowAgents, 0)
	return fmt.Sprintf("runs=%d maps=%d cp=%v/%v dl=%d", len(runs), maps, cp, ok, len(dl))
}

func TestDryRunAndPreviewWriteNothing(t *testing.T) {
	b := newTestBundle(t, 10, 4, 0)
	b.sync(t, Options{Limit: 4})
	b.src.put(agentFields(2, b.clock().Add(-time.Minute), "改名"))
	before := dbSnapshot(t, b)
	writes := b.tgt.writes

	r := b.sync(t, Options{DryRun: true})
	if r.Status != StatusSucceeded || r.Counts.Added != 6 || r.Counts.Updated != 1 {
		t.Fatalf("dry run = %+v", r.Counts)
	}
	recs, _, err := b.eng.RunRecords(b.ctx, r.ID, "", 100)
	if err != nil || len(recs) != 7 {
		t.Fatalf("dry run records = %d, %v", len(recs), err)
	}
	items, err := b.eng.Preview(b.ctx, FlowAgents, PreviewInput{Pending: 3})
	if err != nil || len(items) != 3 {
		t.Fatalf("preview = %v, %v", items, err)
	}
	items, err = b.eng.Preview(b.ctx, FlowAgents, PreviewInput{Keys: []string{"A0002", "nope"}})
	if err != nil || len(items) != 2 || items[0].Action != ActionUpdate || len(items[0].Diff) == 0 || items[1].Action != ActionFail {
		t.Fatalf("preview by keys = %+v, %v", items, err)
	}
	items, err = b.eng.Preview(b.ctx, FlowAgents, PreviewInput{Records: []map[string]any{{"agentId": "X1", "agentName": "内联", "updateTime": "2026-11-01 10:00:00"}}})
	if err != nil || len(items) != 1 || items[0].Action != ActionAdd || !strings.Contains(string(items[0].Body), "内联") {
		t.Fatalf("inline preview = %+v, %v", items, err)
	}
	if after := dbSnapshot(t, b); after != before || b.tgt.writes != writes {
		t.Fatalf("store changed: %s -> %s; target writes %d -> %d", before, after, writes, b.tgt.writes)
	}
}

// blockingTarget holds writes until released, to keep a run in flight.
type blockingTarget struct {
	*fakeTarget
	release chan struct{}
}

func (t *blockingTarget) Write(ctx context.Context, items []Planned) []Delivery {
	select {
	case <-t.release:
	case <-ctx.Done():
		out := make([]Delivery, len(items))
		for i := range out {
			out[i] = Delivery{Action: items[i].Action, Err: ctx.Err()}
		}
		return out
	}
	return t.fakeTarget.Write(ctx, items)
}

func TestConcurrentStartRefusedAndCancelIsConsistent(t *testing.T) {
	b := newTestBundle(t, 10, 2, 0)
	bt := &blockingTarget{fakeTarget: b.tgt, release: make(chan struct{})}
	b.rebuild(t, withTarget(bt))
	r1, err := b.eng.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.eng.Start(b.ctx, FlowAgents, Options{})
	var busy *RunInProgressError
	if !errors.As(err, &busy) || busy.RunID != r1.ID {
		t.Fatalf("second start: %v", err)
	}
	ch, err := b.eng.Watch(b.ctx, r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	bt.release <- struct{}{} // let exactly one page through
	waitForAdded(t, ch, 2)   // that page is committed; the next one waits in the target
	if _, err := b.eng.Cancel(b.ctx, r1.ID); err != nil {
		t.Fatal(err)
	}
	// The page in the target is still delivered and committed: the run stops at the boundary after it.
	bt.release <- struct{}{}
	var last Run
	for r := range ch {
		last = r
	}
	if last.Status != StatusCancelled {
		t.Fatalf("watch ended with %+v", last)
	}
	stored, err := b.eng.GetRun(b.ctx, r1.ID)
	if err != nil || stored.Status != StatusCancelled {
		t.Fatalf("stored run = %+v, %v", stored, err)
	}
	maps, _ := b.st.CountMappings(b.ctx, FlowAgents)
	if maps != 4 || len(b.tgt.bodies) != 4 {
		t.Fatalf("mappings %d vs delivered %d: store and target disagree (want the 2 pages delivered)", maps, len(b.tgt.bodies))
	}
	cp, _, _ := b.st.Checkpoint(b.ctx, FlowAgents)
	if !sameCursor(cp, b.src.sorted()[3].Cursor) {
		t.Fatalf("checkpoint %+v", cp)
	}
	// A new run may start now and finishes the job.
	close(bt.release)
	r := b.sync(t, Options{})
	if r.Status != StatusSucceeded || len(b.tgt.bodies) != 10 || b.tgt.writes != 10 {
		t.Fatalf("after cancel: %+v, %d", r, len(b.tgt.bodies))
	}
}

func TestUnknownRunAndBadInput(t *testing.T) {
	b := newTestBundle(t, 1, 1, 0)
	if _, err := b.eng.GetRun(b.ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetRun: %v", err)
	}
	if _, err := b.eng.Start(b.ctx, "orders", Options{}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("unknown flow: %v", err)
	}
	w := &Window{Start: b.now, End: b.now.Add(-time.Hour)}
	if _, err := b.eng.Start(b.ctx, FlowAgents, Options{Window: w}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("reversed window: %v", err)
	}
	if _, _, err := b.eng.ListRuns(b.ctx, ListFilter{PageToken: "%%%"}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("bad token: %v", err)
	}
}

func sameCursor(a, b storage.Cursor) bool { return a.Time.Equal(b.Time) && a.Key == b.Key }

func TestMetricsCountRecordsByOutcome(t *testing.T) {
	b := newTestBundle(t, 12, 5, 0)
	b.tgt.permanent[b.src.sorted()[4].Key] = true
	b.sync(t, Options{})
	b.advance(time.Hour)
	for _, i := range []int{1, 7} {
		b.src.put(agentFields(i, b.clock().Add(-time.Minute), fmt.Sprintf("改名%04d", i)))
	}
	b.sync(t, Options{DryRun: true}) // not counted
	b.sync(t, Options{})
	rec := func(outcome string) float64 {
		return b.metric(t, "syncgate_records_total", map[string]string{"flow": FlowAgents, "outcome": outcome})
	}
	// Run 1: 11 added, 1 failed. Run 3: the letter fails again, 2 updated.
	if rec("added") != 11 || rec("updated") != 2 || rec("failed") != 2 || rec("skipped") != 0 {
		t.Fatalf("added %v updated %v failed %v skipped %v", rec("added"), rec("updated"), rec("failed"), rec("skipped"))
	}
	if n := b.metric(t, "syncgate_runs_total", map[string]string{"flow": FlowAgents, "status": string(StatusPartial)}); n != 2 {
		t.Fatalf("partial runs = %v", n)
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Registerer: reg}, b.st); err != nil {
		t.Fatal(err)
	}
	again := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "syncgate_records_total", Help: "x"}, []string{"flow", "outcome"})
	if err := reg.Register(again); err == nil { // a collision means the engine's vector is there
		t.Fatalf("the engine did not register its metrics on the given registerer: %v", err)
	}
}

// dupSource sends every page twice over: each record, then the page again (as a source whose paging
// overlaps itself would).
type dupSource struct{ *fakeSource }

func (s dupSource) Read(ctx context.Context, q ReadQuery, page func([]SourceRecord) error) error {
	return s.fakeSource.Read(ctx, q, func(recs []SourceRecord) error {
		return page(append(append([]SourceRecord(nil), recs...), recs...))
	})
}

func TestDuplicatesInsideAPageAreDeliveredOnce(t *testing.T) {
	b := newTestBundle(t, 9, 4, 0)
	b.rebuild(t, withSource(dupSource{b.src}))
	r := b.sync(t, Options{})
	if r.Status != StatusSucceeded || r.Counts.Read != 9 || r.Counts.Added != 9 || b.tgt.writes != 9 {
		t.Fatalf("run %+v, %d writes", r.Counts, b.tgt.writes)
	}
}

func TestDeadLettersFetchedFreshFromTheSource(t *testing.T) {
	b := newTestBundle(t, 8, 3, 0)
	b.rebuild(t, withFlow(func(f *Flow) { f.FetchDeadLetters = true }))
	recs := b.src.sorted()
	fixed, gone := recs[2], recs[5]
	b.tgt.permanent[fixed.Key], b.tgt.permanent[gone.Key] = true, true
	if r := b.sync(t, Options{}); r.Counts.Failed != 2 {
		t.Fatalf("first run %+v", r.Counts)
	}
	// One record is corrected at the source without a new update time (so the window will not
	// bring it again); the other is deleted at the source.
	delete(b.tgt.permanent, fixed.Key)
	f := recs[2].Fields
	f["agentName"] = "已更正"
	b.src.put(f)
	b.src.mu.Lock()
	delete(b.src.recs, gone.Key)
	b.src.mu.Unlock()
	b.advance(time.Minute)
	r := b.sync(t, Options{})
	if r.Status != StatusSucceeded || r.Counts.Added != 1 || r.Counts.Failed != 0 {
		t.Fatalf("retry run %+v %s", r.Counts, r.Error)
	}
	if dl, _ := b.st.DeadLetters(b.ctx, FlowAgents, 0); len(dl) != 0 {
		t.Fatalf("letters left: %+v", dl)
	}
	delivered := false
	for _, body := range b.tgt.bodies {
		delivered = delivered || strings.Contains(string(body), "已更正")
	}
	if !delivered {
		t.Fatal("the dead letter was retried from its stale copy, not from the source")
	}
	rows, _, _ := b.eng.RunRecords(b.ctx, r.ID, "", 100)
	dropped := false
	for _, row := range rows {
		dropped = dropped || row.SourceKey == gone.Key && row.Outcome == "dropped"
	}
	if !dropped {
		t.Fatalf("no audit row says the deleted record's letter was dropped: %+v", rows)
	}
}

func TestPreviewDiffShowsOnlyMappedChanges(t *testing.T) {
	b := newTestBundle(t, 4, 4, 0)
	b.sync(t, Options{})
	k := b.src.sorted()[1].Key
	items, err := b.eng.Preview(b.ctx, FlowAgents, PreviewInput{Keys: []string{k}})
	if err != nil || len(items) != 1 || items[0].Action != ActionSkip || len(items[0].Diff) != 0 {
		t.Fatalf("unchanged record: %+v, %v", items, err)
	}
	f := b.src.sorted()[1].Fields
	f["agentName"] = "新名字"
	b.src.put(f)
	items, err = b.eng.Preview(b.ctx, FlowAgents, PreviewInput{Keys: []string{k}})
	if err != nil || len(items) != 1 || items[0].Action != ActionUpdate {
		t.Fatalf("changed record: %+v, %v", items, err)
	}
	var fields []string
	for _, c := range items[0].Diff {
		fields = append(fields, c.Field)
	}
	// The agents spec maps agentName to FName and FINVOICETITLE; nothing else differs.
	if strings.Join(fields, ",") != "FINVOICETITLE,FName" {
		t.Fatalf("diff fields = %v", fields)
	}
}

// outageSource serves the first page, then reports failed vendor attempts (as a client would, through
// the audit hook) and gives up, as a source read beyond its retry budget does.
type outageSource struct {
	*fakeSource
}

func (s outageSource) Read(ctx context.Context, q ReadQuery, page func([]SourceRecord) error) error {
	pages := 0
	return s.fakeSource.Read(ctx, q, func(recs []SourceRecord) error {
		if pages++; pages == 1 {
			return page(recs)
		}
		err := &Failure{Kind: Transient, Err: errors.New("fake list: HTTP 503")}
		for attempt := 1; attempt <= 3; attempt++ {
			RecordAttempt(ctx, Attempt{Vendor: "fake", Operation: "list", Attempt: attempt, Request: []byte(`{"page":2}`), Outcome: "transient", Err: err})
		}
		return err
	})
}

func TestFailedSourceAttemptsReachTheAuditTrail(t *testing.T) {
	b := newTestBundle(t, 10, 4, 0)
	b.rebuild(t, withSource(outageSource{fakeSource: b.src}))
	r := b.sync(t, Options{})
	if r.Status != StatusFailed || r.Counts.Added != 4 || r.Counts.Retried != 2 {
		t.Fatalf("run %+v %s", r.Counts, r.Error)
	}
	rows, _, err := b.eng.RunRecords(b.ctx, r.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, row := range rows {
		if row.Action == "call" && row.Operation == "list" && row.Outcome == "transient" {
			failed++
		}
	}
	if failed != 3 {
		t.Fatalf("%d of the 3 failed read attempts are in the audit trail", failed)
	}
	if stored, _ := b.st.GetRun(b.ctx, r.ID); stored.Counts.Retried != 2 {
		t.Fatalf("stored counts %+v", stored.Counts)
	}
}

// panicTarget panics while armed, as a flow with a bug would.
type panicTarget struct {
	*fakeTarget
	armed *atomic.Bool
}

func (t panicTarget) Write(ctx context.Context, items []Planned) []Delivery {
	if t.armed.Load() {
		panic("flow bug")
	}
	return t.fakeTarget.Write(ctx, items)
}

func TestAPanickingFlowFailsItsRunNotTheGateway(t *testing.T) {
	b := newTestBundle(t, 3, 3, 0)
	armed := &atomic.Bool{}
	armed.Store(true)
	b.rebuild(t, withTarget(panicTarget{b.tgt, armed}))
	r := b.sync(t, Options{})
	if r.Status != StatusFailed || strings.Contains(r.Error, "flow bug") {
		t.Fatalf("run = %+v", r)
	}
	if stored, _ := b.st.GetRun(b.ctx, r.ID); stored.Status != string(StatusFailed) {
		t.Fatalf("stored run = %+v", stored)
	}
	// The flow is free again.
	armed.Store(false)
	if r := b.sync(t, Options{}); r.Status != StatusSucceeded || r.Counts.Added != 3 {
		t.Fatalf("next run = %+v", r)
	}
}

func TestListAndRecordsInputChecks(t *testing.T) {
	b := newTestBundle(t, 5, 5, 0)
	if _, _, err := b.eng.ListRuns(b.ctx, ListFilter{Status: "exploded"}); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("unknown status: %v", err)
	}
	r := b.sync(t, Options{DryRun: true})
	recs, next, err := b.eng.RunRecords(b.ctx, r.ID, "", 0) // default page size, not an endless empty page
	if err != nil || len(recs) != 5 || next != "" {
		t.Fatalf("dry run records = %d %q %v", len(recs), next, err)
	}
	// A dry run keeps a bounded number of outcomes in memory, and says so.
	b.rebuild(t, withConfig(func(c *Config) { c.DryRunRecords = 3 }))
	r = b.sync(t, Options{DryRun: true})
	recs, _, _ = b.eng.RunRecords(b.ctx, r.ID, "", 100)
	if r.Counts.Added != 5 || len(recs) != 4 || recs[3].Outcome != "truncated" {
		t.Fatalf("bounded dry run: %+v, %+v", r.Counts, recs)
	}
}

func TestRunOptions(t *testing.T) {
	// 12 records, three per minute from base: minutes 0..3.
	const unchanged = -1
	tests := []struct {
		name string
		// prior runs a complete sync first.
		prior     bool
		opts      func(b *tbundle) Options
		wantRead  int64
		wantAdded int64
		// wantCP is the index of the record the checkpoint ends at, or unchanged.
		wantCP int
	}{
		{name: "window", opts: func(b *tbundle) Options {
			return Options{Window: &Window{Start: b.base.Add(time.Minute), End: b.base.Add(2 * time.Minute)}}
		}, wantRead: 6, wantAdded: 6, wantCP: unchanged},
		{name: "source keys", opts: func(b *tbundle) Options {
			return Options{SourceKeys: []string{"A0001", "A0007", "A0099"}}
		}, wantRead: 2, wantAdded: 2, wantCP: unchanged},
		{name: "limit", opts: func(*tbundle) Options { return Options{Limit: 5} }, wantRead: 5, wantAdded: 5, wantCP: 4},
		{name: "limit below the source keys", opts: func(*tbundle) Options {
			return Options{SourceKeys: []string{"A0001", "A0002", "A0003"}, Limit: 2}
		}, wantRead: 2, wantAdded: 2, wantCP: unchanged},
		{name: "full resync after a sync writes nothing", prior: true, opts: func(*tbundle) Options {
			return Options{FullResync: true}
		}, wantRead: 12, wantAdded: 0, wantCP: 11},
		{name: "full resync of a new database", opts: func(*tbundle) Options {
			return Options{FullResync: true}
		}, wantRead: 12, wantAdded: 12, wantCP: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBundle(t, 12, 5, 0)
			if tt.prior {
				b.sync(t, Options{})
			}
			before, hadCP, _ := b.st.Checkpoint(b.ctx, FlowAgents)
			writes := b.tgt.writes
			r := b.sync(t, tt.opts(b))
			if r.Status != StatusSucceeded || r.Counts.Read != tt.wantRead || r.Counts.Added != tt.wantAdded || r.Counts.Updated != 0 {
				t.Fatalf("run %+v %s", r.Counts, r.Error)
			}
			if got := int64(b.tgt.writes - writes); got != tt.wantAdded {
				t.Fatalf("%d target writes, want %d", got, tt.wantAdded)
			}
			after, hasCP, _ := b.st.Checkpoint(b.ctx, FlowAgents)
			if tt.wantCP == unchanged {
				if hasCP != hadCP || !sameCursor(after, before) {
					t.Fatalf("checkpoint moved from %+v to %+v", before, after)
				}
			} else if want := b.src.sorted()[tt.wantCP].Cursor; !hasCP || !sameCursor(after, want) {
				t.Fatalf("checkpoint %+v, want %+v", after, want)
			}
		})
	}
}

func TestShutdownCancelsRunsAndRefusesNewOnes(t *testing.T) {
	b := newTestBundle(t, 6, 2, 0)
	bt := &blockingTarget{fakeTarget: b.tgt, release: make(chan struct{})}
	b.rebuild(t, withTarget(bt))
	r, err := b.eng.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	watch, err := b.eng.Watch(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	bt.release <- struct{}{} // one page delivered
	waitForAdded(t, watch, 2)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if err := b.eng.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ := b.st.GetRun(b.ctx, r.ID)
	maps, _ := b.st.CountMappings(b.ctx, FlowAgents)
	if stored.Status != string(StatusCancelled) || maps != len(b.tgt.bodies) || maps != 2 {
		t.Fatalf("after shutdown: run %s, %d mappings for %d delivered", stored.Status, maps, len(b.tgt.bodies))
	}
	if _, err := b.eng.Start(b.ctx, FlowAgents, Options{}); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("start after shutdown: %v", err)
	}
}

// recordFromFields makes the fake source's record of an agent-shaped map (agentId, updateTime).
func recordFromFields(fields mapping.Record) (SourceRecord, error) {
	id, _ := fields["agentId"].(string)
	if id == "" {
		return SourceRecord{}, errors.New("agent without agentId")
	}
	var t time.Time
	if s, _ := fields["updateTime"].(string); s != "" {
		var err error
		if t, err = time.ParseInLocation(vendor.DateTimeLayout, s, vendor.GMT8()); err != nil {
			return SourceRecord{}, fmt.Errorf("agent %s: %w", id, err)
		}
	}
	return SourceRecord{Key: id, Cursor: storage.Cursor{Time: t, Key: id}, Fields: fields}, nil
}

// waitForAdded reads a run's snapshots until its committed counts show n records added.
func waitForAdded(t *testing.T, ch <-chan Run, n int64) {
	t.Helper()
	for r := range ch {
		if r.Counts.Added >= n {
			return
		}
		if r.Done() {
			t.Fatalf("run ended with %d added, waiting for %d: %+v", r.Counts.Added, n, r)
		}
	}
	t.Fatalf("watch closed before %d records were added", n)
}

// FilterRunRecords keeps the rows of one action and outcome, for stored runs and for dry runs (kept in
// memory), and a page token continues the same filter.
func TestFilterRunRecords(t *testing.T) {
	b := newTestBundle(t, 5, 5, 0)
	for _, dry := range []bool{false, true} {
		r := b.sync(t, Options{DryRun: dry, FullResync: true})
		all, _, err := b.eng.RunRecords(b.ctx, r.ID, "", 100)
		if err != nil || len(all) == 0 {
			t.Fatalf("dry %v: records %v %v", dry, all, err)
		}
		want := all[0].Action
		var got []RecordOutcome
		tok := ""
		for {
			page, next, err := b.eng.FilterRunRecords(b.ctx, r.ID, RecordFilter{Action: want, Outcome: all[0].Outcome}, tok, 2)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			tok = next
		}
		n := 0
		for _, rec := range all {
			if rec.Action == want && rec.Outcome == all[0].Outcome {
				n++
			}
		}
		if len(got) != n || n == 0 {
			t.Fatalf("dry %v: %d filtered rows, want %d", dry, len(got), n)
		}
		for _, rec := range got {
			if rec.Action != want || rec.Outcome != all[0].Outcome {
				t.Fatalf("dry %v: row %+v does not match the filter", dry, rec)
			}
		}
		if none, _, _ := b.eng.FilterRunRecords(b.ctx, r.ID, RecordFilter{Outcome: "discarded"}, "", 100); len(none) != 0 {
			t.Fatalf("dry %v: discarded rows %+v", dry, none)
		}
	}
}

// TestOverlapRereadsAreCountedNotRecorded: an incremental run reads the overlap before its checkpoint
// again; the records there it finds unchanged are counted as skipped but leave no trail rows, so
// that runs with nothing new do not write the same records again each time. A record changed in the
// overlap, or one that arrives late in it, is still delivered and recorded, and a full resync still
// records every unchanged record.
func TestOverlapRereadsAreCountedNotRecorded(t *testing.T) {
	b := newTestBundle(t, 30, 4, 5*time.Minute)
	first := b.sync(t, Options{})
	if first.Counts.Added != 30 {
		t.Fatalf("first run = %+v", first.Counts)
	}
	trail := func(r Run) map[string]string {
		t.Helper()
		rows, next, err := b.eng.RunRecords(b.ctx, r.ID, "", 1000)
		if err != nil || next != "" {
			t.Fatalf("RunRecords: %v (next %q)", err, next)
		}
		out := map[string]string{}
		for _, row := range rows {
			out[row.SourceKey] = row.Action + "/" + row.Outcome
		}
		return out
	}
	if got := trail(first); len(got) != 30 {
		t.Fatalf("first run's trail has %d records, want 30", len(got))
	}

	// Nothing new: the overlap (the last 5 minutes of update times, 15 records) is read again.
	b.advance(time.Minute)
	r := b.sync(t, Options{})
	if r.Status != StatusSucceeded || r.Counts.Read == 0 || r.Counts.Skipped != r.Counts.Read || b.tgt.writes != 30 {
		t.Fatalf("no-change run = %+v (writes %d)", r.Counts, b.tgt.writes)
	}
	if got := trail(r); len(got) != 0 {
		t.Fatalf("no-change run recorded its overlap re-reads: %v", got)
	}

	// One record in the overlap changes, and one arrives late in it: both are delivered and recorded;
	// the rest of the overlap is counted only.
	last := b.src.sorted()[29]
	b.src.put(agentFields(28, b.src.sorted()[28].Cursor.Time, "改名代理商0028"))
	b.src.put(agentFields(30, last.Cursor.Time.Add(-time.Minute), "迟到代理商"))
	b.advance(time.Minute)
	r = b.sync(t, Options{})
	if r.Counts.Updated != 1 || r.Counts.Added != 1 || r.Counts.Skipped != r.Counts.Read-2 || r.Counts.Skipped == 0 {
		t.Fatalf("run with a change in the overlap = %+v", r.Counts)
	}
	got := trail(r)
	if len(got) != 2 || got["A0028"] != "update/ok" || got["A0030"] != "add/ok" {
		t.Fatalf("trail = %v, want only the update of %s and the add of %s", got, "A0028", "A0030")
	}

	// A full resync records every unchanged record.
	b.advance(time.Minute)
	r = b.sync(t, Options{FullResync: true})
	if got := trail(r); r.Counts.Skipped != 31 || len(got) != 31 {
		t.Fatalf("full resync: counts %+v, %d trail rows, want 31 skipped and recorded", r.Counts, len(got))
	}
}
