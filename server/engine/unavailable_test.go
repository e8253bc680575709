package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/server/storage"
)

// pgDown is a store's error for a database that cannot be reached: it matches storage.ErrUnavailable
// and carries the driver's text, which names the server's host, user and database.
var pgDown = fmt.Errorf("read run: %w", errors.Join(storage.ErrUnavailable,
	errors.New("failed to connect to `user=syncgate database=syncgate`: 10.1.2.3:5432 (db.internal): dial error: connect: connection refused")))

func TestAnUnreachableDatabaseIsItsOwnKindWithAPublicText(t *testing.T) {
	if got := Classify(pgDown); got != KindStorageUnavailable {
		t.Fatalf("Classify(%q) = %v, want KindStorageUnavailable", pgDown, got)
	}
	text, ref := PublicText(pgDown)
	if ref == "" || text != "the database cannot be reached (ref "+ref+")" {
		t.Fatalf("unreachable database shown as %q (ref %q)", text, ref)
	}
	for _, leak := range []string{"10.1.2.3", "db.internal", "syncgate", "refused"} {
		if strings.Contains(text, leak) {
			t.Fatalf("unreachable database shown as %q: it shows %q", text, leak)
		}
	}
	if _, again := PublicText(pgDown); again == ref {
		t.Fatal("two errors were given one reference")
	}
	for _, tt := range []struct {
		name string
		err  error
		want Kind
	}{
		{"explicit internal wins", fmt.Errorf("%w: %w", ErrInternal, pgDown), KindInternal},
		{"a full database wins", errors.Join(fmt.Errorf("commit page: %w", storage.ErrFull), pgDown), KindStorageFull},
		{"wins over the kind of what else it wraps", fmt.Errorf("%w: %w", pgDown, ErrNotFound), KindStorageUnavailable},
		{"in a join with a public error", errors.Join(ErrShuttingDown, pgDown), KindStorageUnavailable},
		{"a message naming it is not it", errors.New("the database cannot be reached"), KindInternal},
	} {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%q) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// A run that fails because the database cannot be reached shows "the database cannot be reached
// (ref …)", and the store's error is logged in full under that reference.
func TestARunShowsAnUnreachableDatabase(t *testing.T) {
	b := newTestBundle(t, 8, 4, 0)
	var logs lockedBuffer
	down := fmt.Errorf("commit page: %w", errors.Join(storage.ErrUnavailable,
		errors.New("10.1.2.3:5432 (db.internal): read: connection reset by peer")))
	b.rebuild(t, withConfig(func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) }),
		withStore(func(st storage.Store) storage.Store { return failingCommits{Store: st, err: down} }))
	r := b.sync(t, Options{})
	if r.Status != StatusFailed {
		t.Fatalf("status %s, want failed", r.Status)
	}
	m := regexp.MustCompile(`^the database cannot be reached \(ref ([0-9a-f]{12})\)$`).FindStringSubmatch(r.Error)
	if m == nil {
		t.Fatalf("run error %q, want the database cannot be reached (ref …)", r.Error)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "ref="+m[1]) {
			line = l
		}
	}
	if !strings.Contains(line, "connection reset by peer") || !strings.Contains(line, "run_id="+r.ID) {
		t.Fatalf("no log line with the full error under ref %s:\n%s", m[1], logs.String())
	}
}
