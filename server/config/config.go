// Package config loads the gateway's configuration from, in rising precedence: built-in defaults, an
// optional YAML file, SYNCGATE_* environment variables, and command-line flags. The sources are read
// by koanf (github.com/knadh/koanf/v2: a YAML file provider, an environment provider and a pflag
// provider) and decoded onto Config by mapstructure; the struct tags below are the one list of
// settings that the flags, the environment names, `syncgate settings` and the logged form derive from.
//
// Secrets (API keys, vendor passwords and app secrets) have no flags; they come from the YAML file, the
// environment, or a file named by the matching *_FILE variable, and are never printed: Config
// implements slog.LogValuer with secrets masked.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// Config is everything the gateway needs to run.
type Config struct {
	Listen          string        `koanf:"listen" env:"LISTEN" flag:"listen" help:"address to serve Connect/gRPC/gRPC-Web on"`
	DB              string        `koanf:"db" env:"DB" flag:"db" help:"SQLite database file, or a postgres:// URL: a PostgreSQL database that several replicas share (keep its password out of the URL: PGPASSWORD or ~/.pgpass)"`
	JobsDB          string        `koanf:"jobs_db" env:"JOBS_DB" flag:"jobs-db" help:"SQLite only: file for the job engine's (River's) tables (empty: beside db, its name with -jobs, e.g. syncgate-jobs.db); with PostgreSQL they are in db's database"`
	TakeoverAfter   time.Duration `koanf:"takeover_after" env:"TAKEOVER_AFTER" flag:"takeover-after" help:"PostgreSQL only: a run whose replica died is taken over by another this long after its current slice began, plus up to 30 s (River's rescuer interval); each slice of a run lasts at most half of it (at least 2s)"`
	APIKeys         []string      `koanf:"api_keys" env:"API_KEYS" secret:"true" help:"API keys accepted as Authorization: Bearer <key>, comma- or newline-separated, each KEY or NAME:KEY (runs record the name; unnamed keys are key-1, key-2, …) (SYNCGATE_API_KEYS_FILE: one per line, # comments)"`
	Insecure        bool          `koanf:"insecure" env:"INSECURE" flag:"insecure" help:"allow serving a non-loopback address without API keys"`
	MappingDir      string        `koanf:"mapping_dir" env:"MAPPING_DIR" flag:"mapping-dir" help:"directory with mapping spec overrides (customers.yaml, agents.yaml)"`
	LogLevel        string        `koanf:"log_level" env:"LOG_LEVEL" flag:"log-level" help:"debug, info, warn or error"`
	LogFormat       string        `koanf:"log_format" env:"LOG_FORMAT" flag:"log-format" help:"text or json"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT" flag:"shutdown-timeout" help:"how long in-flight calls may drain on SIGTERM"`
	ReadTimeout     time.Duration `koanf:"read_timeout" env:"READ_TIMEOUT" flag:"read-timeout" help:"time a client may take to send a request"`
	MaxRequestBytes int           `koanf:"max_request_bytes" env:"MAX_REQUEST_BYTES" flag:"max-request-bytes" help:"largest accepted request message"`
	DebugListen     string        `koanf:"debug_listen" env:"DEBUG_LISTEN" flag:"debug-listen" help:"loopback address for Go profiling at /debug/pprof/ (empty: off)"`
	GCPercent       int           `koanf:"gc_percent" env:"GC_PERCENT" flag:"gc-percent" help:"Go GC target: heap growth in percent between collections (as GOGC, which wins when set); higher spends memory to save CPU"`
	MemoryLimitMiB  int           `koanf:"memory_limit_mib" env:"MEMORY_LIMIT_MIB" flag:"memory-limit-mib" help:"soft memory limit in MiB: the GC works harder as the heap nears it (as GOMEMLIMIT, which wins when set; 0: none)"`
	// CORSAllowedOrigins lists the browser origins (scheme://host[:port]) allowed to call the API.
	CORSAllowedOrigins []string `koanf:"cors_allowed_origins" env:"CORS_ALLOWED_ORIGINS" flag:"cors-allowed-origins" help:"browser origins allowed to call the API (CORS); empty: none"`
	// Console serves the web console at / on the API port.
	Console bool `koanf:"console" env:"CONSOLE" flag:"console" help:"serve the web console at / on the same port (false: the API only)"`

	Kingdee   Kingdee   `koanf:"kingdee"`
	Greatonce Greatonce `koanf:"greatonce"`
	Zhilong   Zhilong   `koanf:"zhilong"`
	Sync      Sync      `koanf:"sync"`
	Retention Retention `koanf:"retention"`
}

// Retention is how long finished runs and their audit trails are kept (server/retention). A running
// run and each flow's newest finished run are always kept, and so are mappings, checkpoints, dead
// letters, schedules and create intents.
type Retention struct {
	Age      time.Duration `koanf:"age" env:"RETENTION_AGE" flag:"retention-age" help:"finished runs that finished longer ago than this are pruned with their audit trails (0: no age limit)"`
	Runs     int           `koanf:"runs" env:"RETENTION_RUNS" flag:"retention-runs" help:"per flow, keep at most the newest N finished runs with their audit trails (0: no count limit)"`
	Interval time.Duration `koanf:"interval" env:"RETENTION_INTERVAL" flag:"retention-interval" help:"how often a retention pass runs (the first at start-up; with replicas, one of them runs each pass)"`
	Batch    int           `koanf:"batch" env:"RETENTION_BATCH" flag:"retention-batch" help:"most audit rows a retention pass deletes per transaction (a running sync's page commit waits for at most one)"`
}

// Kingdee holds the Kingdee K/3 Cloud connection.
type Kingdee struct {
	BaseURL   string  `koanf:"base_url" env:"KINGDEE_BASE_URL" flag:"kingdee-base-url" help:"Kingdee base URL, ending in /k3cloud/"`
	AcctID    string  `koanf:"acct_id" env:"KINGDEE_ACCT_ID" flag:"kingdee-acct-id" help:"data centre id"`
	Username  string  `koanf:"username" env:"KINGDEE_USERNAME" flag:"kingdee-username" help:"API user"`
	Password  string  `koanf:"password" env:"KINGDEE_PASSWORD" secret:"true" help:"API user's password (or KINGDEE_PASSWORD_FILE)"`
	LCID      int     `koanf:"lcid" env:"KINGDEE_LCID" flag:"kingdee-lcid" help:"locale id"`
	AppID     string  `koanf:"app_id" env:"KINGDEE_APP_ID" flag:"kingdee-app-id" help:"AppID for signature-header mode (optional)"`
	AppSecret string  `koanf:"app_secret" env:"KINGDEE_APP_SECRET" secret:"true" help:"AppSecret for signature-header mode (or KINGDEE_APP_SECRET_FILE)"`
	Rate      float64 `koanf:"rate" env:"KINGDEE_RATE" flag:"kingdee-rate" help:"calls per second to Kingdee: the fixed rate (0: unlimited), or where the adaptive mode starts (0: unpaced until the vendor first throttles)"`
	RateMode  string  `koanf:"rate_mode" env:"KINGDEE_RATE_MODE" flag:"kingdee-rate-mode" help:"adaptive (find and follow Kingdee's allowed rate: slow down when it throttles, speed up while calls succeed) or fixed (rate)"`
	RateMax   float64 `koanf:"rate_max" env:"KINGDEE_RATE_MAX" flag:"kingdee-rate-max" help:"adaptive mode: never more calls per second to Kingdee than this (0: no ceiling)"`
}

