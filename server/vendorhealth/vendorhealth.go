// Package vendorhealth keeps what this gateway process has seen of each vendor since it started: the
// last HTTP attempt (when, which operation, ok or its error), and how many attempts were sent, failed
// and were throttled. A Tracker is fed by the vendor clients' hook chain ([Tracker.Hook] is a
// vendor.Hook) and read by GetOverview.
package vendorhealth

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/syncgate/syncgate/clients/vendor"
)

// maxErrorText bounds the stored last error (a vendor message can be long; the audit trail keeps it
// whole).
const maxErrorText = 1024

// Health is one vendor's health as this process has seen it.
type Health struct {
	Vendor string
	// LastCallAt is when the last attempt was sent (zero: none yet); LastOperation its operation.
	LastCallAt    time.Time
	LastOperation string
	// LastOK is true when that attempt succeeded; LastError is its error otherwise (the classified
	// vendor error's text, which carries no credentials, tokens or signatures).
	LastOK    bool
	LastError string
	// Attempts counts the attempts sent (retries and re-logins included), Failures those that failed,
	// Throttled those the vendor answered with its throttling reply.
	Attempts, Failures, Throttled int64
	// LastThrottledAt is when the vendor last throttled an attempt (zero: never).
	LastThrottledAt time.Time
}

// Tracker records vendor attempts. It is safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	vendors map[string]*Health
}

// New returns a tracker that reports the given vendors even before their first attempt.
func New(vendors ...string) *Tracker {
	t := &Tracker{vendors: map[string]*Health{}}
	for _, v := range vendors {
		t.vendors[v] = &Health{Vendor: v}
	}
	return t
}

// Hook records one attempt; it is a vendor.Hook.
func (t *Tracker) Hook(_ context.Context, at vendor.Attempt) {
	errText := ""
	if at.Err != nil {
		errText = errorText(at.Err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.vendors[at.Vendor]
	if h == nil {
		h = &Health{Vendor: at.Vendor}
		t.vendors[at.Vendor] = h
	}
	h.Attempts++
	if at.Err != nil {
		h.Failures++
		if vendor.IsThrottled(at.Err) {
			h.Throttled++
			if at.Start.After(h.LastThrottledAt) {
				h.LastThrottledAt = at.Start
			}
		}
	}
	// Attempts made concurrently may report out of order: the latest sent is the last one.
	if !at.Start.Before(h.LastCallAt) {
		h.LastCallAt, h.LastOperation, h.LastOK, h.LastError = at.Start, at.Operation, at.Err == nil, errText
	}
}

// Snapshot returns every vendor's health, by vendor name.
func (t *Tracker) Snapshot() []Health {
	t.mu.Lock()
	out := make([]Health, 0, len(t.vendors))
	for _, h := range t.vendors {
		out = append(out, *h)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Health) int { return strings.Compare(a.Vendor, b.Vendor) })
	return out
}

// errorText is err's text, valid UTF-8 and at most maxErrorText bytes (cut on a character boundary).
func errorText(err error) string {
	s := strings.ToValidUTF8(err.Error(), "\uFFFD")
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Chain returns a vendor.Hook that calls each of hooks in order (nil entries are skipped).
func Chain(hooks ...vendor.Hook) vendor.Hook {
	hooks = slices.DeleteFunc(slices.Clone(hooks), func(h vendor.Hook) bool { return h == nil })
	return func(ctx context.Context, at vendor.Attempt) {
		for _, h := range hooks {
			h(ctx, at)
		}
	}
}
