package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"

	"github.com/syncgate/syncgate/server/storage"
)

// fullError is a write that failed because the database is full (SQLITE_FULL: its disk, or its
// max_page_count). It matches storage.ErrFull and still wraps SQLite's error, for the log.
type fullError struct{ err error }

func (e *fullError) Error() string   { return e.err.Error() }
func (e *fullError) Unwrap() []error { return []error{storage.ErrFull, e.err} }

// minRoom is the free space, in bytes, a database that was found full needs again before Ping reports
// it healthy: room within its page limit (pages not yet used, or freed inside the file) and on the
// file system that holds it.
const minRoom = 1 << 20

// classifyWrite marks a write's error that SQLite reports as SQLITE_FULL (it then matches
// storage.ErrFull) and remembers that the database was found full, so that Ping reports it until
// there is room again.
func (s *Store) classifyWrite(err error) error {
	var se sqlite3.Error
	if err == nil || !errors.As(err, &se) || se.Code != sqlite3.ErrFull {
		return err
	}
	s.full.Store(true)
	return &fullError{err: err}
}

// checkRoom is Ping's answer for a database a write found full: an error matching storage.ErrFull
// until there is room again (see minRoom), then nil (and the database is no longer taken as full).
func (s *Store) checkRoom(ctx context.Context) error {
	var pageSize, pages, free, limit int64
	for _, q := range []struct {
		pragma string
		v      *int64
	}{{"page_size", &pageSize}, {"page_count", &pages}, {"freelist_count", &free}, {"max_page_count", &limit}} {
		if err := s.db.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.v); err != nil {
			return fmt.Errorf("ping the store: read %s: %w", q.pragma, err)
		}
	}
	if room := (limit - pages + free) * pageSize; room < minRoom {
		return fmt.Errorf("ping the store: %w (%d bytes left within its page limit)", storage.ErrFull, room)
	}
	if avail, ok, err := diskFree(s.path); err != nil {
		return fmt.Errorf("ping the store: %w", err)
	} else if ok && avail < minRoom {
		return fmt.Errorf("ping the store: %w (%d bytes free on its file system)", storage.ErrFull, avail)
	}
	s.full.Store(false)
	return nil
}
