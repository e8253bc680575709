package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	v1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
)

// setup parses the flags and makes the API client.
func (s *session) setup(fs *pflag.FlagSet, u *string, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	return s.dial(*u)
}

// args checks the number of positional arguments.
func nargs(fs *pflag.FlagSet, lo, hi int, want string) error {
	if n := fs.NArg(); n < lo || (hi >= 0 && n > hi) {
		return usageErrorf("want %s, got %q", want, fs.Args())
	}
	return nil
}

// pageSize is the page to ask for: what is left of limit (0: no limit), at most most.
func pageSize(limit, got, most int) int32 {
	if limit <= 0 || limit-got > most {
		return int32(most)
	}
	return int32(limit - got)
}

func cmdSync(s *session, args []string) error {
	fs, u := s.flags()
	dry := fs.Bool("dry-run", false, "plan and report, write nothing")
	full := fs.Bool("full", false, "ignore the checkpoint and read every source record (still idempotent)")
	keys := fs.StringSlice("keys", nil, "only these source records (Kingdee customer numbers, Zhilong agent ids), comma-separated")
	limit := fs.Int32("limit", 0, "stop after this many source records (0: no limit)")
	orgs := fs.StringSlice("use-orgs", nil, "customers only: only customers of these Kingdee use organisations, comma-separated")
	wait := fs.Bool("wait", false, "wait for the run to end and print it; the exit code follows its status")
	watch := fs.Bool("watch", false, "follow the run with a live progress bar (one line per second when not a terminal); the exit code follows its status")
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	if err := nargs(fs, 1, 1, "customers or agents"); err != nil {
		return err
	}
	flow, err := parseFlow(fs.Arg(0))
	if err != nil {
		return err
	}
	if *wait && *watch {
		return usageErrorf("give --wait or --watch, not both")
	}
	if len(*orgs) > 0 && flow != v1.Flow_FLOW_CUSTOMERS {
		return usageErrorf("--use-orgs applies to customers only")
	}
	opts := &v1.SyncOptions{DryRun: *dry, FullResync: *full, Limit: *limit, SourceKeys: *keys, Wait: *wait}
	var resp runResponse
	if flow == v1.Flow_FLOW_CUSTOMERS {
		resp, err = s.client.SyncCustomers(s.ctx, &v1.SyncCustomersRequest{Options: opts, UseOrgNumbers: *orgs})
	} else {
		resp, err = s.client.SyncAgents(s.ctx, &v1.SyncAgentsRequest{Options: opts})
	}
	if err != nil {
		return fmt.Errorf("start the %s run: %w", flowName(flow), err)
	}
	return s.afterStart(resp, *wait, *watch)
}

// afterStart finishes a command that started a run: follow it, show its end, or print its id.
func (s *session) afterStart(resp runResponse, wait, watch bool) error {
	run := resp.GetRun()
	switch {
	case watch:
		return s.follow(run)
	case s.json:
		if err := printJSON(s.stdout, resp); err != nil {
			return err
		}
	case wait:
		s.printRun(run)
	default:
		fmt.Fprintln(s.stdout, run.GetId())
		fmt.Fprintf(s.stderr, "started %s run %s; follow it with: syncgate run %s\n", flowName(run.GetFlow()), run.GetId(), run.GetId())
	}
	if wait {
		return runExit(run)
	}
	return nil
}

// runExit maps a run's final status to the command's end.
func runExit(r *v1.Run) error {
	switch r.GetStatus() {
	case v1.RunStatus_RUN_STATUS_SUCCEEDED:
		return nil
	case v1.RunStatus_RUN_STATUS_PARTIAL:
		return exitErr{ExitRunPartial}
	}
	return exitErr{ExitRunFailed}
}

