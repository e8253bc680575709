package config

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	cfg, _, err := loadFull(t, args, env)
	return cfg, err
}

func loadFull(t *testing.T, args []string, env map[string]string) (Config, []string, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	return Load(fs, args, environ)
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "syncgate.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:7000\ndb: from-file.db\nsync:\n  page_size: 50\n  overlap: 5m\nkingdee:\n  username: file-user\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, []string{"--db", "from-flag.db"}, map[string]string{
		"SYNCGATE_CONFIG":           file,
		"SYNCGATE_LISTEN":           "127.0.0.1:7001",
		"SYNCGATE_KINGDEE_USERNAME": "env-user",
		"SYNCGATE_SYNC_USE_ORGS":    "100, 200",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7001" {
		t.Errorf("env must beat file: listen = %q", cfg.Listen)
	}
	if cfg.DB != "from-flag.db" {
		t.Errorf("flag must beat file: db = %q", cfg.DB)
	}
	if cfg.Sync.PageSize != 50 || cfg.Sync.Overlap != 5*time.Minute {
		t.Errorf("file values lost: %+v", cfg.Sync)
	}
	if cfg.Kingdee.Username != "env-user" {
		t.Errorf("kingdee username = %q", cfg.Kingdee.Username)
	}
	if got := strings.Join(cfg.Sync.UseOrgNumbers, "|"); got != "100|200" {
		t.Errorf("use orgs = %q", got)
	}
	if cfg.Sync.BatchSize != Defaults().Sync.BatchSize {
		t.Errorf("default lost: batch size %d", cfg.Sync.BatchSize)
	}
}

