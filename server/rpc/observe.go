package rpc

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
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
			Help: "RPC calls handled, by procedure and the Connect code the client received.",
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

// otherProcedure labels calls to paths that name no SyncService procedure, so that arbitrary URLs
// cannot grow the metrics' label sets.
const otherProcedure = "other"

// observer logs and counts every SyncService call with the code its client received.
//
// The code is read from the response as it is written (HTTP status and error body for Connect unary
// and GET calls, grpc-status for gRPC, grpc-status in the headers or the trailer frame for gRPC-Web):
// a handler's result is not the whole story, because connect marshals the response (and decodes the
// request) outside the interceptor chain. For Connect streaming (WatchRun over the Connect protocol),
// whose end-of-stream message is not parsed here, the result the interceptor saw is used: for a stream
// the interceptor sees every failure, including a failed Send.
type observer struct {
	log        *slog.Logger
	metrics    *Metrics
	procedures map[string]bool
}

func newObserver(log *slog.Logger, m *Metrics) *observer {
	procs := map[string]bool{}
	svcs := syncgatev1.File_syncgate_v1_syncgate_proto.Services()
	for i := range svcs.Len() {
		methods := svcs.Get(i).Methods()
		for j := range methods.Len() {
			procs["/"+string(svcs.Get(i).FullName())+"/"+string(methods.Get(j).Name())] = true
		}
	}
	return &observer{log: log, metrics: m, procedures: procs}
}

// callRecord is what the interceptor learnt of one call, read by the HTTP middleware once the
// response is written. Both run on the request's goroutine.
type callRecord struct {
	seen bool
	err  error
}

type callRecordKey struct{}

// Middleware wraps the SyncService handler: it observes the response and logs and counts the call.
func (o *observer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &callRecord{}
		rw := &responseRecorder{ResponseWriter: w, captureErrorBody: isConnectUnary(r),
			webFrames: strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc-web")}
		next.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), callRecordKey{}, rec)))
		procedure := r.URL.Path
		if !o.procedures[procedure] {
			procedure = otherProcedure
		}
		code, msg := o.outcome(r, rw, rec)
		o.done(r.Context(), procedure, start, code, msg)
	})
}

// outcome is the code the client received and the error message it carried ("" when ok).
func (o *observer) outcome(r *http.Request, rw *responseRecorder, rec *callRecord) (code *connect.Code, msg string) {
	if c, m, ok := wireOutcome(r, rw); ok {
		if c != nil && rec.err != nil && connect.CodeOf(rec.err) == *c {
			m = errorMessage(rec.err) // the same error: keep its unescaped text
		}
		return c, m
	}
	if rec.seen {
		if rec.err == nil {
			return nil, ""
		}
		c := connect.CodeOf(rec.err)
		return &c, errorMessage(rec.err)
	}
	c := connect.CodeUnknown
	return &c, "no status observed"
}

func errorMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

func (o *observer) done(ctx context.Context, procedure string, start time.Time, code *connect.Code, msg string) {
	label := "ok"
	if code != nil {
		label = code.String()
	}
	took := time.Since(start)
	o.metrics.calls.WithLabelValues(procedure, label).Inc()
	o.metrics.duration.WithLabelValues(procedure).Observe(took.Seconds())
	level := slog.LevelInfo
	if code != nil && (*code == connect.CodeInternal || *code == connect.CodeUnknown || *code == connect.CodeDataLoss) {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("procedure", procedure), slog.String("code", label), slog.Duration("took", took)}
	if code != nil {
		attrs = append(attrs, slog.String("error", msg))
	}
	o.log.LogAttrs(ctx, level, "rpc", attrs...)
}

func (o *observer) record(ctx context.Context, err error) {
	if rec, ok := ctx.Value(callRecordKey{}).(*callRecord); ok {
		rec.seen, rec.err = true, err
	}
}

// WrapUnary records the handler's result for the middleware.
func (o *observer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		o.record(ctx, err)
		return resp, err
	}
}

// WrapStreamingClient is a no-op: the observer only serves.
func (o *observer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler records the stream's result for the middleware.
func (o *observer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		err := next(ctx, conn)
		o.record(ctx, err)
		return err
	}
}

// isConnectUnary reports whether r is a Connect unary call (POST with a plain codec content type, or
// GET), whose outcome is the HTTP status plus, for errors, a small JSON body.
func isConnectUnary(r *http.Request) bool {
	if r.Method == http.MethodGet {
		return true
	}
	ct := r.Header.Get("Content-Type")
	return !strings.HasPrefix(ct, "application/grpc") && !strings.HasPrefix(ct, "application/connect+")
}

// maxErrorBody bounds the Connect error body kept to read its code.
const maxErrorBody = 64 << 10

