package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncgate/syncgate/server/storage"
)

// The server's disk_full answer matches storage.ErrFull (a test PostgreSQL server's disk cannot be
// filled here, so the server's error is built as pgx delivers it); other errors are left as they are.
func TestDiskFullIsClassified(t *testing.T) {
	full := fmt.Errorf("commit page: %w", classifyWrite(&pgconn.PgError{Code: "53100", Message: "could not extend file"}))
	if !errors.Is(full, storage.ErrFull) {
		t.Fatalf("disk_full = %v, not storage.ErrFull", full)
	}
	var pe *pgconn.PgError
	if !errors.As(full, &pe) || pe.Code != "53100" {
		t.Fatalf("disk_full no longer wraps the server's error: %v", full)
	}
	for _, err := range []error{&pgconn.PgError{Code: "23505"}, errors.New("other"), nil} {
		if got := classifyWrite(err); errors.Is(got, storage.ErrFull) || got != err {
			t.Fatalf("classifyWrite(%v) = %v, want it unchanged", err, got)
		}
	}
}
