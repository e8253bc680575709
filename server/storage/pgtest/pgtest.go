// Package pgtest gives tests a throw-away PostgreSQL database: Database creates an empty database
// for one test (or a package's tests) and drops it when the test ends. The server is the one the admin
// DSN in SYNCGATE_TEST_POSTGRES names (default: the local socket, postgres:///postgres?host=/var/run/postgresql),
// as a role that may create databases. When that server cannot be reached the test is skipped, saying
// why, except when CI is set in the environment: there it fails, so CI never passes by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvAdminDSN is the environment variable that names the admin DSN.
const EnvAdminDSN = "SYNCGATE_TEST_POSTGRES"

// DefaultAdminDSN is the admin DSN when EnvAdminDSN is unset: the local server over its socket.
const DefaultAdminDSN = "postgres:///postgres?host=/var/run/postgresql"

// AdminDSN returns the admin DSN tests use: EnvAdminDSN, or DefaultAdminDSN when it is unset.
func AdminDSN() string {
	if dsn := os.Getenv(EnvAdminDSN); dsn != "" {
		return dsn
	}
	return DefaultAdminDSN
}

// Database creates an empty database (named syncgate_test_ and 16 random hex digits) on the admin
// DSN's server and returns a postgres:// DSN for it; the database is dropped (WITH (FORCE), so
// connections left open do not keep it) when t and its subtests end. Creating one takes about
// 0.2 s on the development machine.
func Database(t testing.TB) string {
	t.Helper()
	admin := AdminDSN()
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Neither the DSN nor url's error (which quotes it) is shown: it may hold a password.
		t.Fatalf("pgtest: %s is not a postgres:// or postgresql:// URL", EnvAdminDSN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		// pgx's connect errors name the host, user and database, never the password.
		if os.Getenv("CI") != "" {
			t.Fatalf("pgtest: PostgreSQL is unreachable and CI is set: %v", err)
		}
		t.Skipf("pgtest: PostgreSQL is unreachable (set %s to an admin DSN, or start the local server): %v", EnvAdminDSN, err)
	}
	defer conn.Close(context.Background())
	name := "syncgate_test_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { drop(t, admin, name) })
	u.Path = "/" + name
	return u.String()
}

// drop removes the database, closing any connection still open to it.
func drop(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // crypto/rand.Read never returns an error
	return strings.ToLower(hex.EncodeToString(b))
}