// Greatonce holds the Greatonce OMS connection.
type Greatonce struct {
	BaseURL    string  `koanf:"base_url" env:"GREATONCE_BASE_URL" flag:"greatonce-base-url" help:"Greatonce gateway base URL"`
	AppKey     string  `koanf:"app_key" env:"GREATONCE_APP_KEY" flag:"greatonce-app-key" help:"appKey"`
	Secret     string  `koanf:"secret" env:"GREATONCE_SECRET" secret:"true" help:"signing secret (or GREATONCE_SECRET_FILE)"`
	CustomerID string  `koanf:"customer_id" env:"GREATONCE_CUSTOMER_ID" flag:"greatonce-customer-id" help:"customerId"`
	Rate       float64 `koanf:"rate" env:"GREATONCE_RATE" flag:"greatonce-rate" help:"calls per second to Greatonce: the fixed rate (0: unlimited), or where the adaptive mode starts (0: unpaced until the vendor first throttles)"`
	RateMode   string  `koanf:"rate_mode" env:"GREATONCE_RATE_MODE" flag:"greatonce-rate-mode" help:"adaptive (find and follow Greatonce's allowed rate: slow down when it throttles, speed up while calls succeed) or fixed (rate)"`
	RateMax    float64 `koanf:"rate_max" env:"GREATONCE_RATE_MAX" flag:"greatonce-rate-max" help:"adaptive mode: never more calls per second to Greatonce than this (0: no ceiling)"`
}

// Zhilong holds the Zhilong business platform connection.
type Zhilong struct {
	BaseURL  string  `koanf:"base_url" env:"ZHILONG_BASE_URL" flag:"zhilong-base-url" help:"Zhilong base URL"`
	Username string  `koanf:"username" env:"ZHILONG_USERNAME" flag:"zhilong-username" help:"login user"`
	Password string  `koanf:"password" env:"ZHILONG_PASSWORD" secret:"true" help:"login password (or ZHILONG_PASSWORD_FILE)"`
	Rate     float64 `koanf:"rate" env:"ZHILONG_RATE" flag:"zhilong-rate" help:"calls per second to Zhilong: the fixed rate (0: unlimited), or where the adaptive mode starts (0: unpaced until the vendor first throttles)"`
	RateMode string  `koanf:"rate_mode" env:"ZHILONG_RATE_MODE" flag:"zhilong-rate-mode" help:"adaptive (find and follow Zhilong's allowed rate: slow down when it throttles, speed up while calls succeed) or fixed (rate)"`
	RateMax  float64 `koanf:"rate_max" env:"ZHILONG_RATE_MAX" flag:"zhilong-rate-max" help:"adaptive mode: never more calls per second to Zhilong than this (0: no ceiling)"`
}

// Sync tunes the two flows.
type Sync struct {
	PageSize         int           `koanf:"page_size" env:"SYNC_PAGE_SIZE" flag:"page-size" help:"source records per page"`
	BatchSize        int           `koanf:"batch_size" env:"SYNC_BATCH_SIZE" flag:"batch-size" help:"Kingdee BatchSave items per call"`
	Concurrency      int           `koanf:"concurrency" env:"SYNC_CONCURRENCY" flag:"concurrency" help:"concurrent Greatonce calls"`
	BatchConcurrency int           `koanf:"batch_concurrency" env:"SYNC_BATCH_CONCURRENCY" flag:"batch-concurrency" help:"concurrent Kingdee BatchSave calls in a run (two pages delivered at once share them)"`
	Overlap          time.Duration `koanf:"overlap" env:"SYNC_OVERLAP" flag:"overlap" help:"how far before the checkpoint an incremental window starts (the records read again there and found unchanged are counted as skipped, not listed in the run's trail)"`
	UseOrgNumbers    []string      `koanf:"use_org_numbers" env:"SYNC_USE_ORGS" flag:"use-orgs" help:"comma-separated Kingdee use organisations to read (empty: all)"`
	// Schedules, as "every 30s", "every 5m jitter 20s", "cron */10 * * * *" or "off".
	ScheduleCustomers string `koanf:"schedule_customers" env:"SYNC_SCHEDULE_CUSTOMERS" flag:"schedule-customers" help:"when SyncCustomers runs by itself: \"every DURATION [jitter DURATION]\", \"cron EXPR\" or \"off\" (applied when it changes; the API can change it meanwhile)"`
	ScheduleAgents    string `koanf:"schedule_agents" env:"SYNC_SCHEDULE_AGENTS" flag:"schedule-agents" help:"when SyncAgents runs by itself (as schedule-customers)"`
}

