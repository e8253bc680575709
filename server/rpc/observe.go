package rpc

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the RPC-level Prometheus collectors.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics creates the RPC collectors and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncgate_rpc_calls_total",
			Help: "RPC calls handled, by procedure and Connect code.",
		}, []string{"procedure", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncgate_rpc_duration_seconds",
			Help:    "RPC handling time, by procedure.",
			Buckets: prometheus.DefBuckets,
		}, []string{"procedure"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.duration)
	}
	return m
}

// observer logs and counts every call with its outcome. It is the outermost interceptor, so refused
// calls (no key, invalid request) are counted too.
type observer struct {
	log     *slog.Logger
	metrics *Metrics
}

func (o observer) done(ctx context.Context, procedure string, start time.Time, err error) {
	code := "ok"
	if err != nil {
		code = connect.CodeOf(err).String()
	}
	o.metrics.calls.WithLabelValues(procedure, code).Inc()
	o.metrics.duration.WithLabelValues(procedure).Observe(time.Since(start).Seconds())
	level := slog.LevelInfo
	if err != nil && connect.CodeOf(err) == connect.CodeInternal {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("procedure", procedure), slog.String("code", code), slog.Duration("took", time.Since(start))}
	var ce *connect.Error
	if errors.As(err, &ce) {
		attrs = append(attrs, slog.String("error", ce.Message()))
	}
	o.log.LogAttrs(ctx, level, "rpc", attrs...)
}

func (o observer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		o.done(ctx, req.Spec().Procedure, start, err)
		return resp, err
	}
}

func (o observer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (o observer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		o.done(ctx, conn.Spec().Procedure, start, err)
		return err
	}
}
