package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/syncgate/syncgate/server/engine"
)

// toConnect is the one place where domain errors become Connect errors. Only messages written for
// callers cross the boundary: an unexpected error is logged in full and answered with a generic
// "internal error" carrying a reference the operator can grep for.
func toConnect(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var inProgress *engine.RunInProgressError
	switch {
	case errors.As(err, &inProgress):
		return connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("a %s run is already in progress: %s", inProgress.Flow, inProgress.RunID))
	case errors.Is(err, engine.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New(publicMessage(err)))
	case errors.Is(err, engine.ErrInvalidInput):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(publicMessage(err)))
	case errors.Is(err, engine.ErrShuttingDown):
		return connect.NewError(connect.CodeUnavailable, errors.New("server is shutting down"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request cancelled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	}
	ref := newRef()
	log.ErrorContext(ctx, "internal error", "ref", ref, "error", err)
	return connect.NewError(connect.CodeInternal, fmt.Errorf("internal error (ref %s)", ref))
}

// publicMessage is the text of a domain error written for callers. Domain errors wrap their sentinel
// with a caller-facing detail ("run abc: not found"); nothing below that is added by this layer.
func publicMessage(err error) string { return err.Error() }

func newRef() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
