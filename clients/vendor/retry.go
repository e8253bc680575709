package vendor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Retry runs fn, one logical call named op, until it succeeds, fails with a
// non-transient error, or the attempt or elapsed-time cap is reached.
// Between attempts it waits with exponential backoff and jitter, or for the
// server's Retry-After when the error carries one (still bounded by
// MaxElapsed). fn sends its HTTP attempts through the given *Call so the
// audit hook sees them numbered.
//
// A throttling answer ([IsThrottled]) does not count against MaxAttempts
// when retries are allowed (MaxAttempts above 1): the vendor asked to be
// called later, not refused the call, so only MaxElapsed bounds those
// attempts and a throttled call is not given up while time remains. In
// adaptive mode a throttled attempt without Retry-After is retried as soon as
// the (slowed) limiter lets it through, with no backoff of its own.
//
// The returned error is the last attempt's error (a *Error); if ctx ends
// first, it wraps both ctx's error and the last attempt's error.
func Retry[T any](ctx context.Context, c *Client, op string, fn func(ctx context.Context, call *Call) (T, error)) (T, error) {
	start := time.Now()
	call := &Call{c: c, attempts: map[string]int{}}
	b := &backoff.ExponentialBackOff{
		InitialInterval:     c.opts.BackoffInitial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         c.opts.BackoffMax,
	}
	var last error
	failures := 0 // attempts that count against MaxAttempts
	res, err := backoff.Retry(ctx, func() (T, error) {
		v, err := fn(ctx, call)
		if err == nil {
			return v, nil
		}
		last = err
		if !IsTransient(err) || context.Cause(ctx) != nil {
			return v, backoff.Permanent(err)
		}
		if !IsThrottled(err) || c.opts.MaxAttempts == 1 {
			failures++
		}
		if failures >= c.opts.MaxAttempts {
			return v, backoff.Permanent(err)
		}
		var ve *Error
		if errors.As(err, &ve) && ve.RetryAfter > 0 {
			return v, &backoff.RetryAfterError{Duration: ve.RetryAfter}
		}
		if c.adaptive != nil && IsThrottled(err) {
			// The adaptive limiter has just slowed down and paces the retry itself: no backoff on
			// top (a call held back for the backoff idles its worker and the page it belongs to).
			return v, &backoff.RetryAfterError{Duration: 0}
		}
		return v, err
	},
		backoff.WithBackOff(b),
		backoff.WithMaxElapsedTime(c.opts.MaxElapsed),
		backoff.WithNotify(func(error, time.Duration) { c.metrics.observeRetry(c.opts.Vendor, op) }),
	)
	if err != nil {
		if ctxErr := context.Cause(ctx); ctxErr != nil && !errors.Is(last, ctxErr) {
			if last != nil {
				err = fmt.Errorf("%s %s: %w (last attempt: %w)", c.opts.Vendor, op, ctxErr, last)
			} else {
				err = fmt.Errorf("%s %s: %w", c.opts.Vendor, op, ctxErr)
			}
		} else if last != nil {
			err = last
		}
	}
	c.metrics.observeCall(c.opts.Vendor, op, err, time.Since(start))
	return res, err
}
