package wal

import (
	"os"
	"syscall"
)

// preallocate reserves the file's bytes [off, off+n) and extends its size
// to cover them (fallocate mode 0): the blocks read back as zeros, and a
// later write into them followed by fdatasync need not change the file
// size. It reports false where the file system cannot do it; the log then
// just grows by appending.
func preallocate(f *os.File, off, n int64) bool {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, off, n)
		if err != syscall.EINTR {
			return err == nil
		}
	}
}
