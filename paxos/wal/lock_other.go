//go:build !unix

package wal

import (
	"fmt"
	"os"
)

// lockDir only creates the lock file where flock is not available.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("wal: lock file: %w", err)
	}
	return f, nil
}
