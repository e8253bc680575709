package engine

import (
	"errors"
	"fmt"
)

// Domain errors. The RPC layer maps them to status codes in one place.
var (
	// ErrNotFound: the run (or record) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidInput: the request cannot be carried out as given.
	ErrInvalidInput = errors.New("invalid input")
	// ErrShuttingDown: the engine no longer starts runs.
	ErrShuttingDown = errors.New("shutting down")
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
