package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/retention"
	"github.com/syncgate/syncgate/server/vendorhealth"
)

// Engine is what the handlers need of the sync engine.
type Engine interface {
	Start(ctx context.Context, flow string, opts engine.Options) (engine.Run, error)
	Wait(ctx context.Context, runID string) (engine.Run, error)
	Watch(ctx context.Context, runID string) (<-chan engine.Run, error)
	GetRun(ctx context.Context, id string) (engine.Run, error)
	ListRuns(ctx context.Context, f engine.ListFilter) ([]engine.Run, string, error)
	FilterRunRecords(ctx context.Context, runID string, f engine.RecordFilter, pageToken string, pageSize int) ([]engine.RecordOutcome, string, error)
	PreviewReport(ctx context.Context, flow string, in engine.PreviewInput) (engine.PreviewResult, error)
	Cancel(ctx context.Context, runID string) (engine.Run, error)
	ListDeadLetters(ctx context.Context, flow, pageToken string, pageSize int) (engine.DeadLetterPage, error)
	RetryDeadLetters(ctx context.Context, flow string, keys []string, actor string) (engine.Run, error)
	DiscardDeadLetters(ctx context.Context, flow string, keys []string, reason, actor string) (engine.Run, []string, error)
	GetRecord(ctx context.Context, flow, key, pageToken string, pageSize int) (engine.RecordStory, error)
	ListSchedules(ctx context.Context) ([]engine.Schedule, error)
	UpdateSchedule(ctx context.Context, flow string, u engine.ScheduleUpdate) (engine.Schedule, error)
	Overview(ctx context.Context, lastRuns int) ([]engine.FlowOverview, error)
}

// VendorHealth is what GetOverview reports of the vendors: a snapshot of what this process has seen,
// one entry per vendor, by name (a *vendorhealth.Tracker).
type VendorHealth interface {
	Snapshot() []vendorhealth.Health
}

// Retention is what GetOverview reports of retention: its policy and latest recorded pass (a
// *retention.Pruner).
type Retention interface {
	Status(ctx context.Context) (retention.Status, error)
}

// Handler implements syncgatev1connect.SyncServiceHandler on top of the engine.
type Handler struct {
	engine    Engine
	log       *slog.Logger
	vendors   VendorHealth
	retention Retention
}

var _ syncgatev1connect.SyncServiceHandler = (*Handler)(nil)

// NewHandler returns the SyncService handler.
func NewHandler(e Engine, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{engine: e, log: log}
}

// WithVendorHealth makes GetOverview report the vendors' health from v (without it, no vendors).
func (h *Handler) WithVendorHealth(v VendorHealth) *Handler {
	h.vendors = v
	return h
}

// WithRetention makes GetOverview report retention from r (without it, no retention).
func (h *Handler) WithRetention(r Retention) *Handler {
	h.retention = r
	return h
}

// SyncCustomers starts (and optionally waits for) a Kingdee -> Greatonce run.
func (h *Handler) SyncCustomers(ctx context.Context, req *syncgatev1.SyncCustomersRequest) (*syncgatev1.SyncCustomersResponse, error) {
	opts := optionsFromProto(req.GetOptions())
	opts.UseOrgNumbers = req.GetUseOrgNumbers()
	run, err := h.sync(ctx, engine.FlowCustomers, opts, req.GetOptions().GetWait())
	if err != nil {
		return nil, err
	}
	return &syncgatev1.SyncCustomersResponse{Run: run}, nil
}

// SyncAgents starts (and optionally waits for) a Zhilong -> Kingdee run.
func (h *Handler) SyncAgents(ctx context.Context, req *syncgatev1.SyncAgentsRequest) (*syncgatev1.SyncAgentsResponse, error) {
	run, err := h.sync(ctx, engine.FlowAgents, optionsFromProto(req.GetOptions()), req.GetOptions().GetWait())
	if err != nil {
		return nil, err
	}
	return &syncgatev1.SyncAgentsResponse{Run: run}, nil
}

func (h *Handler) sync(ctx context.Context, flow string, opts engine.Options, wait bool) (*syncgatev1.Run, error) {
	opts.Trigger, opts.Actor = engine.TriggerAPI, KeyName(ctx)
	run, err := h.engine.Start(ctx, flow, opts)
	return h.follow(ctx, run, err, wait)
}

// follow answers for a run just started: at once, or when it has ended if wait.
func (h *Handler) follow(ctx context.Context, run engine.Run, err error, wait bool) (*syncgatev1.Run, error) {
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	if wait {
		// The run belongs to the engine: a caller that hangs up stops waiting, not the run.
		if run, err = h.engine.Wait(ctx, run.ID); err != nil {
			return nil, toConnect(ctx, h.log, err)
		}
	}
	return runToProto(run), nil
}

