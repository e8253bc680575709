package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
)

// testKey is the API key the tests send; no output may ever contain it.
const testKey = "sk-test-5ecret-4ll-the-w4y"

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// fake is a SyncService that records the requests it gets and answers what the test set.
type fake struct {
	syncgatev1connect.UnimplementedSyncServiceHandler

	mu    sync.Mutex
	reqs  []proto.Message
	auths []string

	err       error     // when set, every call answers it
	run       *v1.Run   // the run the start calls answer
	snaps     []*v1.Run // what WatchRun streams, in order
	runs      [][]*v1.Run
	records   [][]*v1.RecordOutcome
	letters   map[v1.Flow][][]*v1.DeadLetter
	record    []*v1.GetRecordResponse
	schedules []*v1.Schedule
	overview  *v1.GetOverviewResponse
	preview   *v1.PreviewResponse
	discarded []string
	sent      chan struct{} // when set, WatchRun closes it after the snapshots and waits for the client to hang up
}

func (f *fake) got(req proto.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	return f.err
}

// requests returns the requests received so far.
func (f *fake) requests() []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]proto.Message(nil), f.reqs...)
}

// page answers page i of pages ("" token: the first) with the token of the next.
func page[T any](pages [][]T, token string) ([]T, string) {
	i := 0
	if token != "" {
		i = int(token[0] - '0')
	}
	if i >= len(pages) {
		return nil, ""
	}
	next := ""
	if i+1 < len(pages) {
		next = string(rune('0' + i + 1))
	}
	return pages[i], next
}

func (f *fake) SyncCustomers(_ context.Context, req *v1.SyncCustomersRequest) (*v1.SyncCustomersResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	return &v1.SyncCustomersResponse{Run: f.run}, nil
}

func (f *fake) SyncAgents(_ context.Context, req *v1.SyncAgentsRequest) (*v1.SyncAgentsResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	return &v1.SyncAgentsResponse{Run: f.run}, nil
}

func (f *fake) WatchRun(ctx context.Context, req *v1.WatchRunRequest, st *connect.ServerStream[v1.WatchRunResponse]) error {
	if err := f.got(req); err != nil {
		return err
	}
	for _, r := range f.snaps {
		if err := st.Send(&v1.WatchRunResponse{Run: r}); err != nil {
			return err
		}
	}
	if f.sent != nil {
		close(f.sent)
		<-ctx.Done() // the run goes on until the client hangs up
		return ctx.Err()
	}
	return nil
}

func (f *fake) ListRuns(_ context.Context, req *v1.ListRunsRequest) (*v1.ListRunsResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	runs, next := page(f.runs, req.GetPageToken())
	return &v1.ListRunsResponse{Runs: runs, NextPageToken: next}, nil
}

func (f *fake) GetRun(_ context.Context, req *v1.GetRunRequest) (*v1.GetRunResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	resp := &v1.GetRunResponse{Run: f.run}
	if req.GetIncludeRecords() {
		resp.Records, resp.NextPageToken = page(f.records, req.GetPageToken())
	}
	return resp, nil
}

func (f *fake) CancelRun(_ context.Context, req *v1.CancelRunRequest) (*v1.CancelRunResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	return &v1.CancelRunResponse{Run: f.run}, nil
}

func (f *fake) ListDeadLetters(_ context.Context, req *v1.ListDeadLettersRequest) (*v1.ListDeadLettersResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	pages := f.letters[req.GetFlow()]
	total := 0
	for _, p := range pages {
		total += len(p)
	}
	ls, next := page(pages, req.GetPageToken())
	return &v1.ListDeadLettersResponse{DeadLetters: ls, NextPageToken: next, Total: int64(total)}, nil
}

func (f *fake) RetryDeadLetters(_ context.Context, req *v1.RetryDeadLettersRequest) (*v1.RetryDeadLettersResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	return &v1.RetryDeadLettersResponse{Run: f.run}, nil
}

func (f *fake) DiscardDeadLetters(_ context.Context, req *v1.DiscardDeadLettersRequest) (*v1.DiscardDeadLettersResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	return &v1.DiscardDeadLettersResponse{Run: f.run, Discarded: f.discarded}, nil
}

func (f *fake) GetRecord(_ context.Context, req *v1.GetRecordRequest) (*v1.GetRecordResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	i := 0
	if req.GetPageToken() != "" {
		i = int(req.GetPageToken()[0] - '0')
	}
	return f.record[i], nil
}

func (f *fake) ListSchedules(_ context.Context, req *v1.ListSchedulesRequest) (*v1.ListSchedulesResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	return &v1.ListSchedulesResponse{Schedules: f.schedules}, nil
}

func (f *fake) UpdateSchedule(_ context.Context, req *v1.UpdateScheduleRequest) (*v1.UpdateScheduleResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	return &v1.UpdateScheduleResponse{Schedule: &v1.Schedule{Flow: req.GetFlow(), Every: req.GetEvery(), Jitter: req.GetJitter(), Cron: req.GetCron(), Paused: req.GetPaused()}}, nil
}

