package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
)

// printJSON writes msg as one line of protojson (the API's JSON names).
func printJSON(w io.Writer, msg proto.Message) error {
	b, err := protojson.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode %s: %w", msg.ProtoReflect().Descriptor().Name(), err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// newTable is a tabwriter for compact, left-aligned columns.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes one table row; cells lose tabs and line breaks (which would break the columns), nothing
// else: Chinese text is shown as it is.
func row(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// flowName is the command-line name of a flow.
func flowName(f v1.Flow) string {
	switch f {
	case v1.Flow_FLOW_CUSTOMERS:
		return "customers"
	case v1.Flow_FLOW_AGENTS:
		return "agents"
	}
	return strings.ToLower(strings.TrimPrefix(f.String(), "FLOW_"))
}

// parseFlow reads a flow name as the commands take it.
func parseFlow(s string) (v1.Flow, error) {
	switch strings.ToLower(s) {
	case "customers":
		return v1.Flow_FLOW_CUSTOMERS, nil
	case "agents":
		return v1.Flow_FLOW_AGENTS, nil
	}
	return 0, usageErrorf("want a flow, customers or agents, got %q", s)
}

// parseStatus reads a run status (running, succeeded, partial, failed, cancelled).
func parseStatus(s string) (v1.RunStatus, error) {
	if v, ok := v1.RunStatus_value["RUN_STATUS_"+strings.ToUpper(s)]; ok && v != 0 {
		return v1.RunStatus(v), nil
	}
	return 0, usageErrorf("--status: want running, succeeded, partial, failed or cancelled, got %q", s)
}

func statusName(s v1.RunStatus) string { return strings.TrimPrefix(s.String(), "RUN_STATUS_") }

func triggerName(t v1.Trigger) string {
	if t == v1.Trigger_TRIGGER_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(t.String(), "TRIGGER_"))
}

func actionName(a v1.Action) string {
	if a == v1.Action_ACTION_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(a.String(), "ACTION_"))
}

// fmtTime shows a timestamp in the session's zone; "" when unset.
func (s *session) fmtTime(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().In(s.loc()).Format("2006-01-02 15:04:05")
}

// fmtDuration rounds a duration for display.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// elapsed is how long the run has taken: to its end, or to now while it runs (the clock is read
// only then).
func (s *session) elapsed(r *v1.Run) time.Duration {
	if r.GetStartedAt() == nil || r.GetFinishedAt() != nil {
		return s.elapsedAt(r, time.Time{})
	}
	return s.elapsedAt(r, s.now())
}

// elapsedAt is elapsed with the clock read once by the caller.
func (s *session) elapsedAt(r *v1.Run, now time.Time) time.Duration {
	if r.GetStartedAt() == nil {
		return 0
	}
	end := now
	if r.GetFinishedAt() != nil {
		end = r.GetFinishedAt().AsTime()
	}
	return max(end.Sub(r.GetStartedAt().AsTime()), 0)
}

// countsText is a run's counts in one line.
func countsText(c *v1.RunCounts) string {
	return fmt.Sprintf("read %d  added %d  updated %d  skipped %d  failed %d  retried %d",
		c.GetRead(), c.GetAdded(), c.GetUpdated(), c.GetSkipped(), c.GetFailed(), c.GetRetried())
}

