package main

import (
	"fmt"
	"slices"
	"strings"
)

// target is one figure the issue sets a target for, beside what the bench measured.
type target struct {
	figure   string  // what was measured, e.g. "SyncCustomers share of raw, N=100000, sqlite"
	value    float64 // the measured value, in unit
	unit     string  // "%", "B", "×", "ms", …
	atMost   bool    // the target is an upper bound (else a lower bound)
	limit    float64 // the target, in unit
	measured bool    // false: the figure could not be measured (value is meaningless)
}

// met reports whether the measured value meets its target.
func (t target) met() bool {
	if !t.measured {
		return false
	}
	if t.atMost {
		return t.value <= t.limit
	}
	return t.value >= t.limit
}

// targets collects the figures of one bench run in the order they were measured.
type targets struct{ list []target }

// atLeast records a figure whose target is a lower bound.
func (ts *targets) atLeast(figure string, value float64, unit string, limit float64) {
	ts.list = append(ts.list, target{figure: figure, value: value, unit: unit, limit: limit, measured: true})
}

// atMost records a figure whose target is an upper bound.
func (ts *targets) atMost(figure string, value float64, unit string, limit float64) {
	ts.list = append(ts.list, target{figure: figure, value: value, unit: unit, atMost: true, limit: limit, measured: true})
}

// format prints a value with the precision its unit wants.
func format(v float64, unit string) string {
	switch unit {
	case "×":
		return fmt.Sprintf("%.3f×", v)
	case "%":
		return fmt.Sprintf("%.1f%%", v)
	default:
		return fmt.Sprintf("%.0f %s", v, unit)
	}
}

// print writes the figures beside their targets as a Markdown table.
func (ts *targets) print() {
	if len(ts.list) == 0 {
		return
	}
	var b strings.Builder
	met := 0
	b.WriteString("\nEach figure beside its target (issue #16):\n\n| figure | measured | target | met |\n|---|---|---|---|\n")
	for _, t := range ts.list {
		op, got, ok := "≥", "not measured", "no"
		if t.atMost {
			op = "≤"
		}
		if t.measured {
			got = format(t.value, t.unit)
		}
		if t.met() {
			ok = "yes"
			met++
		}
		fmt.Fprintf(&b, "| %s | %s | %s %s | %s |\n", t.figure, got, op, format(t.limit, t.unit), ok)
	}
	fmt.Fprintf(&b, "\n%d of %d targets met.\n", met, len(ts.list))
	fmt.Print(b.String())
}

// quotaTargets adds the quota measurements' figures: sustained delivery ≥ 90% of Q, ≤ 2% of calls
// throttled, no record dead-lettered.
func quotaTargets(ts *targets, results []quotaResult) {
	for _, r := range results {
		calls := r.accepted + r.throttled
		name := fmt.Sprintf("quota %.0f/s, N=%d", r.q, r.n)
		ts.atLeast(name+": sustained delivery / Q", 100*r.sustained/r.q, "%", 90)
		ts.atMost(name+": calls throttled", 100*float64(r.throttled)/float64(max(calls, 1)), "%", 2)
		ts.atMost(name+": records dead-lettered or lost", float64(r.failed+max(int64(r.n)-r.added-r.failed, 0)), "records", 0)
	}
}

// scaleTargets adds one scale measurement's figures: SyncCustomers' share of the raw Greatonce rate
// (≥ 85%, ≥ 80% from 1M records), SyncAgents' share of the raw BatchSave rate (≥ 60%) and the storage figures (≤ 500 bytes per delivered record, ≤ 1.3×
// after the resyncs and reruns).
func scaleTargets(ts *targets, r result) {
	name := fmt.Sprintf("N=%d %s", r.n, r.backend)
	if r.pinned != "" {
		name += " (" + r.pinned + ")"
	}
	share := 85.0
	if r.n >= 1_000_000 {
		share = 80
	}
	if r.rawRate > 0 && r.custTime > 0 {
		ts.atLeast(name+": SyncCustomers share of raw Greatonce rate", 100*float64(r.custRecords)/r.custTime.Seconds()/r.rawRate, "%", share)
	}
	if r.bsRate > 0 && r.agentTime > 0 {
		ts.atLeast(name+": SyncAgents share of raw BatchSave rate", 100*float64(r.agentRecords)/r.agentTime.Seconds()/r.bsRate, "%", 60)
	}
	if g := r.growth; g != nil {
		ts.atMost(name+": database bytes per delivered record", g.bytesPerRecord(), "B", 500)
		ts.atMost(fmt.Sprintf("%s: database after %d full resyncs and %d no-change reruns / after the first sync", name, g.resyncs, g.reruns), g.factor(), "×", 1.3)
	}
}

// readersTargets adds the read API figures of each paced round: p99 of each method ≤ 250 ms, and the
// sync with readers at ≥ 80% of its rate without them (the closed loop is information only).
func readersTargets(ts *targets, runs []readersRun) {
	var base readersRun
	for _, r := range runs {
		if r.readers == 0 {
			base = r
			continue
		}
		if r.pace == 0 {
			continue
		}
		name := fmt.Sprintf("read API, %d readers paced %s, round %d", r.readers, r.pace, r.round)
		for m := range readMethods {
			s := r.stats[m]
			slices.Sort(s.lat)
			ts.atMost(name+": "+readNames[m]+" p99", float64(percentile(s.lat, 0.99).Microseconds())/1000, "ms", float64(readP99Target.Microseconds())/1000)
		}
		ts.atLeast(name+": SyncCustomers records/s / the round's run without readers", 100*r.rate()/base.rate(), "%", 100*readRatioTarget)
	}
}