// Postgres reports whether DB is a PostgreSQL URL (postgres:// or postgresql://) rather than a
// SQLite file.
func (c Config) Postgres() bool {
	return strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://")
}

// DBForDisplay is DB as logs and messages may show it: a PostgreSQL URL without its password.
func (c Config) DBForDisplay() string {
	if !c.Postgres() {
		return c.DB
	}
	u, err := url.Parse(c.DB)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}

// JobsDBPath is the job engine's SQLite file: JobsDB, or beside DB with "-jobs" added to its name.
func (c Config) JobsDBPath() string {
	if c.JobsDB != "" {
		return c.JobsDB
	}
	if base, ok := strings.CutSuffix(c.DB, ".db"); ok {
		return base + "-jobs.db"
	}
	return c.DB + "-jobs"
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DB:              "syncgate.db",
		TakeoverAfter:   30 * time.Second,
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 30 * time.Second,
		ReadTimeout:     60 * time.Second,
		MaxRequestBytes: 4 << 20,
		GCPercent:       400,
		MemoryLimitMiB:  1024,
		Console:         true,
		Kingdee:         Kingdee{LCID: 2052, Rate: 50, RateMode: "adaptive"},
		Greatonce:       Greatonce{Rate: 200, RateMode: "adaptive"},
		Zhilong:         Zhilong{Rate: 50, RateMode: "adaptive"},
		Sync:            Sync{PageSize: 1000, BatchSize: 500, Concurrency: 16, BatchConcurrency: 4, Overlap: 2 * time.Minute},
		Retention:       Retention{Age: 90 * 24 * time.Hour, Interval: 10 * time.Minute, Batch: 1000},
	}
}

// Load builds the configuration: defaults, then the YAML file named by --config or SYNCGATE_CONFIG,
// then SYNCGATE_* variables (and SYNCGATE_*_FILE variables for secrets), then flags. It registers a
// flag for every setting that is not a secret (and --config) on fs, which may carry the caller's own
// flags; flags and arguments may come in any order, and fs.Args() holds the arguments afterwards.
// environ is usually os.Environ(); an empty variable counts as unset.
//
// Unknown flags, unknown YAML keys, a secret given as a flag, both SYNCGATE_X and SYNCGATE_X_FILE
// set, and malformed values are errors, naming their source. SYNCGATE_* variables that name no
// setting are returned in unknownEnv (names only, as their values may be secrets) for the caller to
// report once it can log.
func Load(fs *pflag.FlagSet, args, environ []string) (cfg Config, unknownEnv []string, err error) {
	list := settings()
	defaults := reflect.ValueOf(Defaults())
	byFlag := map[string]setting{}
	configPath := fs.String("config", "", "optional YAML config file (SYNCGATE_CONFIG)")
	for _, s := range list {
		if s.flag == "" {
			continue // secrets never come from flags: they would show in ps and shell history
		}
		byFlag[s.flag] = s
		usage := s.help + " (" + s.env + ")"
		switch def := defaults.FieldByIndex(s.index).Interface().(type) {
		case string:
			fs.String(s.flag, def, usage)
		case bool:
			fs.Bool(s.flag, def, usage)
		case int:
			fs.Int(s.flag, def, usage)
		case float64:
			fs.Float64(s.flag, def, usage)
		case time.Duration:
			fs.Duration(s.flag, def, usage)
		case []string:
			fs.String(s.flag, strings.Join(def, ","), usage) // split like the environment's lists
		default:
			return Config{}, nil, fmt.Errorf("setting %s: unsupported type %T", s.key, def)
		}
	}
	if err := refuseSecretFlags(args, list); err != nil {
		return Config{}, nil, err
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, nil, err
	}
	vars := envMap(environ)

	k := koanf.New(".")
	path := vars["SYNCGATE_CONFIG"]
	if fs.Changed("config") {
		path = *configPath
	}
	if path != "" {
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, nil, fmt.Errorf("config file %s: %w", path, err)
		}
		if err := decode(fk, &Config{}); err != nil {
			return Config{}, nil, fmt.Errorf("config file %s: %w", path, err)
		}
		if err := k.Merge(fk); err != nil {
			return Config{}, nil, fmt.Errorf("config file %s: %w", path, err)
		}
	}

	ek, unknownEnv, err := loadEnv(list, environ, vars)
	if err != nil {
		return Config{}, nil, err
	}
	if err := k.Merge(ek); err != nil {
		return Config{}, nil, fmt.Errorf("environment: %w", err)
	}

	flk := koanf.New(".")
	// Without a koanf instance to consult, posflag takes only the flags given on the command line.
	err = flk.Load(posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
		s, ok := byFlag[f.Name]
		if !ok {
			return "", nil // --config, and the caller's own flags
		}
		return s.key, posflag.FlagVal(fs, f)
	}), nil)
	if err == nil {
		err = decode(flk, &Config{})
	}
	if err == nil {
		err = k.Merge(flk)
	}
	if err != nil {
		return Config{}, nil, fmt.Errorf("flags: %w", err)
	}

	cfg = Defaults()
	if err := decode(k, &cfg); err != nil {
		return Config{}, nil, err
	}
	return cfg, unknownEnv, cfg.Validate()
}

