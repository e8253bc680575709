package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncgate/syncgate/clients/greatonce"
	"github.com/syncgate/syncgate/clients/kingdee"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/clients/zhilong"
	"github.com/syncgate/syncgate/server/config"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/flows"
	"github.com/syncgate/syncgate/server/flows/agents"
	"github.com/syncgate/syncgate/server/flows/customers"
	"github.com/syncgate/syncgate/server/jobs"
	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/retention"
	"github.com/syncgate/syncgate/server/rpc"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/postgres"
	"github.com/syncgate/syncgate/server/storage/sqlite"
	"github.com/syncgate/syncgate/server/vendorhealth"
)

// gateway is the wired application: the RPC handler and what must be shut down behind it.
type gateway struct {
	handler *rpc.Handler
	engine  *engine.Engine
	jobs    *jobs.Jobs
	store   storage.Store
	// closeStore closes the store.
	closeStore func() error
}

// start starts the job system: queued runs and schedules begin to run.
func (g *gateway) start(ctx context.Context) error { return g.jobs.Start(ctx) }

// stopRuns stops starting runs, cancels running syncs and waits until their state is committed,
// then stops the job system.
func (g *gateway) stopRuns(ctx context.Context) error {
	return errors.Join(g.engine.Shutdown(ctx), g.jobs.Stop(ctx))
}

// close releases the job database and the store; call it after the HTTP server has drained.
func (g *gateway) close() error { return errors.Join(g.jobs.Close(), g.closeStore()) }