// Preview renders what a sync would send; it never writes.
func (h *Handler) Preview(ctx context.Context, req *syncgatev1.PreviewRequest) (*syncgatev1.PreviewResponse, error) {
	in := engine.PreviewInput{SpecText: req.GetSpec()}
	switch src := req.GetSource().(type) {
	case *syncgatev1.PreviewRequest_Inline:
		for _, r := range src.Inline.GetRecords() {
			in.Records = append(in.Records, r.AsMap())
		}
	case *syncgatev1.PreviewRequest_Keys:
		in.Keys = src.Keys.GetKeys()
	case *syncgatev1.PreviewRequest_Pending:
		in.Pending = int(src.Pending.GetCount())
	}
	res, err := h.engine.PreviewReport(ctx, flows.name(req.GetFlow()), in)
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	out := &syncgatev1.PreviewResponse{SourcePagesRead: int32(res.SourcePages)}
	for _, it := range res.Items {
		rec, err := previewToProto(it)
		if err != nil {
			return nil, toConnect(ctx, h.log, err)
		}
		out.Records = append(out.Records, rec)
	}
	return out, nil
}

// GetRun reads one run and optionally a page of its audit trail.
func (h *Handler) GetRun(ctx context.Context, req *syncgatev1.GetRunRequest) (*syncgatev1.GetRunResponse, error) {
	run, err := h.engine.GetRun(ctx, req.GetRunId())
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	out := &syncgatev1.GetRunResponse{Run: runToProto(run)}
	if req.GetIncludeRecords() {
		size := int(req.GetPageSize())
		if size == 0 {
			size = 100
		}
		f := engine.RecordFilter{Action: actions.name(req.GetAction()), Outcome: req.GetOutcome()}
		recs, next, err := h.engine.FilterRunRecords(ctx, run.ID, f, req.GetPageToken(), size)
		if err != nil {
			return nil, toConnect(ctx, h.log, err)
		}
		for _, r := range recs {
			out.Records = append(out.Records, recordToProto(r))
		}
		out.NextPageToken = next
	}
	return out, nil
}

