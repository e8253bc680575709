// Package rpc serves the syncgate API: the SyncService Connect handlers, the interceptors (auth,
// validation, logging, metrics), health, reflection and /metrics, all on one port that speaks Connect,
// gRPC and gRPC-Web over HTTP/1.1 and h2c. Domain errors are mapped to Connect codes in one place
// (errors.go).
package rpc

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/validate"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/server/config"
)

// MuxOptions configure NewMux.
type MuxOptions struct {
	// Auth guards the SyncService and /metrics. Health and reflection stay open.
	Auth *KeyAuth
	// Logger receives one line per call.
	Logger *slog.Logger
	// Registerer receives the RPC metrics; Gatherer is served on /metrics. Either may be nil.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// MaxRequestBytes limits the size of one request message (0: 4 MiB).
	MaxRequestBytes int
	// AllowedOrigins are the browser origins (e.g. "https://console.example.com") allowed to call the
	// API cross-origin (Connect-Web, gRPC-Web). Empty (the default): no CORS headers are sent, so
	// browsers refuse cross-origin calls. An entry may hold one "*" wildcard
	// ("https://*.example.com"); "*" alone allows every origin.
	AllowedOrigins []string
	// ReadConcurrency is how many of the read calls (GetRun, ListRuns, GetRecord, ListDeadLetters,
	// ListSchedules, GetOverview) are served at once; more wait their turn (0: four per CPU,
	// 4·GOMAXPROCS). See limitReads.
	ReadConcurrency int
	// Console, when set, serves the web console at "/": every path that the API, health, reflection
	// and /metrics do not serve. Nil: those paths answer 404.
	Console http.Handler
}

// Mux is the gateway's HTTP handler plus the health checker whose status shutdown flips.
type Mux struct {
	http.Handler
	// Health answers grpc.health.v1 checks for the whole server and for SyncService.
	Health *grpchealth.StaticChecker
}

// NewMux wires svc, health, reflection (v1 and v1alpha) and /metrics onto one handler.
func NewMux(svc syncgatev1connect.SyncServiceHandler, o MuxOptions) *Mux {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Auth == nil {
		o.Auth = NewKeyAuth(nil)
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = 4 << 20
	}
	mux := http.NewServeMux()
	obs := newObserver(o.Logger, NewMetrics(o.Registerer))
	opts := append(jsonCodecs(),
		connect.WithInterceptors(
			obs,
			o.Auth.Interceptor(),
			jsonNames{},
			validate.NewInterceptor(),
		),
		connect.WithReadMaxBytes(o.MaxRequestBytes),
		// Small answers go uncompressed: gzip costs more CPU than it saves below a few KiB (7% of the
		// gateway's CPU under 200 concurrent ListRuns went to resetting compressors).
		connect.WithCompressMinBytes(compressMinBytes),
		gzipCompression(),
	)
	path, h := syncgatev1connect.NewSyncServiceHandler(svc, opts...)
	if o.ReadConcurrency <= 0 {
		o.ReadConcurrency = defaultReadConcurrency()
	}
	mux.Handle(path, obs.Middleware(limitReads(o.ReadConcurrency, h)))

	health := grpchealth.NewStaticChecker(syncgatev1connect.SyncServiceName)
	mux.Handle(grpchealth.NewHandler(health))
	reflector := grpcreflect.NewStaticReflector(syncgatev1connect.SyncServiceName, grpchealth.HealthV1ServiceName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	if o.Gatherer != nil {
		mux.Handle("/metrics", o.Auth.Middleware(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	}
	if o.Console != nil {
		mux.Handle("/", o.Console) // the least specific pattern: every registered path above wins
	}
	var handler http.Handler = mux
	if len(o.AllowedOrigins) > 0 {
		handler = corsHandler(o.AllowedOrigins, mux)
	}
	return &Mux{Handler: handler, Health: health}
}

// corsHandler answers CORS preflights for the allowed origins and adds CORS headers to their calls,
// with the methods and headers the Connect, gRPC-Web and gRPC protocols use (connectrpc.com/cors),
// plus Authorization for the API key. Other origins get no CORS headers.
func corsHandler(origins []string, next http.Handler) http.Handler {
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         7200, // seconds a browser may cache a preflight answer
	}).Handler(next)
}

// ServerTimeouts bound how long a client may take to send a request.
type ServerTimeouts struct {
	ReadHeader time.Duration // time to read request headers (default 10s)
	Read       time.Duration // time to read a whole request (default 60s)
	Idle       time.Duration // keep-alive idle time (default 120s)
}

// NewHTTPServer returns a server for h that speaks HTTP/1.1 and unencrypted HTTP/2 (h2c) on one port,
// which is what Connect, gRPC and gRPC-Web clients need. There is no write timeout: WatchRun streams
// and waiting syncs may legitimately take long.
func NewHTTPServer(addr string, h http.Handler, t ServerTimeouts, log *slog.Logger) *http.Server {
	if t.ReadHeader <= 0 {
		t.ReadHeader = 10 * time.Second
	}
	if t.Read <= 0 {
		t.Read = 60 * time.Second
	}
	if t.Idle <= 0 {
		t.Idle = 120 * time.Second
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		Protocols:         p,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
	}
	if log != nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return srv
}

// CheckExposure refuses to serve on a non-loopback address without API keys, unless the operator said
// so explicitly with the insecure flag.
func CheckExposure(addr string, haveKeys, insecure bool) error {
	if haveKeys || insecure {
		return nil
	}
	loop, err := config.IsLoopbackAddr(addr)
	if err != nil {
		return fmt.Errorf("listen %w", err)
	}
	if loop {
		return nil
	}
	return fmt.Errorf("refusing to listen on non-loopback address %q without API keys: set SYNCGATE_API_KEYS (or SYNCGATE_API_KEYS_FILE), or pass --insecure to accept unauthenticated calls", addr)
}

// compressMinBytes is the smallest answer the server compresses, when the client accepts it.
const compressMinBytes = 4 << 10