func cmdRuns(s *session, args []string) error {
	fs, u := s.flags()
	flowArg := fs.String("flow", "", "only this flow: customers or agents")
	statusArg := fs.String("status", "", "only this status: running, succeeded, partial, failed or cancelled")
	limit := fs.Int("limit", 20, "show at most this many runs (0: all)")
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	if err := nargs(fs, 0, 0, "no arguments"); err != nil {
		return err
	}
	req := &v1.ListRunsRequest{}
	var err error
	if *flowArg != "" {
		if req.Flow, err = parseFlow(*flowArg); err != nil {
			return err
		}
	}
	if *statusArg != "" {
		if req.Status, err = parseStatus(*statusArg); err != nil {
			return err
		}
	}
	var runs []*v1.Run
	for {
		req.PageSize = pageSize(*limit, len(runs), 500)
		resp, err := s.client.ListRuns(s.ctx, req)
		if err != nil {
			return fmt.Errorf("list runs: %w", err)
		}
		if s.json {
			if err := printJSON(s.stdout, resp); err != nil {
				return err
			}
		}
		runs = append(runs, resp.GetRuns()...)
		if resp.GetNextPageToken() == "" || (*limit > 0 && len(runs) >= *limit) {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if !s.json {
		s.runsTable(runs)
	}
	return nil
}

func cmdRun(s *session, args []string) error {
	fs, u := s.flags()
	records := fs.Bool("records", false, "also list the run's per-record outcomes (the audit trail), all pages")
	limit := fs.Int("limit", 0, "with --records: stop after this many records (0: all)")
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	if err := nargs(fs, 1, 1, "a run id"); err != nil {
		return err
	}
	req := &v1.GetRunRequest{RunId: fs.Arg(0), IncludeRecords: *records}
	var run *v1.Run
	var rows []*v1.RecordOutcome
	for {
		if *records {
			req.PageSize = pageSize(*limit, len(rows), 1000)
		}
		resp, err := s.client.GetRun(s.ctx, req)
		if err != nil {
			return fmt.Errorf("get run %s: %w", req.RunId, err)
		}
		if s.json {
			if err := printJSON(s.stdout, resp); err != nil {
				return err
			}
		}
		run = resp.GetRun()
		rows = append(rows, resp.GetRecords()...)
		if !*records || resp.GetNextPageToken() == "" || (*limit > 0 && len(rows) >= *limit) {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if !s.json {
		s.printRun(run)
		if *records {
			fmt.Fprintln(s.stdout)
			s.outcomesTable(rows, false)
		}
	}
	return nil
}

func cmdCancel(s *session, args []string) error {
	fs, u := s.flags()
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	if err := nargs(fs, 1, 1, "a run id"); err != nil {
		return err
	}
	resp, err := s.client.CancelRun(s.ctx, &v1.CancelRunRequest{RunId: fs.Arg(0)})
	if err != nil {
		return fmt.Errorf("cancel run %s: %w", fs.Arg(0), err)
	}
	if s.json {
		return printJSON(s.stdout, resp)
	}
	fmt.Fprintf(s.stdout, "cancel requested: run %s is %s; it stops at its next page boundary (follow it with: syncgate run %s)\n",
		resp.GetRun().GetId(), statusName(resp.GetRun().GetStatus()), resp.GetRun().GetId())
	return nil
}

func cmdDeadLetters(s *session, args []string) error {
	fs, u := s.flags()
	limit := fs.Int("limit", 100, "list: show at most this many letters per flow (0: all)")
	wait := fs.Bool("wait", false, "retry: wait for the retry run to end; the exit code follows its status")
	watch := fs.Bool("watch", false, "retry: follow the retry run with a live progress bar")
	reason := fs.String("reason", "", "discard: why, for the audit trail (required)")
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	only := func(sub string, allowed ...string) error {
		for _, f := range []string{"limit", "wait", "watch", "reason"} {
			if fs.Changed(f) && !strings.Contains(" "+strings.Join(allowed, " ")+" ", " "+f+" ") {
				return usageErrorf("--%s does not apply to dead-letters %s", f, sub)
			}
		}
		return nil
	}
	switch fs.Arg(0) {
	case "retry":
		if err := only("retry", "wait", "watch"); err != nil {
			return err
		}
		if err := nargs(fs, 2, -1, "retry FLOW [KEY…]"); err != nil {
			return err
		}
		if *wait && *watch {
			return usageErrorf("give --wait or --watch, not both")
		}
		flow, err := parseFlow(fs.Arg(1))
		if err != nil {
			return err
		}
		resp, err := s.client.RetryDeadLetters(s.ctx, &v1.RetryDeadLettersRequest{Flow: flow, SourceKeys: fs.Args()[2:], Wait: *wait})
		if err != nil {
			return fmt.Errorf("retry %s dead letters: %w", flowName(flow), err)
		}
		return s.afterStart(resp, *wait, *watch)
	case "discard":
		if err := only("discard", "reason"); err != nil {
			return err
		}
		if err := nargs(fs, 3, -1, "discard FLOW KEY… --reason TEXT"); err != nil {
			return err
		}
		if strings.TrimSpace(*reason) == "" {
			return usageErrorf("discard needs --reason TEXT (kept in the audit trail)")
		}
		flow, err := parseFlow(fs.Arg(1))
		if err != nil {
			return err
		}
		keys := fs.Args()[2:]
		resp, err := s.client.DiscardDeadLetters(s.ctx, &v1.DiscardDeadLettersRequest{Flow: flow, SourceKeys: keys, Reason: *reason})
		if err != nil {
			return fmt.Errorf("discard %s dead letters: %w", flowName(flow), err)
		}
		if s.json {
			return printJSON(s.stdout, resp)
		}
		fmt.Fprintf(s.stdout, "discarded %d of %d (recorded in run %s): %s\n", len(resp.GetDiscarded()), len(keys),
			resp.GetRun().GetId(), strings.Join(resp.GetDiscarded(), ", "))
		done := make(map[string]bool, len(resp.GetDiscarded()))
		for _, k := range resp.GetDiscarded() {
			done[k] = true
		}
		var none []string
		for _, k := range keys {
			if !done[k] {
				none = append(none, k)
			}
		}
		if len(none) > 0 {
			fmt.Fprintf(s.stdout, "no dead letter: %s\n", strings.Join(none, ", "))
		}
		return nil
	}
	if err := only("list", "limit"); err != nil {
		return err
	}
	if err := nargs(fs, 0, 1, "[customers|agents], retry FLOW [KEY…] or discard FLOW KEY…"); err != nil {
		return err
	}
	flows := []v1.Flow{v1.Flow_FLOW_CUSTOMERS, v1.Flow_FLOW_AGENTS}
	if fs.NArg() == 1 {
		f, err := parseFlow(fs.Arg(0))
		if err != nil {
			return usageErrorf("want customers, agents, retry or discard, got %q", fs.Arg(0))
		}
		flows = []v1.Flow{f}
	}
	var all []*v1.DeadLetter
	var totals bytes.Buffer
	for _, flow := range flows {
		req := &v1.ListDeadLettersRequest{Flow: flow}
		var got []*v1.DeadLetter
		var total int64
		for {
			req.PageSize = pageSize(*limit, len(got), 500)
			resp, err := s.client.ListDeadLetters(s.ctx, req)
			if err != nil {
				return fmt.Errorf("list %s dead letters: %w", flowName(flow), err)
			}
			if s.json {
				if err := printJSON(s.stdout, resp); err != nil {
					return err
				}
			}
			got = append(got, resp.GetDeadLetters()...)
			total = resp.GetTotal()
			if resp.GetNextPageToken() == "" || (*limit > 0 && len(got) >= *limit) {
				break
			}
			req.PageToken = resp.GetNextPageToken()
		}
		all = append(all, got...)
		fmt.Fprintf(&totals, "%s: %d dead letter(s)", flowName(flow), total)
		if int64(len(got)) < total {
			fmt.Fprintf(&totals, ", %d shown (--limit)", len(got))
		}
		totals.WriteByte('\n')
	}
	if !s.json {
		if len(all) > 0 {
			s.deadLettersTable(s.stdout, all)
		}
		_, _ = totals.WriteTo(s.stdout)
	}
	return nil
}

func cmdRecord(s *session, args []string) error {
	fs, u := s.flags()
	limit := fs.Int("limit", 50, "show at most this many history rows (0: all)")
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	if err := nargs(fs, 2, 2, "FLOW KEY"); err != nil {
		return err
	}
	flow, err := parseFlow(fs.Arg(0))
	if err != nil {
		return err
	}
	req := &v1.GetRecordRequest{Flow: flow, SourceKey: fs.Arg(1)}
	var first *v1.GetRecordResponse
	var history []*v1.RecordOutcome
	for {
		req.PageSize = pageSize(*limit, len(history), 500)
		resp, err := s.client.GetRecord(s.ctx, req)
		if err != nil {
			return fmt.Errorf("get %s record %s: %w", flowName(flow), req.SourceKey, err)
		}
		if s.json {
			if err := printJSON(s.stdout, resp); err != nil {
				return err
			}
		}
		if first == nil {
			first = resp
		}
		history = append(history, resp.GetHistory()...)
		if resp.GetNextPageToken() == "" || (*limit > 0 && len(history) >= *limit) {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if s.json {
		return nil
	}
	t := newTable(s.stdout)
	row(t, "record", flowName(flow)+" "+first.GetSourceKey())
	if m := first.GetMapping(); m != nil {
		row(t, "target", m.GetTargetKey())
		row(t, "created", s.fmtTime(m.GetCreatedAt()))
		row(t, "delivered", s.fmtTime(m.GetDeliveredAt()))
	} else {
		row(t, "target", "(never delivered)")
	}
	if d := first.GetDeadLetter(); d != nil {
		row(t, "dead letter", fmt.Sprintf("%d attempt(s), first failed %s, last failed %s", d.GetAttempts(),
			s.fmtTime(d.GetFirstFailedAt()), s.fmtTime(d.GetLastFailedAt())))
		row(t, "last error", d.GetLastError())
	} else {
		row(t, "dead letter", "none")
	}
	t.Flush()
	if p := first.GetMapping().GetPayload(); p != "" {
		fmt.Fprintf(s.stdout, "payload last delivered:\n%s\n", prettyJSON(p, "  "))
	}
	fmt.Fprintf(s.stdout, "\nhistory (newest first, %d row(s)):\n", len(history))
	s.outcomesTable(history, true)
	return nil
}

func cmdSchedules(s *session, args []string) error {
	fs, u := s.flags()
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	if err := nargs(fs, 0, 0, "no arguments"); err != nil {
		return err
	}
	resp, err := s.client.ListSchedules(s.ctx, &v1.ListSchedulesRequest{})
	if err != nil {
		return fmt.Errorf("list schedules: %w", err)
	}
	if s.json {
		return printJSON(s.stdout, resp)
	}
	s.schedulesTable(resp.GetSchedules())
	return nil
}

func cmdSchedule(s *session, args []string) error {
	fs, u := s.flags()
	every := fs.Duration("every", 0, "run every this long (e.g. 5m)")
	jitter := fs.Duration("jitter", 0, "with --every: delay each run by a random time up to this much")
	cron := fs.String("cron", "", "run on this cron expression (five fields, or e.g. @hourly), in the gateway's time zone")
	pause := fs.Bool("pause", false, "pause the schedule")
	resume := fs.Bool("resume", false, "resume the schedule")
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	if err := nargs(fs, 1, 1, "customers or agents"); err != nil {
		return err
	}
	flow, err := parseFlow(fs.Arg(0))
	if err != nil {
		return err
	}
	req := &v1.UpdateScheduleRequest{Flow: flow, Cron: *cron}
	switch {
	case fs.Changed("every") && *cron != "":
		return usageErrorf("give --every or --cron, not both")
	case *pause && *resume:
		return usageErrorf("give --pause or --resume, not both")
	case fs.Changed("jitter") && !fs.Changed("every"):
		return usageErrorf("--jitter goes with --every")
	case !fs.Changed("every") && *cron == "" && !*pause && !*resume:
		return usageErrorf("give --every, --cron, --pause or --resume")
	}
	if fs.Changed("every") {
		req.Every = durationpb.New(*every)
		if fs.Changed("jitter") {
			req.Jitter = durationpb.New(*jitter)
		}
	}
	if *pause || *resume {
		req.Paused = pause
	}
	resp, err := s.client.UpdateSchedule(s.ctx, req)
	if err != nil {
		return fmt.Errorf("update the %s schedule: %w", flowName(flow), err)
	}
	if s.json {
		return printJSON(s.stdout, resp)
	}
	s.schedulesTable([]*v1.Schedule{resp.GetSchedule()})
	return nil
}

func cmdPreview(s *session, args []string) error {
	fs, u := s.flags()
	keys := fs.StringSlice("keys", nil, "fetch these source records live (Kingdee customer numbers, Zhilong agent ids), comma-separated")
	pending := fs.Int32("pending", 0, "preview the next N records of the pending incremental window")
	records := fs.String("records", "", "preview the source records in this JSON file (an array of objects in the source vendor's shape, or one object)")
	spec := fs.String("spec", "", "try this mapping spec file (YAML) instead of the active one")
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	if err := nargs(fs, 1, 1, "customers or agents"); err != nil {
		return err
	}
	flow, err := parseFlow(fs.Arg(0))
	if err != nil {
		return err
	}
	n := 0
	for _, f := range []string{"keys", "pending", "records"} {
		if fs.Changed(f) {
			n++
		}
	}
	if n != 1 {
		return usageErrorf("give one of --keys, --pending or --records")
	}
	req := &v1.PreviewRequest{Flow: flow}
	switch {
	case fs.Changed("keys"):
		req.Source = &v1.PreviewRequest_Keys{Keys: &v1.SourceKeys{Keys: *keys}}
	case fs.Changed("pending"):
		req.Source = &v1.PreviewRequest_Pending{Pending: &v1.PendingRecords{Count: *pending}}
	default:
		recs, err := readRecords(*records)
		if err != nil {
			return err
		}
		req.Source = &v1.PreviewRequest_Inline{Inline: &v1.InlineRecords{Records: recs}}
	}
	if *spec != "" {
		b, err := os.ReadFile(*spec)
		if err != nil {
			return usageErr{fmt.Errorf("--spec: %w", err)}
		}
		req.Spec = string(b)
	}
	resp, err := s.client.Preview(s.ctx, req)
	if err != nil {
		return fmt.Errorf("preview %s: %w", flowName(flow), err)
	}
	if s.json {
		return printJSON(s.stdout, resp)
	}
	for i, r := range resp.GetRecords() {
		if i > 0 {
			fmt.Fprintln(s.stdout)
		}
		s.printPreview(r)
	}
	if len(resp.GetRecords()) == 0 {
		fmt.Fprintln(s.stdout, "no records")
	}
	return nil
}

// readRecords reads --records: a JSON array of objects, or one object.
func readRecords(path string) ([]*structpb.Struct, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr{fmt.Errorf("--records: %w", err)}
	}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var one structpb.Struct
		if err := protojson.Unmarshal(b, &one); err != nil {
			return nil, usageErr{fmt.Errorf("--records %s: %w", path, err)}
		}
		return []*structpb.Struct{&one}, nil
	}
	var list structpb.ListValue
	if err := protojson.Unmarshal(b, &list); err != nil {
		return nil, usageErr{fmt.Errorf("--records %s: want a JSON array of objects or one object: %w", path, err)}
	}
	out := make([]*structpb.Struct, 0, len(list.GetValues()))
	for i, v := range list.GetValues() {
		st := v.GetStructValue()
		if st == nil {
			return nil, usageErrorf("--records %s: item %d is not an object", path, i)
		}
		out = append(out, st)
	}
	if len(out) == 0 {
		return nil, usageErrorf("--records %s: no records", path)
	}
	return out, nil
}

// printPreview shows one previewed record: action, target call, request body, diff and issues.
func (s *session) printPreview(r *v1.PreviewRecord) {
	w := s.stdout
	head := fmt.Sprintf("== %s: %s", r.GetSourceKey(), actionName(r.GetAction()))
	if r.GetTargetKey() != "" {
		head += " " + r.GetTargetKey()
	}
	if r.GetTargetOperation() != "" {
		head += " via " + r.GetTargetOperation()
	}
	fmt.Fprintln(w, head)
	if r.GetRequestBody() != "" {
		fmt.Fprintf(w, "request body:\n%s\n", prettyJSON(r.GetRequestBody(), "  "))
	}
	if len(r.GetCallOptions().GetFields()) > 0 {
		b, err := protojson.Marshal(r.GetCallOptions())
		if err == nil {
			fmt.Fprintf(w, "call options:\n%s\n", prettyJSON(string(b), "  "))
		}
	}
	if len(r.GetDiff()) > 0 {
		fmt.Fprintln(w, "diff:")
		t := newTable(w)
		row(t, "  FIELD", "OLD", "NEW")
		for _, d := range r.GetDiff() {
			row(t, "  "+d.GetField(), d.GetOldValue(), d.GetNewValue())
		}
		t.Flush()
	} else if r.GetAction() == v1.Action_ACTION_UPDATE || r.GetAction() == v1.Action_ACTION_SKIP {
		fmt.Fprintln(w, "diff: none")
	}
	for _, is := range r.GetWarnings() {
		fmt.Fprintf(w, "warning: %s: %s\n", is.GetFieldPath(), is.GetMessage())
	}
	for _, is := range r.GetErrors() {
		fmt.Fprintf(w, "error: %s: %s\n", is.GetFieldPath(), is.GetMessage())
	}
}

// runResponse is a response that carries a run it started.
type runResponse interface {
	proto.Message
	GetRun() *v1.Run
}

func cmdStatus(s *session, args []string) error {
	fs, u := s.flags()
	last := fs.Int("runs", 1, "latest runs per flow to show (1 to 50)")
	if err := s.setup(fs, u, args); err != nil {
		return err
	}
	if err := nargs(fs, 0, 0, "no arguments"); err != nil {
		return err
	}
	if *last < 1 || *last > 50 {
		return usageErrorf("--runs must be between 1 and 50")
	}
	resp, err := s.client.GetOverview(s.ctx, &v1.GetOverviewRequest{LastRuns: int32(*last)})
	if err != nil {
		return fmt.Errorf("get overview: %w", err)
	}
	if s.json {
		return printJSON(s.stdout, resp)
	}
	s.overviewTables(resp)
	return nil
}
