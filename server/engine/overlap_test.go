package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// overlapTarget is a fakeTarget whose calls listed in waitNext wait, once begun, until the call after
// them has begun: a run that does not deliver a page while the one before it is still being written
// would keep them waiting, and then they give up after a long bound and say so (missed). A call is
// numbered by the page its first record is in (pageOf; the calls' goroutines may begin in any order).
type overlapTarget struct {
	*fakeTarget
	pageOf   map[string]int
	waitNext map[int]bool
	// before, when set, gates a call: it waits for before[n] to close before writing.
	before map[int]chan struct{}

	mu               sync.Mutex
	started          map[int]chan struct{}
	inFlight, maxIn  int
	missed           []int
	endedBeforeBegun map[int]bool // call n ended before call n+1 began
	begun, ended     map[int]bool
}

// newOverlapTarget numbers calls by the pages of records they write.
func newOverlapTarget(t *fakeTarget, pages ...[]SourceRecord) *overlapTarget {
	ot := &overlapTarget{fakeTarget: t, pageOf: map[string]int{}, waitNext: map[int]bool{}, before: map[int]chan struct{}{},
		started: map[int]chan struct{}{}, endedBeforeBegun: map[int]bool{}, begun: map[int]bool{}, ended: map[int]bool{}}
	for i, p := range pages {
		for _, r := range p {
			ot.pageOf[r.Key] = i + 1
		}
	}
	return ot
}

// pagesOf cuts recs into pages of size n.
func pagesOf(recs []SourceRecord, n int) [][]SourceRecord {
	var out [][]SourceRecord
	for start := 0; start < len(recs); start += n {
		out = append(out, recs[start:min(start+n, len(recs))])
	}
	return out
}

func (t *overlapTarget) startedCh(n int) chan struct{} {
	if t.started[n] == nil {
		t.started[n] = make(chan struct{})
	}
	return t.started[n]
}

func (t *overlapTarget) Write(ctx context.Context, items []Planned) []Delivery {
	t.mu.Lock()
	n := t.pageOf[items[0].Record.Key]
	if !t.begun[n] { // a page written again (by a later run) has begun already
		close(t.startedCh(n))
		t.begun[n] = true
	}
	next := t.startedCh(n + 1)
	t.endedBeforeBegun[n-1] = t.ended[n-1]
	t.inFlight++
	t.maxIn = max(t.maxIn, t.inFlight)
	wait, gate := t.waitNext[n], t.before[n]
	t.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if wait {
		select {
		case <-next:
		case <-time.After(20 * time.Second): // a bound for a broken engine, not a wait for the test
			t.mu.Lock()
			t.missed = append(t.missed, n)
			t.mu.Unlock()
		}
	}
	out := t.fakeTarget.Write(ctx, items)
	t.mu.Lock()
	t.inFlight--
	t.ended[n] = true
	t.mu.Unlock()
	return out
}

func overlapping(f *Flow) { f.OverlapWrites = true }

// With OverlapWrites a page is delivered while the page before it is still being written; every
// record is delivered once, the counts and the checkpoint are those of a run without overlap.
func TestOverlappedPagesDeliverEachRecordOnce(t *testing.T) {
	b := newTestBundle(t, 12, 4, 0)
	ot := newOverlapTarget(b.tgt, pagesOf(b.src.sorted(), 4)...)
	ot.waitNext[1], ot.waitNext[2] = true, true
	b.rebuild(t, withTarget(ot), withFlow(overlapping))
	r := b.sync(t, Options{})
	if r.Status != StatusSucceeded || r.Counts.Read != 12 || r.Counts.Added != 12 {
		t.Fatalf("run %s %+v (%s)", r.Status, r.Counts, r.Error)
	}
	if len(ot.missed) > 0 || ot.maxIn != 2 {
		t.Fatalf("calls %v waited in vain; at most %d calls in flight, want 2", ot.missed, ot.maxIn)
	}
	if len(b.tgt.bodies) != 12 {
		t.Fatalf("%d target records, want 12", len(b.tgt.bodies))
	}
	recs := b.src.sorted()
	cp, ok, err := b.st.Checkpoint(b.ctx, FlowAgents)
	if last := recs[len(recs)-1].Cursor; err != nil || !ok || !cp.Time.Equal(last.Time) || cp.Key != last.Key {
		t.Fatalf("checkpoint %+v %v %v, want the last record's cursor", cp, ok, err)
	}
	stored, err := b.eng.GetRun(b.ctx, r.ID)
	if err != nil || stored.Counts != r.Counts {
		t.Fatalf("stored counts %+v, %v; the run said %+v", stored.Counts, err, r.Counts)
	}
	// A rerun finds everything unchanged.
	if r := b.sync(t, Options{FullResync: true}); r.Counts.Skipped != 12 || len(b.tgt.bodies) != 12 {
		t.Fatalf("rerun %+v, %d target records", r.Counts, len(b.tgt.bodies))
	}
}

