package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/storage"
)

func connectMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

func TestToConnectMapsEachDomainErrorOnce(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		code     connect.Code
		contains string
		hidden   string
	}{
		{"run in progress", &engine.RunInProgressError{Flow: "agents", RunID: "r1"}, connect.CodeFailedPrecondition, "r1", ""},
		{"wrapped not found", fmt.Errorf("lookup: %w", fmt.Errorf("run x: %w", engine.ErrNotFound)), connect.CodeNotFound, "run x", ""},
		{"invalid input", fmt.Errorf("%w: window start must be before its end", engine.ErrInvalidInput), connect.CodeInvalidArgument, "window start", ""},
		{"cancelled", context.Canceled, connect.CodeCanceled, "cancelled", ""},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), connect.CodeDeadlineExceeded, "deadline", ""},
		{"shutting down", engine.ErrShuttingDown, connect.CodeUnavailable, "shutting down", ""},
		{"internal is opaque", errors.New("sqlite3: disk I/O error at /var/lib/syncgate.db password=hunter2"), connect.CodeInternal, "internal error (ref ", "hunter2"},
		{"connect error passes", connect.NewError(connect.CodePermissionDenied, errors.New("no")), connect.CodePermissionDenied, "no", ""},
		{"untyped error whose text looks public is internal", errors.New("not found"), connect.CodeInternal, "internal error (ref ", "not found"},
		{"storage error joined to a vendor error is internal", errors.Join(
			&engine.Failure{Kind: engine.Transient, Err: &vendor.Error{Vendor: "greatonce", Kind: vendor.Transient, Message: "unavailable"}},
			fmt.Errorf("commit page: %w", errors.New("sqlite3: database is locked"))), connect.CodeInternal, "internal error (ref ", "locked"},
		{"transient vendor error is visible", fmt.Errorf("fetch source records: %w", &engine.Failure{Kind: engine.Transient, Err: &vendor.Error{Vendor: "kingdee", Op: "ExecuteBillQuery", Kind: vendor.Transient, HTTPStatus: 503}}),
			connect.CodeUnavailable, "kingdee ExecuteBillQuery: transient (HTTP 503)", ""},
		{"permanent vendor error is visible", &engine.Failure{Kind: engine.Permanent, Err: &vendor.Error{Vendor: "zhilong", Op: "login", Kind: vendor.Permanent, Code: "401", Message: "bad credentials"}},
			connect.CodeFailedPrecondition, "bad credentials", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			got := toConnect(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), tt.err)
			if connect.CodeOf(got) != tt.code {
				t.Fatalf("code = %v, want %v", connect.CodeOf(got), tt.code)
			}
			if !strings.Contains(got.Error(), tt.contains) {
				t.Fatalf("message %q lacks %q", got.Error(), tt.contains)
			}
			if tt.hidden != "" {
				if strings.Contains(got.Error(), tt.hidden) || strings.Contains(got.Error(), "sqlite") {
					t.Fatalf("internal detail leaked to the caller: %q", got.Error())
				}
				ref := strings.TrimSuffix(strings.TrimPrefix(connectMessage(got), "internal error (ref "), ")")
				if !strings.Contains(logs.String(), tt.hidden) || !strings.Contains(logs.String(), "ref="+ref) {
					t.Fatalf("internal error not logged in full under ref %s:\n%s", ref, logs.String())
				}
			}
		})
	}
	if toConnect(context.Background(), slog.New(slog.DiscardHandler), nil) != nil {
		t.Fatal("nil error mapped to non-nil")
	}
}

func TestAFullDatabaseIsResourceExhausted(t *testing.T) {
	var logs bytes.Buffer
	full := fmt.Errorf("start run: create run: %w", errors.Join(storage.ErrFull, errors.New("sqlite3: database or disk is full at /var/lib/syncgate/syncgate.db")))
	got := toConnect(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), full)
	if connect.CodeOf(got) != connect.CodeResourceExhausted {
		t.Fatalf("code = %v, want ResourceExhausted", connect.CodeOf(got))
	}
	msg := connectMessage(got)
	if !strings.HasPrefix(msg, "the database is full (ref ") || strings.Contains(msg, "sqlite") || strings.Contains(msg, "/var/lib") {
		t.Fatalf("message %q: want \"the database is full (ref …)\" and no internals", msg)
	}
	ref := strings.TrimSuffix(strings.TrimPrefix(msg, "the database is full (ref "), ")")
	if !strings.Contains(logs.String(), "/var/lib/syncgate/syncgate.db") || !strings.Contains(logs.String(), "ref="+ref) {
		t.Fatalf("full error not logged under ref %s:\n%s", ref, logs.String())
	}
}