// loadEnv reads the SYNCGATE_* variables of environ (vars is the same as a map) and the files that
// secrets' *_FILE variables name. Each value is decoded on its own first, so that an error names its
// variable.
func loadEnv(list []setting, environ []string, vars map[string]string) (*koanf.Koanf, []string, error) {
	byEnv := map[string]setting{}
	for _, s := range list {
		byEnv[s.env] = s
		if s.secret {
			byEnv[s.env+"_FILE"] = s
		}
	}
	var unknown []string
	ek := koanf.New(".")
	err := ek.Load(env.Provider(".", env.Opt{
		Prefix:      "SYNCGATE_",
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			s, ok := byEnv[name]
			switch {
			case name == "SYNCGATE_CONFIG":
			case !ok:
				unknown = append(unknown, name)
			case value != "" && name == s.env:
				return s.key, value
			}
			return "", nil // *_FILE variables are read below
		},
	}), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("environment: %w", err)
	}
	for _, s := range list {
		if !s.secret || vars[s.env+"_FILE"] == "" {
			continue
		}
		name := s.env + "_FILE"
		if vars[s.env] != "" {
			return nil, nil, fmt.Errorf("%s and %s are both set: set one", s.env, name)
		}
		b, err := os.ReadFile(vars[name])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		value := strings.TrimSpace(string(b))
		if value == "" {
			return nil, nil, fmt.Errorf("%s: %s is empty", name, vars[name])
		}
		if err := ek.Set(s.key, value); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, s := range list {
		if !ek.Exists(s.key) {
			continue
		}
		one := koanf.New(".")
		if err := one.Set(s.key, ek.Get(s.key)); err != nil {
			return nil, nil, err
		}
		if err := decode(one, &Config{}); err != nil {
			name := s.env
			if vars[s.env] == "" {
				name += "_FILE"
			}
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	slices.Sort(unknown)
	return ek, unknown, nil
}

// decode decodes k onto out: keys that name no setting are errors; strings become the setting's type
// (a list splits at commas and newlines, see splitList; a duration is parsed as time.ParseDuration).
func decode(k *koanf.Koanf, out *Config) error {
	err := k.UnmarshalWithConf("", out, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			func(from, to reflect.Type, data any) (any, error) {
				if from.Kind() == reflect.String && to == reflect.TypeFor[[]string]() {
					return splitList(data.(string)), nil
				}
				return data, nil
			},
			mapstructure.StringToTimeDurationHookFunc(),
		),
		WeaklyTypedInput: true, // strings from the environment and list flags become bools, numbers
		ErrorUnused:      true,
		TagName:          "koanf",
	}})
	// mapstructure reports "decoding failed due to the following error(s):" and a list, one per line;
	// its messages name keys, never values (which may be secrets).
	var joined interface{ Unwrap() []error }
	if err == nil || !errors.As(err, &joined) {
		return err
	}
	msgs := make([]string, 0, len(joined.Unwrap()))
	for _, e := range joined.Unwrap() {
		m := strings.Replace(e.Error(), "'' has invalid keys:", "unknown keys:", 1)
		msgs = append(msgs, strings.Replace(m, "has invalid keys:", "has unknown keys:", 1))
	}
	return errors.New(strings.Join(msgs, "; "))
}

