package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// progress is a run's live counts inside a page: the counts when the page's deliveries began, plus
// what the target has reported delivered since (ReportDelivery). Watchers see records move while a
// page is delivered, not only when it commits; the stored counts still change only with commits.
type progress struct {
	mu                     sync.Mutex
	base                   Counts
	added, updated, failed atomic.Int64
	version                atomic.Int64
}

func (p *progress) startPage(c Counts) {
	p.mu.Lock()
	p.base = c
	p.added.Store(0)
	p.updated.Store(0)
	p.failed.Store(0)
	p.mu.Unlock()
	p.version.Add(1)
}

func (p *progress) counts() Counts {
	p.mu.Lock()
	c := p.base
	p.mu.Unlock()
	c.Added += p.added.Load()
	c.Updated += p.updated.Load()
	c.Failed += p.failed.Load()
	return c
}

type progressKey struct{}

func withProgress(ctx context.Context, p *progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

// ReportDelivery tells the run delivering on ctx that one record's delivery has ended, as d says,
// before the target's Write returns: targets that deliver a batch in many calls call it as each
// ends, so that a run's progress moves while a page is delivered. Calling it is optional, it is cheap,
// and outside a run it does nothing.
func ReportDelivery(ctx context.Context, d Delivery) {
	p, _ := ctx.Value(progressKey{}).(*progress)
	if p == nil {
		return
	}
	switch {
	case d.Err == nil && d.Action == ActionAdd:
		p.added.Add(1)
	case d.Err == nil:
		p.updated.Add(1)
	case IsPermanent(d.Err):
		p.failed.Add(1)
	default:
		return
	}
	p.version.Add(1)
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
