package engine

import (
	"context"
	"fmt"

	"github.com/syncgate/syncgate/server/storage"
)

// DefaultOverviewRuns is how many of each flow's latest runs Overview returns when asked for 0.
const DefaultOverviewRuns = 5

// MaxOverviewRuns is the most latest runs per flow Overview returns.
const MaxOverviewRuns = 50

// FlowOverview is one flow's state: its schedule, latest runs, checkpoint, dead letters and the run
// in progress.
type FlowOverview struct {
	Flow     string
	Schedule Schedule
	// LastRuns are the flow's latest stored runs, newest first (a running run with its live counts).
	LastRuns []Run
	// Checkpoint is how far incremental runs have read the source; nil before the first committed page.
	Checkpoint *storage.Cursor
	// DeadLetters is the number of the flow's dead letters.
	DeadLetters int64
	// RunningRunID is the flow's run in progress (held by this engine, or its newest stored run when
	// that is running), empty when none is.
	RunningRunID string
}

// Overview returns every flow's state, by flow, with its lastRuns latest runs (0: DefaultOverviewRuns;
// at most MaxOverviewRuns).
func (e *Engine) Overview(ctx context.Context, lastRuns int) ([]FlowOverview, error) {
	switch {
	case lastRuns < 0 || lastRuns > MaxOverviewRuns:
		return nil, invalidf("last runs must be between 0 and %d", MaxOverviewRuns)
	case lastRuns == 0:
		lastRuns = DefaultOverviewRuns
	}
	schedules, err := e.ListSchedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	r := e.st.ReadOnly()
	out := make([]FlowOverview, 0, len(schedules))
	for _, s := range schedules { // one per flow, by flow
		o := FlowOverview{Flow: s.Flow, Schedule: s}
		if o.LastRuns, _, err = e.ListRuns(ctx, ListFilter{Flow: s.Flow, PageSize: lastRuns}); err != nil {
			return nil, fmt.Errorf("overview of %s: %w", s.Flow, err)
		}
		cp, ok, err := r.Checkpoint(ctx, s.Flow)
		if err != nil {
			return nil, fmt.Errorf("overview of %s: checkpoint: %w", s.Flow, err)
		}
		if ok {
			o.Checkpoint = &cp
		}
		if o.DeadLetters, err = r.CountDeadLetters(ctx, s.Flow); err != nil {
			return nil, fmt.Errorf("overview of %s: dead letters: %w", s.Flow, err)
		}
		o.RunningRunID = e.runningRun(s.Flow)
		if o.RunningRunID == "" && len(o.LastRuns) > 0 && o.LastRuns[0].Status == StatusRunning {
			// Held by no one here but stored as running (a gateway sharing the store runs it): a
			// flow's run in progress is its newest stored run.
			o.RunningRunID = o.LastRuns[0].ID
		}
		out = append(out, o)
	}
	return out, nil
}

// runningRun is the id of flow's run in progress (registered and not ended), or "".
func (e *Engine) runningRun(flow string) string {
	e.mu.Lock()
	st := e.active[flow]
	e.mu.Unlock()
	if st == nil {
		return ""
	}
	r, _ := st.snapshot()
	return r.ID
}
