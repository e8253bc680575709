// Command syncgate is the integration gateway: it serves the syncgate.v1.SyncService (Connect, gRPC and
// gRPC-Web on one port) and runs the SyncCustomers (Kingdee -> Greatonce) and SyncAgents
// (Zhilong -> Kingdee) flows against a SQLite store.
//
// Usage:
//
//	syncgate [flags]                      serve (see --help for every setting)
//	syncgate --demo                       serve against in-process mock vendors seeded with demo data
//	syncgate migrate up [flags]           apply pending migrations to --db and exit
//	syncgate migrate down --yes [flags]   roll every migration of --db back (drops all data) and exit
//	syncgate migrate force N [flags]      record version N as --db's clean schema version (0: none)
//	syncgate migrate status [flags]       print --db's schema version, dirty mark and pending migrations
//	syncgate settings                     print the configuration reference
//	syncgate sync|runs|run|cancel|dead-letters|record|schedules|schedule|preview …
//	                                      the command-line client of a running gateway (server/cli;
//	                                      SYNCGATE_URL, SYNCGATE_API_KEY; syncgate COMMAND --help)
//
// Flags may come before or after a subcommand's arguments; a bool flag alone means true
// (--insecure), and takes an explicit value as --insecure=false.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/grpchealth"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"

	"github.com/syncgate/syncgate/console"
	"github.com/syncgate/syncgate/server/cli"
	"github.com/syncgate/syncgate/server/config"
	"github.com/syncgate/syncgate/server/rpc"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && cli.IsCommand(os.Args[1]) {
		code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
		stop()
		os.Exit(code)
	}
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "syncgate:", err)
		}
		os.Exit(1)
	}
}

