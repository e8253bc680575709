package engine

import "context"

// fetched is one page read ahead, or the error that ended reading.
type fetched struct {
	recs []SourceRecord
	last bool
	err  error
}

// Prefetch reads pages one ahead of the consumer: while page(n) is mapped, written and committed,
// page n+1 is already being read. next returns the page after the given state, and whether it is the
// last one. It stops when ctx ends or page returns an error.
func Prefetch[S any](ctx context.Context, start S, next func(ctx context.Context, s S) ([]SourceRecord, S, bool, error), page func([]SourceRecord) error) error {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan fetched, 1)
	// The reader goroutine has ended when Prefetch returns, so no vendor attempt of this read
	// happens after the run's last commit.
	defer func() {
		cancel()
		for range ch {
		}
	}()
	go func() {
		defer close(ch)
		s := start
		for {
			recs, ns, last, err := next(ctx, s)
			select {
			case ch <- fetched{recs, last, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || last {
				return
			}
			s = ns
		}
	}()
	for f := range ch {
		if f.err != nil {
			return f.err
		}
		if len(f.recs) > 0 {
			if err := page(f.recs); err != nil {
				return err
			}
		}
		if f.last {
			return nil
		}
	}
	return ctx.Err()
}
