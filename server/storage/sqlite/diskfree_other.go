//go:build !unix

package sqlite

// diskFree is not measured on this platform: only the database's page limit is checked.
func diskFree(string) (int64, bool, error) { return 0, false, nil }
