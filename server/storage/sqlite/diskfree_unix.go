//go:build unix

package sqlite

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// diskFree reports the bytes available to this process on the file system holding the database file
// at path.
func diskFree(path string) (avail int64, ok bool, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(path), &st); err != nil {
		return 0, false, fmt.Errorf("free space of %s: %w", filepath.Dir(path), err)
	}
	return int64(st.Bavail) * int64(st.Bsize), true, nil
}
