package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/syncgate/syncgate/server/storage"
)

// maxAuditBody bounds one request or response in the audit trail. Query responses (whole pages of
// source rows) are the usual victims; per-record rows keep each record's exact body.
const maxAuditBody = 16 << 10

// audit buffers a run's vendor attempts until the next page commit writes them.
type audit struct {
	mu      sync.Mutex
	rows    []storage.Record
	retried atomic.Int64
	dry     bool
	// parent, when set, is the run's audit: this one buffers one page's Write, and counts its
	// retries in the parent.
	parent *audit
}

func (a *audit) drain() []storage.Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	rows := a.rows
	a.rows = nil
	return rows
}

type auditKey struct{}
type recordKey struct{}

func withAudit(ctx context.Context, a *audit) context.Context {
	return context.WithValue(ctx, auditKey{}, a)
}

// WithRecord attributes the vendor attempts made with ctx to one source record.
func WithRecord(ctx context.Context, sourceKey string) context.Context {
	return context.WithValue(ctx, recordKey{}, sourceKey)
}

// Attempt is one call attempt a flow's client made, as its adapter reports it to RecordAttempt.
type Attempt struct {
	Vendor, Operation string
	// Attempt numbers the attempts of one logical call from 1.
	Attempt           int
	Request, Response []byte
	// Outcome is "ok", "transient", "permanent" or "reauth"; Err the failure, if any.
	Outcome string
	Err     error
	Start   time.Time
}

// RecordAttempt puts an attempt made on behalf of a run into that run's audit trail, written with the
// run's next page commit; attempts made outside a run (ctx carries no run) are ignored. It needs no
// engine, so clients can be built to report to it before the engine that runs them.
func RecordAttempt(ctx context.Context, at Attempt) {
	a, _ := ctx.Value(auditKey{}).(*audit)
	if a == nil {
		return
	}
	if at.Attempt > 1 {
		if a.parent != nil {
			a.parent.retried.Add(1)
		} else {
			a.retried.Add(1)
		}
	}
	if a.dry {
		return // a dry run writes nothing, not even its audit rows
	}
	key, _ := ctx.Value(recordKey{}).(string)
	errText := ""
	if at.Err != nil {
		errText = at.Err.Error()
	}
	row := storage.Record{
		SourceKey: key, Action: "call", Attempt: at.Attempt, Vendor: at.Vendor, Operation: at.Operation,
		Request: clip(at.Request), Response: clip(at.Response), Outcome: at.Outcome, Error: errText, At: at.Start,
	}
	a.mu.Lock()
	a.rows = append(a.rows, row)
	a.mu.Unlock()
}

// clip makes a vendor body storable: valid UTF-8 (each run of invalid bytes becomes U+FFFD, so one
// row cannot break a GetRun page) and at most maxAuditBody bytes, cut on a character boundary and
// marked with the body's full length.
func clip(b []byte) string {
	total, cut := len(b), false
	if total > maxAuditBody {
		b, cut = runeCut(b, maxAuditBody), true
	}
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte(string(utf8.RuneError)))
		if len(b) > maxAuditBody { // replacements are longer than the bytes they replace
			b, cut = runeCut(b, maxAuditBody), true
		}
	}
	if !cut {
		return string(b)
	}
	return string(b) + fmt.Sprintf("…[truncated: %d bytes in all]", total)
}

// runeCut returns b cut to at most n bytes (n < len(b)), before the character that byte n belongs to:
// it steps back over at most utf8.UTFMax-1 continuation bytes, so on invalid input it may still
// split a sequence, which the caller then replaces.
func runeCut(b []byte, n int) []byte {
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(b[n]); i++ {
		n--
	}
	return b[:n]
}

// validText returns s, or s with each run of invalid UTF-8 replaced by U+FFFD.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, string(utf8.RuneError))
}

// mergeAttempts joins the audit rows of a page: a record delivered by one vendor call that succeeded
// at the first attempt gets a single row, its outcome row carrying the attempt's number, vendor,
// response and time (the request is the same body). Every other attempt keeps its own row: retries,
// failures, and calls made for many records (a batch, a page read). Without this, each record of a
// per-record target (Greatonce) wrote its body twice, and the audit rows were the largest part of a
// sync's SQLite work.
//
// It also makes every text of every row valid UTF-8 (validText): a per-record row carries a body and
// an error built from vendor data, and one invalid row would make a GetRun page unanswerable.
func mergeAttempts(attempts, outcomes []storage.Record) []storage.Record {
	single := make(map[string]int, len(outcomes)) // source key → index of its only attempt row, -1 if several
	for i, a := range attempts {
		if a.SourceKey == "" {
			continue
		}
		if _, seen := single[a.SourceKey]; seen {
			single[a.SourceKey] = -1
		} else {
			single[a.SourceKey] = i
		}
	}
	merged := make([]bool, len(attempts))
	for j := range outcomes {
		o := &outcomes[j]
		i, ok := single[o.SourceKey]
		if !ok || i < 0 || o.Outcome != "ok" {
			continue
		}
		a := attempts[i]
		if a.Outcome != "ok" || a.Attempt != 1 || a.Operation != o.Operation {
			continue
		}
		o.Attempt, o.Vendor, o.Response, o.At = a.Attempt, a.Vendor, a.Response, a.At
		merged[i] = true
		single[o.SourceKey] = -1 // a second outcome row for the key (none expected) keeps its own
	}
	out := make([]storage.Record, 0, len(attempts)+len(outcomes))
	for i, a := range attempts {
		if !merged[i] {
			out = append(out, a)
		}
	}
	out = append(out, outcomes...)
	for i := range out {
		r := &out[i]
		for _, f := range []*string{&r.SourceKey, &r.TargetKey, &r.Action, &r.Vendor, &r.Operation, &r.Request, &r.Response, &r.Outcome, &r.Error} {
			*f = validText(*f)
		}
	}
	return out
}
