package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// gatedCommits is a store whose page commit number n (from 1) waits for hold[n] to close when set,
// and fails when fail[n] is set.
type gatedCommits struct {
	storage.Store
	mu   sync.Mutex
	n    int
	hold map[int]chan struct{}
	fail map[int]bool
}

func (g *gatedCommits) CommitPage(ctx context.Context, p storage.PageCommit) error {
	g.mu.Lock()
	g.n++
	n := g.n
	g.mu.Unlock()
	if h := g.hold[n]; h != nil {
		<-h
	}
	if g.fail[n] {
		return errors.New("disk full")
	}
	return g.Store.CommitPage(ctx, p)
}

// pagesSource hands out fixed pages.
type pagesSource struct {
	*fakeSource
	pages [][]SourceRecord
}

func (s pagesSource) Read(ctx context.Context, q ReadQuery, page func([]SourceRecord) error) error {
	for _, p := range s.pages {
		if err := page(p); err != nil {
			return err
		}
	}
	return nil
}

// A page commits while the next page is delivered. When that commit fails, the run stops: the next
// page (already delivered) is not committed, no page after it is read, and no checkpoint passes the
// page that failed to commit.
func TestFailedPageCommitStopsTheRunBeforeLaterPages(t *testing.T) {
	b := newTestBundle(t, 12, 4, 0)
	b.rebuild(t, withStore(func(st storage.Store) storage.Store { return &gatedCommits{Store: st, fail: map[int]bool{1: true}} }))
	r := b.sync(t, Options{})
	if r.Status != StatusFailed {
		t.Fatalf("status %s, want failed (%s)", r.Status, r.Error)
	}
	if b.tgt.writes != 8 {
		t.Errorf("%d target writes: want the first two pages (8), the third never read", b.tgt.writes)
	}
	if _, ok, err := b.st.Checkpoint(b.ctx, FlowAgents); err != nil || ok {
		t.Errorf("checkpoint written (%v, %v) although the first page never committed", ok, err)
	}
	keys := make([]string, 0, 12)
	for _, rec := range b.src.sorted() {
		keys = append(keys, rec.Key)
	}
	if m, err := b.st.Mappings(b.ctx, FlowAgents, keys); err != nil || len(m) != 0 {
		t.Errorf("%d mappings committed after the failed commit (err %v); want none", len(m), err)
	}
}

// A record met again in the page right after the one that delivered it is planned against the
// mapping still being committed: an update of the same target record, not a second add.
func TestNextPageSeesTheMappingsOfThePageBeingCommitted(t *testing.T) {
	b := newTestBundle(t, 4, 4, 0)
	recs := b.src.sorted()
	newer := agentFields(3, b.base.Add(time.Hour), "植隆代理商0003 改名")
	again, err := recordFromFields(newer)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	b.rebuild(t, withStore(func(st storage.Store) storage.Store {
		return &gatedCommits{Store: st, hold: map[int]chan struct{}{1: release}}
	}),
		withSource(pagesSource{b.src, [][]SourceRecord{recs, {again}}}))
	// The first page's commit is held until the second page is being written, so the second page is
	// planned while the first page's mappings are not yet in the store.
	b.tgt.onWrite = func(n int) {
		if n == 2 {
			close(release)
		}
	}
	r := b.sync(t, Options{})
	if r.Status != StatusSucceeded || r.Counts.Added != 4 || r.Counts.Updated != 1 {
		t.Fatalf("run %s %+v: want 4 adds and 1 update", r.Status, r.Counts)
	}
	if len(b.tgt.bodies) != 4 {
		t.Fatalf("%d target records, want 4 (a duplicate was created)", len(b.tgt.bodies))
	}
	m, err := b.st.Mappings(b.ctx, FlowAgents, []string{again.Key})
	if err != nil || m[again.Key].TargetKey != fmt.Sprint(4) {
		t.Fatalf("mapping of %s: %+v (err %v)", again.Key, m, err)
	}
}