// run is main without the process globals, so tests can drive it. environ is usually os.Environ().
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	getenv := lookupEnv(environ)
	if len(args) > 0 {
		switch args[0] {
		case "settings":
			config.Usage(stdout)
			return nil
		case "migrate":
			return runMigrate(ctx, args[1:], environ, stdout, stderr)
		}
	}
	fs := pflag.NewFlagSet("syncgate", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	demo := fs.Bool("demo", false, "start in-process mock vendors seeded with demo data and point the gateway at them")
	demoRecords := fs.Int("demo-records", 200, "records to seed into each demo mock vendor")
	cfg, unknownEnv, err := config.Load(fs, args, environ)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: the subcommands (migrate, settings) come first, and a bool flag takes a value only as --flag=value", fs.Arg(0))
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	warnUnknownEnv(log, unknownEnv)
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

// lookupEnv turns an environment list (KEY=value) into a lookup function; the last entry of a key wins.
func lookupEnv(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

// warnUnknownEnv reports SYNCGATE_* variables that name no setting (a typo would otherwise go
// unnoticed); only their names are logged, as their values may be secrets.
func warnUnknownEnv(log *slog.Logger, names []string) {
	if len(names) > 0 {
		log.Warn("ignoring SYNCGATE_* environment variables that name no setting (see syncgate settings)", "names", names)
	}
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

// runMigrate is `syncgate migrate up|down|force N|status`, acting on the database that --db (or
// SYNCGATE_DB, or the YAML file) names, with flags in any position.
func runMigrate(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("syncgate migrate", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	yes := fs.Bool("yes", false, "confirm migrate down, which drops every table of the database and the data in them")
	cfg, unknownEnv, err := config.Load(fs, args, environ)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	warnUnknownEnv(log, unknownEnv)
	const usage = "want up, down --yes, force N or status"
	argc := map[string]int{"up": 1, "down": 1, "force": 2, "status": 1, "version": 1}
	if fs.NArg() == 0 {
		return fmt.Errorf("migrate: %s", usage)
	}
	cmd := fs.Arg(0)
	if n, ok := argc[cmd]; !ok {
		return fmt.Errorf("migrate: %s, got %q", usage, cmd)
	} else if fs.NArg() != n {
		return fmt.Errorf("migrate %s: want %d argument(s), got %q", cmd, n-1, fs.Args()[1:])
	}
	if cfg.Postgres() {
		return fmt.Errorf("migrate %s: the migrate command is for SQLite files; a PostgreSQL store (%s) applies its migrations itself at start-up, one replica at a time", cmd, cfg.DBForDisplay())
	}
	switch cmd {
	case "up":
		if err := sqlite.Migrate(ctx, cfg.DB, "up"); err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		fmt.Fprintf(stderr, "migrate up: %s is at the latest schema\n", cfg.DB)
	case "down":
		if !*yes {
			return fmt.Errorf("migrate down rolls back every migration of %s, dropping all its tables and data; add --yes to confirm", cfg.DB)
		}
		if err := sqlite.Migrate(ctx, cfg.DB, "down"); err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
		fmt.Fprintf(stderr, "migrate down: %s is at the empty schema\n", cfg.DB)
	case "force":
		n, err := strconv.Atoi(fs.Arg(1))
		if err != nil || n < 0 {
			return fmt.Errorf("migrate force: want a version number (0: none), got %q", fs.Arg(1))
		}
		if err := sqlite.ForceVersion(ctx, cfg.DB, n); err != nil {
			return fmt.Errorf("migrate force: %w", err)
		}
		fmt.Fprintf(stderr, "migrate force: %s is recorded at version %d, clean; no migration was run\n", cfg.DB, n)
	case "status", "version":
		st, err := sqlite.Status(ctx, cfg.DB)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		printStatus(stdout, cfg.DB, st)
	}
	return nil
}

func printStatus(w io.Writer, db string, st sqlite.SchemaStatus) {
	fmt.Fprintf(w, "database: %s\nversion: %d (latest %d, %d pending)\n", db, st.Version, st.Latest, st.Pending)
	switch {
	case !st.Dirty:
		fmt.Fprintln(w, "dirty: no")
	case st.Recovery == nil:
		fmt.Fprintf(w, "dirty: yes, left by an interrupted migration; its schema is that of version %d, which the next start (or migrate up) records before migrating on\n", st.RecoversTo)
	default:
		fmt.Fprintf(w, "dirty: yes; the next start refuses it: %v\n", st.Recovery)
	}
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
		AllowedOrigins:  cfg.CORSAllowedOrigins,
		Console:         consoleHandler(cfg.Console),
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = gw.stopRuns(context.Background())
		_ = gw.close()
		return fmt.Errorf("listen: %w", err)
	}
	if err := gw.start(context.WithoutCancel(ctx)); err != nil { // stopped by stopRuns, in order
		_ = gw.stopRuns(context.Background())
		_ = gw.close()
		return err
	}
	srv := rpc.NewHTTPServer(cfg.Listen, mux, rpc.ServerTimeouts{Read: cfg.ReadTimeout}, log)
	addr := ln.Addr().String()
	log.Info("syncgate serving", "addr", addr, "db", cfg.DBForDisplay(), "auth", len(cfg.APIKeys) > 0, "config", cfg)
	fmt.Fprintf(stdout, "syncgate listening on http://%s\n", addr)
	if cfg.Console {
		fmt.Fprintf(stdout, "web console: http://%s/\n", addr)
	}
	if demo != nil {
		demo.PrintHelp(stdout, addr, cfg.Console)
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

	// Health follows the store: NOT_SERVING while it cannot be reached (a replica that lost its
	// database), SERVING again when it can.
	hctx, stopHealth := context.WithCancel(ctx)
	defer stopHealth()
	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		watchStoreHealth(hctx, gw.store, mux.Health, log, storeHealthInterval)
	}()

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
	stopHealth()
	<-healthDone
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

// consoleHandler is the embedded web console, or nil when the console setting is off.
func consoleHandler(on bool) http.Handler {
	if !on {
		return nil
	}
	return console.Handler()
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

// storeHealthInterval is how often the health check pings the store.
const storeHealthInterval = 2 * time.Second

// watchStoreHealth pings the store every interval (each ping given up to storeHealthInterval) until
// ctx ends, and sets the health status of the server and of SyncService from the answer: NOT_SERVING while the store is unreachable, or full (a
// write failed for want of space and there is no room yet, see storage.ErrFull; the log says which).
func watchStoreHealth(ctx context.Context, st interface{ Ping(context.Context) error }, health *grpchealth.StaticChecker, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	serving := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, storeHealthInterval)
		err := st.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && serving && errors.Is(err, storage.ErrFull):
			log.Error("the database is full: health is NOT_SERVING until there is room again", "error", err)
		case err != nil && serving:
			log.Error("store unreachable: health is NOT_SERVING", "error", err)
		case err == nil && !serving:
			log.Info("store reachable again: health is SERVING")
		default:
			continue
		}
		serving = err == nil
		status := grpchealth.StatusServing
		if !serving {
			status = grpchealth.StatusNotServing
		}
		health.SetStatus("", status)
		health.SetStatus("syncgate.v1.SyncService", status)
	}
}
