// Command syncgate is the integration gateway: it serves the syncgate.v1.SyncService (Connect, gRPC and
// gRPC-Web on one port) and runs the SyncCustomers (Kingdee -> Greatonce) and SyncAgents
// (Zhilong -> Kingdee) flows against a SQLite store.
//
// Usage:
//
//	syncgate [flags]              serve (see --help for every setting)
//	syncgate --demo               serve against in-process mock vendors seeded with demo data
//	syncgate migrate up|down      apply or roll back the store's schema and exit
//	syncgate settings             print the configuration reference
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"connectrpc.com/grpchealth"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/syncgate/syncgate/server/config"
	"github.com/syncgate/syncgate/server/rpc"
	"github.com/syncgate/syncgate/server/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "syncgate:", err)
		}
		os.Exit(1)
	}
}

// run is main without the process globals, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "settings":
			config.Usage(stdout)
			return nil
		case "migrate":
			return runMigrate(ctx, args[1:], getenv, stderr)
		}
	}
	fs := flag.NewFlagSet("syncgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	demo := fs.Bool("demo", false, "start in-process mock vendors seeded with demo data and point the gateway at them")
	demoRecords := fs.Int("demo-records", 200, "records to seed into each demo mock vendor")
	cfg, err := config.Load(fs, args, getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	var demoEnv *demoVendors
	if *demo {
		if demoEnv, err = startDemo(ctx, &cfg, *demoRecords, log); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer demoEnv.Close()
	}
	if err := rpc.CheckExposure(cfg.Listen, len(cfg.APIKeys) > 0, cfg.Insecure); err != nil {
		return err
	}
	tuneRuntime(cfg, getenv, log)
	return serve(ctx, cfg, log, stdout, demoEnv)
}

// tuneRuntime applies the GC settings, unless GOGC or GOMEMLIMIT already set them. Syncs allocate
// briskly (pages of decoded records, audit rows) over a small live heap, so Go's default target of
// 100% collects several times a second; 400% roughly halved the GC's CPU in the benchmark (README,
// "Benchmark figures") for about 100 MiB more memory, and the soft limit keeps a large heap in check.
func tuneRuntime(cfg config.Config, getenv func(string) string, log *slog.Logger) (gcPercent int, limit int64) {
	gcPercent, limit = -2, -2 // -2: left to the environment
	if getenv("GOGC") == "" {
		gcPercent = cfg.GCPercent
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" && cfg.MemoryLimitMiB > 0 {
		limit = int64(cfg.MemoryLimitMiB) << 20
		debug.SetMemoryLimit(limit)
	}
	log.Debug("runtime tuned", "gc_percent", gcPercent, "memory_limit", limit, "GOGC", getenv("GOGC"), "GOMEMLIMIT", getenv("GOMEMLIMIT"))
	return gcPercent, limit
}

func newLogger(cfg config.Config, w io.Writer) (*slog.Logger, error) {
	level, err := config.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("syncgate migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.Load(fs, args, getenv)
	if err != nil {
		return err
	}
	dir := fs.Arg(0)
	if dir != "up" && dir != "down" {
		return fmt.Errorf("migrate: want 'up' or 'down', got %q", dir)
	}
	if err := store.Migrate(ctx, cfg.DB, dir); err != nil {
		return fmt.Errorf("migrate %s: %w", dir, err)
	}
	fmt.Fprintf(stderr, "migrate %s: %s is at the %s schema\n", dir, cfg.DB, map[string]string{"up": "latest", "down": "empty"}[dir])
	return nil
}

// serve runs the gateway until ctx ends, then shuts down gracefully: health turns NOT_SERVING, runs are
// cancelled (their state is committed as cancelled), in-flight calls drain, the store closes.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer, demo *demoVendors) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	gw, err := build(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	mux := rpc.NewMux(gw.handler, rpc.MuxOptions{
		Auth:            rpc.NewKeyAuth(cfg.APIKeys),
		Logger:          log,
		Registerer:      reg,
		Gatherer:        reg,
		MaxRequestBytes: cfg.MaxRequestBytes,
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = gw.stopRuns(context.Background())
		_ = gw.close()
		return fmt.Errorf("listen: %w", err)
	}
	srv := rpc.NewHTTPServer(cfg.Listen, mux, rpc.ServerTimeouts{Read: cfg.ReadTimeout}, log)
	addr := ln.Addr().String()
	log.Info("syncgate serving", "addr", addr, "db", cfg.DB, "auth", len(cfg.APIKeys) > 0, "config", cfg)
	fmt.Fprintf(stdout, "syncgate listening on http://%s\n", addr)
	if demo != nil {
		demo.PrintHelp(stdout, addr)
	}

	if cfg.DebugListen != "" {
		stop, err := serveDebug(cfg.DebugListen, stdout, log)
		if err != nil {
			_ = gw.stopRuns(context.Background())
			_ = gw.close()
			return err
		}
		defer stop()
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		_ = gw.stopRuns(context.Background())
		_ = gw.close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	mux.Health.SetStatus("", grpchealth.StatusNotServing)
	mux.Health.SetStatus("syncgate.v1.SyncService", grpchealth.StatusNotServing)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Cancel runs first: waiting calls and WatchRun streams then end with the final state, so the
	// HTTP drain below does not wait on them. The store closes last, after in-flight calls drained.
	stopErr := gw.stopRuns(sctx)
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("drain incomplete", "error", err)
	}
	return errors.Join(stopErr, gw.close())
}

// serveDebug serves Go's profiling endpoints (/debug/pprof/) on their own loopback listener, apart from
// the API port and its authentication; config.Validate refuses a non-loopback address. stop closes it.
func serveDebug(addr string, stdout io.Writer, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("debug server stopped", "error", err)
		}
	}()
	fmt.Fprintf(stdout, "syncgate profiling on http://%s/debug/pprof/\n", ln.Addr())
	return func() { _ = srv.Close() }, nil
}
