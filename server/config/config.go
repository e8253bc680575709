// Package config loads the gateway's configuration from, in rising precedence: built-in defaults, an
// optional YAML file, SYNCGATE_* environment variables, and command-line flags.
//
// Secrets (API keys, vendor passwords and app secrets) may also be read from files named by the
// matching *_FILE variable, and are never printed: Config implements slog.LogValuer with secrets masked.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything the gateway needs to run.
type Config struct {
	Listen          string        `yaml:"listen" env:"LISTEN" flag:"listen" help:"address to serve Connect/gRPC/gRPC-Web on"`
	DB              string        `yaml:"db" env:"DB" flag:"db" help:"SQLite database file"`
	APIKeys         []string      `yaml:"api_keys" env:"API_KEYS" secret:"true" help:"API keys accepted as Authorization: Bearer <key>, comma- or newline-separated (SYNCGATE_API_KEYS_FILE: one per line, # comments)"`
	Insecure        bool          `yaml:"insecure" env:"INSECURE" flag:"insecure" help:"allow serving a non-loopback address without API keys"`
	MappingDir      string        `yaml:"mapping_dir" env:"MAPPING_DIR" flag:"mapping-dir" help:"directory with mapping spec overrides (customers.yaml, agents.yaml)"`
	LogLevel        string        `yaml:"log_level" env:"LOG_LEVEL" flag:"log-level" help:"debug, info, warn or error"`
	LogFormat       string        `yaml:"log_format" env:"LOG_FORMAT" flag:"log-format" help:"text or json"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT" flag:"shutdown-timeout" help:"how long in-flight calls may drain on SIGTERM"`
	ReadTimeout     time.Duration `yaml:"read_timeout" env:"READ_TIMEOUT" flag:"read-timeout" help:"time a client may take to send a request"`
	MaxRequestBytes int           `yaml:"max_request_bytes" env:"MAX_REQUEST_BYTES" flag:"max-request-bytes" help:"largest accepted request message"`
	DebugListen     string        `yaml:"debug_listen" env:"DEBUG_LISTEN" flag:"debug-listen" help:"loopback address for Go profiling at /debug/pprof/ (empty: off)"`
	GCPercent       int           `yaml:"gc_percent" env:"GC_PERCENT" flag:"gc-percent" help:"Go GC target: heap growth in percent between collections (as GOGC, which wins when set); higher spends memory to save CPU"`
	MemoryLimitMiB  int           `yaml:"memory_limit_mib" env:"MEMORY_LIMIT_MIB" flag:"memory-limit-mib" help:"soft memory limit in MiB: the GC works harder as the heap nears it (as GOMEMLIMIT, which wins when set; 0: none)"`

	Kingdee   Kingdee   `yaml:"kingdee"`
	Greatonce Greatonce `yaml:"greatonce"`
	Zhilong   Zhilong   `yaml:"zhilong"`
	Sync      Sync      `yaml:"sync"`
}

// Kingdee holds the Kingdee K/3 Cloud connection.
type Kingdee struct {
	BaseURL   string  `yaml:"base_url" env:"KINGDEE_BASE_URL" flag:"kingdee-base-url" help:"Kingdee base URL, ending in /k3cloud/"`
	AcctID    string  `yaml:"acct_id" env:"KINGDEE_ACCT_ID" flag:"kingdee-acct-id" help:"data centre id"`
	Username  string  `yaml:"username" env:"KINGDEE_USERNAME" flag:"kingdee-username" help:"API user"`
	Password  string  `yaml:"password" env:"KINGDEE_PASSWORD" secret:"true" help:"API user's password (or KINGDEE_PASSWORD_FILE)"`
	LCID      int     `yaml:"lcid" env:"KINGDEE_LCID" flag:"kingdee-lcid" help:"locale id"`
	AppID     string  `yaml:"app_id" env:"KINGDEE_APP_ID" flag:"kingdee-app-id" help:"AppID for signature-header mode (optional)"`
	AppSecret string  `yaml:"app_secret" env:"KINGDEE_APP_SECRET" secret:"true" help:"AppSecret for signature-header mode (or KINGDEE_APP_SECRET_FILE)"`
	Rate      float64 `yaml:"rate" env:"KINGDEE_RATE" flag:"kingdee-rate" help:"max calls per second to Kingdee"`
}

