//go:build !linux

package wal

import "os"

// preallocate is not done where fallocate is not available: the log grows
// by appending.
func preallocate(f *os.File, off, n int64) bool { return false }
