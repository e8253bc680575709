package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage"
)

// Domain errors. Classify sorts every error into a Kind in one place; the RPC layer maps kinds to
// status codes, and a run's error text comes from the same classification (PublicText).
var (
	// ErrNotFound: the run (or record) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidInput: the request cannot be carried out as given.
	ErrInvalidInput = errors.New("invalid input")
	// ErrShuttingDown: the engine no longer starts runs.
	ErrShuttingDown = errors.New("shutting down")
	// ErrRunEnded: the run has already ended (it cannot be cancelled).
	ErrRunEnded = errors.New("the run has already ended")
	// ErrInternal marks a failure of the gateway itself (storage, a bug). Its text is for the log
	// only, whatever else the error wraps.
	ErrInternal = errors.New("internal error")
)

// RunInProgressError is returned when a flow already has a run in progress.
type RunInProgressError struct {
	Flow, RunID string
}

func (e *RunInProgressError) Error() string {
	return fmt.Sprintf("a %s run is already in progress: %s", e.Flow, e.RunID)
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidInput, fmt.Sprintf(format, args...))
}

// Kind is how the API boundary treats an error: which status callers get, and whether they may read
// the error's text. The texts of all kinds but KindInternal, KindStorageFull and
// KindStorageUnavailable are written for callers; those three get a fixed text and a reference to
// the log (PublicText).
type Kind int

const (
	// KindInternal: a storage failure, a bug, or anything not classified below. Callers get
	// "internal error (ref …)"; the full error is logged under that reference.
	KindInternal Kind = iota
	// KindNotFound: ErrNotFound.
	KindNotFound
	// KindInvalidInput: ErrInvalidInput.
	KindInvalidInput
	// KindRunInProgress: a *RunInProgressError.
	KindRunInProgress
	// KindShuttingDown: ErrShuttingDown.
	KindShuttingDown
	// KindCanceled: context.Canceled, or a run that was cancelled.
	KindCanceled
	// KindDeadlineExceeded: context.DeadlineExceeded.
	KindDeadlineExceeded
	// KindVendor: a *Failure (a call to a source or target system failed, as the flow's adapter
	// classified it). Its text never carries credentials (adapters guarantee it), so callers see it.
	KindVendor
	// KindRunEnded: ErrRunEnded (an action that needs a running run found it ended).
	KindRunEnded
	// KindStorageFull: storage.ErrFull (a write failed because the database is full). Callers get
	// "the database is full (ref …)"; the store's own error is logged under that reference.
	KindStorageFull
	// KindStorageUnavailable: storage.ErrUnavailable (the database cannot be reached: the connection
	// was refused or lost, the server is shutting down; the call may succeed later). Callers get "the
	// database cannot be reached (ref …)"; the store's own error, which may name the server's host,
	// user and database, is logged under that reference.
	KindStorageUnavailable
)

// FailureKind says what a failed call to a source or target system means.
type FailureKind int

// Failure kinds.
const (
	// Transient: the call may succeed later; the page is not committed past the record.
	Transient FailureKind = iota + 1
	// Permanent: the call will fail the same way again; the record is dead-lettered.
	Permanent
)

// Failure is a failed call to a source or target system, classified by the flow's adapter (the
// engine knows no vendor's errors). Its text is shown to callers: adapters guarantee it carries no
// credentials.
type Failure struct {
	Kind FailureKind
	Err  error
}

func (f *Failure) Error() string { return f.Err.Error() }

// Unwrap returns the vendor's error.
func (f *Failure) Unwrap() error { return f.Err }

// IsPermanent reports whether err is a permanent Failure.
func IsPermanent(err error) bool {
	var f *Failure
	return errors.As(err, &f) && f.Kind == Permanent
}

// callerError is an error of a given kind whose text is written for callers.
type callerError struct {
	kind Kind
	msg  string
}

func (e *callerError) Error() string { return e.msg }

// errRunCancelled ends a run that was cancelled (by the caller or a shutdown).
var errRunCancelled error = &callerError{kind: KindCanceled, msg: "run cancelled; pages delivered before the cancel are committed"}

// errSliceEnded stops an execution of a run at a page boundary, the run still running, to be
// resumed by another execution (shared mode: the slice's time is up, the gateway shuts down, or the
// flow's lock was lost). It never ends a run.
var errSliceEnded = errors.New("execution handed over at a page boundary")

// errStopRequested ends a run that CancelRun stopped at a page boundary.
var errStopRequested error = &callerError{kind: KindCanceled, msg: "run cancelled by request; every page delivered before it is committed"}

// Classify sorts err (non-nil) into a Kind. The first classified error met from the outside of the
// chain decides (so a vendor error wrapping a timeout is a vendor error); an error that joins several
// (errors.Join, fmt.Errorf with several %w) is internal if any branch is; ErrInternal anywhere makes
// the whole error internal; otherwise storage.ErrFull anywhere makes it KindStorageFull, and then
// storage.ErrUnavailable anywhere makes it KindStorageUnavailable; an error that matches none of the
// kinds is internal. No message text is ever inspected.
func Classify(err error) Kind {
	if errors.Is(err, ErrInternal) {
		return KindInternal
	}
	if errors.Is(err, storage.ErrFull) {
		return KindStorageFull
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return KindStorageUnavailable
	}
	return classify(err)
}

func classify(err error) Kind {
	if k, ok := nodeKind(err); ok {
		return k
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		errs := u.Unwrap()
		if len(errs) == 0 {
			return KindInternal
		}
		first := classify(errs[0])
		for _, e := range errs[1:] {
			if classify(e) == KindInternal {
				return KindInternal
			}
		}
		return first
	case interface{ Unwrap() error }:
		if next := u.Unwrap(); next != nil {
			return classify(next)
		}
	}
	return KindInternal
}

// nodeKind classifies err itself, without looking at what it wraps.
func nodeKind(err error) (Kind, bool) {
	switch e := err.(type) {
	case *callerError:
		return e.kind, true
	case *RunInProgressError:
		return KindRunInProgress, true
	case *Failure:
		return KindVendor, true
	case *mapping.SpecError: // a spec the caller sent (Preview): its problems are written for the caller
		return KindInvalidInput, true
	}
	switch err {
	case ErrNotFound:
		return KindNotFound, true
	case ErrInvalidInput:
		return KindInvalidInput, true
	case ErrShuttingDown:
		return KindShuttingDown, true
	case ErrRunEnded:
		return KindRunEnded, true
	case context.Canceled:
		return KindCanceled, true
	case context.DeadlineExceeded:
		return KindDeadlineExceeded, true
	}
	return 0, false
}

// PublicText is err's text as callers may see it: err's own text for the kinds written for callers;
// for an internal error, "internal error (ref …)", for a full database "the database is full
// (ref …)", and for a database that cannot be reached "the database cannot be reached (ref …)", with
// a fresh reference, which ref returns so that the caller logs the full error under it. The RPC
// boundary and run errors both use it.
func PublicText(err error) (text, ref string) {
	var what string
	switch Classify(err) {
	case KindInternal:
		what = "internal error"
	case KindStorageFull:
		what = "the database is full"
	case KindStorageUnavailable:
		what = "the database cannot be reached"
	default:
		return err.Error(), ""
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ref = hex.EncodeToString(b)
	return what + " (ref " + ref + ")", ref
}

// publicError is the text a run's error is stored and shown with. An internal error is logged in full
// under the reference its text carries.
func (e *Engine) publicError(runID string, err error) string {
	text, ref := PublicText(err)
	if ref != "" {
		e.log.Error("run error", "run_id", runID, "ref", ref, "error", err)
	}
	return text
}
