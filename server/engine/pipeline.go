package engine

import (
	"context"
	"sync"

	"github.com/syncgate/syncgate/server/storage"
)

// pendingCommit is a page commit running in the background while the next page is planned and
// delivered. A run has at most one: the page after it waits for it before starting its own, so commits
// land in page order and a failed commit stops the run before any later page is committed (a later
// checkpoint must never be written over a page that is not).
type pendingCommit struct {
	// launch starts the write (nil once started); only the run's goroutine calls it.
	launch func()
	done   chan struct{}
	err    error
	// mappings are the page's new id mappings, which the planner must see before they are in the store.
	mappings map[string]storage.Mapping
}

// pipelineReader is the run's store view: the committed mappings, overlaid with those of the page
// still being committed, so that a record met again in the next page is planned against what was
// just delivered for it (an update, not a second add).
type pipelineReader struct {
	storage.Reader
	mu      sync.Mutex
	pending *pendingCommit
}

// Mappings reads the pending page's mappings first and the store second: a commit that completes in
// between is then found in the store, and a pending entry, being newer, wins.
func (r *pipelineReader) Mappings(ctx context.Context, flow string, keys []string) (map[string]storage.Mapping, error) {
	r.mu.Lock()
	p := r.pending
	r.mu.Unlock()
	var overlay map[string]storage.Mapping
	if p != nil && len(p.mappings) > 0 {
		for _, k := range keys {
			if m, ok := p.mappings[k]; ok {
				if overlay == nil {
					overlay = map[string]storage.Mapping{}
				}
				overlay[k] = m
			}
		}
	}
	out, err := r.Reader.Mappings(ctx, flow, keys)
	if err != nil {
		return nil, err
	}
	for k, m := range overlay {
		out[k] = m
	}
	return out, nil
}

// setPending records the commit in flight (nil once it is done).
func (r *pipelineReader) setPending(p *pendingCommit) {
	r.mu.Lock()
	r.pending = p
	r.mu.Unlock()
}

// clearPending forgets p if it is still the commit in flight.
func (r *pipelineReader) clearPending(p *pendingCommit) {
	r.mu.Lock()
	if r.pending == p {
		r.pending = nil
	}
	r.mu.Unlock()
}
