package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncgate/syncgate/clients/vendor"
)

// This file is the flows' side of the vendor clients (clients/vendor): their errors become the
// engine's Failures, and their attempts the engine's audit rows. It goes with the flow adapters.

// translate classifies err for the engine: an error that carries a *vendor.Error becomes a Failure
// of its kind (a re-login that still failed counts as transient); any other error, nil included, is
// returned as it is.
func translate(err error) error {
	var ve *vendor.Error
	if err == nil || !errors.As(err, &ve) {
		return err
	}
	kind := Transient
	if ve.Kind == vendor.Permanent {
		kind = Permanent
	}
	return &Failure{Kind: kind, Err: err}
}

// translateAll classifies the errors of deliveries in place and returns them.
func translateAll(out []Delivery) []Delivery {
	for i := range out {
		out[i].Err = translate(out[i].Err)
	}
	return out
}

// badSourceData reports a source record the flow cannot read (a row without its key, a time that is
// not a time, pages out of order) as the vendor's data error, which callers may read, rather than as
// an internal failure of the gateway.
func badSourceData(vendorName, op, format string, args ...any) error {
	return translate(&vendor.Error{Vendor: vendorName, Op: op, Kind: vendor.Permanent, Code: "bad_data", Message: fmt.Sprintf(format, args...)})
}

// AuditHook returns the hook the vendor clients call for every HTTP attempt: [AuditAttempt].
func (e *Engine) AuditHook() vendor.Hook { return AuditAttempt }

// AuditAttempt is the vendor.Hook that reports every HTTP attempt a client makes to RecordAttempt.
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
	RecordAttempt(ctx, Attempt{Vendor: at.Vendor, Operation: at.Operation, Attempt: at.Attempt, Request: at.Request,
		Response: at.Response, Outcome: outcome, Err: at.Err, Start: at.Start})
}