// build wires config → store, mapping specs, vendor clients, flows, engine and handler. The gateway
// does not start with an invalid active mapping spec.
func build(ctx context.Context, cfg config.Config, log *slog.Logger, reg prometheus.Registerer) (_ *gateway, err error) {
	specs, err := mapping.LoadSet(cfg.MappingDir)
	if err != nil {
		return nil, fmt.Errorf("mapping specs: %w", err)
	}
	customersSpec, ok1 := specs.Get(engine.FlowCustomers)
	agentsSpec, ok2 := specs.Get(engine.FlowAgents)
	if !ok1 || !ok2 {
		return nil, errors.New("mapping specs: customers and agents specs are required")
	}

	st, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer func() {
		if err != nil {
			closeStore()
		}
	}()

	// The three clients retry alike, and every vendor attempt made on behalf of a run lands in that
	// run's audit trail (flows.AuditAttempt); every attempt, a run's or not, feeds the vendors' health
	// that GetOverview reports.
	health := vendorhealth.New(greatonce.VendorName, kingdee.VendorName, zhilong.VendorName)
	hook := vendorhealth.Chain(flows.AuditAttempt, health.Hook)
	// Each vendor is paced by its rate_mode: adaptive (the default) starts at rate and follows what the
	// vendor allows, below rate_max; fixed keeps to rate.
	transport := func(timeout time.Duration, mode string, rate, rateMax float64, conns int) vendor.Transport {
		return vendor.Transport{Timeout: timeout, RateMode: vendor.RateMode(mode), RatePerSecond: rate, RateMax: rateMax,
			MaxAttempts: 5, MaxElapsed: 2 * time.Minute, MaxConns: conns, Registerer: reg, Hook: hook}
	}
	conns := cfg.Sync.Concurrency + 4
	greatonceTransport := transport(15*time.Second, cfg.Greatonce.RateMode, cfg.Greatonce.Rate, cfg.Greatonce.RateMax, conns)
	greatonceTransport.Burst = cfg.Sync.Concurrency
	kd, err := kingdee.New(kingdee.Config{
		BaseURL: cfg.Kingdee.BaseURL, AcctID: cfg.Kingdee.AcctID, Username: cfg.Kingdee.Username,
		Password: cfg.Kingdee.Password, LCID: cfg.Kingdee.LCID, AppID: cfg.Kingdee.AppID, AppSecret: cfg.Kingdee.AppSecret,
		Transport: transport(30*time.Second, cfg.Kingdee.RateMode, cfg.Kingdee.Rate, cfg.Kingdee.RateMax, conns),
	})
	if err != nil {
		return nil, fmt.Errorf("kingdee client: %w", err)
	}
	gc, err := greatonce.New(greatonce.Config{
		BaseURL: cfg.Greatonce.BaseURL, AppKey: cfg.Greatonce.AppKey, Secret: cfg.Greatonce.Secret,
		CustomerID: cfg.Greatonce.CustomerID, Transport: greatonceTransport,
	})
	if err != nil {
		return nil, fmt.Errorf("greatonce client: %w", err)
	}
	zl, err := zhilong.New(zhilong.Config{
		BaseURL: cfg.Zhilong.BaseURL, Username: cfg.Zhilong.Username, Password: cfg.Zhilong.Password,
		Transport: transport(30*time.Second, cfg.Zhilong.RateMode, cfg.Zhilong.Rate, cfg.Zhilong.RateMax, 4),
	})
	if err != nil {
		return nil, fmt.Errorf("zhilong client: %w", err)
	}

	customers, err := customers.New(kd, gc, customersSpec, customers.Options{
		PageSize: cfg.Sync.PageSize, Concurrency: cfg.Sync.Concurrency,
		UseOrgNumbers: cfg.Sync.UseOrgNumbers, Overlap: cfg.Sync.Overlap,
	})
	if err != nil {
		return nil, err
	}
	agents := agents.New(zl, kd, agentsSpec, agents.Options{
		PageSize: cfg.Sync.PageSize, BatchSize: cfg.Sync.BatchSize, Concurrency: cfg.Sync.BatchConcurrency, Overlap: cfg.Sync.Overlap,
	})
	eng, err := engine.New(engine.Config{Logger: log, Registerer: reg, Shared: cfg.Postgres()}, st, customers, agents)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if err := eng.ConfigureSchedules(ctx, map[string]string{
		engine.FlowCustomers: cfg.Sync.ScheduleCustomers, engine.FlowAgents: cfg.Sync.ScheduleAgents,
	}); err != nil {
		return nil, fmt.Errorf("schedules: %w", err)
	}
	jcfg := jobs.Config{DB: cfg.JobsDBPath(), Logger: log}
	if cfg.Postgres() {
		jcfg = jobs.Config{PostgresURL: cfg.DB, TakeoverAfter: cfg.TakeoverAfter, Logger: log}
	}
	handler := rpc.NewHandler(eng, log).WithVendorHealth(health)
	if p := pruner(cfg, st, log); p != nil {
		handler.WithRetention(p)
		if p.Enabled() {
			jcfg.Retention = func(ctx context.Context) error {
				_, err := p.Pass(ctx)
				return err
			}
			jcfg.RetentionInterval = cfg.Retention.Interval
		}
	}
	jb, err := jobs.Open(ctx, jcfg, eng)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	eng.SetDispatcher(jb)
	return &gateway{handler: handler, engine: eng, jobs: jb, store: st, closeStore: closeStore}, nil
}

// pruner is the retention pruner of st by the configured policy (its passes run only when the policy
// prunes anything; the overview reports it either way), or nil when the store cannot prune.
func pruner(cfg config.Config, st storage.Store, log *slog.Logger) *retention.Pruner {
	rs, ok := st.(retention.Store)
	if !ok {
		return nil
	}
	policy := storage.RetentionPolicy{MaxAge: cfg.Retention.Age, KeepRuns: cfg.Retention.Runs}
	return retention.New(rs, retention.Config{Policy: policy, Batch: cfg.Retention.Batch, Logger: log.With("component", "retention")})
}

// openStore opens the store cfg.DB names: a PostgreSQL database (shared by replicas) or a SQLite
// file.
func openStore(ctx context.Context, cfg config.Config) (storage.Store, func() error, error) {
	if cfg.Postgres() {
		st, err := postgres.Open(ctx, cfg.DB)
		if err != nil {
			return nil, nil, err
		}
		return st, func() error { st.Close(); return nil }, nil
	}
	st, err := sqlite.Open(ctx, cfg.DB)
	if err != nil {
		return nil, nil, err
	}
	return st, st.Close, nil
}