// wireOutcome reads the code from what was written, when that is possible without parsing frames.
// ok is false when the response does not show it.
func wireOutcome(r *http.Request, rw *responseRecorder) (code *connect.Code, msg string, ok bool) {
	status := rw.status
	if status == 0 && rw.wrote {
		status = http.StatusOK
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		h := rw.Header()
		s := h.Get("Grpc-Status")
		m := h.Get("Grpc-Message")
		if s == "" {
			s, m = h.Get(http.TrailerPrefix+"Grpc-Status"), h.Get(http.TrailerPrefix+"Grpc-Message")
		}
		if s == "" && rw.webFrames {
			s, m = rw.webTrailer(h.Get("Grpc-Encoding"))
		}
		if s == "" {
			if status >= 400 { // refused before the protocol took over (e.g. an unsupported HTTP version)
				c := httpToCode(status)
				return &c, http.StatusText(status), true
			}
			return nil, "", false
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			c := connect.CodeUnknown
			return &c, "malformed grpc-status " + strconv.Quote(s), true
		}
		if n == 0 {
			return nil, "", true
		}
		if dm, err := url.PathUnescape(m); err == nil {
			m = dm
		}
		c := connect.Code(n)
		return &c, m, true
	}
	if !rw.captureErrorBody {
		if status >= 400 {
			c := httpToCode(status)
			return &c, http.StatusText(status), true
		}
		return nil, "", false
	}
	if status == 0 || status == http.StatusOK || status == http.StatusNotModified {
		if status == 0 && !rw.wrote {
			return nil, "", false
		}
		return nil, "", true
	}
	var wire struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(rw.body.Bytes(), &wire) == nil && wire.Code != "" {
		var c connect.Code
		if c.UnmarshalText([]byte(wire.Code)) == nil {
			return &c, wire.Message, true
		}
	}
	c := httpToCode(status)
	return &c, http.StatusText(status), true
}

// httpToCode maps an HTTP status to a Connect code as the Connect protocol specifies for responses
// without a Connect error body.
func httpToCode(status int) connect.Code {
	switch status {
	case 400:
		return connect.CodeInternal
	case 401:
		return connect.CodeUnauthenticated
	case 403:
		return connect.CodePermissionDenied
	case 404:
		return connect.CodeUnimplemented
	case 429, 502, 503, 504:
		return connect.CodeUnavailable
	default:
		return connect.CodeUnknown
	}
}

// responseRecorder passes writes through and keeps the status and, for Connect unary errors, the body;
// for gRPC-Web it follows the length-prefixed frames and keeps the trailer frame.
type responseRecorder struct {
	http.ResponseWriter
	status           int
	wrote            bool
	captureErrorBody bool
	body             bytes.Buffer

	webFrames  bool
	frameHead  [5]byte
	headLen    int
	frameLeft  uint32
	inTrailer  bool
	compressed bool
	trailer    bytes.Buffer
}

// gRPC-Web frame flags.
const (
	webFlagCompressed = 0x01
	webFlagTrailer    = 0x80
)

// scanFrames follows gRPC-Web frames through p, keeping the payload of the trailer frame.
func (w *responseRecorder) scanFrames(p []byte) {
	for len(p) > 0 {
		if w.frameLeft == 0 && w.headLen < len(w.frameHead) {
			n := copy(w.frameHead[w.headLen:], p)
			w.headLen += n
			p = p[n:]
			if w.headLen < len(w.frameHead) {
				return
			}
			w.frameLeft = binary.BigEndian.Uint32(w.frameHead[1:])
			w.inTrailer = w.frameHead[0]&webFlagTrailer != 0
			w.compressed = w.frameHead[0]&webFlagCompressed != 0
			if w.inTrailer {
				w.trailer.Reset()
			}
			if w.frameLeft == 0 {
				w.headLen = 0
			}
			continue
		}
		n := min(uint32(len(p)), w.frameLeft)
		if w.inTrailer && w.trailer.Len() < maxErrorBody {
			w.trailer.Write(p[:min(int(n), maxErrorBody-w.trailer.Len())])
		}
		w.frameLeft -= n
		p = p[n:]
		if w.frameLeft == 0 {
			w.headLen = 0
		}
	}
}

// webTrailer reads grpc-status and grpc-message from the gRPC-Web trailer frame, if one was written.
func (w *responseRecorder) webTrailer(encoding string) (status, message string) {
	if !w.inTrailer {
		return "", ""
	}
	data := w.trailer.Bytes()
	if w.compressed {
		if encoding != "gzip" {
			return "", ""
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return "", ""
		}
		if data, err = io.ReadAll(io.LimitReader(zr, maxErrorBody)); err != nil {
			return "", ""
		}
	}
	h, err := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(data), strings.NewReader("\r\n")))).ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return "", ""
	}
	return h.Get("Grpc-Status"), h.Get("Grpc-Message")
}

func (w *responseRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseRecorder) Write(p []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(p)
	if w.webFrames {
		w.scanFrames(p[:n])
	}
	if w.captureErrorBody && w.status >= 300 && w.body.Len() < maxErrorBody {
		w.body.Write(p[:min(n, maxErrorBody-w.body.Len())])
	}
	return n, err
}

// Flush lets streams flush through the recorder.
func (w *responseRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
