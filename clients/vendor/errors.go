package vendor

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies a vendor failure by what the caller should do about it.
type Kind int

const (
	// Transient failures may succeed when retried: network errors, timeouts,
	// HTTP 5xx and 429, vendor rate-limit answers, Kingdee MsgCode 13, and
	// malformed, truncated or HTML bodies.
	Transient Kind = iota + 1
	// Reauth means the session or token is no longer valid: log in again and
	// replay (Kingdee MsgCode 1, Zhilong body code 401).
	Reauth
	// Permanent failures will fail the same way again: validation errors,
	// duplicates, not found, bad credentials, bad signature.
	Permanent
)

// String returns the lower-case name of the kind.
func (k Kind) String() string {
	switch k {
	case Transient:
		return "transient"
	case Reauth:
		return "reauth"
	case Permanent:
		return "permanent"
	default:
		return "unknown"
	}
}

// Error is a classified vendor failure. Its text names the vendor, the
// operation, the vendor's code and message and the HTTP status; it never
// contains credentials, tokens, session ids or signatures.
type Error struct {
	// Vendor is the vendor name, e.g. "kingdee".
	Vendor string
	// Op is the operation, e.g. "ExecuteBillQuery" or "greatonce.distributor.single.sync".
	Op string
	// Kind says whether to retry, re-authenticate or give up.
	Kind Kind
	// Code is the vendor's own code (Kingdee MsgCode, Greatonce code, Zhilong
	// body code) or a short client-side code such as "http_status" or "malformed_body".
	Code string
	// Message is the vendor's human-readable message, if any.
	Message string
	// HTTPStatus is the HTTP status of the response, 0 when none was received.
	HTTPStatus int
	// RetryAfter is the server's requested wait before the next attempt, if it sent one.
	RetryAfter time.Duration
	// Throttled is set when the vendor refused the call because it came too often: HTTP 429 (set by
	// the shared layer), or the vendor's own rate-limit or call-limit answer (set by its client's
	// classifier). A throttled failure is transient. Read it with [IsThrottled].
	Throttled bool
	// Err is the underlying cause, if any (network error, decode error).
	Err error
}

// Error formats the failure without any credential.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Vendor)
	if e.Op != "" {
		b.WriteString(" ")
		b.WriteString(e.Op)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Code != "" {
		b.WriteString(" code ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error in err's chain, or 0 when err
// carries no classification (nil, context cancellation, programming errors).
func KindOf(err error) Kind {
	var ve *Error
	if errors.As(err, &ve) {
		return ve.Kind
	}
	return 0
}

// IsTransient reports whether err is a vendor failure worth retrying later.
func IsTransient(err error) bool { return KindOf(err) == Transient }

// IsPermanent reports whether err is a vendor failure that will not go away by retrying.
func IsPermanent(err error) bool { return KindOf(err) == Permanent }

// IsReauth reports whether err asks for a new login.
func IsReauth(err error) bool { return KindOf(err) == Reauth }

// IsThrottled reports whether err is a vendor's throttling answer (HTTP 429, Greatonce's and
// Zhilong's "访问过于频繁", Kingdee's call limit): the vendor is up but refuses calls this often.
func IsThrottled(err error) bool {
	var ve *Error
	return errors.As(err, &ve) && ve.Throttled
}
