package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncgate/syncgate/server/storage"
)

// The driver's errors are sorted by what they mean for the caller, the driver's error still wrapped
// (for the log) and its text unchanged: the server's disk_full answer matches storage.ErrFull, a
// database that cannot be reached storage.ErrUnavailable, and everything else is left as it is,
// errors of the call's context too (a test server cannot be made to give every answer, so the errors
// are built as pgx delivers them; lost connections themselves are unavailable_test.go's).
func TestClassify(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(live)
	cancel()
	// Failed connection attempts, as pgconn reports them (their fields are unexported: real ones).
	_, refused := pgconn.Connect(live, "postgres://nobody@127.0.0.1:1/nothing?connect_timeout=5")
	var ce *pgconn.ConnectError
	if !errors.As(refused, &ce) {
		t.Fatalf("connecting to a closed port = %T %v, want a *pgconn.ConnectError", refused, refused)
	}
	_, cancelledConnect := pgconn.Connect(ended, "postgres://nobody@127.0.0.1:1/nothing")
	if !errors.As(cancelledConnect, &ce) || !errors.Is(cancelledConnect, context.Canceled) {
		t.Fatalf("connecting with a cancelled context = %T %v, want a *pgconn.ConnectError wrapping context.Canceled", cancelledConnect, cancelledConnect)
	}
	// A server that accepts the connection and never answers, met with a connect_timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	cfg, err := pgconn.ParseConfig("postgres://nobody@" + silent.Addr().String() + "/nothing?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnectTimeout = 100 * time.Millisecond
	_, timedOut := pgconn.ConnectConfig(live, cfg)
	if !errors.As(timedOut, &ce) || !errors.Is(timedOut, context.DeadlineExceeded) {
		t.Fatalf("connecting to a silent server = %T %v, want a *pgconn.ConnectError wrapping context.DeadlineExceeded", timedOut, timedOut)
	}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name string
		ctx  context.Context // the call's; nil: live
		err  error
		want error // the sentinel it matches; nil: left unchanged
	}{
		{"disk_full", nil, &pgconn.PgError{Code: "53100", Message: "could not extend file"}, storage.ErrFull},
		{"connection_failure", nil, &pgconn.PgError{Code: "08006", Message: "connection failure"}, storage.ErrUnavailable},
		{"connection_exception", nil, &pgconn.PgError{Code: "08000"}, storage.ErrUnavailable},
		{"admin_shutdown", nil, &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, storage.ErrUnavailable},
		{"crash_shutdown", nil, &pgconn.PgError{Code: "57P02"}, storage.ErrUnavailable},
		{"cannot_connect_now", nil, &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, storage.ErrUnavailable},
		{"too_many_connections", nil, &pgconn.PgError{Code: "53300"}, storage.ErrUnavailable},
		{"connection refused", nil, refused, storage.ErrUnavailable},
		{"connect_timeout", nil, timedOut, storage.ErrUnavailable},
		{"connection reset", nil, reset, storage.ErrUnavailable},
		{"unexpected EOF", nil, io.ErrUnexpectedEOF, storage.ErrUnavailable},
		{"EOF", nil, fmt.Errorf("receive message: %w", io.EOF), storage.ErrUnavailable},
		{"unique_violation", nil, &pgconn.PgError{Code: "23505"}, nil},
		{"query_canceled", nil, &pgconn.PgError{Code: "57014"}, nil},
		{"a server answer decides over the transport", nil, fmt.Errorf("%w: %w", &pgconn.PgError{Code: "23505"}, io.EOF), nil},
		{"cancelled", ended, context.Canceled, nil},
		{"connect cancelled", ended, cancelledConnect, nil},
		{"connect timed out on the call's deadline", ended, timedOut, nil},
		{"deadline", ended, fmt.Errorf("timeout: %w", context.DeadlineExceeded), nil},
		{"a deadline that is no connection attempt's", nil, fmt.Errorf("timeout: %w", context.DeadlineExceeded), nil},
		{"cancelled on a network error", ended, fmt.Errorf("%w: %w", context.Canceled, reset), nil},
		{"no rows", nil, pgx.ErrNoRows, nil},
		{"other", nil, errors.New("other"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = live
			}
			got := classify(ctx, tt.err)
			if tt.want == nil {
				if got != tt.err {
					t.Fatalf("classify(%v) = %v, want it unchanged", tt.err, got)
				}
				return
			}
			wrapped := fmt.Errorf("read run: %w", got)
			if !errors.Is(wrapped, tt.want) {
				t.Fatalf("classify(%v) = %v, does not match %v", tt.err, got, tt.want)
			}
			for _, other := range []error{storage.ErrFull, storage.ErrUnavailable} {
				if other != tt.want && errors.Is(got, other) {
					t.Fatalf("classify(%v) matches %v too", tt.err, other)
				}
			}
			if !errors.Is(wrapped, tt.err) || got.Error() != tt.err.Error() {
				t.Fatalf("classify(%v) = %q, no longer wraps the driver's error as it is", tt.err, got)
			}
			if again := classify(ctx, wrapped); again != wrapped {
				t.Fatalf("classify of a classified error = %v, want it unchanged", again)
			}
		})
	}
	if classify(live, nil) != nil {
		t.Fatal("classify(nil) is not nil")
	}
}