// Greatonce holds the Greatonce OMS connection.
type Greatonce struct {
	BaseURL    string  `yaml:"base_url" env:"GREATONCE_BASE_URL" flag:"greatonce-base-url" help:"Greatonce gateway base URL"`
	AppKey     string  `yaml:"app_key" env:"GREATONCE_APP_KEY" flag:"greatonce-app-key" help:"appKey"`
	Secret     string  `yaml:"secret" env:"GREATONCE_SECRET" secret:"true" help:"signing secret (or GREATONCE_SECRET_FILE)"`
	CustomerID string  `yaml:"customer_id" env:"GREATONCE_CUSTOMER_ID" flag:"greatonce-customer-id" help:"customerId"`
	Rate       float64 `yaml:"rate" env:"GREATONCE_RATE" flag:"greatonce-rate" help:"max calls per second to Greatonce"`
}

// Zhilong holds the Zhilong business platform connection.
type Zhilong struct {
	BaseURL  string  `yaml:"base_url" env:"ZHILONG_BASE_URL" flag:"zhilong-base-url" help:"Zhilong base URL"`
	Username string  `yaml:"username" env:"ZHILONG_USERNAME" flag:"zhilong-username" help:"login user"`
	Password string  `yaml:"password" env:"ZHILONG_PASSWORD" secret:"true" help:"login password (or ZHILONG_PASSWORD_FILE)"`
	Rate     float64 `yaml:"rate" env:"ZHILONG_RATE" flag:"zhilong-rate" help:"max calls per second to Zhilong"`
}

// Sync tunes the two flows.
type Sync struct {
	PageSize         int           `yaml:"page_size" env:"SYNC_PAGE_SIZE" flag:"page-size" help:"source records per page"`
	BatchSize        int           `yaml:"batch_size" env:"SYNC_BATCH_SIZE" flag:"batch-size" help:"Kingdee BatchSave items per call"`
	Concurrency      int           `yaml:"concurrency" env:"SYNC_CONCURRENCY" flag:"concurrency" help:"concurrent Greatonce calls"`
	BatchConcurrency int           `yaml:"batch_concurrency" env:"SYNC_BATCH_CONCURRENCY" flag:"batch-concurrency" help:"concurrent Kingdee BatchSave calls within a page"`
	Overlap          time.Duration `yaml:"overlap" env:"SYNC_OVERLAP" flag:"overlap" help:"how far before the checkpoint an incremental window starts"`
	UseOrgNumbers    []string      `yaml:"use_org_numbers" env:"SYNC_USE_ORGS" flag:"use-orgs" help:"comma-separated Kingdee use organisations to read (empty: all)"`
}

// Defaults returns the built-in configuration.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DB:              "syncgate.db",
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 30 * time.Second,
		ReadTimeout:     60 * time.Second,
		MaxRequestBytes: 4 << 20,
		GCPercent:       400,
		MemoryLimitMiB:  1024,
		Kingdee:         Kingdee{LCID: 2052, Rate: 50},
		Greatonce:       Greatonce{Rate: 200},
		Zhilong:         Zhilong{Rate: 50},
		Sync:            Sync{PageSize: 1000, BatchSize: 500, Concurrency: 16, BatchConcurrency: 4, Overlap: 2 * time.Minute},
	}
}

