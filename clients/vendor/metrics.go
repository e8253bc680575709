package vendor

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the collectors shared by all vendor clients registered on the
// same Registerer; the vendor is a label.
type metrics struct {
	attempts        *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
	calls           *prometheus.CounterVec
	callDuration    *prometheus.HistogramVec
	retries         *prometheus.CounterVec
}

// newMetrics registers (or reuses, when another client already registered
// them) the vendor collectors on reg. A nil reg disables metrics.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "syncgate", Subsystem: "vendor", Name: "attempts_total",
			Help: "HTTP attempts sent to a vendor, by operation and result.",
		}, []string{"vendor", "operation", "result"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "syncgate", Subsystem: "vendor", Name: "attempt_duration_seconds",
			Help:    "Latency of single HTTP attempts to a vendor.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"vendor", "operation"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "syncgate", Subsystem: "vendor", Name: "calls_total",
			Help: "Logical vendor calls (after retries and re-logins), by operation and result.",
		}, []string{"vendor", "operation", "result"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "syncgate", Subsystem: "vendor", Name: "call_duration_seconds",
			Help:    "Latency of logical vendor calls including retries and waits.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12),
		}, []string{"vendor", "operation"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "syncgate", Subsystem: "vendor", Name: "retries_total",
			Help: "Retries scheduled after transient vendor failures.",
		}, []string{"vendor", "operation"}),
	}
	var err error
	m.attempts, err = register(reg, m.attempts)
	if err != nil {
		return nil, err
	}
	m.attemptDuration, err = register(reg, m.attemptDuration)
	if err != nil {
		return nil, err
	}
	m.calls, err = register(reg, m.calls)
	if err != nil {
		return nil, err
	}
	m.callDuration, err = register(reg, m.callDuration)
	if err != nil {
		return nil, err
	}
	m.retries, err = register(reg, m.retries)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c on reg, returning the already registered collector
// when an identical one exists (several vendor clients share one registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		var zero C
		return zero, fmt.Errorf("vendor metrics: %w", err)
	}
	return c, nil
}

// resultLabel names the outcome of an attempt or call for metrics.
func resultLabel(err error) string {
	if err == nil {
		return "ok"
	}
	if k := KindOf(err); k != 0 {
		return k.String()
	}
	return "error"
}

func (m *metrics) observeAttempt(vendorName, op string, err error, d time.Duration) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(vendorName, op, resultLabel(err)).Inc()
	m.attemptDuration.WithLabelValues(vendorName, op).Observe(d.Seconds())
}

func (m *metrics) observeCall(vendorName, op string, err error, d time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(vendorName, op, resultLabel(err)).Inc()
	m.callDuration.WithLabelValues(vendorName, op).Observe(d.Seconds())
}

func (m *metrics) observeRetry(vendorName, op string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(vendorName, op).Inc()
}
