package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// progress is a run's live counts: the counts of its landed pages, plus those of each page still
// being delivered (what its planning counted and what the target has reported delivered since, see
// ReportDelivery). Watchers see records move while a page is delivered, not only when it commits;
// the stored counts still change only with commits.
type progress struct {
	mu      sync.Mutex
	base    Counts
	pages   []*pageProgress
	version atomic.Int64
}

// pageProgress is one page's part of the live counts while it is delivered.
type pageProgress struct {
	p *progress
	// planned is what the page's planning counted (read, skipped, failed), set before its delivery.
	planned                Counts
	added, updated, failed atomic.Int64
}

// begin adds a page being delivered, with what its planning counted.
func (p *progress) begin(planned Counts) *pageProgress {
	pp := &pageProgress{p: p, planned: planned}
	p.mu.Lock()
	p.pages = append(p.pages, pp)
	p.mu.Unlock()
	p.version.Add(1)
	return pp
}

// land removes a delivered page: its counts are now part of c, the run's counts.
func (p *progress) land(pp *pageProgress, c Counts) {
	p.mu.Lock()
	p.pages = slices.DeleteFunc(p.pages, func(q *pageProgress) bool { return q == pp })
	p.base = c
	p.mu.Unlock()
	p.version.Add(1)
}

// set makes c the run's counts (no page being delivered counts in them).
func (p *progress) set(c Counts) {
	p.mu.Lock()
	p.base = c
	p.mu.Unlock()
	p.version.Add(1)
}

func (p *progress) counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.base
	for _, pp := range p.pages {
		c.Read += pp.planned.Read
		c.Skipped += pp.planned.Skipped
		c.Failed += pp.planned.Failed + pp.failed.Load()
		c.Added += pp.added.Load()
		c.Updated += pp.updated.Load()
	}
	return c
}

type progressKey struct{}

func withProgress(ctx context.Context, pp *pageProgress) context.Context {
	return context.WithValue(ctx, progressKey{}, pp)
}

// ReportDelivery tells the run delivering on ctx that one record's delivery has ended, as d says,
// before the target's Write returns: targets that deliver a batch in many calls call it as each
// ends, so that a run's progress moves while a page is delivered. Calling it is optional, it is cheap,
// and outside a run it does nothing.
func ReportDelivery(ctx context.Context, d Delivery) {
	pp, _ := ctx.Value(progressKey{}).(*pageProgress)
	if pp == nil {
		return
	}
	switch {
	case d.Err == nil && d.Action == ActionAdd:
		pp.added.Add(1)
	case d.Err == nil:
		pp.updated.Add(1)
	case IsPermanent(d.Err):
		pp.failed.Add(1)
	default:
		return
	}
	pp.p.version.Add(1)
}

// publishProgress publishes the live counts to the run's watchers every progress interval while they
// change, until the returned function is called.
func (ru *runner) publishProgress() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(ru.e.cfg.ProgressInterval)
		defer t.Stop()
		var seen int64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if v := ru.progress.version.Load(); v != seen {
				seen = v
				c := ru.progress.counts()
				ru.st.update(func(r *Run) { r.Counts = maxCounts(r.Counts, c) })
			}
			if ru.e.cfg.Shared && !ru.opts.DryRun {
				ru.publishShared()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// publishShared puts the run's live counts in the store, for whoever follows the run from another
// gateway, and stops the run when a cancel request has been stored (it may come from any gateway).
func (ru *runner) publishShared() {
	r, _ := ru.st.snapshot()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stop, err := ru.e.st.PublishProgress(ctx, r.ID, r.Counts)
	if err != nil {
		ru.log.Warn("publish run progress", "error", err)
		return
	}
	if stop {
		ru.st.requestStop()
	}
}

// maxCounts is the field-wise maximum: counts only grow within a run, and the live counts of a page
// may run ahead of the previous page's commit.
func maxCounts(a, b Counts) Counts {
	return Counts{Read: max(a.Read, b.Read), Added: max(a.Added, b.Added), Updated: max(a.Updated, b.Updated),
		Skipped: max(a.Skipped, b.Skipped), Failed: max(a.Failed, b.Failed), Retried: max(a.Retried, b.Retried)}
}