// Load builds the configuration: defaults, then the YAML file named by --config or SYNCGATE_CONFIG,
// then SYNCGATE_* variables (and *_FILE variables for secrets), then flags. getenv is usually os.Getenv.
// Unknown flags, unknown YAML keys and malformed values are errors.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	cfg := Defaults()
	configPath := fs.String("config", getenv("SYNCGATE_CONFIG"), "optional YAML config file (SYNCGATE_CONFIG)")
	setters := map[string]func(string) error{}
	registerFlags(fs, reflect.ValueOf(&cfg).Elem(), setters)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if *configPath != "" {
		if err := loadFile(*configPath, &cfg); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), getenv); err != nil {
		return Config{}, err
	}
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		if set, ok := setters[f.Name]; ok && ferr == nil {
			if err := set(f.Value.String()); err != nil {
				ferr = fmt.Errorf("flag -%s: %w", f.Name, err)
			}
		}
	})
	if ferr != nil {
		return Config{}, ferr
	}
	return cfg, cfg.Validate()
}

// Validate checks values that would otherwise fail later and obscurely.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen address is empty"))
	}
	if c.DebugListen != "" && !isLoopback(c.DebugListen) {
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

// isLoopback reports whether addr (host:port) names a loopback host.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
	return slog.AnyValue(redacted(reflect.ValueOf(c)))
}

// Usage writes the reference of every setting: flag, environment variable, YAML key and meaning.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Settings (flag / environment / YAML key): meaning")
	walkFields(reflect.TypeOf(Config{}), "", func(f reflect.StructField, yamlPath string) {
		fl := f.Tag.Get("flag")
		if fl == "" {
			fl = "(no flag)"
		} else {
			fl = "--" + fl
		}
		extra := ""
		if f.Tag.Get("secret") == "true" {
			extra = " [secret: env or SYNCGATE_" + f.Tag.Get("env") + "_FILE only]"
		}
		fmt.Fprintf(w, "  %s / SYNCGATE_%s / %s: %s%s\n", fl, f.Tag.Get("env"), yamlPath, f.Tag.Get("help"), extra)
	})
}

func loadFile(path string, cfg *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

func walkFields(t reflect.Type, prefix string, fn func(reflect.StructField, string)) {
	for i := range t.NumField() {
		f := t.Field(i)
		path := prefix + f.Tag.Get("yaml")
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			walkFields(f.Type, path+".", fn)
			continue
		}
		fn(f, path)
	}
}

func registerFlags(fs *flag.FlagSet, v reflect.Value, setters map[string]func(string) error) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			registerFlags(fs, fv, setters)
			continue
		}
		name := f.Tag.Get("flag")
		if name == "" || f.Tag.Get("secret") == "true" {
			continue // secrets never come from flags: they would show in ps and shell history
		}
		fs.String(name, formatValue(fv), f.Tag.Get("help")+" (SYNCGATE_"+f.Tag.Get("env")+")")
		setters[name] = func(s string) error { return setValue(fv, s) }
	}
}

func applyEnv(v reflect.Value, getenv func(string) string) error {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			if err := applyEnv(fv, getenv); err != nil {
				return err
			}
			continue
		}
		name := "SYNCGATE_" + f.Tag.Get("env")
		val := getenv(name)
		if f.Tag.Get("secret") == "true" {
			if file := getenv(name + "_FILE"); file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("%s_FILE: %w", name, err)
				}
				val = strings.TrimSpace(string(b))
			}
		}
		if val == "" {
			continue
		}
		if err := setValue(fv, val); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func setValue(v reflect.Value, s string) error {
	switch v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	case []string:
		var out []string
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
		v.Set(reflect.ValueOf(out))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(n))
	case reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(n)
	default:
		return fmt.Errorf("unsupported setting type %s", v.Type())
	}
	return nil
}

func formatValue(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case []string:
		return strings.Join(x, ",")
	case time.Duration:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

func redacted(v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		key := f.Tag.Get("yaml")
		switch {
		case f.Tag.Get("secret") == "true":
			if !fv.IsZero() {
				out[key] = "[redacted]"
			}
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)):
			out[key] = redacted(fv)
		default:
			out[key] = fv.Interface()
		}
	}
	return out
}
