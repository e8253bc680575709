package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/mocks/mockctl"
	"github.com/syncgate/syncgate/server/mapping"
)

// scheduledSince returns flow's runs started by its schedule at or after since, oldest first.
func scheduledSince(t *testing.T, c syncgatev1.SyncServiceClient, flow syncgatev1.Flow, since time.Time) []*syncgatev1.Run {
	t.Helper()
	var out []*syncgatev1.Run
	runs := allRuns(t, authCtx(), c, flow)
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.GetTrigger() == syncgatev1.Trigger_TRIGGER_SCHEDULE && !r.GetStartedAt().AsTime().Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// A schedule fires on its own, and after downtime a due schedule fires once, promptly, with its next
// time computed from the restart: no catch-up burst for the ticks missed while the gateway was down.
func TestOperateSchedulesFireOnTheirOwnAndSurviveARestart(t *testing.T) {
	const every = 2 * time.Second
	v := startVendors(t, 0, 20)
	db := filepath.Join(t.TempDir(), "sched.db")
	env := []string{"SYNCGATE_SYNC_SCHEDULE_AGENTS=every 2s", "SYNCGATE_SYNC_SCHEDULE_CUSTOMERS=off"}
	began := time.Now()
	g := startGatewayEnv(t, v, db, "", env...)
	c := g.grpc(t)

	sc := schedule(t, c, syncgatev1.Flow_FLOW_AGENTS)
	if sc.GetEvery().AsDuration() != every || sc.GetPaused() || sc.GetNextRunAt() == nil {
		t.Fatalf("configured agents schedule: %v", sc)
	}
	if cs := schedule(t, c, syncgatev1.Flow_FLOW_CUSTOMERS); cs.GetEvery() != nil || cs.GetCron() != "" || cs.GetNextRunAt() != nil {
		t.Fatalf("customers schedule should be off: %v", cs)
	}
	var fired []*syncgatev1.Run
	waitUntil(t, 20*time.Second, "two scheduled agents runs to end", func() bool {
		fired = fired[:0]
		for _, r := range scheduledSince(t, c, syncgatev1.Flow_FLOW_AGENTS, began) {
			if r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_RUNNING {
				fired = append(fired, r)
			}
		}
		return len(fired) >= 2
	})
	for _, r := range fired {
		if r.GetActor() != "schedule" || r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
			t.Fatalf("scheduled run: %v", r)
		}
	}
	if fired[0].GetCounts().GetAdded() != 20 {
		t.Fatalf("the first scheduled run added %d agents, want 20: %v", fired[0].GetCounts().GetAdded(), fired[0])
	}
	if gap := fired[1].GetStartedAt().AsTime().Sub(fired[0].GetStartedAt().AsTime()); gap < every-100*time.Millisecond {
		t.Fatalf("scheduled runs %s apart, want at least %s", gap, every)
	}
	if s := allRuns(t, authCtx(), c, syncgatev1.Flow_FLOW_CUSTOMERS); len(s) != 0 {
		t.Fatalf("customers ran with its schedule off: %v", s)
	}

	noted := schedule(t, c, syncgatev1.Flow_FLOW_AGENTS).GetNextRunAt().AsTime()
	g.stop(t)
	stopped := time.Now()
	// The stored next time is the one noted, unless the schedule fired between the note and the
	// stop; then it is at most an interval after the stop.
	due := noted
	if !stopped.Before(noted) {
		due = stopped.Add(every)
	}
	// Down for three intervals past the due time: three ticks are missed.
	sleepUntil(due.Add(3 * every))

	restarted := time.Now()
	g2 := startGatewayEnv(t, v, db, "", env...)
	ready := time.Now()
	c2 := g2.grpc(t)
	var after []*syncgatev1.Run
	waitUntil(t, 10*time.Second, "a scheduled run after the restart", func() bool {
		after = scheduledSince(t, c2, syncgatev1.Flow_FLOW_AGENTS, restarted)
		return len(after) > 0
	})
	first := after[0]
	firstAt := first.GetStartedAt().AsTime()
	// Promptly: River elects a leader and ticks within a couple of seconds; a loaded 2-core machine
	// has been seen to take 3.5 s.
	if d := firstAt.Sub(ready); d > 6*time.Second {
		t.Fatalf("the due schedule fired %s after the restarted gateway was ready, want promptly", d)
	}
	if first.GetActor() != "schedule" {
		t.Fatalf("run after restart: %v", first)
	}
	// The next time is an interval from the firing after the restart, not from the missed ticks.
	next := schedule(t, c2, syncgatev1.Flow_FLOW_AGENTS).GetNextRunAt().AsTime()
	if next.Before(firstAt.Add(every-500*time.Millisecond)) || next.After(firstAt.Add(every+200*time.Millisecond)) {
		t.Fatalf("next_run_at %s after a firing at %s, want about %s later", next.Format(time.StampMilli), firstAt.Format(time.StampMilli), every)
	}
	// No second run within 1.5s of the first: the missed ticks are not made up.
	sleepUntil(firstAt.Add(1500 * time.Millisecond))
	if after = scheduledSince(t, c2, syncgatev1.Flow_FLOW_AGENTS, restarted); len(after) != 1 {
		t.Fatalf("%d scheduled runs within 1.5s of the restart's first, want 1 (a catch-up burst): %v", len(after), after)
	}
	sc = schedule(t, c2, syncgatev1.Flow_FLOW_AGENTS)
	if sc.GetLastRunId() != first.GetId() || sc.GetLastResult() != "started" {
		t.Fatalf("schedule after the restart's firing: %v (run %s)", sc, first.GetId())
	}
}

