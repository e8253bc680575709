// Package flows holds what the flow adapters (server/flows/customers, server/flows/agents) share: the
// translation of the vendor clients' errors into the engine's Failures and of their HTTP attempts into
// the engine's audit rows. The engine knows no vendor; each adapter translates at its boundary.
package flows

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/server/engine"
)

// Translate classifies err for the engine: an error that carries a *vendor.Error becomes a Failure
// of its kind (a re-login that still failed counts as transient); any other error, nil included, is
// returned as it is.
func Translate(err error) error {
	var ve *vendor.Error
	if err == nil || !errors.As(err, &ve) {
		return err
	}
	kind := engine.Transient
	if ve.Kind == vendor.Permanent {
		kind = engine.Permanent
	}
	return &engine.Failure{Kind: kind, Err: err}
}

// TranslateAll classifies the errors of deliveries in place and returns them.
func TranslateAll(out []engine.Delivery) []engine.Delivery {
	for i := range out {
		out[i].Err = Translate(out[i].Err)
	}
	return out
}

// BadSourceData reports a source record the flow cannot read (a row without its key, a time that is
// not a time, pages out of order) as the vendor's data error, which callers may read, rather than as
// an internal failure of the gateway.
func BadSourceData(vendorName, op, format string, args ...any) error {
	return Translate(&vendor.Error{Vendor: vendorName, Op: op, Kind: vendor.Permanent, Code: "bad_data", Message: fmt.Sprintf(format, args...)})
}

// AuditAttempt is the vendor.Hook that reports every HTTP attempt a client makes to
// engine.RecordAttempt, which puts it in the audit trail of the run it was made for.
func AuditAttempt(ctx context.Context, at vendor.Attempt) {
	outcome := "ok"
	switch {
	case at.Err == nil:
	case vendor.IsPermanent(at.Err):
		outcome = "permanent"
	case vendor.IsReauth(at.Err):
		outcome = "reauth"
	default:
		outcome = "transient"
	}
	engine.RecordAttempt(ctx, engine.Attempt{Vendor: at.Vendor, Operation: at.Operation, Attempt: at.Attempt, Request: at.Request,
		Response: at.Response, Outcome: outcome, Err: at.Err, Start: at.Start})
}
