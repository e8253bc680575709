package main

import (
	"context"
	"fmt"
	"os"
	"time"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
)

// growthResult is the storage measurement: the database after every record was delivered once, and
// after full resyncs and no-change reruns of both flows on top.
type growthResult struct {
	// settled is what the settling SyncCustomers run added: the Kingdee customers SyncAgents created.
	settled int64
	// delivered is every record delivered once (both flows' first runs and the settling run).
	delivered int64
	// first and after are the database's size after the first delivery of everything and after the
	// resyncs and reruns.
	first, after    int64
	resyncs, reruns int
	// resyncTime and rerunTime are the total wall time of the resyncs and of the reruns (both flows).
	resyncTime, rerunTime time.Duration
	// resyncSkipped counts the records the resyncs found unchanged; resyncChanged those they sent.
	resyncSkipped, resyncChanged int64
	// rerunSkipped counts the records the no-change reruns read again and found unchanged: those
	// within the checkpoint overlap (-overlap) before each flow's checkpoint; rerunChanged those
	// they sent (none, in a no-change rerun).
	rerunSkipped, rerunChanged int64
}

// bytesPerRecord is the first size per delivered record.
func (g growthResult) bytesPerRecord() float64 {
	return float64(g.first) / float64(max(g.delivered, 1))
}

// factor is how much the resyncs and reruns grew the database.
func (g growthResult) factor() float64 { return float64(g.after) / float64(max(g.first, 1)) }

// measureGrowth runs after both flows' first runs (delivered records between them). SyncAgents
// created a Kingdee customer per agent, which SyncCustomers has not delivered yet; a settling
// SyncCustomers run delivers them, so that every record is delivered once and the resyncs after it
// find everything unchanged. It then measures the database (size), makes resyncs full resyncs and
// reruns no-change runs of each flow, and measures it again.
func measureGrowth(ctx context.Context, client syncgatev1.SyncServiceClient, delivered int64, resyncs, reruns int,
	size func() (int64, error)) (growthResult, error) {
	g := growthResult{resyncs: resyncs, reruns: reruns}
	wait := &syncgatev1.SyncOptions{Wait: true}
	full := &syncgatev1.SyncOptions{Wait: true, FullResync: true}
	both := func(opts *syncgatev1.SyncOptions) (skipped, changed int64, err error) {
		cr, err := client.SyncCustomers(ctx, &syncgatev1.SyncCustomersRequest{Options: opts})
		if err != nil {
			return 0, 0, fmt.Errorf("SyncCustomers: %w", err)
		}
		ar, err := client.SyncAgents(ctx, &syncgatev1.SyncAgentsRequest{Options: opts})
		if err != nil {
			return 0, 0, fmt.Errorf("SyncAgents: %w", err)
		}
		for _, r := range []*syncgatev1.Run{cr.GetRun(), ar.GetRun()} {
			if r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
				return 0, 0, fmt.Errorf("run %s ended %s: %s", r.GetId(), r.GetStatus(), r.GetError())
			}
			c := r.GetCounts()
			skipped += c.GetSkipped()
			changed += c.GetAdded() + c.GetUpdated() + c.GetFailed()
		}
		return skipped, changed, nil
	}
	t0 := time.Now()
	sr, err := client.SyncCustomers(ctx, &syncgatev1.SyncCustomersRequest{Options: wait})
	if err != nil {
		return g, fmt.Errorf("settling SyncCustomers: %w", err)
	}
	g.settled = sr.GetRun().GetCounts().GetAdded()
	g.delivered = delivered + g.settled
	fmt.Fprintf(os.Stderr, "settling SyncCustomers: %v in %s\n", sr.GetRun().GetCounts(), time.Since(t0).Round(time.Millisecond))
	if g.first, err = size(); err != nil {
		return g, err
	}
	t0 = time.Now()
	for i := range resyncs {
		s, c, err := both(full)
		if err != nil {
			return g, fmt.Errorf("full resync %d: %w", i+1, err)
		}
		g.resyncSkipped += s
		g.resyncChanged += c
	}
	g.resyncTime = time.Since(t0)
	t0 = time.Now()
	for i := range reruns {
		s, c, err := both(wait)
		if err != nil {
			return g, fmt.Errorf("no-change rerun %d: %w", i+1, err)
		}
		g.rerunSkipped += s
		g.rerunChanged += c
	}
	g.rerunTime = time.Since(t0)
	if g.after, err = size(); err != nil {
		return g, err
	}
	fmt.Fprintf(os.Stderr, "growth: %d delivered, %d B first (%.0f B/record), %d resyncs (%d unchanged, %d sent) in %s, %d reruns (%d unchanged, %d sent) in %s, %d B after (%.3f×)\n",
		g.delivered, g.first, g.bytesPerRecord(), resyncs, g.resyncSkipped, g.resyncChanged, g.resyncTime.Round(time.Millisecond),
		reruns, g.rerunSkipped, g.rerunChanged, g.rerunTime.Round(time.Millisecond), g.after, g.factor())
	return g, nil
}

// printGrowth prints the storage growth measurements.
func printGrowth(results []result) {
	header := false
	for _, r := range results {
		g := r.growth
		if g == nil {
			continue
		}
		if !header {
			fmt.Printf("\nStorage: the database after every record was delivered once (both flows' first runs and a settling SyncCustomers run for the customers SyncAgents created), then after full resyncs and no-change reruns of both flows:\n\n")
			fmt.Printf("| N | backend | delivered | database | bytes per delivered record | full resyncs (unchanged / sent, time) | no-change reruns (read again in the overlap and unchanged / sent, time) | database after | growth |\n|---|---|---|---|---|---|---|---|---|\n")
			header = true
		}
		fmt.Printf("| %d | %s | %d | %.1f MiB | %.0f B | %d (%d / %d, %s) | %d (%d / %d, %s) | %.1f MiB | %.3f× |\n", r.n, r.backend, g.delivered,
			float64(g.first)/(1<<20), g.bytesPerRecord(), g.resyncs, g.resyncSkipped, g.resyncChanged, g.resyncTime.Round(time.Second),
			g.reruns, g.rerunSkipped, g.rerunChanged, g.rerunTime.Round(time.Second), float64(g.after)/(1<<20), g.factor())
	}
}
