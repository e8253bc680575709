package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/syncgate/syncgate/server/storage"
)

// diskFull is PostgreSQL's SQLSTATE disk_full (class 53, insufficient resources).
const diskFull = "53100"

// fullError is a write the server refused because its disk is full. It matches storage.ErrFull and
// still wraps the server's error, for the log.
type fullError struct{ err error }

func (e *fullError) Error() string   { return e.err.Error() }
func (e *fullError) Unwrap() []error { return []error{storage.ErrFull, e.err} }

// classifyWrite marks a write's error that the server reports as disk_full: it then matches
// storage.ErrFull.
func classifyWrite(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) || pe.Code != diskFull {
		return err
	}
	return &fullError{err: err}
}