func (f *fake) Preview(_ context.Context, req *v1.PreviewRequest) (*v1.PreviewResponse, error) {
	if err := f.got(req); err != nil {
		return nil, err
	}
	return f.preview, nil
}

// harness serves a fake over HTTP and runs commands against it.
type harness struct {
	t    *testing.T
	fake *fake
	env  map[string]string
	opts options
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	f := &fake{}
	path, h := syncgatev1connect.NewSyncServiceHandler(f)
	mux := http.NewServeMux()
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &harness{t: t, fake: f, env: map[string]string{"SYNCGATE_URL": srv.URL, "SYNCGATE_API_KEY": testKey},
		opts: options{loc: time.UTC}}
}

// run runs one command and checks that the key shows nowhere in its output.
func (h *harness) run(args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	return h.runCtx(h.t.Context(), args...)
}

func (h *harness) runCtx(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb, func(k string) string { return h.env[k] }, h.opts)
	if strings.Contains(out.String()+errb.String(), testKey) {
		h.t.Errorf("%q: the API key shows in the output:\n%s\n%s", args, out.String(), errb.String())
	}
	return code, out.String(), errb.String()
}

// only returns the one request the fake got, of type T.
func only[T proto.Message](t *testing.T, f *fake) T {
	t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1: %v", len(reqs), reqs)
	}
	r, ok := reqs[0].(T)
	if !ok {
		t.Fatalf("got a %T", reqs[0])
	}
	return r
}

func ts(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }

func counts(read, added, updated, skipped, failed int64) *v1.RunCounts {
	return &v1.RunCounts{Read: read, Added: added, Updated: updated, Skipped: skipped, Failed: failed}
}

func running(id string, flow v1.Flow) *v1.Run {
	return &v1.Run{Id: id, Flow: flow, Status: v1.RunStatus_RUN_STATUS_RUNNING, StartedAt: ts(0), Trigger: v1.Trigger_TRIGGER_API, Actor: "ops", Counts: counts(0, 0, 0, 0, 0)}
}

func ended(id string, flow v1.Flow, st v1.RunStatus, c *v1.RunCounts) *v1.Run {
	r := running(id, flow)
	r.Status, r.Counts, r.FinishedAt = st, c, ts(5*time.Second)
	return r
}

func TestSyncStartsARunAndPrintsItsID(t *testing.T) {
	h := newHarness(t)
	h.fake.run = running("R1", v1.Flow_FLOW_CUSTOMERS)
	code, out, errOut := h.run("sync", "customers", "--dry-run", "--full", "--keys", "CUST0000001,CUST0000002", "--limit", "5", "--use-orgs", "101")
	if code != ExitOK || out != "R1\n" {
		t.Fatalf("code %d, stdout %q, stderr %q; want 0 and the run id", code, out, errOut)
	}
	req := only[*v1.SyncCustomersRequest](t, h.fake)
	want := &v1.SyncCustomersRequest{
		Options:       &v1.SyncOptions{DryRun: true, FullResync: true, Limit: 5, SourceKeys: []string{"CUST0000001", "CUST0000002"}},
		UseOrgNumbers: []string{"101"},
	}
	if !proto.Equal(req, want) {
		t.Errorf("request %v, want %v", req, want)
	}
	if got := h.fake.auths; len(got) != 1 || got[0] != "Bearer "+testKey {
		t.Errorf("authorization headers %q", got)
	}
}

