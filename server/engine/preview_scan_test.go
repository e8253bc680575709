package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// scanSource pages through its records to find keys (as Zhilong must); each FetchScan announces
// itself and waits to be let go.
type scanSource struct {
	*fakeSource
	started chan struct{}
	release chan struct{}
}

func (s *scanSource) FetchScan(ctx context.Context, keys []string, maxPages int) ([]SourceRecord, int, bool, error) {
	s.started <- struct{}{}
	<-s.release
	recs, err := s.Fetch(ctx, keys)
	return recs, 1, false, err
}

// At most PreviewScans previews page through a source at once; another waits for a turn as long as
// its context allows, and gets one when a turn frees.
func TestPreviewScansRunAtMostNAtOnce(t *testing.T) {
	b := newTestBundle(t, 10, 5, 0)
	src := &scanSource{fakeSource: b.src, started: make(chan struct{}, 4), release: make(chan struct{})}
	b.rebuild(t, withSource(src), withConfig(func(c *Config) { c.PreviewScans = 1 }))
	first := make(chan error, 1)
	go func() {
		res, err := b.eng.PreviewReport(b.ctx, FlowAgents, PreviewInput{Keys: []string{"A0001"}})
		if err == nil && (len(res.Items) != 1 || res.SourcePages != 1) {
			err = errors.New("unexpected preview")
		}
		first <- err
	}()
	<-src.started // the first preview holds the only turn
	ctx, cancel := context.WithTimeout(b.ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.eng.PreviewReport(ctx, FlowAgents, PreviewInput{Keys: []string{"A0002"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second preview while the turn is held: %v, want it to wait until its deadline", err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := b.eng.PreviewReport(b.ctx, FlowAgents, PreviewInput{Keys: []string{"A0003"}})
		second <- err
	}()
	src.release <- struct{}{} // the first ends; the waiting one gets the turn
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-src.started
	src.release <- struct{}{}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}