// printRun shows one run as a block of labelled lines.
func (s *session) printRun(r *v1.Run) {
	t := newTable(s.stdout)
	row(t, "run", r.GetId())
	row(t, "flow", flowName(r.GetFlow()))
	row(t, "status", statusName(r.GetStatus()))
	trig := triggerName(r.GetTrigger())
	if r.GetActor() != "" {
		trig += " by " + r.GetActor()
	}
	row(t, "trigger", trig)
	var opts []string
	if r.GetDryRun() {
		opts = append(opts, "dry run")
	}
	if r.GetFullResync() {
		opts = append(opts, "full resync")
	}
	if r.GetLimit() > 0 {
		opts = append(opts, fmt.Sprintf("limit %d", r.GetLimit()))
	}
	if len(r.GetSourceKeys()) > 0 {
		opts = append(opts, "keys "+strings.Join(r.GetSourceKeys(), ","))
	}
	if len(opts) > 0 {
		row(t, "options", strings.Join(opts, ", "))
	}
	if w := r.GetWindow(); w != nil {
		start := s.fmtTime(w.GetStart())
		if start == "" {
			start = "(beginning)"
		}
		row(t, "window", start+" .. "+s.fmtTime(w.GetEnd()))
	}
	row(t, "started", s.fmtTime(r.GetStartedAt()))
	if r.GetFinishedAt() != nil {
		row(t, "finished", fmt.Sprintf("%s (%s)", s.fmtTime(r.GetFinishedAt()), fmtDuration(s.elapsed(r))))
	} else {
		row(t, "elapsed", fmtDuration(s.elapsed(r)))
	}
	row(t, "counts", countsText(r.GetCounts()))
	if r.GetError() != "" {
		row(t, "error", r.GetError())
	}
	t.Flush()
}

// runsTable lists runs, one per line.
func (s *session) runsTable(runs []*v1.Run) {
	t := newTable(s.stdout)
	row(t, "ID", "FLOW", "STATUS", "TRIGGER", "STARTED", "DURATION", "READ", "ADDED", "UPDATED", "SKIPPED", "FAILED")
	for _, r := range runs {
		c := r.GetCounts()
		row(t, r.GetId(), flowName(r.GetFlow()), statusName(r.GetStatus()), triggerName(r.GetTrigger()),
			s.fmtTime(r.GetStartedAt()), fmtDuration(s.elapsed(r)),
			fmt.Sprint(c.GetRead()), fmt.Sprint(c.GetAdded()), fmt.Sprint(c.GetUpdated()), fmt.Sprint(c.GetSkipped()), fmt.Sprint(c.GetFailed()))
	}
	t.Flush()
}

// outcomesTable lists audit rows; withRun adds the run id column (a record's history).
func (s *session) outcomesTable(rows []*v1.RecordOutcome, withRun bool) {
	t := newTable(s.stdout)
	head := []string{"AT", "KEY", "TARGET", "ACTION", "ATTEMPT", "OUTCOME", "VENDOR", "OPERATION", "ERROR"}
	if withRun {
		head = append([]string{"AT", "RUN"}, head[2:]...)
	}
	row(t, head...)
	for _, o := range rows {
		cells := []string{s.fmtTime(o.GetAt()), o.GetSourceKey(), o.GetTargetKey(), actionName(o.GetAction()),
			fmt.Sprint(o.GetAttempt()), o.GetOutcome(), o.GetVendor(), o.GetOperation(), o.GetError()}
		if withRun {
			cells = append([]string{cells[0], o.GetRunId()}, cells[2:]...)
		}
		row(t, cells...)
	}
	t.Flush()
}

// deadLettersTable lists dead letters.
func (s *session) deadLettersTable(w io.Writer, letters []*v1.DeadLetter) {
	t := newTable(w)
	row(t, "FLOW", "KEY", "ATTEMPTS", "FIRST FAILED", "LAST FAILED", "LAST ERROR")
	for _, d := range letters {
		row(t, flowName(d.GetFlow()), d.GetSourceKey(), fmt.Sprint(d.GetAttempts()), s.fmtTime(d.GetFirstFailedAt()),
			s.fmtTime(d.GetLastFailedAt()), d.GetLastError())
	}
	t.Flush()
}

// planText describes a schedule's plan.
func planText(sc *v1.Schedule) string {
	switch {
	case sc.GetEvery() != nil:
		p := "every " + sc.GetEvery().AsDuration().String()
		if j := sc.GetJitter().AsDuration(); j > 0 {
			p += " (jitter " + j.String() + ")"
		}
		return p
	case sc.GetCron() != "":
		return "cron " + sc.GetCron()
	}
	return "none"
}

