package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"

	"github.com/mattn/go-sqlite3"
)

// sqliteSize is the size of the SQLite database at path, its WAL checkpointed into it first: the
// gateway checkpoints only every 64 MiB of WAL, so at small scales most of the database would
// otherwise sit in the WAL, with every version of a page written since the last checkpoint. The
// checkpoint is made through a connection of this process, while the gateway is idle between runs.
func sqliteSize(ctx context.Context, path string) (int64, error) {
	db := sql.OpenDB(dsnConnector{"file:" + path + "?_busy_timeout=10000"})
	defer db.Close()
	var busy, logPages, done int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done); err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if busy != 0 {
		fmt.Fprintf(os.Stderr, "%s: the checkpoint was blocked by a reader; the size includes the WAL\n", path)
	}
	var total int64
	for _, f := range []string{path, path + "-wal"} {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	return total, nil
}

// dsnConnector opens go-sqlite3 connections to one DSN without registering a driver name.
type dsnConnector struct{ dsn string }

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) {
	return (&sqlite3.SQLiteDriver{}).Open(c.dsn)
}

func (c dsnConnector) Driver() driver.Driver { return &sqlite3.SQLiteDriver{} }
