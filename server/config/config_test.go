package config

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, func(k string) string { return env[k] })
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
		{"unknown yaml key", nil, map[string]string{"SYNCGATE_CONFIG": bad}, "field lisen not found"},
		{"bad duration", nil, map[string]string{"SYNCGATE_SYNC_OVERLAP": "soon"}, "SYNCGATE_SYNC_OVERLAP"},
		{"bad int flag", []string{"--page-size", "many"}, nil, "flag -page-size"},
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
