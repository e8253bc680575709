package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/server/engine"
)

// toConnect is the one place where domain errors become Connect errors. engine.Classify sorts the
// error (the same classification a run's error text goes through); only texts written for callers
// cross the boundary. An internal error is logged in full and answered with "internal error (ref …)",
// the reference the operator greps the log for.
//
// Codes: NotFound (no such run), InvalidArgument (the request cannot be carried out as given),
// FailedPrecondition (a run of the flow is in progress; a vendor refused permanently), Unavailable
// (shutting down; a vendor is unreachable or failing transiently), Canceled, DeadlineExceeded, and
// Internal for everything else.
func toConnect(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	switch engine.Classify(err) {
	case engine.KindNotFound:
		return connect.NewError(connect.CodeNotFound, errors.New(err.Error()))
	case engine.KindInvalidInput:
		return connect.NewError(connect.CodeInvalidArgument, errors.New(err.Error()))
	case engine.KindRunInProgress:
		var inProgress *engine.RunInProgressError
		errors.As(err, &inProgress)
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(inProgress.Error()))
	case engine.KindShuttingDown:
		return connect.NewError(connect.CodeUnavailable, errors.New("server is shutting down"))
	case engine.KindCanceled:
		return connect.NewError(connect.CodeCanceled, errors.New("request cancelled"))
	case engine.KindDeadlineExceeded:
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	case engine.KindVendor:
		code := connect.CodeUnavailable
		if vendor.IsPermanent(err) {
			code = connect.CodeFailedPrecondition
		}
		return connect.NewError(code, errors.New(err.Error()))
	}
	text, ref := engine.PublicText(err)
	log.ErrorContext(ctx, "internal error", "ref", ref, "error", err)
	return connect.NewError(connect.CodeInternal, errors.New(text))
}