// schedulesTable lists schedules.
func (s *session) schedulesTable(list []*v1.Schedule) {
	t := newTable(s.stdout)
	row(t, "FLOW", "PLAN", "STATE", "NEXT RUN", "LAST FIRED", "LAST RUN", "LAST RESULT")
	for _, sc := range list {
		state := "active"
		if sc.GetPaused() {
			state = "paused"
		}
		row(t, flowName(sc.GetFlow()), planText(sc), state, s.fmtTime(sc.GetNextRunAt()), s.fmtTime(sc.GetLastFiredAt()),
			sc.GetLastRunId(), sc.GetLastResult())
	}
	t.Flush()
}

// prettyJSON indents a JSON text (left as it is when it is not JSON); each line gets prefix.
func prettyJSON(text, prefix string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(text), prefix, "  "); err != nil {
		return prefix + text
	}
	return prefix + b.String()
}

// overviewTables prints GetOverview: one table of flows (plan, run in progress, latest runs,
// checkpoint, dead letters), one of vendors (last attempt, counts, throttling).
func (s *session) overviewTables(o *v1.GetOverviewResponse) {
	t := newTable(s.stdout)
	row(t, "FLOW", "PLAN", "NEXT RUN", "RUNNING", "LAST RUN", "STATUS", "STARTED", "CHECKPOINT", "DEAD LETTERS")
	for _, f := range o.GetFlows() {
		plan := planText(f.GetSchedule())
		if f.GetSchedule().GetPaused() {
			plan += " (paused)"
		}
		cp := ""
		if c := f.GetCheckpoint(); c != nil {
			cp = s.fmtTime(c.GetModifiedAt()) + " " + c.GetSourceKey()
		}
		runs := f.GetLastRuns()
		if len(runs) == 0 {
			runs = []*v1.Run{nil}
		}
		for i, r := range runs {
			name, p, next, running, dl, c := flowName(f.GetFlow()), plan, s.fmtTime(f.GetSchedule().GetNextRunAt()), f.GetRunningRunId(), fmt.Sprint(f.GetDeadLetters()), cp
			if i > 0 {
				name, p, next, running, dl, c = "", "", "", "", "", ""
			}
			id, status, started := "", "", ""
			if r != nil {
				id, status, started = r.GetId(), statusName(r.GetStatus()), s.fmtTime(r.GetStartedAt())
			}
			row(t, name, p, next, running, id, status, started, c, dl)
		}
	}
	t.Flush()
	fmt.Fprintln(s.stdout)
	t = newTable(s.stdout)
	row(t, "VENDOR", "LAST CALL", "OPERATION", "RESULT", "ATTEMPTS", "FAILURES", "THROTTLED", "LAST THROTTLED")
	for _, v := range o.GetVendors() {
		result := ""
		switch {
		case v.GetLastCallAt() == nil:
		case v.GetLastOk():
			result = "ok"
		default:
			result = v.GetLastError()
		}
		row(t, v.GetVendor(), s.fmtTime(v.GetLastCallAt()), v.GetLastOperation(), result, fmt.Sprint(v.GetAttempts()),
			fmt.Sprint(v.GetFailures()), fmt.Sprint(v.GetThrottled()), s.fmtTime(v.GetLastThrottledAt()))
	}
	t.Flush()
	if r := o.GetRetention(); r != nil {
		fmt.Fprintln(s.stdout)
		fmt.Fprintln(s.stdout, s.retentionText(r))
	}
}

// retentionText is the overview's retention line: the policy and what its latest pass removed.
func (s *session) retentionText(r *v1.RetentionOverview) string {
	out := "retention: " + r.GetPolicy()
	if !r.GetEnabled() {
		out = "retention: off (keeps every run)"
	}
	p := r.GetLastPass()
	if p == nil {
		return out + "; no pass recorded yet"
	}
	out += fmt.Sprintf("; last pass %s removed %d runs (%d audit rows)", s.fmtTime(p.GetStartedAt()), p.GetRuns(), p.GetRecords())
	if p.GetRuns() > 0 {
		out += fmt.Sprintf(", %s … %s", p.GetOldestRunId(), p.GetNewestRunId())
	}
	switch {
	case p.GetError() != "":
		out += ", stopped early: " + p.GetError() + " (the next pass goes on)"
	case p.GetFinishedAt() == nil:
		out += ", not finished (running, or its gateway stopped)"
	}
	return out
}
