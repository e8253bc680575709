// Package migrations holds the stores' schemas as golang-migrate SQL files, embedded so the binary
// carries its own schema and applies it on start-up: FS for SQLite, Postgres for PostgreSQL.
package migrations

import "embed"

// FS holds the SQLite store's numbered *.up.sql / *.down.sql files.
//
//go:embed *.sql
var FS embed.FS

// Postgres holds the PostgreSQL store's numbered files, under postgres/.
//
//go:embed postgres/*.sql
var Postgres embed.FS