// ListRuns lists runs newest first.
func (h *Handler) ListRuns(ctx context.Context, req *syncgatev1.ListRunsRequest) (*syncgatev1.ListRunsResponse, error) {
	size := int(req.GetPageSize())
	if size == 0 {
		size = 50
	}
	runs, next, err := h.engine.ListRuns(ctx, engine.ListFilter{
		Flow:      flows.name(req.GetFlow()),
		Status:    string(statuses.name(req.GetStatus())),
		PageSize:  size,
		PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	out := &syncgatev1.ListRunsResponse{NextPageToken: next}
	for _, r := range runs {
		out.Runs = append(out.Runs, runToProto(r))
	}
	return out, nil
}

// WatchRun streams run snapshots until the run ends.
func (h *Handler) WatchRun(ctx context.Context, req *syncgatev1.WatchRunRequest, stream *connect.ServerStream[syncgatev1.WatchRunResponse]) error {
	ch, err := h.engine.Watch(ctx, req.GetRunId())
	if err != nil {
		return toConnect(ctx, h.log, err)
	}
	for run := range ch {
		if err := stream.Send(&syncgatev1.WatchRunResponse{Run: runToProto(run)}); err != nil {
			return err
		}
	}
	return toConnect(ctx, h.log, ctx.Err())
}

// CancelRun asks a run to stop at its next page boundary.
func (h *Handler) CancelRun(ctx context.Context, req *syncgatev1.CancelRunRequest) (*syncgatev1.CancelRunResponse, error) {
	run, err := h.engine.Cancel(ctx, req.GetRunId())
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	return &syncgatev1.CancelRunResponse{Run: runToProto(run)}, nil
}

// ListDeadLetters pages through a flow's dead letters.
func (h *Handler) ListDeadLetters(ctx context.Context, req *syncgatev1.ListDeadLettersRequest) (*syncgatev1.ListDeadLettersResponse, error) {
	flow := flows.name(req.GetFlow())
	p, err := h.engine.ListDeadLetters(ctx, flow, req.GetPageToken(), int(req.GetPageSize()))
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	out := &syncgatev1.ListDeadLettersResponse{NextPageToken: p.NextPageToken, Total: p.Total}
	for _, d := range p.Letters {
		out.DeadLetters = append(out.DeadLetters, deadLetterToProto(flow, d))
	}
	return out, nil
}

// RetryDeadLetters retries dead letters as a run.
func (h *Handler) RetryDeadLetters(ctx context.Context, req *syncgatev1.RetryDeadLettersRequest) (*syncgatev1.RetryDeadLettersResponse, error) {
	run, err := h.engine.RetryDeadLetters(ctx, flows.name(req.GetFlow()), req.GetSourceKeys(), KeyName(ctx))
	out, err := h.follow(ctx, run, err, req.GetWait())
	if err != nil {
		return nil, err
	}
	return &syncgatev1.RetryDeadLettersResponse{Run: out}, nil
}

// DiscardDeadLetters discards selected dead letters, keeping an audit row for each.
func (h *Handler) DiscardDeadLetters(ctx context.Context, req *syncgatev1.DiscardDeadLettersRequest) (*syncgatev1.DiscardDeadLettersResponse, error) {
	run, keys, err := h.engine.DiscardDeadLetters(ctx, flows.name(req.GetFlow()), req.GetSourceKeys(), req.GetReason(), KeyName(ctx))
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	return &syncgatev1.DiscardDeadLettersResponse{Run: runToProto(run), Discarded: texts(keys)}, nil
}

// GetRecord tells one record's story.
func (h *Handler) GetRecord(ctx context.Context, req *syncgatev1.GetRecordRequest) (*syncgatev1.GetRecordResponse, error) {
	flow := flows.name(req.GetFlow())
	s, err := h.engine.GetRecord(ctx, flow, req.GetSourceKey(), req.GetPageToken(), int(req.GetPageSize()))
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	out := &syncgatev1.GetRecordResponse{SourceKey: text(s.SourceKey), NextPageToken: s.NextPageToken}
	if m := s.Mapping; m != nil {
		out.Mapping = &syncgatev1.RecordMapping{TargetKey: text(m.TargetKey), Payload: text(string(m.Payload)),
			CreatedAt: ts(m.CreatedAt), DeliveredAt: ts(m.UpdatedAt)}
	}
	if s.DeadLetter != nil {
		out.DeadLetter = deadLetterToProto(flow, *s.DeadLetter)
	}
	for _, r := range s.History {
		out.History = append(out.History, recordToProto(r))
	}
	return out, nil
}

// ListSchedules shows every flow's schedule.
func (h *Handler) ListSchedules(ctx context.Context, _ *syncgatev1.ListSchedulesRequest) (*syncgatev1.ListSchedulesResponse, error) {
	list, err := h.engine.ListSchedules(ctx)
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	out := &syncgatev1.ListSchedulesResponse{}
	for _, s := range list {
		out.Schedules = append(out.Schedules, scheduleToProto(s))
	}
	return out, nil
}

// UpdateSchedule changes, pauses or resumes a flow's schedule.
func (h *Handler) UpdateSchedule(ctx context.Context, req *syncgatev1.UpdateScheduleRequest) (*syncgatev1.UpdateScheduleResponse, error) {
	u := engine.ScheduleUpdate{Every: req.GetEvery().AsDuration(), Jitter: req.GetJitter().AsDuration(), Cron: req.GetCron()}
	if req.Paused != nil {
		p := req.GetPaused()
		u.Paused = &p
	}
	s, err := h.engine.UpdateSchedule(ctx, flows.name(req.GetFlow()), u)
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	return &syncgatev1.UpdateScheduleResponse{Schedule: scheduleToProto(s)}, nil
}

func deadLetterToProto(flow string, d engine.DeadLetter) *syncgatev1.DeadLetter {
	return &syncgatev1.DeadLetter{Flow: flows.proto(flow), SourceKey: text(d.SourceKey), Attempts: int32(d.Attempts),
		LastError: text(d.LastError), FirstFailedAt: ts(d.FirstFailedAt), LastFailedAt: ts(d.LastFailedAt),
		SourceRecord: text(string(d.Payload))}
}

func scheduleToProto(s engine.Schedule) *syncgatev1.Schedule {
	out := &syncgatev1.Schedule{Flow: flows.proto(s.Flow), Cron: s.Cron, Paused: s.Paused, NextRunAt: ts(s.NextRunAt),
		LastFiredAt: ts(s.LastFiredAt), LastRunId: s.LastRunID, LastResult: text(s.LastResult)}
	if s.Every > 0 {
		out.Every = durationpb.New(s.Every)
		if s.Jitter > 0 {
			out.Jitter = durationpb.New(s.Jitter)
		}
	}
	return out
}

func optionsFromProto(o *syncgatev1.SyncOptions) engine.Options {
	opts := engine.Options{
		DryRun:     o.GetDryRun(),
		FullResync: o.GetFullResync(),
		Limit:      int(o.GetLimit()),
		SourceKeys: o.GetSourceKeys(),
	}
	if w := o.GetWindow(); w != nil {
		opts.Window = &engine.Window{End: w.GetEnd().AsTime()}
		if w.GetStart() != nil { // unset: from the beginning (the zero time, as a run reports it)
			opts.Window.Start = w.GetStart().AsTime()
		}
	}
	return opts
}

// enumTable pairs each value of a proto enum with the engine's name for it: the one table the
// handlers read both ways, request enums to engine names and engine names to response enums. The
// enum's zero value (…_UNSPECIFIED) has no entry: it reads as the empty name (no filter), and a
// name without an entry reads as it.
type enumTable[P ~int32, N ~string] []struct {
	proto P
	name  N
}

// name returns the engine name of p, or "" if p has none.
func (t enumTable[P, N]) name(p P) N {
	for _, e := range t {
		if e.proto == p {
			return e.name
		}
	}
	var none N
	return none
}

// proto returns the enum value named n, or the zero value if no entry has that name.
func (t enumTable[P, N]) proto(n N) P {
	for _, e := range t {
		if e.name == n {
			return e.proto
		}
	}
	var unspecified P
	return unspecified
}

var flows = enumTable[syncgatev1.Flow, string]{
	{syncgatev1.Flow_FLOW_CUSTOMERS, engine.FlowCustomers},
	{syncgatev1.Flow_FLOW_AGENTS, engine.FlowAgents},
}

var statuses = enumTable[syncgatev1.RunStatus, engine.Status]{
	{syncgatev1.RunStatus_RUN_STATUS_RUNNING, engine.StatusRunning},
	{syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED, engine.StatusSucceeded},
	{syncgatev1.RunStatus_RUN_STATUS_PARTIAL, engine.StatusPartial},
	{syncgatev1.RunStatus_RUN_STATUS_FAILED, engine.StatusFailed},
	{syncgatev1.RunStatus_RUN_STATUS_CANCELLED, engine.StatusCancelled},
}

var triggers = enumTable[syncgatev1.Trigger, engine.Trigger]{
	{syncgatev1.Trigger_TRIGGER_API, engine.TriggerAPI},
	{syncgatev1.Trigger_TRIGGER_SCHEDULE, engine.TriggerSchedule},
	{syncgatev1.Trigger_TRIGGER_RETRY, engine.TriggerRetry},
	{syncgatev1.Trigger_TRIGGER_DISCARD, engine.TriggerDiscard},
}

var actions = enumTable[syncgatev1.Action, string]{
	{syncgatev1.Action_ACTION_ADD, engine.ActionAdd},
	{syncgatev1.Action_ACTION_UPDATE, engine.ActionUpdate},
	{syncgatev1.Action_ACTION_SKIP, engine.ActionSkip},
	{syncgatev1.Action_ACTION_FAIL, engine.ActionFail},
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func runToProto(r engine.Run) *syncgatev1.Run {
	out := &syncgatev1.Run{
		Id:         text(r.ID),
		Flow:       flows.proto(r.Flow),
		Status:     statuses.proto(r.Status),
		DryRun:     r.DryRun,
		FullResync: r.FullResync,
		Counts: &syncgatev1.RunCounts{
			Read: r.Counts.Read, Added: r.Counts.Added, Updated: r.Counts.Updated,
			Skipped: r.Counts.Skipped, Failed: r.Counts.Failed, Retried: r.Counts.Retried,
		},
		StartedAt:  ts(r.StartedAt),
		FinishedAt: ts(r.FinishedAt),
		Error:      text(r.Error),
		Limit:      int32(r.Limit),
		SourceKeys: texts(r.SourceKeys),
		Trigger:    triggers.proto(r.Trigger),
		Actor:      text(r.Actor),
	}
	if !r.WindowStart.IsZero() || !r.WindowEnd.IsZero() {
		out.Window = &syncgatev1.TimeWindow{Start: ts(r.WindowStart), End: ts(r.WindowEnd)}
	}
	return out
}

func recordToProto(r engine.RecordOutcome) *syncgatev1.RecordOutcome {
	return &syncgatev1.RecordOutcome{
		SourceKey: text(r.SourceKey),
		TargetKey: text(r.TargetKey),
		Action:    actions.proto(r.Action),
		Attempt:   int32(r.Attempt),
		Vendor:    text(r.Vendor),
		Operation: text(r.Operation),
		Request:   text(r.Request),
		Response:  text(r.Response),
		Outcome:   text(r.Outcome),
		Error:     text(r.Error),
		At:        ts(r.At),
		RunId:     text(r.RunID),
	}
}

func previewToProto(it engine.PreviewItem) (*syncgatev1.PreviewRecord, error) {
	src, err := toStruct(it.Source)
	if err != nil {
		return nil, err
	}
	opts, err := toStruct(it.CallOptions)
	if err != nil {
		return nil, err
	}
	out := &syncgatev1.PreviewRecord{
		SourceKey:       text(it.SourceKey),
		Source:          src,
		TargetOperation: text(it.TargetOperation),
		RequestBody:     text(string(it.Body)),
		CallOptions:     opts,
		Action:          actions.proto(it.Action),
		TargetKey:       text(it.TargetKey),
	}
	for _, d := range it.Diff {
		out.Diff = append(out.Diff, &syncgatev1.FieldChange{Field: text(d.Field), OldValue: jsonText(d.Old), NewValue: jsonText(d.New)})
	}
	for _, w := range it.Warnings {
		out.Warnings = append(out.Warnings, &syncgatev1.Issue{FieldPath: text(w.Field), Message: text(w.Message)})
	}
	for _, e := range it.Errors {
		out.Errors = append(out.Errors, &syncgatev1.Issue{FieldPath: text(e.Field), Message: text(e.Message)})
	}
	return out, nil
}

// text makes s valid UTF-8 for a proto3 string field, replacing each invalid byte sequence (such as a
// character cut by a byte limit) with U+FFFD. An invalid string would make the whole response fail to
// marshal, so no stored row may reach a message unchecked.
func text(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func texts(ss []string) []string {
	for i, s := range ss {
		if !utf8.ValidString(s) {
			out := slices.Clone(ss)
			for j := i; j < len(out); j++ {
				out[j] = text(out[j])
			}
			return out
		}
	}
	return ss
}

// toStruct converts a JSON-shaped map to a Struct, going through JSON so that any value the engine
// holds (numbers, nested maps, json.Number) is accepted; encoding/json replaces invalid UTF-8 in keys
// and strings with U+FFFD.
func toStruct(m map[string]any) (*structpb.Struct, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	if err := s.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return s, nil
}

func jsonText(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// GetOverview reports every flow's state and every vendor's health.
func (h *Handler) GetOverview(ctx context.Context, req *syncgatev1.GetOverviewRequest) (*syncgatev1.GetOverviewResponse, error) {
	list, err := h.engine.Overview(ctx, int(req.GetLastRuns()))
	if err != nil {
		return nil, toConnect(ctx, h.log, err)
	}
	out := &syncgatev1.GetOverviewResponse{}
	for _, o := range list {
		f := &syncgatev1.FlowOverview{Flow: flows.proto(o.Flow), Schedule: scheduleToProto(o.Schedule),
			DeadLetters: o.DeadLetters, RunningRunId: text(o.RunningRunID)}
		for _, r := range o.LastRuns {
			f.LastRuns = append(f.LastRuns, runToProto(r))
		}
		if cp := o.Checkpoint; cp != nil {
			f.Checkpoint = &syncgatev1.Checkpoint{ModifiedAt: ts(cp.Time), SourceKey: text(cp.Key)}
		}
		out.Flows = append(out.Flows, f)
	}
	if h.vendors != nil {
		for _, v := range h.vendors.Snapshot() {
			out.Vendors = append(out.Vendors, &syncgatev1.VendorHealth{Vendor: text(v.Vendor), LastCallAt: ts(v.LastCallAt),
				LastOperation: text(v.LastOperation), LastOk: v.LastOK, LastError: text(v.LastError), Attempts: v.Attempts,
				Failures: v.Failures, Throttled: v.Throttled, LastThrottledAt: ts(v.LastThrottledAt)})
		}
	}
	if h.retention != nil {
		rs, err := h.retention.Status(ctx)
		if err != nil {
			return nil, toConnect(ctx, h.log, fmt.Errorf("overview: retention: %w", err))
		}
		out.Retention = &syncgatev1.RetentionOverview{Enabled: rs.Enabled, Policy: text(rs.Policy)}
		if p := rs.LastPass; p != nil {
			out.Retention.LastPass = &syncgatev1.RetentionPass{StartedAt: ts(p.StartedAt), FinishedAt: ts(p.FinishedAt),
				Policy: text(p.Policy), Runs: p.Runs, Records: p.Records, OldestRunId: text(p.OldestRunID),
				NewestRunId: text(p.NewestRunID), Error: text(p.Error)}
		}
	}
	return out, nil
}