// A record of a page that the page before is still writing waits for that write to land: it is then
// planned as an update of what was just created, not as a second create.
func TestOverlapWaitsForARecordStillBeingWritten(t *testing.T) {
	b := newTestBundle(t, 4, 4, 0)
	recs := b.src.sorted()
	newer, err := recordFromFields(agentFields(3, b.base.Add(time.Hour), "植隆代理商0003 改名"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := recordFromFields(agentFields(9, b.base.Add(time.Hour), "植隆代理商0009"))
	if err != nil {
		t.Fatal(err)
	}
	handed := make(chan struct{}) // closed when the source hands out the second page
	src := &handingSource{pagesSource: pagesSource{b.src, [][]SourceRecord{recs, {newer, other}}}, before: map[int]chan struct{}{1: handed}}
	ot := newOverlapTarget(b.tgt, recs, []SourceRecord{newer, other})
	ot.before[1] = handed // the first write is under way while the second page is planned
	b.rebuild(t, withTarget(ot), withSource(src), withFlow(overlapping))
	r := b.sync(t, Options{})
	if r.Status != StatusSucceeded || r.Counts.Added != 5 || r.Counts.Updated != 1 {
		t.Fatalf("run %s %+v (%s): want 5 adds and 1 update", r.Status, r.Counts, r.Error)
	}
	if len(b.tgt.bodies) != 5 {
		t.Fatalf("%d target records, want 5 (a duplicate was created)", len(b.tgt.bodies))
	}
	if !ot.endedBeforeBegun[1] {
		t.Fatal("the second page was written while the first, which holds one of its records, was still being written")
	}
}

// handingSource is a pagesSource that closes before[i] just before handing out page i (from 0).
type handingSource struct {
	pagesSource
	before map[int]chan struct{}
}

func (s *handingSource) Read(ctx context.Context, q ReadQuery, page func([]SourceRecord) error) error {
	for i, p := range s.pages {
		if c := s.before[i]; c != nil {
			close(c)
		}
		if err := page(p); err != nil {
			return err
		}
	}
	return nil
}

// A page whose delivery fails while the next page is being delivered: the run fails, the checkpoint
// stays before the failed page, the next page's deliveries are committed (mapped, so nothing is
// created twice), and the next run delivers what is left.
func TestOverlappedFailedPageKeepsTheCheckpoint(t *testing.T) {
	b := newTestBundle(t, 12, 4, 0)
	recs := b.src.sorted()
	b.tgt.transient = map[string]bool{recs[5].Key: true} // in the second page
	ot := newOverlapTarget(b.tgt, pagesOf(recs, 4)...)
	ot.waitNext[2] = true // the third page is being delivered when the second fails
	b.rebuild(t, withTarget(ot), withFlow(overlapping))
	r := b.sync(t, Options{})
	if r.Status != StatusFailed {
		t.Fatalf("run %s %+v, want failed", r.Status, r.Counts)
	}
	if len(ot.missed) > 0 {
		t.Fatalf("calls %v waited in vain", ot.missed)
	}
	cp, ok, err := b.st.Checkpoint(b.ctx, FlowAgents)
	if err != nil || !ok || !cp.Time.Equal(recs[3].Cursor.Time) || cp.Key != recs[3].Key {
		t.Fatalf("checkpoint %+v %v %v, want the first page's last cursor %+v", cp, ok, err, recs[3].Cursor)
	}
	keys := make([]string, len(recs))
	for i, rec := range recs {
		keys[i] = rec.Key
	}
	m, err := b.st.Mappings(b.ctx, FlowAgents, keys)
	if err != nil || len(m) != 11 {
		t.Fatalf("%d mappings (%v), want the 11 delivered", len(m), err)
	}
	b.tgt.transient = nil
	r = b.sync(t, Options{})
	if r.Status != StatusSucceeded || r.Counts.Added != 1 || r.Counts.Skipped != 7 {
		t.Fatalf("next run %s %+v: want the failed record added and the second and third pages' others skipped", r.Status, r.Counts)
	}
	if len(b.tgt.bodies) != 12 {
		t.Fatalf("%d target records, want 12", len(b.tgt.bodies))
	}
}

// A page commit that fails while pages are delivered overlapped: the run fails and no checkpoint
// passes the page that did not commit. As without overlap, the page whose commit was to follow it is
// not committed; the page delivered after that is (its mappings, without a checkpoint), and no page
// after it is read.
func TestOverlappedFailedCommitMovesNoCheckpoint(t *testing.T) {
	b := newTestBundle(t, 16, 4, 0)
	b.rebuild(t, withStore(func(st storage.Store) storage.Store { return &gatedCommits{Store: st, fail: map[int]bool{1: true}} }),
		withFlow(overlapping))
	r := b.sync(t, Options{})
	if r.Status != StatusFailed {
		t.Fatalf("status %s, want failed (%s)", r.Status, r.Error)
	}
	if _, ok, err := b.st.Checkpoint(b.ctx, FlowAgents); err != nil || ok {
		t.Errorf("checkpoint written (%v, %v) although the first page never committed", ok, err)
	}
	if b.tgt.writes != 12 {
		t.Errorf("%d target writes: want three pages (12), the fourth never read", b.tgt.writes)
	}
	recs := b.src.sorted()
	keys := make([]string, len(recs))
	for i, rec := range recs {
		keys[i] = rec.Key
	}
	m, err := b.st.Mappings(b.ctx, FlowAgents, keys)
	if err != nil || len(m) != 4 {
		t.Fatalf("%d mappings (%v), want the third page's 4", len(m), err)
	}
	for _, rec := range recs[8:12] {
		if _, ok := m[rec.Key]; !ok {
			t.Fatalf("no mapping for %s of the third page", rec.Key)
		}
	}
	r = b.sync(t, Options{})
	if r.Status != StatusSucceeded || r.Counts.Read != 16 || r.Counts.Skipped != 4 {
		t.Fatalf("next run %s %+v: want the third page skipped", r.Status, r.Counts)
	}
}
