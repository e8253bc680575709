package vendor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateMode picks how a [Client] paces its attempts.
type RateMode string

const (
	// RateAdaptive (the default) finds and follows the vendor's allowed rate with an [Adaptive]
	// limiter, starting from RatePerSecond and never above RateMax (see [Transport]).
	RateAdaptive RateMode = "adaptive"
	// RateFixed paces attempts at RatePerSecond (0 or less: unlimited).
	RateFixed RateMode = "fixed"
)

// ParseRateMode reads a rate mode setting; "" is [RateAdaptive].
func ParseRateMode(s string) (RateMode, error) {
	switch RateMode(s) {
	case "", RateAdaptive:
		return RateAdaptive, nil
	case RateFixed:
		return RateFixed, nil
	}
	return "", fmt.Errorf("rate mode %q: want adaptive or fixed", s)
}

// Defaults of the [Adaptive] limiter.
const (
	// DefaultAdaptiveMin is the floor no decrease goes below.
	DefaultAdaptiveMin = 1
	// AdaptiveBeta is the multiplicative decrease: a throttling answer sets the rate to Beta × rate.
	AdaptiveBeta = 0.95
	// AdaptiveSlowStartGain is what each paced success adds to the rate in slow start (the rate
	// then grows by this factor of itself per second: e^(gain·t)).
	AdaptiveSlowStartGain = 2
	// AdaptiveIncrease is the additive increase after the first decrease, as a share of the rate
	// at that decrease per second of paced successes (0.05: from Beta × W back to W in 2 s).
	AdaptiveIncrease = 0.05
)

// Adaptive is a rate limiter that finds and follows the rate a vendor allows, after TCP congestion
// control (RFC 5681: slow start, then additive increase and multiplicative decrease, AIMD), with the
// rate in calls per second in place of the congestion window:
//
//   - Slow start: until the first throttling answer, each success of a call that had to wait for
//     the limiter adds [AdaptiveSlowStartGain] to the rate (RFC 5681 §3.1 grows cwnd by one segment
//     per ACK), so the rate grows exponentially.
//   - Multiplicative decrease: a throttling answer ([IsThrottled]: HTTP 429, Greatonce's 访问过于频繁,
//     Zhilong's, Kingdee's call limit) or any answer with a Retry-After sets the rate to
//     [AdaptiveBeta] × rate and remembers the rate before it as W (as ssthresh after a loss, §3.1;
//     β = 0.95 rather than Reno's 0.5 or CUBIC's 0.7: a quota, unlike a queue, does not grow a
//     backlog that must drain, and the bench measured more of the quota with 0.95 than 0.9). Only
//     attempts sent after the last decrease can decrease again: the attempts already in flight were
//     sent at the old rate (one reduction per window of data, as in RFC 6582 §3.2).
//   - Additive increase: after that, each paced success adds [AdaptiveIncrease] × W / rate, so the
//     rate grows by AdaptiveIncrease × W per second (RFC 5681 §3.1 congestion avoidance grows cwnd by
//     about one segment per RTT).
//   - Probing: once the rate passes W without a throttling answer, the quota has risen: slow start
//     again (as CUBIC's max probing, RFC 9438 §4.6 and the TCP restart after idle of §4.1).
//
// Only successes while the rate is in use raise it — the call waited for the limiter, or the answers
// over the last second came at half the rate or more: a rate the caller does not use is not
// validated by the vendor (RFC 7661, congestion window validation), so an idle or slow caller does
// not inflate it. The rate stays within [min, max]; max 0 means no ceiling.
//
// Started without a rate, the limiter does not pace at all until the first throttling answer; it
// then takes Beta × the rate of answers it measured over the last second (at least the last 100 ms)
// and goes on from there as after any decrease.
// It is safe for concurrent use.
type Adaptive struct {
	lim      *rate.Limiter
	now      func() time.Time
	min, max float64

	mu           sync.Mutex
	unpaced      bool // no rate yet: let every call through, measure the rate of answers
	winStart     time.Time
	winCount     int
	prevRate     float64 // answers per second over the last full window
	rate         float64
	wMax         float64 // the rate at the last decrease; 0 before any
	slowStart    bool
	lastDecrease time.Time
	decreases    int64
}

