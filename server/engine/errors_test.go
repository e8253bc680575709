package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/server/storage"
)

func TestClassifySortsEachErrorOnce(t *testing.T) {
	vendorErr := &Failure{Kind: Transient, Err: &vendor.Error{Vendor: "greatonce", Op: "sync", Kind: vendor.Transient, Message: "unavailable"}}
	storageErr := errors.New("database is locked: /var/lib/syncgate/syncgate.db")
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"not found", fmt.Errorf("run x: %w", ErrNotFound), KindNotFound},
		{"invalid input", invalidf("window start must be before its end"), KindInvalidInput},
		{"run in progress", fmt.Errorf("start: %w", &RunInProgressError{Flow: "agents", RunID: "r1"}), KindRunInProgress},
		{"shutting down", ErrShuttingDown, KindShuttingDown},
		{"cancelled", fmt.Errorf("wait: %w", context.Canceled), KindCanceled},
		{"run cancelled", errRunCancelled, KindCanceled},
		{"deadline", context.DeadlineExceeded, KindDeadlineExceeded},
		{"vendor", fmt.Errorf("delivery failed: %w", vendorErr), KindVendor},
		{"vendor wrapping a timeout stays a vendor error", &Failure{Kind: Transient, Err: &vendor.Error{Vendor: "kingdee", Kind: vendor.Transient, Err: context.DeadlineExceeded}}, KindVendor},
		{"a vendor error the adapter did not classify is internal", &vendor.Error{Vendor: "kingdee", Kind: vendor.Transient}, KindInternal},
		{"untyped (a storage error) is internal", fmt.Errorf("commit page: %w", storageErr), KindInternal},
		{"explicit internal wins over what it wraps", fmt.Errorf("%w: %w", ErrInternal, vendorErr), KindInternal},
		{"a join with a storage error is internal", errors.Join(fmt.Errorf("delivery: %w", vendorErr), storageErr), KindInternal},
		{"a join of public errors keeps the first kind", errors.Join(vendorErr, context.Canceled), KindVendor},
		{"a message naming a sentinel is not that sentinel", errors.New("not found"), KindInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Fatalf("Classify(%q) = %v, want %v", tt.err, got, tt.want)
			}
			text, ref := PublicText(tt.err)
			if tt.want == KindInternal {
				if ref == "" || text != "internal error (ref "+ref+")" {
					t.Fatalf("internal error shown as %q (ref %q)", text, ref)
				}
				return
			}
			if ref != "" || text != tt.err.Error() {
				t.Fatalf("public error shown as %q (ref %q), want its own text", text, ref)
			}
		})
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// failingCommits is a store whose page commits all fail with a driver-like message.
type failingCommits struct {
	storage.Store
	err error
}

func (f failingCommits) CommitPage(context.Context, storage.PageCommit) error { return f.err }

// A run's error goes through the same classification as RPC errors: a storage failure (whatever its
// text) is shown as "internal error (ref …)" and logged in full under that reference.
func TestRunErrorsShareTheErrorBoundary(t *testing.T) {
	b := newTestBundle(t, 8, 4, 0)
	var logs lockedBuffer
	b.rebuild(t, withConfig(func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) }),
		withStore(func(st storage.Store) storage.Store {
			return failingCommits{Store: st, err: errors.New("database is locked: /var/lib/syncgate/syncgate.db")}
		}))
	r := b.sync(t, Options{})
	if r.Status != StatusFailed {
		t.Fatalf("status %s, want failed", r.Status)
	}
	m := regexp.MustCompile(`^internal error \(ref ([0-9a-f]{12})\)$`).FindStringSubmatch(r.Error)
	if m == nil {
		t.Fatalf("run error %q, want internal error (ref …)", r.Error)
	}
	stored, err := b.eng.GetRun(b.ctx, r.ID)
	if err != nil || stored.Error != r.Error {
		t.Fatalf("stored run error %q (%v), want %q", stored.Error, err, r.Error)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "ref="+m[1]) {
			line = l
		}
	}
	if !strings.Contains(line, "database is locked") || !strings.Contains(line, "run_id="+r.ID) {
		t.Fatalf("no log line with the full error under ref %s:\n%s", m[1], logs.String())
	}
}

func TestAFullDatabaseIsItsOwnKindWithAPublicText(t *testing.T) {
	sqliteErr := errors.New("database or disk is full: /var/lib/syncgate/syncgate.db")
	full := fmt.Errorf("commit page: commit page: %w", errors.Join(storage.ErrFull, sqliteErr))
	if got := Classify(full); got != KindStorageFull {
		t.Fatalf("Classify(%q) = %v, want KindStorageFull", full, got)
	}
	text, ref := PublicText(full)
	if ref == "" || text != "the database is full (ref "+ref+")" {
		t.Fatalf("full database shown as %q (ref %q)", text, ref)
	}
	if got := Classify(fmt.Errorf("%w: %w", ErrInternal, full)); got != KindInternal {
		t.Fatalf("explicit internal around a full database = %v, want internal", got)
	}
}