// splitList splits a list setting given as one string: items are separated by commas or newlines and
// trimmed; empty items and lines starting with # are dropped.
func splitList(s string) []string {
	out := []string{}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, p := range strings.Split(line, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// refuseSecretFlags explains, without echoing any value, why a secret given as a flag is refused.
func refuseSecretFlags(args []string, list []setting) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			continue
		}
		for _, s := range list {
			if s.secret && name == strings.NewReplacer(".", "-", "_", "-").Replace(s.key) {
				return fmt.Errorf("--%s: %s is a secret and has no flag (flags show in ps and shell history): set %s or %s_FILE", name, s.key, s.env, s.env)
			}
		}
	}
	return nil
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Validate checks values that would otherwise fail later and obscurely.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen address is empty"))
	}
	if loop, _ := IsLoopbackAddr(c.DebugListen); c.DebugListen != "" && !loop {
		errs = append(errs, fmt.Errorf("debug listen address %q: profiling is served on loopback only (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)", c.DebugListen))
	}
	if c.GCPercent != -1 && (c.GCPercent < 10 || c.GCPercent > 10000) {
		errs = append(errs, fmt.Errorf("gc percent %d: want 10..10000, or -1 to collect only near the memory limit", c.GCPercent))
	}
	if c.MemoryLimitMiB < 0 {
		errs = append(errs, fmt.Errorf("memory limit %d MiB is negative", c.MemoryLimitMiB))
	}
	if c.GCPercent == -1 && c.MemoryLimitMiB == 0 {
		errs = append(errs, errors.New("gc percent -1 needs a memory limit, or the heap grows without bound"))
	}
	if c.DB == "" {
		errs = append(errs, errors.New("db path is empty"))
	}
	if c.Postgres() && c.JobsDB != "" {
		errs = append(errs, errors.New("jobs_db is for SQLite: with a PostgreSQL db, the job engine's tables are in that database; leave jobs_db empty"))
	}
	if c.TakeoverAfter < 2*time.Second || c.TakeoverAfter > 24*time.Hour {
		errs = append(errs, fmt.Errorf("takeover after %v: want 2s..24h", c.TakeoverAfter))
	}
	for _, v := range []struct {
		name      string
		mode      string
		rate, max float64
	}{{"kingdee", c.Kingdee.RateMode, c.Kingdee.Rate, c.Kingdee.RateMax}, {"greatonce", c.Greatonce.RateMode, c.Greatonce.Rate, c.Greatonce.RateMax},
		{"zhilong", c.Zhilong.RateMode, c.Zhilong.Rate, c.Zhilong.RateMax}} {
		if v.mode != "adaptive" && v.mode != "fixed" {
			errs = append(errs, fmt.Errorf("%s rate mode %q: want adaptive or fixed", v.name, v.mode))
		}
		if v.rate < 0 || v.max < 0 {
			errs = append(errs, fmt.Errorf("%s rate %v, rate_max %v: want 0 or more", v.name, v.rate, v.max))
		}
	}
	if c.Sync.PageSize < 1 || c.Sync.PageSize > 10000 {
		errs = append(errs, fmt.Errorf("sync page size %d: want 1..10000", c.Sync.PageSize))
	}
	if c.Sync.BatchSize < 1 || c.Sync.BatchSize > 10000 {
		errs = append(errs, fmt.Errorf("sync batch size %d: want 1..10000", c.Sync.BatchSize))
	}
	if c.Sync.Concurrency < 1 || c.Sync.Concurrency > 256 {
		errs = append(errs, fmt.Errorf("sync concurrency %d: want 1..256", c.Sync.Concurrency))
	}
	if c.Sync.BatchConcurrency < 1 || c.Sync.BatchConcurrency > 64 {
		errs = append(errs, fmt.Errorf("sync batch concurrency %d: want 1..64", c.Sync.BatchConcurrency))
	}
	if c.Sync.Overlap < 0 {
		errs = append(errs, fmt.Errorf("sync overlap %s is negative", c.Sync.Overlap))
	}
	errs = append(errs, c.Retention.validate()...)
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log format %q: want text or json", c.LogFormat))
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validate checks the retention settings.
func (r Retention) validate() []error {
	var errs []error
	if r.Age < 0 {
		errs = append(errs, fmt.Errorf("retention age %s is negative (0 keeps runs whatever their age)", r.Age))
	} else if r.Age > 0 && r.Age < time.Minute {
		errs = append(errs, fmt.Errorf("retention age %s: want at least 1m, or 0 for no age limit", r.Age))
	} else if r.Age > 100*365*24*time.Hour {
		errs = append(errs, fmt.Errorf("retention age %s: want at most 100 years, or 0 for no age limit", r.Age))
	}
	if r.Runs < 0 || r.Runs > 1_000_000 {
		errs = append(errs, fmt.Errorf("retention runs %d: want 0 (no count limit) or 1..1000000", r.Runs))
	}
	if r.Interval < time.Second || r.Interval > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("retention interval %s: want 1s..168h", r.Interval))
	}
	if r.Batch < 1 || r.Batch > 100000 {
		errs = append(errs, fmt.Errorf("retention batch %d: want 1..100000", r.Batch))
	}
	return errs
}

