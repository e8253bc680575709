package engine

import (
	"context"
	"time"

	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage"
)

// SourceRecord is one record read from a flow's source.
type SourceRecord struct {
	// Key is the source key (Kingdee FCUSTID, Zhilong agentId).
	Key string
	// Cursor is the record's position: modification time, then a tie-breaking key that compares
	// correctly as a string.
	Cursor storage.Cursor
	// Fields are the record's fields by source field key, as the mapping spec reads them. A source may
	// hold only the fields the flow's spec reads here and give the rest through All.
	Fields mapping.Record
	// All, when set, returns every field of the record (see AllFields).
	All func() mapping.Record
}

// AllFields returns every field of the record: what is stored with a dead letter and shown by Preview,
// which may also render it with a spec that reads other fields.
func (r SourceRecord) AllFields() mapping.Record {
	if r.All != nil {
		return r.All()
	}
	return r.Fields
}

// ReadQuery asks a source for the records of a window, in cursor order.
type ReadQuery struct {
	// After is exclusive; a zero cursor reads from the beginning, an empty Key includes every record
	// at After.Time.
	After storage.Cursor
	// End is the inclusive upper bound of modification times.
	End time.Time
	// UseOrgNumbers restricts Kingdee reads to these use organisations.
	UseOrgNumbers []string
}

// Source reads a flow's source system.
type Source interface {
	// Read calls page for each page of records in the window, in cursor order, until the window is
	// exhausted or page returns an error (which Read returns).
	Read(ctx context.Context, q ReadQuery, page func([]SourceRecord) error) error
	// Fetch reads the records with the given keys (missing keys are left out).
	Fetch(ctx context.Context, keys []string) ([]SourceRecord, error)
	// Decode turns an inline record in the source vendor's shape into a SourceRecord.
	Decode(raw map[string]any) (SourceRecord, error)
}

// ScanFetcher is implemented by sources that can only find records by key by paging through the
// source (Zhilong has no lookup by id). FetchScan reads at most maxPages pages (0: no bound), and
// says how many it read and whether it stopped at the bound with keys still missing. Preview uses it,
// so that one preview by key costs at most a bounded number of source calls.
type ScanFetcher interface {
	FetchScan(ctx context.Context, keys []string, maxPages int) (recs []SourceRecord, pages int, truncated bool, err error)
}

// Planned is a record the planner decided to deliver.
type Planned struct {
	Record  SourceRecord
	Payload *mapping.Payload
	// Action is ActionAdd or ActionUpdate.
	Action string
	// Mapping is the record's existing id mapping (nil for adds).
	Mapping *storage.Mapping
	// Spec is the mapping spec the payload was rendered with; it also names the call's options.
	Spec *mapping.Spec
	// ReservedKey, for an add, is the target key an earlier attempt at creating this record recorded
	// as its intent before sending (targets that choose their own keys, see KeyReserver); the add
	// uses it again.
	ReservedKey string
}

// Delivery is the outcome of delivering one planned record.
type Delivery struct {
	// Action is what was done; an add can turn into an update when the target already had the record.
	Action string
	// TargetKey identifies the target record.
	TargetKey string
	// Body is the body sent for this record (the audit row keeps it).
	Body []byte
	// Err is nil on success; otherwise classified by clients/vendor as transient or permanent.
	Err error
}

// Target writes a flow's target system.
type Target interface {
	// Operation names the target call, e.g. "greatonce.distributor.single.sync".
	Operation() string
	// Prepare returns the exact body (and the call's options) that delivering p would send.
	Prepare(p Planned) (body []byte, options map[string]any, err error)
	// Write delivers the records and returns one Delivery per record, in order.
	Write(ctx context.Context, items []Planned) []Delivery
}

// KeyReserver is a Target whose creates use a target key the gateway chooses (a Greatonce
// distributor code), as opposed to one the target assigns (a Kingdee FCUSTID). The engine records the
// key as a create intent before sending, and a later attempt at the same create reuses it.
type KeyReserver interface {
	// CreateKey returns the target key creating p would use.
	CreateKey(p Planned) (string, error)
}

// Flow is one sync: a source, a mapping spec and a target.
type Flow struct {
	Name   string
	Source Source
	Target Target
	Spec   *mapping.Spec
	// Overlap re-reads this much before the checkpoint; re-read records are skipped as unchanged.
	Overlap time.Duration
	// TimeOnlyCursor is true for sources that cannot resume inside a timestamp (page-number APIs):
	// the engine then restarts at the checkpoint's time and relies on de-duplication.
	TimeOnlyCursor bool
	// UseOrgs says the source can restrict a run to Kingdee use organisations (Options.UseOrgNumbers).
	UseOrgs bool
	// OverlapWrites delivers a page while the page before it finishes (its last calls, its commit):
	// the target's Write is then called again, for other records, before an earlier call has
	// returned, and the target bounds its calls in flight across calls. A record of a page that the
	// page before is still writing waits for that write to end. Commits stay in page order.
	OverlapWrites bool
	// FetchDeadLetters retries dead letters with the records as the source holds them now (Fetch),
	// rather than the copies stored with the letters; for sources that read by key cheaply.
	FetchDeadLetters bool
	// WithSpec, when set, builds the same flow (same clients and options) from another spec, so that
	// a Preview given spec text also reads the source as that spec's request says (a customers
	// FilterString, say). Without it Preview maps with the given spec but reads with the active one.
	WithSpec func(spec *mapping.Spec) (*Flow, error)
}