// A scheduled run that meets a manual run of its flow is skipped and its schedule says so; a run
// cancelled mid-way ends CANCELLED with exactly what it delivered committed, and the next run
// delivers the rest, once.
func TestOperateScheduledRunSkippedAndCancelCommitsWhatWasDelivered(t *testing.T) {
	v := startVendors(t, 120, 0)
	ctx := context.Background()
	want := syncable(t, v)
	// Slow Greatonce: 10-record pages, 4 calls at a time, 150 ms a call: the run lasts seconds.
	if err := v.gc.SetFault(ctx, mockctl.Fault{Endpoint: "greatonce.distributor.single.sync", Kind: "latency", Rate: 1, LatencyMS: 150}); err != nil {
		t.Fatal(err)
	}
	g := startGatewayEnv(t, v, filepath.Join(t.TempDir(), "cancel.db"), "", "SYNCGATE_SYNC_PAGE_SIZE=10", "SYNCGATE_SYNC_CONCURRENCY=4")
	c := g.grpc(t)
	manual, err := c.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	id := manual.GetRun().GetId()
	if manual.GetRun().GetTrigger() != syncgatev1.Trigger_TRIGGER_API || manual.GetRun().GetActor() != "key-1" {
		t.Fatalf("manual run: %v", manual.GetRun())
	}
	// Scheduled after the manual run started, so that the schedule's first firing meets it.
	if _, err := c.UpdateSchedule(authCtx(), &syncgatev1.UpdateScheduleRequest{Flow: syncgatev1.Flow_FLOW_CUSTOMERS, Every: durationpb.New(time.Second)}); err != nil {
		t.Fatal(err)
	}
	skipped := "skipped: run " + id + " is in progress"
	waitUntil(t, 15*time.Second, "the customers schedule to report "+skipped, func() bool {
		return schedule(t, c, syncgatev1.Flow_FLOW_CUSTOMERS).GetLastResult() == skipped
	})
	if sc := allRuns(t, authCtx(), c, syncgatev1.Flow_FLOW_CUSTOMERS); len(sc) != 1 {
		t.Fatalf("a skipped firing started a run: %v", sc)
	}
	// Paused before the cancel, so that no scheduled run follows the cancelled one.
	if _, err := c.UpdateSchedule(authCtx(), &syncgatev1.UpdateScheduleRequest{Flow: syncgatev1.Flow_FLOW_CUSTOMERS, Paused: proto.Bool(true)}); err != nil {
		t.Fatal(err)
	}

	r := mustCLI(t, 0, g.url, apiKey, "cancel", id)
	if !strings.Contains(r.stdout, "cancel requested: run "+id) {
		t.Fatalf("cancel output: %s", r)
	}
	run := waitRunEnded(t, c, id, 30*time.Second)
	if run.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_CANCELLED {
		t.Fatalf("cancelled run: %v", run)
	}
	added := int(run.GetCounts().GetAdded())
	n, codes := distributorCodes(t, v)
	if n != added || added == 0 || added >= want {
		t.Fatalf("after the cancel Greatonce has %d distributors; the run counted %d added (of %d syncable): %v", n, added, want, run)
	}
	t.Logf("cancelled after %d of %d customers", added, want)
	if len(codes) != n {
		t.Fatalf("duplicate distributors after the cancel: %d distributors, %d codes", n, len(codes))
	}

	if err := v.gc.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := c.SyncCustomers(authCtx(), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || again.GetRun().GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("run after the cancel: %v %v", again, err)
	}
	n, codes = distributorCodes(t, v)
	if n != want || len(codes) != want {
		t.Fatalf("after the rerun Greatonce has %d distributors (%d codes), want %d", n, len(codes), want)
	}
	if got := int(again.GetRun().GetCounts().GetAdded()); got != want-added {
		t.Fatalf("the rerun added %d, want the %d the cancelled run did not deliver", got, want-added)
	}
}