// IsLoopbackAddr reports whether addr (host:port) names a loopback host: "localhost" or a loopback
// IP (127.0.0.0/8, ::1). A wildcard host (":8080", "0.0.0.0") is not loopback. It fails only when
// addr is not host:port. The debug_listen check here and the API port's exposure check
// (rpc.CheckExposure) both use it.
func IsLoopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// ParseLevel parses a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// LogValue renders the configuration with every secret masked.
func (c Config) LogValue() slog.Value {
	c.DB = c.DBForDisplay() // a PostgreSQL URL may carry a password
	return slog.AnyValue(redacted(reflect.ValueOf(c)))
}

// Usage writes the reference of every setting: flag, environment variable, YAML key and meaning.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Settings (flag / environment / YAML key): meaning")
	for _, s := range settings() {
		fl, extra := "(no flag)", ""
		if s.flag != "" {
			fl = "--" + s.flag
		}
		if s.secret {
			extra = " [secret: env or " + s.env + "_FILE only]"
		}
		fmt.Fprintf(w, "  %s / %s / %s: %s%s\n", fl, s.env, s.key, s.help, extra)
	}
}

// setting is one configuration value, as the struct tags of Config describe it.
type setting struct {
	key    string // koanf path and YAML key, e.g. kingdee.base_url
	env    string // environment variable, e.g. SYNCGATE_KINGDEE_BASE_URL
	flag   string // flag name without dashes; empty for secrets
	help   string
	secret bool
	index  []int // field index in Config
}

// settings lists every setting in the order of Config's fields.
func settings() []setting {
	var out []setting
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(slices.Clone(index), i)
			key := prefix + f.Tag.Get("koanf")
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key+".", idx)
				continue
			}
			s := setting{key: key, env: "SYNCGATE_" + f.Tag.Get("env"), help: f.Tag.Get("help"), secret: f.Tag.Get("secret") == "true", index: idx}
			if !s.secret {
				s.flag = f.Tag.Get("flag")
			}
			out = append(out, s)
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

func redacted(v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		key := f.Tag.Get("koanf")
		switch {
		case f.Tag.Get("secret") == "true":
			if !fv.IsZero() {
				out[key] = "[redacted]"
			}
		case f.Type.Kind() == reflect.Struct:
			out[key] = redacted(fv)
		default:
			out[key] = fv.Interface()
		}
	}
	return out
}