func TestSecretsFromFilesAndRedaction(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	keys := filepath.Join(dir, "keys")
	os.WriteFile(pw, []byte("s3cret-pass\n"), 0o600)
	os.WriteFile(keys, []byte("# comment\nkey-one\n\nkey-two\n"), 0o600)
	cfg, err := load(t, nil, map[string]string{
		"SYNCGATE_API_KEYS_FILE":         keys,
		"SYNCGATE_KINGDEE_PASSWORD_FILE": pw,
		"SYNCGATE_GREATONCE_SECRET":      "go-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kingdee.Password != "s3cret-pass" || cfg.Greatonce.Secret != "go-secret" {
		t.Fatalf("secrets not loaded: %q %q", cfg.Kingdee.Password, cfg.Greatonce.Secret)
	}
	if strings.Join(cfg.APIKeys, ",") != "key-one,key-two" {
		t.Fatalf("api keys = %v", cfg.APIKeys)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", cfg)
	for _, secret := range []string{"s3cret-pass", "go-secret", "key-one", "key-two"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("logged config leaks %q: %s", secret, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Errorf("logged config does not mark redacted secrets: %s", buf.String())
	}
}

func TestSecretsHaveNoFlags(t *testing.T) {
	if _, err := load(t, []string{"--kingdee-password", "x"}, nil); err == nil {
		t.Fatal("a secret must not be settable from the command line")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("lisen: typo\n"), 0o600)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown yaml key", nil, map[string]string{"SYNCGATE_CONFIG": bad}, "lisen"},
		{"bad duration", nil, map[string]string{"SYNCGATE_SYNC_OVERLAP": "soon"}, "SYNCGATE_SYNC_OVERLAP"},
		{"bad int flag", []string{"--page-size", "many"}, nil, "--page-size"},
		{"page size range", []string{"--page-size", "0"}, nil, "page size 0"},
		{"log format", nil, map[string]string{"SYNCGATE_LOG_FORMAT": "xml"}, "log format"},
		{"gc percent range", []string{"--gc-percent", "0"}, nil, "gc percent 0"},
		{"gc off without a limit", []string{"--gc-percent", "-1", "--memory-limit-mib", "0"}, nil, "needs a memory limit"},
		{"negative memory limit", nil, map[string]string{"SYNCGATE_MEMORY_LIMIT_MIB": "-5"}, "memory limit -5"},
		{"debug listen exposed", []string{"--debug-listen", "0.0.0.0:6060"}, nil, "loopback only"},
		{"missing keys file", nil, map[string]string{"SYNCGATE_API_KEYS_FILE": filepath.Join(dir, "nope")}, "SYNCGATE_API_KEYS_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestUsageListsEverySetting(t *testing.T) {
	var buf bytes.Buffer
	Usage(&buf)
	for _, want := range []string{"SYNCGATE_LISTEN", "SYNCGATE_KINGDEE_PASSWORD", "SYNCGATE_GREATONCE_SECRET", "--page-size", "sync.overlap"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("usage misses %q", want)
		}
	}
}

// sample is a valid value of s unlike its default, with how to write it in YAML, in the environment
// and as a flag, and what Load must make of it.
type sample struct {
	yaml, text string // YAML scalar or sequence; environment and flag text
	want       any
}

func sampleFor(t *testing.T, s setting) sample {
	t.Helper()
	def := reflect.ValueOf(Defaults()).FieldByIndex(s.index).Interface()
	special := map[string]string{"listen": "127.0.0.1:9999", "debug_listen": "127.0.0.1:6061", "log_level": "debug", "log_format": "json",
		"kingdee.rate_mode": "fixed", "greatonce.rate_mode": "fixed", "zhilong.rate_mode": "fixed"}
	switch d := def.(type) {
	case string:
		v := "v-" + s.key
		if sp, ok := special[s.key]; ok {
			v = sp
		}
		return sample{yaml: fmt.Sprintf("%q", v), text: v, want: v}
	case bool:
		return sample{yaml: fmt.Sprint(!d), text: fmt.Sprint(!d), want: !d}
	case int:
		v := 64
		if d == v {
			v = 65
		}
		return sample{yaml: fmt.Sprint(v), text: fmt.Sprint(v), want: v}
	case float64:
		return sample{yaml: "2.5", text: "2.5", want: 2.5}
	case time.Duration:
		return sample{yaml: "90s", text: "1m30s", want: 90 * time.Second}
	case []string:
		return sample{yaml: "[a.example, b.example]", text: "a.example, b.example", want: []string{"a.example", "b.example"}}
	}
	t.Fatalf("setting %s: no sample for %T", s.key, def)
	return sample{}
}

// yamlFor writes key (a.b.c) = value as nested YAML.
func yamlFor(key, value string) string {
	parts := strings.Split(key, ".")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i < len(parts)-1 {
			b.WriteString("\n")
		}
	}
	return b.String() + " " + value + "\n"
}

// TestEverySettingFromEverySource sets each setting (every kind: string, bool, int, float, duration,
// list, secret) through each source on its own (YAML, environment, flag where the setting has one,
// *_FILE for secrets) and checks the decoded value; a secret's flag must be refused.
func TestEverySettingFromEverySource(t *testing.T) {
	dir := t.TempDir()
	kinds := map[string]bool{}
	for _, s := range settings() {
		sm := sampleFor(t, s)
		kind := reflect.TypeOf(sm.want).String()
		if s.secret {
			kind = "secret " + kind
		}
		kinds[kind] = true
		type source struct {
			name string
			args []string
			env  map[string]string
		}
		yamlFile := filepath.Join(dir, strings.ReplaceAll(s.key, ".", "_")+".yaml")
		if err := os.WriteFile(yamlFile, []byte(yamlFor(s.key, sm.yaml)), 0o600); err != nil {
			t.Fatal(err)
		}
		sources := []source{
			{"yaml", nil, map[string]string{"SYNCGATE_CONFIG": yamlFile}},
			{"yaml via --config", []string{"--config", yamlFile}, nil},
			{"env", nil, map[string]string{s.env: sm.text}},
		}
		if s.secret {
			secretFile := filepath.Join(dir, s.env)
			if err := os.WriteFile(secretFile, []byte(sm.text+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			sources = append(sources, source{"file", nil, map[string]string{s.env + "_FILE": secretFile}})
		} else {
			sources = append(sources, source{"flag=", []string{"--" + s.flag + "=" + sm.text}, nil})
			switch {
			case sm.want == true: // a bool flag alone means true
				sources = append(sources, source{"flag", []string{"--" + s.flag}, nil})
			case sm.want != false: // "--flag false" would be the flag alone and an argument
				sources = append(sources, source{"flag", []string{"--" + s.flag, sm.text}, nil})
			}
		}
		for _, src := range sources {
			t.Run(kind+"/"+s.key+"/"+src.name, func(t *testing.T) {
				cfg, err := load(t, src.args, src.env)
				if err != nil {
					t.Fatal(err)
				}
				if got := reflect.ValueOf(cfg).FieldByIndex(s.index).Interface(); !reflect.DeepEqual(got, sm.want) {
					t.Fatalf("%s = %#v, want %#v", s.key, got, sm.want)
				}
			})
		}
		if s.secret {
			flag := "--" + strings.NewReplacer(".", "-", "_", "-").Replace(s.key)
			t.Run(kind+"/"+s.key+"/no flag", func(t *testing.T) {
				_, err := load(t, []string{flag + "=" + sm.text}, nil)
				if err == nil || !strings.Contains(err.Error(), "is a secret and has no flag") || strings.Contains(err.Error(), sm.text) {
					t.Fatalf("secret flag %s: err = %v", flag, err)
				}
			})
		}
	}
	for _, k := range []string{"string", "bool", "int", "float64", "time.Duration", "[]string", "secret string", "secret []string"} {
		if !kinds[k] {
			t.Errorf("no setting of kind %s was covered", k)
		}
	}
}

// TestBoolFlags: a bool flag alone means true, takes =true/=false, and the flag beats the environment.
func TestBoolFlags(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{[]string{"--insecure"}, nil, true},
		{[]string{"--insecure", "--db", "x.db"}, nil, true},
		{[]string{"--insecure=true"}, nil, true},
		{[]string{"--insecure=false"}, map[string]string{"SYNCGATE_INSECURE": "true"}, false},
		{nil, map[string]string{"SYNCGATE_INSECURE": "1"}, true},
		{nil, nil, false},
	}
	for _, tt := range tests {
		cfg, err := load(t, tt.args, tt.env)
		if err != nil || cfg.Insecure != tt.want {
			t.Errorf("%v %v: insecure = %v, %v; want %v", tt.args, tt.env, cfg.Insecure, err, tt.want)
		}
		if len(tt.args) == 3 && cfg.DB != "x.db" {
			t.Errorf("%v: the flag after a bool flag was lost: db = %q", tt.args, cfg.DB)
		}
	}
}

// TestFlagsAnywhere: flags may follow positional arguments, which Load leaves in fs.Args().
func TestFlagsAnywhere(t *testing.T) {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, _, err := Load(fs, []string{"up", "--db", "after.db", "extra"}, nil)
	if err != nil || cfg.DB != "after.db" || strings.Join(fs.Args(), " ") != "up extra" {
		t.Fatalf("db = %q, args = %v, err = %v", cfg.DB, fs.Args(), err)
	}
}

func TestUnknownEnvironmentReported(t *testing.T) {
	_, unknown, err := loadFull(t, nil, map[string]string{"SYNCGATE_LISTNE": "x", "SYNCGATE_DB_FILE": "y", "SYNCGATE_DB": "ok.db", "SYNCGATE_CONFIG": "", "OTHER": "z"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(unknown, ","); got != "SYNCGATE_DB_FILE,SYNCGATE_LISTNE" {
		t.Fatalf("unknown = %q", got)
	}
}

func TestSecretFromBothEnvAndFile(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("from-file"), 0o600)
	_, err := load(t, nil, map[string]string{"SYNCGATE_ZHILONG_PASSWORD": "from-env", "SYNCGATE_ZHILONG_PASSWORD_FILE": pw})
	if err == nil || !strings.Contains(err.Error(), "both set") || strings.Contains(err.Error(), "from-") {
		t.Fatalf("err = %v", err)
	}
}

// TestRateModeSettings: the three vendors are adaptive by default; a mode other than adaptive or
// fixed, or a negative rate, is refused naming the vendor.
func TestRateModeSettings(t *testing.T) {
	d := Defaults()
	if d.Kingdee.RateMode != "adaptive" || d.Greatonce.RateMode != "adaptive" || d.Zhilong.RateMode != "adaptive" {
		t.Fatalf("default modes %q %q %q", d.Kingdee.RateMode, d.Greatonce.RateMode, d.Zhilong.RateMode)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--greatonce-rate-mode", "auto"}, `greatonce rate mode "auto": want adaptive or fixed`},
		{[]string{"--zhilong-rate-max", "-1"}, "zhilong rate 50, rate_max -1: want 0 or more"},
		{[]string{"--kingdee-rate-mode", "fixed", "--kingdee-rate", "0"}, ""},
	} {
		_, _, err := Load(pflag.NewFlagSet("t", pflag.ContinueOnError), tt.args, nil)
		if (tt.want == "" && err != nil) || (tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want))) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestUsageMatchesREADME: the settings table in README.md is exactly what `syncgate settings` prints.
func TestUsageMatchesREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	Usage(&buf)
	if !strings.Contains(string(readme), "```\n"+buf.String()+"```\n") {
		t.Fatalf("README.md's settings block differs from `syncgate settings`; it should read:\n%s", buf.String())
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr    string
		loop    bool
		wantErr bool
	}{
		{"127.0.0.1:8080", true, false},
		{"127.3.2.1:8080", true, false},
		{"localhost:6060", true, false},
		{"[::1]:6060", true, false},
		{"0.0.0.0:8080", false, false},
		{"[::]:8080", false, false},
		{":8080", false, false},
		{"10.1.2.3:8080", false, false},
		{"localhost.example.com:80", false, false},
		{"127.0.0.1", false, true},
		{"nonsense", false, true},
	}
	for _, tt := range tests {
		loop, err := IsLoopbackAddr(tt.addr)
		if loop != tt.loop || (err != nil) != tt.wantErr {
			t.Errorf("IsLoopbackAddr(%q) = %v, %v; want %v, error %v", tt.addr, loop, err, tt.loop, tt.wantErr)
		}
	}
}

// TestRetentionSettings: the retention defaults (90 days, no count limit, a pass every 10 minutes in
// batches of 1000), and clear errors for values that make no sense.
func TestRetentionSettings(t *testing.T) {
	if d := Defaults().Retention; d.Age != 2160*time.Hour || d.Runs != 0 || d.Interval != 10*time.Minute || d.Batch != 1000 {
		t.Fatalf("retention defaults = %+v", d)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--retention-age", "-1h"}, "retention age -1h0m0s is negative"},
		{[]string{"--retention-age", "30s"}, "retention age 30s: want at least 1m, or 0 for no age limit"},
		{[]string{"--retention-age", "1000000h"}, "want at most 100 years"},
		{[]string{"--retention-runs", "-2"}, "retention runs -2: want 0 (no count limit) or 1..1000000"},
		{[]string{"--retention-interval", "0s"}, "retention interval 0s: want 1s..168h"},
		{[]string{"--retention-batch", "0"}, "retention batch 0: want 1..100000"},
		{[]string{"--retention-age", "0", "--retention-runs", "0"}, ""},
		{[]string{"--retention-age", "1m", "--retention-runs", "2", "--retention-interval", "1s", "--retention-batch", "1"}, ""},
	} {
		cfg, _, err := Load(pflag.NewFlagSet("t", pflag.ContinueOnError), tt.args, nil)
		if (tt.want == "" && err != nil) || (tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want))) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
		if tt.want == "" && tt.args[1] == "1m" && (cfg.Retention.Runs != 2 || cfg.Retention.Batch != 1 || cfg.Retention.Interval != time.Second) {
			t.Errorf("%v: retention = %+v", tt.args, cfg.Retention)
		}
	}
}