// agentsNumberSpec is a mapping directory with the active-customers spec and the default agents spec
// whose FNumber is the agent's id (the default leaves it to Kingdee's coding rule).
func agentsNumberSpec(t *testing.T) string {
	t.Helper()
	dir := activeCustomersSpec(t)
	text, err := mapping.Default("agents")
	if err != nil {
		t.Fatal(err)
	}
	const blank = "    - name: FNumber\n      template: \"\"\n"
	if !bytes.Contains(text, []byte(blank)) {
		t.Fatal("the default agents spec has no blank FNumber template")
	}
	writeFile(t, dir, "agents.yaml", bytes.Replace(text, []byte(blank), []byte("    - name: FNumber\n      template: \"{{agentId}}\"\n"), 1))
	return dir
}

// kingdeeClient is a Kingdee client with the mock's credentials, for changing Kingdee behind the
// gateway's back.
func kingdeeClient(t *testing.T, v *vendors) *kingdee.Client {
	t.Helper()
	kd, err := kingdee.New(kingdee.Config{BaseURL: v.info.KingdeeURL, AcctID: v.info.KingdeeAcct, Username: v.info.KingdeeUser, Password: v.info.KingdeePass,
		Transport: vendor.Transport{Timeout: 10 * time.Second, MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return kd
}

// Two agents whose customer number Kingdee already uses fail permanently and become dead letters;
// the CLI lists them, retries one after the conflict is fixed at Kingdee (delivered, letter gone),
// discards the other (letter gone, an audit row with the reason), and tells both records' stories.
func TestOperateDeadLettersRetriedAndDiscardedThroughTheCLI(t *testing.T) {
	v := startVendors(t, 0, 8)
	ctx := context.Background()
	agents, err := v.zl.ZhilongAgents(ctx)
	if err != nil || len(agents) != 8 {
		t.Fatalf("agents: %v %v", agents, err)
	}
	key, other := agents[2].AgentID, agents[5].AgentID
	// Two Kingdee customers already carry those agents' ids as their numbers.
	kd := kingdeeClient(t, v)
	save := kingdee.SaveRequest{FormID: "BD_Customer"}
	for _, id := range []string{key, other} {
		save.Model = append(save.Model, map[string]any{"FCUSTID": 0, "FName": "号码冲突客户" + id, "FNumber": id,
			"FCreateOrgId": map[string]any{"FNumber": "100"}, "FUseOrgId": map[string]any{"FNumber": "100"}})
	}
	res, err := kd.BatchSave(ctx, save)
	if err != nil || len(res.Failed()) > 0 {
		t.Fatalf("create the conflicting customers: %v %v", res, err)
	}
	conflict := res.Items[0].ID

	g := startGatewayEnv(t, v, filepath.Join(t.TempDir(), "dl.db"), agentsNumberSpec(t))
	c := g.grpc(t)
	sync, err := c.SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil {
		t.Fatal(err)
	}
	if r := sync.GetRun(); r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_PARTIAL || r.GetCounts().GetFailed() != 2 || r.GetCounts().GetAdded() != 6 {
		t.Fatalf("agents run: want PARTIAL with 6 added and 2 failed: %v", r)
	}

	// Listed as JSON, with attempts and the last error.
	out := mustCLI(t, 0, g.url, apiKey, "dead-letters", "agents", "--json")
	var list syncgatev1.ListDeadLettersResponse
	if err := protojson.Unmarshal([]byte(strings.TrimSpace(out.stdout)), &list); err != nil {
		t.Fatalf("dead-letters --json is not one ListDeadLettersResponse: %v\n%s", err, out)
	}
	if list.GetTotal() != 2 || len(list.GetDeadLetters()) != 2 {
		t.Fatalf("dead letters: %v", &list)
	}
	for i, want := range []string{min(key, other), max(key, other)} {
		d := list.GetDeadLetters()[i]
		if d.GetSourceKey() != want || d.GetAttempts() != 1 || !strings.Contains(d.GetLastError(), "编码唯一") || d.GetFlow() != syncgatev1.Flow_FLOW_AGENTS {
			t.Fatalf("dead letter %d: want %s, 1 attempt, the 编码唯一 error: %v", i, want, d)
		}
	}

	// The conflict fixed at Kingdee (the other customer renumbered), the retry delivers the agent.
	if res, err := kd.BatchSave(ctx, kingdee.SaveRequest{FormID: "BD_Customer", NeedUpDateFields: []string{"FNumber"},
		Model: []map[string]any{{"FCUSTID": conflict, "FNumber": "OLD-" + key}}}); err != nil || len(res.Failed()) > 0 {
		t.Fatalf("renumber the conflicting customer: %v %v", res, err)
	}
	out = mustCLI(t, 0, g.url, apiKey, "dead-letters", "retry", "agents", key, "--wait")
	m := regexp.MustCompile(`(?m)^run\s+(\S+)$`).FindStringSubmatch(out.stdout)
	if m == nil || !regexp.MustCompile(`(?m)^status\s+SUCCEEDED$`).MatchString(out.stdout) || !regexp.MustCompile(`(?m)^trigger\s+retry by key-1$`).MatchString(out.stdout) {
		t.Fatalf("retry output: %s", out)
	}
	retry, err := c.GetRun(authCtx(), &syncgatev1.GetRunRequest{RunId: m[1]})
	if r := retry.GetRun(); err != nil || r.GetTrigger() != syncgatev1.Trigger_TRIGGER_RETRY || r.GetCounts().GetAdded() != 1 || r.GetCounts().GetFailed() != 0 {
		t.Fatalf("retry run: %v %v", retry, err)
	}
	delivered, ok := kingdeeCustomer(t, v, func(c mockctl.KingdeeCustomer) string { return c.F_out_id }, key)
	if !ok || delivered.FNumber != key {
		t.Fatalf("Kingdee has no customer for agent %s numbered %s: %v", key, key, delivered)
	}
	left, err := c.ListDeadLetters(authCtx(), &syncgatev1.ListDeadLettersRequest{Flow: syncgatev1.Flow_FLOW_AGENTS})
	if err != nil || left.GetTotal() != 1 || left.GetDeadLetters()[0].GetSourceKey() != other {
		t.Fatalf("dead letters after the retry: %v %v", left, err)
	}

	// The other one is discarded, with a reason.
	out = mustCLI(t, 0, g.url, apiKey, "dead-letters", "discard", "agents", other, "--reason", "重复客户")
	if !strings.Contains(out.stdout, "discarded 1 of 1") || !strings.Contains(out.stdout, other) {
		t.Fatalf("discard output: %s", out)
	}
	left, err = c.ListDeadLetters(authCtx(), &syncgatev1.ListDeadLettersRequest{Flow: syncgatev1.Flow_FLOW_AGENTS})
	if err != nil || left.GetTotal() != 0 {
		t.Fatalf("dead letters after the discard: %v %v", left, err)
	}
	if _, ok := kingdeeCustomer(t, v, func(c mockctl.KingdeeCustomer) string { return c.F_out_id }, other); ok {
		t.Fatalf("the discarded agent %s reached Kingdee", other)
	}

	// The discarded record's story: the discard (with its reason) newest, then the permanent failure.
	out = mustCLI(t, 0, g.url, apiKey, "record", "agents", other, "--json")
	var story syncgatev1.GetRecordResponse
	if err := protojson.Unmarshal([]byte(strings.TrimSpace(out.stdout)), &story); err != nil {
		t.Fatalf("record --json: %v\n%s", err, out)
	}
	h := story.GetHistory()
	if story.GetSourceKey() != other || story.GetMapping() != nil || story.GetDeadLetter() != nil || len(h) < 2 {
		t.Fatalf("story of %s: %v", other, &story)
	}
	if h[0].GetOutcome() != "discarded" || !strings.Contains(h[0].GetError(), "重复客户") || h[1].GetOutcome() != "permanent" || !strings.Contains(h[1].GetError(), "编码唯一") {
		t.Fatalf("history of %s: want the discard with its reason, then the permanent failure: %v", other, h)
	}
	// The retried record's story: its mapping (the Kingdee customer) and its history, ok newest.
	out = mustCLI(t, 0, g.url, apiKey, "record", "agents", key)
	for _, re := range []string{`(?m)^record\s+agents ` + key + `$`, fmt.Sprintf(`(?m)^target\s+%d$`, delivered.FCUSTID), `(?m)^dead letter\s+none$`, `payload last delivered:`} {
		if !regexp.MustCompile(re).MatchString(out.stdout) {
			t.Fatalf("record agents %s: no %s in\n%s", key, re, out)
		}
	}
	rows := strings.Split(out.stdout[strings.Index(out.stdout, "history (newest first"):], "\n")
	if len(rows) < 4 || !strings.HasPrefix(rows[1], "AT") || !strings.Contains(rows[2], " ok ") || !strings.Contains(out.stdout, " permanent ") {
		t.Fatalf("record agents %s: want the history ok newest, the permanent failure below:\n%s", key, out)
	}
}

// Every command of the README's "Command-line client" section, run as the gateway binary against a
// gateway: exit codes and what each prints.
func TestOperateEveryCLICommand(t *testing.T) {
	v := startVendors(t, 30, 10)
	ctx := context.Background()
	want := syncable(t, v)
	cust, ok := kingdeeCustomer(t, v, func(c mockctl.KingdeeCustomer) string { return c.FNumber }, "CUST0000001")
	if !ok || cust.FDocumentStatus != "C" || cust.FForbidStatus != "A" {
		t.Fatalf("CUST0000001 is not a syncable customer of the seed: %+v", cust)
	}
	fcustid := fmt.Sprint(cust.FCUSTID)
	g := startGateway(t, v, filepath.Join(t.TempDir(), "cli.db"))
	c := g.grpc(t)
	run := func(code int, args ...string) cliResult { t.Helper(); return mustCLI(t, code, g.url, apiKey, args...) }
	has := func(r cliResult, re string) {
		t.Helper()
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Fatalf("no %q in the output of\n%s", re, r)
		}
	}

	// Schedules: none configured.
	out := run(0, "schedules")
	has(out, `(?m)^FLOW\s+PLAN\s+STATE\s+NEXT RUN`)
	has(out, `(?m)^customers\s+none\s+active\s+-`)
	has(out, `(?m)^agents\s+none\s+active\s+-`)

	// Preview, before any run: the pending window holds every syncable customer.
	out = run(0, "preview", "customers", "--pending", "2")
	if n := len(regexp.MustCompile(`(?m)^== \S+: add via greatonce.distributor.single.sync$`).FindAllString(out.stdout, -1)); n != 2 {
		t.Fatalf("preview --pending 2 shows %d adds:\n%s", n, out)
	}
	out = run(0, "preview", "customers", "--keys", "CUST0000001")
	has(out, `(?m)^== `+fcustid+`: add via greatonce.distributor.single.sync$`)
	has(out, `(?m)^request body:$`)
	has(out, `"distributorCode": ".*CUST0000001"`)
	has(out, `"distributorName": "`+regexp.QuoteMeta(cust.FName)+`"`)
	// An edited spec: its change shows in the body.
	specDir := t.TempDir()
	if err := WriteActiveCustomersSpec(specDir); err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join(specDir, "customers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const name = "    - name: distributorName\n      template: \"{{Name}}\"\n"
	if !bytes.Contains(spec, []byte(name)) {
		t.Fatal("the customers spec has no distributorName template {{Name}}")
	}
	specFile := writeFile(t, "", "edited.yaml", bytes.Replace(spec, []byte(name), []byte("    - name: distributorName\n      template: \"{{Name}}（试）\"\n"), 1))
	out = run(0, "preview", "customers", "--keys", "CUST0000001", "--spec", specFile)
	has(out, `"distributorName": "`+regexp.QuoteMeta(cust.FName+"（试）")+`"`)
	if d, _ := distributorCodes(t, v); d != 0 {
		t.Fatalf("preview wrote %d distributors", d)
	}

	// sync: prints the run id and returns.
	out = run(0, "sync", "customers")
	id := strings.TrimSpace(out.stdout)
	if !regexp.MustCompile(`^\S+$`).MatchString(id) || !strings.Contains(out.stderr, "started customers run "+id) {
		t.Fatalf("sync customers: want the run id alone on stdout:\n%s", out)
	}
	first := waitRunEnded(t, c, id, 30*time.Second)
	if first.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED || int(first.GetCounts().GetAdded()) != want {
		t.Fatalf("the run sync started: %v", first)
	}
	// sync --wait: the run's summary, exit 0.
	out = run(0, "sync", "customers", "--wait")
	has(out, `(?m)^run\s+\S+$`)
	waited := regexp.MustCompile(`(?m)^run\s+(\S+)$`).FindStringSubmatch(out.stdout)[1]
	has(out, `(?m)^status\s+SUCCEEDED$`)
	has(out, `(?m)^trigger\s+api by key-1$`)
	has(out, `(?m)^counts\s+read (\d+)  added 0  updated 0  skipped (\d+)  failed 0`) // the rerun reads the overlap only
	// sync --watch, stdout not a terminal: progress lines with counts, then the SUCCEEDED summary.
	out = run(0, "sync", "agents", "--watch")
	lines := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d  agents (\S+)  (\S+)  read (\d+) \(\d+ records/s\)  added (\d+)  updated \d+  skipped \d+  failed \d+  elapsed \S+$`).FindAllStringSubmatch(out.stdout, -1)
	if len(lines) == 0 {
		t.Fatalf("sync --watch printed no progress line:\n%s", out)
	}
	last := lines[len(lines)-1]
	if last[2] != "SUCCEEDED" || last[3] != "10" || last[4] != "10" {
		t.Fatalf("sync --watch: the last progress line is %q, want SUCCEEDED with 10 read and added", last[0])
	}
	agentsRun := last[1]
	has(out, `(?m)^run\s+`+agentsRun+`$`)
	has(out, `(?m)^status\s+SUCCEEDED$`)
	has(out, `(?m)^counts\s+read 10  added 10`)

	// runs, with its filters.
	out = run(0, "runs", "--flow", "customers", "--status", "succeeded", "--limit", "1")
	rows := strings.Split(strings.TrimSpace(out.stdout), "\n")
	if len(rows) != 2 || !strings.HasPrefix(rows[0], "ID") || !regexp.MustCompile(`^`+waited+`\s+customers\s+SUCCEEDED\s+api\s`).MatchString(rows[1]) {
		t.Fatalf("runs --flow customers --status succeeded --limit 1: want a header and one run:\n%s", out)
	}
	out = run(0, "runs", "--flow", "agents")
	rows = strings.Split(strings.TrimSpace(out.stdout), "\n")
	if len(rows) != 2 || !regexp.MustCompile(`^`+agentsRun+`\s+agents\s+SUCCEEDED\s+api\s`).MatchString(rows[1]) {
		t.Fatalf("runs --flow agents:\n%s", out)
	}
	if out = run(0, "runs", "--status", "failed"); len(strings.Split(strings.TrimSpace(out.stdout), "\n")) != 1 {
		t.Fatalf("runs --status failed lists runs:\n%s", out)
	}
	// --json of a list command: one ListRunsResponse per line.
	out = run(0, "runs", "--json")
	var list syncgatev1.ListRunsResponse
	if err := protojson.Unmarshal([]byte(strings.TrimSpace(out.stdout)), &list); err != nil || len(list.GetRuns()) != 3 {
		t.Fatalf("runs --json: %v\n%s", err, out)
	}

	// run ID --records: the run and its audit rows; --json of a run command.
	out = run(0, "run", id, "--records")
	has(out, `(?m)^run\s+`+id+`$`)
	has(out, `(?m)^status\s+SUCCEEDED$`)
	has(out, `(?m)^AT\s+KEY\s+TARGET\s+ACTION\s+ATTEMPT\s+OUTCOME`)
	has(out, `(?m)^\S+ \S+\s+`+fcustid+`\s+\S*CUST0000001\s+add\s+1\s+ok\s+greatonce\s`)
	if n := len(regexp.MustCompile(`(?m)\s+add\s+\d+\s+ok\s+greatonce\s`).FindAllString(out.stdout, -1)); n != want {
		t.Fatalf("run --records shows %d delivered records, want %d:\n%s", n, want, out)
	}
	out = run(0, "run", id, "--json")
	var got syncgatev1.GetRunResponse
	if err := protojson.Unmarshal([]byte(strings.TrimSpace(out.stdout)), &got); err != nil || got.GetRun().GetId() != id || got.GetRun().GetCounts().GetAdded() != int64(want) {
		t.Fatalf("run --json: %v\n%s", err, out)
	}

	// cancel of an ended run: the gateway refuses (exit 4).
	out = run(4, "cancel", id)
	if !strings.Contains(out.stderr, "failed_precondition") {
		t.Fatalf("cancel of an ended run: %s", out)
	}

	// dead-letters, both flows.
	out = run(0, "dead-letters")
	has(out, `(?m)^customers: 0 dead letter\(s\)$`)
	has(out, `(?m)^agents: 0 dead letter\(s\)$`)

	// record: a customer number names its FCUSTID's story.
	out = run(0, "record", "customers", "CUST0000001")
	has(out, `(?m)^record\s+customers `+fcustid+`$`)
	has(out, `(?m)^target\s+\S*CUST0000001$`)
	has(out, `(?m)^dead letter\s+none$`)
	has(out, `(?m)^\S+ \S+\s+`+id+`\s+\S*CUST0000001\s+add\s+1\s+ok\s+greatonce\s`)

	// schedule: each change shows in ListSchedules.
	before := time.Now()
	run(0, "schedule", "agents", "--every", "5m", "--jitter", "10s")
	sc := schedule(t, c, syncgatev1.Flow_FLOW_AGENTS)
	if next := sc.GetNextRunAt().AsTime(); sc.GetEvery().AsDuration() != 5*time.Minute || sc.GetJitter().AsDuration() != 10*time.Second || sc.GetCron() != "" || sc.GetPaused() ||
		next.Before(before.Add(5*time.Minute)) || next.After(time.Now().Add(5*time.Minute+10*time.Second)) {
		t.Fatalf("after schedule agents --every 5m --jitter 10s: %v", sc)
	}
	run(0, "schedule", "agents", "--cron", "*/15 * * * *")
	sc = schedule(t, c, syncgatev1.Flow_FLOW_AGENTS)
	if next := sc.GetNextRunAt().AsTime(); sc.GetCron() != "*/15 * * * *" || sc.GetEvery() != nil || next.Minute()%15 != 0 || next.Second() != 0 || time.Until(next) > 15*time.Minute {
		t.Fatalf("after schedule agents --cron: %v", sc)
	}
	out = run(0, "schedule", "agents", "--pause")
	has(out, `(?m)^agents\s+cron \*/15 \* \* \* \*\s+paused\s`)
	if sc = schedule(t, c, syncgatev1.Flow_FLOW_AGENTS); !sc.GetPaused() || sc.GetNextRunAt() != nil || sc.GetCron() != "*/15 * * * *" {
		t.Fatalf("after schedule agents --pause: %v", sc)
	}
	run(0, "schedule", "agents", "--resume")
	if sc = schedule(t, c, syncgatev1.Flow_FLOW_AGENTS); sc.GetPaused() || sc.GetNextRunAt() == nil || sc.GetCron() != "*/15 * * * *" {
		t.Fatalf("after schedule agents --resume: %v", sc)
	}
	if cs := schedule(t, c, syncgatev1.Flow_FLOW_CUSTOMERS); cs.GetEvery() != nil || cs.GetCron() != "" {
		t.Fatalf("changing the agents schedule changed the customers one: %v", cs)
	}
	out = run(0, "schedules")
	has(out, `(?m)^agents\s+cron \*/15 \* \* \* \*\s+active\s+\d{4}-`)

	// A wrong key: the gateway answers Unauthenticated (exit 4). A closed port: unreachable (exit 5).
	out = mustCLI(t, 4, g.url, "wrong-key", "runs")
	if !strings.Contains(out.stderr, "unauthenticated") {
		t.Fatalf("wrong key: %s", out)
	}
	closed, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	mustCLI(t, 5, "http://"+closed, apiKey, "runs")
	if _, err := c.ListRuns(ctx, &syncgatev1.ListRunsRequest{}); err == nil {
		t.Fatal("ListRuns without a key answered")
	}
}

// Runs record what started them and who: the name of the API key ("ops" for a NAME:KEY entry, key-N
// for an unnamed one), never the key, which appears in no response, run, CLI output or log line.
func TestOperateRunsRecordTriggerAndActorNeverTheKey(t *testing.T) {
	const key1, key2 = "ops-secret-8c1f27d9", "plain-secret-3e90b6a4"
	v := startVendors(t, 20, 10)
	g := startGatewayEnv(t, v, filepath.Join(t.TempDir(), "actor.db"), "", "SYNCGATE_API_KEYS=ops:"+key1+","+key2)
	c := g.grpc(t)
	var seen []string // everything the API and the CLI answered

	out := mustCLI(t, 0, g.url, key1, "sync", "agents", "--wait", "--json")
	seen = append(seen, out.stdout, out.stderr)
	var ar syncgatev1.SyncAgentsResponse
	if err := protojson.Unmarshal([]byte(strings.TrimSpace(out.stdout)), &ar); err != nil {
		t.Fatalf("sync --wait --json: %v\n%s", err, out)
	}
	if r := ar.GetRun(); r.GetActor() != "ops" || r.GetTrigger() != syncgatev1.Trigger_TRIGGER_API || r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("run started with the ops key: %v", r)
	}
	out = mustCLI(t, 0, g.url, key2, "sync", "customers", "--wait")
	seen = append(seen, out.stdout, out.stderr)
	if !regexp.MustCompile(`(?m)^trigger\s+api by key-2$`).MatchString(out.stdout) {
		t.Fatalf("run started with the second, unnamed key:\n%s", out)
	}
	cr, err := c.SyncCustomers(keyCtx(key2), &syncgatev1.SyncCustomersRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || cr.GetRun().GetActor() != "key-2" {
		t.Fatalf("gRPC run with the second key: %v %v", cr, err)
	}
	runs, err := c.ListRuns(keyCtx(key1), &syncgatev1.ListRunsRequest{})
	if err != nil || len(runs.GetRuns()) != 3 {
		t.Fatalf("ListRuns: %v %v", runs, err)
	}
	actors := map[string]int{}
	for _, r := range runs.GetRuns() {
		actors[r.GetActor()]++
		got, err := c.GetRun(keyCtx(key1), &syncgatev1.GetRunRequest{RunId: r.GetId(), IncludeRecords: true})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := protojson.Marshal(got)
		seen = append(seen, string(b))
	}
	if actors["ops"] != 1 || actors["key-2"] != 2 {
		t.Fatalf("actors of the runs: %v", actors)
	}
	b, _ := protojson.Marshal(runs)
	seen = append(seen, string(b))
	for _, args := range [][]string{{"runs", "--json"}, {"runs"}, {"run", ar.GetRun().GetId(), "--records"}, {"record", "agents", "AG0000001"}, {"schedules", "--json"}} {
		r := mustCLI(t, 0, g.url, key1, args...)
		seen = append(seen, r.stdout, r.stderr)
	}
	if out := cli(t, g.url, key1, "run", ar.GetRun().GetId()); !regexp.MustCompile(`(?m)^trigger\s+api by ops$`).MatchString(out.stdout) {
		t.Fatalf("run %s:\n%s", ar.GetRun().GetId(), out)
	}
	// A wrong key's refusal names no key either.
	wrong := cli(t, g.url, key1+"x", "runs")
	if wrong.code != 4 {
		t.Fatalf("a wrong key: %s", wrong)
	}
	seen = append(seen, wrong.stdout, wrong.stderr, g.proc.Output())
	for _, s := range seen {
		for _, k := range []string{key1, key2} {
			if strings.Contains(s, k) {
				t.Fatalf("an answer, CLI output or the log holds an API key (%d chars):\n%s", len(k), s)
			}
		}
	}
}
