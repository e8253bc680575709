// Package migrations holds the store's schema as golang-migrate SQL files, embedded so the binary
// carries its own schema and applies it on start-up.
package migrations

import "embed"

// FS holds the numbered *.up.sql / *.down.sql files.
//
//go:embed *.sql
var FS embed.FS