func TestSyncWaitExitCodeFollowsTheStatus(t *testing.T) {
	for _, tc := range []struct {
		status v1.RunStatus
		code   int
	}{
		{v1.RunStatus_RUN_STATUS_SUCCEEDED, ExitOK},
		{v1.RunStatus_RUN_STATUS_PARTIAL, ExitRunPartial},
		{v1.RunStatus_RUN_STATUS_FAILED, ExitRunFailed},
		{v1.RunStatus_RUN_STATUS_CANCELLED, ExitRunFailed},
	} {
		t.Run(tc.status.String(), func(t *testing.T) {
			h := newHarness(t)
			h.fake.run = ended("R2", v1.Flow_FLOW_AGENTS, tc.status, counts(10, 4, 3, 2, 1))
			code, out, errOut := h.run("sync", "agents", "--wait")
			if code != tc.code {
				t.Fatalf("code %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if !only[*v1.SyncAgentsRequest](t, h.fake).GetOptions().GetWait() {
				t.Error("--wait did not set options.wait")
			}
			for _, want := range []string{"R2", "status    " + statusName(tc.status), "read 10  added 4  updated 3  skipped 2  failed 1", "trigger   api by ops", "2026-11-02 10:00:05 (5s)"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestSyncJSON(t *testing.T) {
	h := newHarness(t)
	h.fake.run = running("R3", v1.Flow_FLOW_AGENTS)
	code, out, _ := h.run("sync", "agents", "--json")
	if code != ExitOK {
		t.Fatalf("code %d", code)
	}
	var resp v1.SyncAgentsResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("stdout is not a SyncAgentsResponse: %v\n%s", err, out)
	}
	if resp.GetRun().GetId() != "R3" {
		t.Errorf("run %v", resp.GetRun())
	}
}

// watchSnaps are four running snapshots, 40 records apart, then a final PARTIAL one.
func watchSnaps() []*v1.Run {
	var snaps []*v1.Run
	for i := int64(1); i <= 4; i++ {
		r := running("R4", v1.Flow_FLOW_AGENTS)
		r.Counts = counts(40*i, 10*i, 0, 30*i, 0)
		snaps = append(snaps, r)
	}
	return append(snaps, ended("R4", v1.Flow_FLOW_AGENTS, v1.RunStatus_RUN_STATUS_PARTIAL, counts(200, 50, 0, 149, 1)))
}

// stepClock advances by step at every reading.
func stepClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

func TestSyncWatchPrintsALinePerSecondWhenNotATerminal(t *testing.T) {
	h := newHarness(t)
	h.fake.run = running("R4", v1.Flow_FLOW_AGENTS)
	h.fake.snaps = watchSnaps()
	h.opts.now = stepClock(400 * time.Millisecond) // one reading per snapshot: 0.4s, 0.8s, 1.2s, 1.6s, 2.0s
	code, out, errOut := h.run("sync", "agents", "--watch")
	if code != ExitRunPartial {
		t.Fatalf("code %d, want %d (stderr %q)", code, ExitRunPartial, errOut)
	}
	reqs := h.fake.requests()
	if len(reqs) != 2 || reqs[0].(*v1.SyncAgentsRequest).GetOptions().GetWait() || reqs[1].(*v1.WatchRunRequest).GetRunId() != "R4" {
		t.Fatalf("requests %v: want a start without wait, then WatchRun R4", reqs)
	}
	lines := strings.Split(out, "\n")
	want := []string{
		// 0.4s: the first snapshot is shown
		"10:00:00  agents R4  RUNNING  read 40 (100 records/s)  added 10  updated 0  skipped 30  failed 0  elapsed 400ms",
		// 0.8s and 1.2s: under a second since the last line, not shown; 1.6s: shown
		"10:00:01  agents R4  RUNNING  read 160 (100 records/s)  added 40  updated 0  skipped 120  failed 0  elapsed 2s",
		// the final snapshot is always shown (its elapsed time is the run's own)
		"10:00:02  agents R4  PARTIAL  read 200 (40 records/s)  added 50  updated 0  skipped 149  failed 1  elapsed 5s",
		"",
	}
	if len(lines) < len(want) {
		t.Fatalf("stdout:\n%s", out)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d:\n got %q\nwant %q", i, lines[i], w)
		}
	}
	if !strings.Contains(out, "status    PARTIAL") {
		t.Errorf("no summary of the run:\n%s", out)
	}
}

func TestSyncWatchJSONIsOneLinePerSnapshot(t *testing.T) {
	h := newHarness(t)
	h.fake.run = running("R4", v1.Flow_FLOW_AGENTS)
	h.fake.snaps = watchSnaps()
	code, out, _ := h.run("sync", "agents", "--watch", "--json")
	if code != ExitRunPartial {
		t.Fatalf("code %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(h.fake.snaps) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(h.fake.snaps), out)
	}
	for i, l := range lines {
		var snap v1.WatchRunResponse
		if err := protojson.Unmarshal([]byte(l), &snap); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if !proto.Equal(snap.GetRun(), h.fake.snaps[i]) {
			t.Errorf("line %d: %v, want %v", i, snap.GetRun(), h.fake.snaps[i])
		}
	}
}

func TestSyncWatchDrawsAProgressBarOnATerminal(t *testing.T) {
	h := newHarness(t)
	h.fake.run = running("R5", v1.Flow_FLOW_CUSTOMERS)
	h.fake.snaps = []*v1.Run{
		func() *v1.Run {
			r := running("R5", v1.Flow_FLOW_CUSTOMERS)
			r.Counts = counts(120, 7, 3, 110, 0)
			return r
		}(),
		ended("R5", v1.Flow_FLOW_CUSTOMERS, v1.RunStatus_RUN_STATUS_SUCCEEDED, counts(300, 17, 3, 280, 0)),
	}
	terminal := true
	h.opts.terminal = &terminal
	code, out, errOut := h.run("sync", "customers", "--watch")
	if code != ExitOK {
		t.Fatalf("code %d (stderr %q)", code, errOut)
	}
	for _, want := range []string{
		"customers R5: added 7, updated 3, skipped 110, failed 0 (120, ",
		"customers R5: added 17, updated 3, skipped 280, failed 0 (300, ",
		" records/s) [",
		"status    SUCCEEDED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the bar's output lacks %q:\n%q", want, out)
		}
	}
	if !strings.Contains(out, "\r") {
		t.Errorf("no bar redrawn in place (no carriage return):\n%q", out)
	}
}

func TestWatchEndingBeforeTheRunIsUnreachable(t *testing.T) {
	h := newHarness(t)
	h.fake.run = running("R6", v1.Flow_FLOW_AGENTS)
	h.fake.snaps = []*v1.Run{running("R6", v1.Flow_FLOW_AGENTS)}
	code, _, errOut := h.run("sync", "agents", "--watch")
	if code != ExitUnreachable || !strings.Contains(errOut, "ended before the run did") {
		t.Fatalf("code %d, stderr %q; want %d", code, errOut, ExitUnreachable)
	}
}

func TestWatchInterruptedLeavesTheRunGoing(t *testing.T) {
	h := newHarness(t)
	h.fake.run = running("R13", v1.Flow_FLOW_AGENTS)
	h.fake.snaps = []*v1.Run{running("R13", v1.Flow_FLOW_AGENTS)}
	h.fake.sent = make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-h.fake.sent
		cancel()
	}()
	code, _, errOut := h.runCtx(ctx, "sync", "agents", "--watch")
	if code != ExitInterrupted || !strings.Contains(errOut, "syncgate cancel R13") || !strings.HasSuffix(errOut, "syncgate sync: interrupted\n") {
		t.Fatalf("code %d, stderr %q; want %d and how to cancel the run", code, errOut, ExitInterrupted)
	}
}

func TestRunsPagesUpToTheLimit(t *testing.T) {
	h := newHarness(t)
	h.fake.runs = [][]*v1.Run{
		{ended("A1", v1.Flow_FLOW_AGENTS, v1.RunStatus_RUN_STATUS_PARTIAL, counts(9, 1, 2, 3, 3)), ended("A2", v1.Flow_FLOW_AGENTS, v1.RunStatus_RUN_STATUS_PARTIAL, counts(1, 0, 0, 0, 1))},
		{ended("A3", v1.Flow_FLOW_AGENTS, v1.RunStatus_RUN_STATUS_PARTIAL, counts(1, 0, 0, 0, 1))},
		{ended("A4", v1.Flow_FLOW_AGENTS, v1.RunStatus_RUN_STATUS_PARTIAL, counts(1, 0, 0, 0, 1))},
	}
	code, out, errOut := h.run("runs", "--flow", "agents", "--status", "partial", "--limit", "3")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	reqs := h.fake.requests()
	want := []*v1.ListRunsRequest{
		{Flow: v1.Flow_FLOW_AGENTS, Status: v1.RunStatus_RUN_STATUS_PARTIAL, PageSize: 3},
		{Flow: v1.Flow_FLOW_AGENTS, Status: v1.RunStatus_RUN_STATUS_PARTIAL, PageSize: 1, PageToken: "1"},
	}
	if len(reqs) != len(want) {
		t.Fatalf("requests %v", reqs)
	}
	for i := range want {
		if !proto.Equal(reqs[i], want[i]) {
			t.Errorf("request %d: %v, want %v", i, reqs[i], want[i])
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(out, "A3") || strings.Contains(out, "A4") {
		t.Fatalf("table:\n%s", out)
	}
	if !strings.Contains(lines[1], "A1  agents  PARTIAL  api") || !strings.Contains(lines[1], "2026-11-02 10:00:00  5s") {
		t.Errorf("row %q", lines[1])
	}
}

func TestRunWithRecords(t *testing.T) {
	h := newHarness(t)
	h.fake.run = ended("R7", v1.Flow_FLOW_CUSTOMERS, v1.RunStatus_RUN_STATUS_SUCCEEDED, counts(3, 3, 0, 0, 0))
	h.fake.records = [][]*v1.RecordOutcome{
		{{SourceKey: "1001", TargetKey: "D1", Action: v1.Action_ACTION_ADD, Attempt: 1, Vendor: "greatonce", Operation: "greatonce.distributor.single.sync", Outcome: "ok", At: ts(time.Second)},
			{SourceKey: "1002", Action: v1.Action_ACTION_FAIL, Attempt: 2, Outcome: "permanent", Error: "名称不能为空\nline two", At: ts(2 * time.Second)}},
		{{SourceKey: "1003", Outcome: "ok"}},
	}
	code, out, errOut := h.run("run", "R7", "--records")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	reqs := h.fake.requests()
	if len(reqs) != 2 || reqs[1].(*v1.GetRunRequest).GetPageToken() != "1" || !reqs[0].(*v1.GetRunRequest).GetIncludeRecords() {
		t.Fatalf("requests %v", reqs)
	}
	for _, want := range []string{"run       R7", "1001", "D1", "add", "greatonce.distributor.single.sync", "名称不能为空 line two", "1003"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	h = newHarness(t)
	h.fake.run = ended("R7", v1.Flow_FLOW_CUSTOMERS, v1.RunStatus_RUN_STATUS_SUCCEEDED, counts(3, 3, 0, 0, 0))
	code, out, _ = h.run("run", "R7", "--json")
	var resp v1.GetRunResponse
	if code != ExitOK || protojson.Unmarshal([]byte(out), &resp) != nil || resp.GetRun().GetId() != "R7" {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	if req := only[*v1.GetRunRequest](t, h.fake); req.GetIncludeRecords() || req.GetRunId() != "R7" {
		t.Errorf("request %v", req)
	}
}

func TestRunRecordsLimitStopsEarly(t *testing.T) {
	h := newHarness(t)
	h.fake.run = ended("R7", v1.Flow_FLOW_CUSTOMERS, v1.RunStatus_RUN_STATUS_SUCCEEDED, counts(3, 3, 0, 0, 0))
	h.fake.records = [][]*v1.RecordOutcome{{{SourceKey: "1001"}, {SourceKey: "1002"}}, {{SourceKey: "1003"}}}
	if code, _, _ := h.run("run", "R7", "--records", "--limit", "2"); code != ExitOK {
		t.Fatalf("code %d", code)
	}
	if req := only[*v1.GetRunRequest](t, h.fake); req.GetPageSize() != 2 {
		t.Errorf("page size %d, want 2", req.GetPageSize())
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t)
	h.fake.run = running("R8", v1.Flow_FLOW_AGENTS)
	code, out, _ := h.run("cancel", "R8")
	if code != ExitOK || !strings.Contains(out, "cancel requested: run R8 is RUNNING") {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	if req := only[*v1.CancelRunRequest](t, h.fake); req.GetRunId() != "R8" {
		t.Errorf("request %v", req)
	}
}

func TestAPIErrorsExit4(t *testing.T) {
	for _, c := range []connect.Code{connect.CodeFailedPrecondition, connect.CodeNotFound, connect.CodeInvalidArgument, connect.CodeUnauthenticated, connect.CodeUnavailable} {
		t.Run(c.String(), func(t *testing.T) {
			h := newHarness(t)
			h.fake.err = connect.NewError(c, errors.New("run R9 has ended"))
			code, out, errOut := h.run("cancel", "R9")
			if code != ExitAPIError {
				t.Fatalf("code %d, want %d", code, ExitAPIError)
			}
			if out != "" || errOut != "syncgate cancel: cancel run R9: "+c.String()+": run R9 has ended\n" {
				t.Errorf("stdout %q, stderr %q", out, errOut)
			}
		})
	}
}

func TestDeadLetters(t *testing.T) {
	h := newHarness(t)
	h.fake.letters = map[v1.Flow][][]*v1.DeadLetter{
		v1.Flow_FLOW_CUSTOMERS: {{{Flow: v1.Flow_FLOW_CUSTOMERS, SourceKey: "1001", Attempts: 2, LastError: "distributorName: 不能为空", LastFailedAt: ts(time.Minute)}}},
		v1.Flow_FLOW_AGENTS:    {{{Flow: v1.Flow_FLOW_AGENTS, SourceKey: "A7", Attempts: 1}}, {{Flow: v1.Flow_FLOW_AGENTS, SourceKey: "A8", Attempts: 1}}},
	}
	code, out, errOut := h.run("dead-letters")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"customers  1001  2", "distributorName: 不能为空", "A7", "A8", "customers: 1 dead letter(s)\n", "agents: 2 dead letter(s)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if n := len(h.fake.requests()); n != 3 {
		t.Errorf("%d requests, want 3 (customers, agents page 1 and 2)", n)
	}

	h.fake.reqs = nil
	code, out, _ = h.run("dead-letters", "agents", "--limit", "1", "--json")
	var resp v1.ListDeadLettersResponse
	if code != ExitOK || protojson.Unmarshal([]byte(out), &resp) != nil || len(resp.GetDeadLetters()) != 1 || resp.GetTotal() != 2 {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	if req := only[*v1.ListDeadLettersRequest](t, h.fake); req.GetFlow() != v1.Flow_FLOW_AGENTS || req.GetPageSize() != 1 {
		t.Errorf("request %v", req)
	}
}

func TestDeadLettersRetry(t *testing.T) {
	h := newHarness(t)
	h.fake.run = ended("R10", v1.Flow_FLOW_AGENTS, v1.RunStatus_RUN_STATUS_FAILED, counts(2, 0, 1, 0, 1))
	code, out, _ := h.run("dead-letters", "retry", "agents", "A7", "A8", "--wait")
	if code != ExitRunFailed || !strings.Contains(out, "status    FAILED") {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	want := &v1.RetryDeadLettersRequest{Flow: v1.Flow_FLOW_AGENTS, SourceKeys: []string{"A7", "A8"}, Wait: true}
	if req := only[*v1.RetryDeadLettersRequest](t, h.fake); !proto.Equal(req, want) {
		t.Errorf("request %v, want %v", req, want)
	}

	h = newHarness(t)
	h.fake.run = running("R11", v1.Flow_FLOW_CUSTOMERS)
	h.fake.snaps = []*v1.Run{ended("R11", v1.Flow_FLOW_CUSTOMERS, v1.RunStatus_RUN_STATUS_SUCCEEDED, counts(1, 0, 1, 0, 0))}
	if code, _, errOut := h.run("dead-letters", "retry", "customers", "--watch"); code != ExitOK {
		t.Fatalf("retry --watch: code %d, stderr %q", code, errOut)
	}
	if reqs := h.fake.requests(); len(reqs) != 2 || len(reqs[0].(*v1.RetryDeadLettersRequest).GetSourceKeys()) != 0 {
		t.Errorf("requests %v: want a retry of all, then a watch", reqs)
	}
}

func TestDeadLettersDiscard(t *testing.T) {
	h := newHarness(t)
	h.fake.run = ended("R12", v1.Flow_FLOW_CUSTOMERS, v1.RunStatus_RUN_STATUS_SUCCEEDED, counts(0, 0, 0, 0, 0))
	h.fake.discarded = []string{"1001"}
	code, out, _ := h.run("dead-letters", "discard", "customers", "1001", "1009", "--reason", "客户已停用")
	if code != ExitOK || !strings.Contains(out, "discarded 1 of 2 (recorded in run R12): 1001") || !strings.Contains(out, "no dead letter: 1009") {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	want := &v1.DiscardDeadLettersRequest{Flow: v1.Flow_FLOW_CUSTOMERS, SourceKeys: []string{"1001", "1009"}, Reason: "客户已停用"}
	if req := only[*v1.DiscardDeadLettersRequest](t, h.fake); !proto.Equal(req, want) {
		t.Errorf("request %v, want %v", req, want)
	}
}

func TestRecord(t *testing.T) {
	h := newHarness(t)
	h.fake.record = []*v1.GetRecordResponse{
		{SourceKey: "1001", Mapping: &v1.RecordMapping{TargetKey: "D1001", Payload: `{"distributorName":"上海植隆贸易有限公司"}`, CreatedAt: ts(0), DeliveredAt: ts(time.Hour)},
			History: []*v1.RecordOutcome{{RunId: "R1", Action: v1.Action_ACTION_UPDATE, Attempt: 1, Outcome: "ok", At: ts(time.Hour)}}, NextPageToken: "1"},
		{SourceKey: "1001", History: []*v1.RecordOutcome{{RunId: "R0", Action: v1.Action_ACTION_ADD, Attempt: 1, Outcome: "ok", At: ts(0)}}},
	}
	code, out, errOut := h.run("record", "customers", "CUST0000001")
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"record       customers 1001", "target       D1001", "dead letter  none", "  {\n    \"distributorName\": \"上海植隆贸易有限公司\"\n  }", "history (newest first, 2 row(s))", "R1", "R0", "update"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	reqs := h.fake.requests()
	if len(reqs) != 2 || reqs[0].(*v1.GetRecordRequest).GetSourceKey() != "CUST0000001" || reqs[0].(*v1.GetRecordRequest).GetFlow() != v1.Flow_FLOW_CUSTOMERS || reqs[1].(*v1.GetRecordRequest).GetPageToken() != "1" {
		t.Errorf("requests %v", reqs)
	}
}

func TestSchedules(t *testing.T) {
	h := newHarness(t)
	h.fake.schedules = []*v1.Schedule{
		{Flow: v1.Flow_FLOW_CUSTOMERS, Every: durationpb.New(5 * time.Minute), Jitter: durationpb.New(10 * time.Second), NextRunAt: ts(5 * time.Minute), LastRunId: "R1", LastResult: "started"},
		{Flow: v1.Flow_FLOW_AGENTS, Cron: "*/15 * * * *", Paused: true},
	}
	code, out, _ := h.run("schedules")
	if code != ExitOK {
		t.Fatalf("code %d", code)
	}
	for _, want := range []string{"customers  every 5m0s (jitter 10s)  active  2026-11-02 10:05:00", "started", "agents     cron */15 * * * *", "paused"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = h.run("schedules", "--json")
	var resp v1.ListSchedulesResponse
	if code != ExitOK || protojson.Unmarshal([]byte(out), &resp) != nil || len(resp.GetSchedules()) != 2 {
		t.Fatalf("code %d, stdout %q", code, out)
	}
}

func TestSchedule(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		args []string
		want *v1.UpdateScheduleRequest
	}{
		{[]string{"--every", "5m", "--jitter", "10s"}, &v1.UpdateScheduleRequest{Flow: v1.Flow_FLOW_AGENTS, Every: durationpb.New(5 * time.Minute), Jitter: durationpb.New(10 * time.Second)}},
		{[]string{"--cron", "*/5 * * * *"}, &v1.UpdateScheduleRequest{Flow: v1.Flow_FLOW_AGENTS, Cron: "*/5 * * * *"}},
		{[]string{"--pause"}, &v1.UpdateScheduleRequest{Flow: v1.Flow_FLOW_AGENTS, Paused: &yes}},
		{[]string{"--resume"}, &v1.UpdateScheduleRequest{Flow: v1.Flow_FLOW_AGENTS, Paused: &no}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			h := newHarness(t)
			code, out, errOut := h.run(append([]string{"schedule", "agents"}, tc.args...)...)
			if code != ExitOK || !strings.HasPrefix(out, "FLOW") {
				t.Fatalf("code %d, stdout %q, stderr %q", code, out, errOut)
			}
			if req := only[*v1.UpdateScheduleRequest](t, h.fake); !proto.Equal(req, tc.want) {
				t.Errorf("request %v, want %v", req, tc.want)
			}
		})
	}
}

func TestPreview(t *testing.T) {
	dir := t.TempDir()
	recs := filepath.Join(dir, "agents.json")
	if err := os.WriteFile(recs, []byte(`[{"agentId":"A1","agentName":"上海植隆贸易有限公司"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "agents.yaml")
	if err := os.WriteFile(spec, []byte("fields: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.fake.preview = &v1.PreviewResponse{Records: []*v1.PreviewRecord{{
		SourceKey: "A1", Action: v1.Action_ACTION_UPDATE, TargetKey: "100234", TargetOperation: "BD_Customer BatchSave",
		RequestBody: `{"FName":"上海植隆贸易有限公司","FUseOrgId":{"FNumber":"101"}}`,
		Diff:        []*v1.FieldChange{{Field: "FName", OldValue: `"旧名"`, NewValue: `"上海植隆贸易有限公司"`}},
		Warnings:    []*v1.Issue{{FieldPath: "FShortName", Message: "truncated"}},
	}}}
	code, out, errOut := h.run("preview", "agents", "--records", recs, "--spec", spec)
	if code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"== A1: update 100234 via BD_Customer BatchSave",
		"request body:\n  {\n    \"FName\": \"上海植隆贸易有限公司\",\n    \"FUseOrgId\": {\n      \"FNumber\": \"101\"\n    }\n  }\n",
		"FName", `"旧名"`, "warning: FShortName: truncated",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	req := only[*v1.PreviewRequest](t, h.fake)
	if req.GetSpec() != "fields: {}\n" || req.GetFlow() != v1.Flow_FLOW_AGENTS || len(req.GetInline().GetRecords()) != 1 ||
		req.GetInline().GetRecords()[0].GetFields()["agentName"].GetStringValue() != "上海植隆贸易有限公司" {
		t.Errorf("request %v", req)
	}

	h.fake.reqs = nil
	if code, _, _ := h.run("preview", "customers", "--keys", "CUST0000001,CUST0000002"); code != ExitOK {
		t.Fatalf("--keys: code %d", code)
	}
	if req := only[*v1.PreviewRequest](t, h.fake); strings.Join(req.GetKeys().GetKeys(), ",") != "CUST0000001,CUST0000002" {
		t.Errorf("request %v", req)
	}
	h.fake.reqs = nil
	code, out, _ = h.run("preview", "customers", "--pending", "3", "--json")
	var resp v1.PreviewResponse
	if code != ExitOK || protojson.Unmarshal([]byte(out), &resp) != nil || len(resp.GetRecords()) != 1 {
		t.Fatalf("--pending --json: code %d, stdout %q", code, out)
	}
	if req := only[*v1.PreviewRequest](t, h.fake); req.GetPending().GetCount() != 3 {
		t.Errorf("request %v", req)
	}
}

func TestUsageErrorsExit2WithoutACall(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"sync"},
		{"sync", "vendors"},
		{"sync", "customers", "--bogus"},
		{"sync", "customers", "--wait", "--watch"},
		{"sync", "agents", "--use-orgs", "101"},
		{"sync", "customers", "--limit", "many"},
		{"runs", "extra"},
		{"runs", "--status", "done"},
		{"run"},
		{"cancel", "R1", "R2"},
		{"dead-letters", "vendors"},
		{"dead-letters", "discard", "customers", "1001"},
		{"dead-letters", "retry", "customers", "--reason", "x"},
		{"dead-letters", "agents", "--wait"},
		{"record", "customers"},
		{"schedule", "agents"},
		{"schedule", "agents", "--every", "5m", "--cron", "@hourly"},
		{"schedule", "agents", "--pause", "--resume"},
		{"schedule", "agents", "--jitter", "1s"},
		{"preview", "agents"},
		{"preview", "agents", "--keys", "A1", "--pending", "2"},
		{"preview", "agents", "--records", filepath.Join(dir, "missing.json")},
		{"preview", "agents", "--keys", "A1", "--spec", filepath.Join(dir, "missing.yaml")},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			h := newHarness(t)
			code, out, errOut := h.run(args...)
			if code != ExitUsage || errOut == "" {
				t.Errorf("code %d, stderr %q; want %d and a message", code, errOut, ExitUsage)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			if reqs := h.fake.requests(); len(reqs) != 0 {
				t.Errorf("a usage error made calls: %v", reqs)
			}
		})
	}
}

func TestHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"sync", "--help"}, {"dead-letters", "-h"}, {"preview", "--help"}} {
		h := newHarness(t)
		h.env = map[string]string{"SYNCGATE_API_KEY": "a", "SYNCGATE_API_KEY_FILE": "b"} // --help needs no environment
		code, _, errOut := h.run(args...)
		if code != ExitOK || !strings.Contains(errOut, "Usage: syncgate "+args[0]) || !strings.Contains(errOut, "Exit codes: 0 ok") {
			t.Errorf("%q: code %d, stderr %q", args, code, errOut)
		}
		if n := strings.Count(errOut, "Usage: "); n != 1 {
			t.Errorf("%q: the usage is printed %d times, want once:\n%s", args, n, errOut)
		}
	}
}

func TestUnreachableExit5(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	notAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(notAPI.Close)
	for _, url := range []string{"http://" + addr, notAPI.URL} {
		h := newHarness(t)
		h.env["SYNCGATE_URL"] = url
		code, _, errOut := h.run("runs")
		if code != ExitUnreachable || !strings.HasPrefix(errOut, "syncgate runs: list runs: ") {
			t.Errorf("%s: code %d, stderr %q; want %d", url, code, errOut, ExitUnreachable)
		}
	}
}

func TestURLFlagAndBadURL(t *testing.T) {
	h := newHarness(t)
	good := h.env["SYNCGATE_URL"]
	h.env["SYNCGATE_URL"] = "http://127.0.0.1:1"
	if code, _, errOut := h.run("schedules", "--url", good); code != ExitOK {
		t.Errorf("--url: code %d, stderr %q", code, errOut)
	}
	h.env["SYNCGATE_URL"] = "127.0.0.1:8080"
	if code, _, errOut := h.run("schedules"); code != ExitUsage || !strings.Contains(errOut, "want http://HOST:PORT") {
		t.Errorf("bad URL: code %d, stderr %q", code, errOut)
	}
}

func TestKeyFromFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("  "+testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.env = map[string]string{"SYNCGATE_URL": h.env["SYNCGATE_URL"], "SYNCGATE_API_KEY_FILE": file}
	if code, _, errOut := h.run("schedules"); code != ExitOK {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	if got := h.fake.auths; len(got) != 1 || got[0] != "Bearer "+testKey {
		t.Errorf("authorization headers %q, want the trimmed key from the file", got)
	}

	h.env["SYNCGATE_API_KEY"] = testKey
	if code, _, errOut := h.run("schedules"); code != ExitUsage || !strings.Contains(errOut, "both SYNCGATE_API_KEY and SYNCGATE_API_KEY_FILE") {
		t.Errorf("both set: code %d, stderr %q", code, errOut)
	}
	delete(h.env, "SYNCGATE_API_KEY")
	h.env["SYNCGATE_API_KEY_FILE"] = filepath.Join(dir, "missing")
	if code, _, errOut := h.run("schedules"); code != ExitUsage || !strings.Contains(errOut, "SYNCGATE_API_KEY_FILE") {
		t.Errorf("missing file: code %d, stderr %q", code, errOut)
	}
	if n := len(h.fake.requests()); n != 1 {
		t.Errorf("%d calls, want only the first", n)
	}
}

func TestNoKeySendsNoAuthorization(t *testing.T) {
	h := newHarness(t)
	delete(h.env, "SYNCGATE_API_KEY")
	if code, _, _ := h.run("schedules"); code != ExitOK {
		t.Fatalf("code %d", code)
	}
	if got := h.fake.auths; len(got) != 1 || got[0] != "" {
		t.Errorf("authorization headers %q, want none", got)
	}
}

func TestInterruptedExit130(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	code, _, errOut := h.runCtx(ctx, "runs")
	if code != ExitInterrupted || errOut != "syncgate runs: interrupted\n" {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
}

func TestIsCommand(t *testing.T) {
	for _, name := range []string{"sync", "runs", "run", "cancel", "dead-letters", "record", "schedules", "schedule", "preview"} {
		if !IsCommand(name) {
			t.Errorf("IsCommand(%q) = false", name)
		}
	}
	for _, name := range []string{"migrate", "settings", "--demo", ""} {
		if IsCommand(name) {
			t.Errorf("IsCommand(%q) = true: it belongs to the server", name)
		}
	}
}
