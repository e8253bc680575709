// Package engine runs syncgate's flows. One engine serves both syncs: it reads source pages, maps each
// record with the flow's mapping spec, plans add / update / skip against the id mappings, hands the
// planned records to the flow's target, and commits each page (mappings, audit rows, dead letters,
// checkpoint) in one store transaction. Preview and dry runs take the same path and stop before the
// target, with only a read-only view of the store.
//
// A flow is an adapter (server/flows/customers, server/flows/agents) that implements Source and
// Target and translates its vendors' errors into Failures; the engine knows no vendor. Storage is
// whatever implements server/storage.Store (server/storage/sqlite).
package engine

import (
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

// Flow names.
const (
	FlowCustomers = "customers" // Kingdee customers -> Greatonce distributors
	FlowAgents    = "agents"    // Zhilong agents -> Kingdee customers
)

// Status is a run's lifecycle state.
type Status string

// Run statuses.
const (
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusPartial   Status = "partial"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Actions planned for a record.
const (
	ActionAdd    = "add"
	ActionUpdate = "update"
	ActionSkip   = "skip"
	ActionFail   = "fail"
)

// Window is a closed interval of source modification times.
type Window struct {
	Start, End time.Time
}

// Options tune one run.
type Options struct {
	// DryRun plans and reports without writing anything.
	DryRun bool `json:"dry_run,omitempty"`
	// FullResync ignores the checkpoint (still idempotent).
	FullResync bool `json:"full_resync,omitempty"`
	// Window replaces the checkpoint window; such a run does not move the checkpoint.
	Window *Window `json:"window,omitempty"`
	// Limit stops after this many source records (0: no limit).
	Limit int `json:"limit,omitempty"`
	// SourceKeys restricts the run to these records; the checkpoint does not move.
	SourceKeys []string `json:"source_keys,omitempty"`
	// UseOrgNumbers restricts a customers run to these Kingdee use organisations.
	UseOrgNumbers []string `json:"use_org_numbers,omitempty"`
	// RetryKeys makes the run retry only these dead letters, RetryAll all of the flow's; such a run
	// reads nothing else and does not move the checkpoint.
	RetryKeys []string `json:"retry_keys,omitempty"`
	RetryAll  bool     `json:"retry_all,omitempty"`
	// Trigger is what starts the run (default TriggerAPI) and Actor who (an API key's name).
	Trigger Trigger `json:"-"`
	Actor   string  `json:"-"`
}

// Trigger says what started a run.
type Trigger string

// Triggers.
const (
	TriggerAPI      Trigger = "api"
	TriggerSchedule Trigger = "schedule"
	TriggerRetry    Trigger = "retry"
	TriggerDiscard  Trigger = "discard"
)

// retryOnly reports whether the run retries dead letters and nothing else.
func (o Options) retryOnly() bool { return o.RetryAll || len(o.RetryKeys) > 0 }

// Counts are a run's record counts.
type Counts = storage.Counts

// Run is one execution of a flow.
type Run struct {
	ID                     string
	Flow                   string
	Status                 Status
	DryRun, FullResync     bool
	WindowStart, WindowEnd time.Time
	Counts                 Counts
	StartedAt, FinishedAt  time.Time
	Error                  string
	Limit                  int
	SourceKeys             []string
	Trigger                Trigger
	Actor                  string
}

// Done reports whether the run has ended.
func (r Run) Done() bool { return r.Status != StatusRunning && r.Status != "" }

// RecordOutcome is one audit row.
type RecordOutcome struct {
	SourceKey, TargetKey string
	Action               string
	Attempt              int
	Vendor, Operation    string
	Request, Response    string
	Outcome, Error       string
	At                   time.Time
	// RunID is the run the row belongs to (set in a record's history).
	RunID string
}

// ListFilter selects runs.
type ListFilter struct {
	Flow, Status string
	PageSize     int
	PageToken    string
}

// PreviewInput chooses the records to preview: exactly one of Records, Keys or Pending.
type PreviewInput struct {
	// Records are inline source records in the source vendor's shape.
	Records []map[string]any
	// Keys are source keys fetched live.
	Keys []string
	// Pending previews the next N records of the pending incremental window.
	Pending int
	// SpecText, if set, is a mapping spec (YAML) used instead of the active one.
	SpecText string
}

// Issue is a warning or error about one field.
type Issue struct {
	Field, Message string
}

// FieldChange is one field that differs from the last delivered payload.
type FieldChange struct {
	Field    string
	Old, New any
}

// PreviewItem is what a sync would do with one record.
type PreviewItem struct {
	SourceKey       string
	Source          map[string]any
	TargetOperation string
	// Body is the exact target request body.
	Body        []byte
	CallOptions map[string]any
	Action      string
	TargetKey   string
	Diff        []FieldChange
	Warnings    []Issue
	Errors      []Issue
}