// NewAdaptive returns an adaptive limiter starting at initial calls per second (0: unpaced until
// the first throttling answer), never above max (0: no ceiling), with bursts of burst calls (0: 1).
// now is the clock (nil: time.Now); tests pass a fake one.
func NewAdaptive(initial, max float64, burst int, now func() time.Time) *Adaptive {
	if max > 0 && (initial <= 0 || initial > max) {
		initial = max
	}
	if burst <= 0 {
		burst = 1
	}
	if now == nil {
		now = time.Now
	}
	a := &Adaptive{now: now, min: DefaultAdaptiveMin, max: max, rate: initial, slowStart: true}
	if initial <= 0 {
		a.unpaced, a.rate = true, math.Inf(1)
	}
	a.lim = rate.NewLimiter(rate.Limit(a.rate), burst)
	return a
}

// Rate returns the current rate in calls per second (+Inf while unpaced).
func (a *Adaptive) Rate() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rate
}

// Decreases returns how many multiplicative decreases the limiter has made.
func (a *Adaptive) Decreases() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.decreases
}

// Wait blocks until the limiter lets one call through or ctx ends; waited reports whether the
// limiter held the call back (the rate, not the caller, was the bottleneck).
func (a *Adaptive) Wait(ctx context.Context) (waited bool, err error) {
	return waitLimiter(ctx, a.lim)
}

// Observe feeds the outcome of an attempt sent at sent, after waiting for the limiter or not
// (see [Adaptive.Wait]), into the rate.
func (a *Adaptive) Observe(sent time.Time, waited bool, err error) {
	var ve *Error
	retryAfter := errors.As(err, &ve) && ve.RetryAfter > 0
	a.count()
	switch {
	case IsThrottled(err) || retryAfter:
		a.decrease(sent)
	case err == nil:
		a.increase(waited)
	}
}

// count measures the rate of answers, per window of a second.
func (a *Adaptive) count() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.winStart.IsZero() {
		a.winStart = now
	}
	if el := now.Sub(a.winStart); el >= time.Second {
		a.prevRate = float64(a.winCount) / el.Seconds()
		a.winStart, a.winCount = now, 0
	}
	a.winCount++
}

func (a *Adaptive) decrease(sent time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if sent.Before(a.lastDecrease) {
		return
	}
	if a.unpaced {
		el := math.Max(a.now().Sub(a.winStart).Seconds(), 0.1) // winStart is set: count ran first
		a.rate = math.Max(a.prevRate, float64(a.winCount)/el)
		a.unpaced = false
	}
	a.wMax = a.rate
	a.rate = math.Max(a.min, a.rate*AdaptiveBeta)
	a.slowStart = false
	a.lastDecrease = a.now()
	a.decreases++
	a.lim.SetLimit(rate.Limit(a.rate))
}

func (a *Adaptive) increase(waited bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// The rate is validated by use (RFC 7661 §4.3: grow cwnd only while pipeACK ≥ ½ cwnd): a call
	// that waited for the limiter, or answers over the last second at least half the rate.
	if a.unpaced || !(waited || (a.prevRate > 0 && a.rate <= 2*a.prevRate)) {
		return
	}
	if a.slowStart {
		a.rate += AdaptiveSlowStartGain
	} else {
		a.rate += AdaptiveIncrease * a.wMax / a.rate
		if a.rate > a.wMax {
			a.slowStart = true
		}
	}
	if a.max > 0 && a.rate > a.max {
		a.rate = a.max
	}
	a.lim.SetLimit(rate.Limit(a.rate))
}

// waitLimiter waits for one token of l, reporting whether it had to wait.
func waitLimiter(ctx context.Context, l *rate.Limiter) (bool, error) {
	r := l.Reserve()
	if !r.OK() {
		return false, errors.New("rate limiter: burst exceeded")
	}
	d := r.Delay()
	if d <= 0 {
		return false, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true, nil
	case <-ctx.Done():
		r.Cancel()
		return true, ctx.Err()
	}
}
