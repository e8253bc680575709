package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/server/store"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestMigrateSubcommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	var out bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"migrate", "--db", db, "up"}, env(nil), &out, &out); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := st.SchemaVersion(ctx)
	st.Close()
	if v != 1 {
		t.Fatalf("schema version %d after migrate up", v)
	}
	if err := run(ctx, []string{"migrate", "--db", db, "down"}, env(nil), &out, &out); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"migrate", "--db", db, "sideways"}, env(nil), &out, &out); err == nil || !strings.Contains(err.Error(), "want 'up' or 'down'") {
		t.Fatalf("bad direction: %v", err)
	}
}

func TestRefusesExposedListenWithoutKeys(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--listen", "0.0.0.0:0", "--db", filepath.Join(t.TempDir(), "x.db")}, env(nil), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "refusing to listen") {
		t.Fatalf("err = %v", err)
	}
}

func TestInvalidMappingSpecStopsStartUp(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, "agents.yaml"), "flow: agents\n"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "x.db"), "--mapping-dir", dir}, env(nil), &out, &out)
	if err == nil || !strings.Contains(err.Error(), "agents.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestSettingsCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"settings"}, env(nil), &out, &out); err != nil || !strings.Contains(out.String(), "SYNCGATE_KINGDEE_PASSWORD") {
		t.Fatalf("settings: %v\n%s", err, out.String())
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }
