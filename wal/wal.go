// Package wal is a replica's durable log on a real disk: one append-only
// file of checksummed records (paxos.AppendRecord's format, the same bytes
// the simulator's disk holds), made durable with fdatasync, and replaced
// atomically when the replica compacts around a snapshot. It implements
// lockmgr.Storage.
//
// It is not a general-purpose log: it keeps no index, reads the whole file
// back at start (snapshots keep it small), and serves one writer, the
// goroutine that owns the node; a lock file keeps a second process out of
// the directory.
package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// File names inside a data directory.
const (
	LogName  = "wal"     // the log
	tmpName  = "wal.tmp" // a rewrite in progress; removed at start
	lockName = "LOCK"    // held (flock) while a process uses the directory
	fileMode = 0o644
)

// ErrCorrupt marks a log damaged in the middle: intact records follow the
// damage, so it is not a torn write and the log cannot be trusted.
var ErrCorrupt = errors.New("wal: log corrupt")

// Stats counts what a Log did, for tests and operators.
type Stats struct {
	Appends  uint64 // Append calls that wrote something
	Records  uint64 // records appended
	Syncs    uint64 // fdatasync calls made by Sync
	Rewrites uint64 // atomic replacements of the whole log
	Bytes    int64  // current size of the log file
}

// Recovery is what Open found on disk.
type Recovery struct {
	Records        int   // intact records read back
	Bytes          int64 // bytes of intact records kept
	TruncatedBytes int64 // torn tail cut off (a crash in the middle of a write)
}

// Log is an open durable log. It is not safe for concurrent use.
type Log struct {
	dir   string
	path  string
	f     *os.File
	lock  *os.File
	buf   []byte
	dirty bool // written since the last sync
	err   error
	stats Stats
}

var _ lockmgr.Storage = (*Log)(nil)

// Open opens (creating if need be) the log in dir, recovers it and returns
// the records it holds, ready for lockmgr.NewNode. A torn tail is cut off
// and reported in Recovery; damage in the middle of the log is an error
// wrapping ErrCorrupt, and Open refuses to go on.
func Open(dir string) (*Log, []paxos.Record, Recovery, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, Recovery{}, fmt.Errorf("wal: data directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, nil, Recovery{}, err
	}
	l := &Log{dir: dir, path: filepath.Join(dir, LogName), lock: lock}
	recs, rec, err := l.recover()
	if err != nil {
		lock.Close()
		return nil, nil, Recovery{}, err
	}
	return l, recs, rec, nil
}

func (l *Log) recover() ([]paxos.Record, Recovery, error) {
	// A rewrite that did not reach its rename never happened.
	if err := os.Remove(filepath.Join(l.dir, tmpName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, Recovery{}, fmt.Errorf("wal: remove stale %s: %w", tmpName, err)
	}
	raw, err := os.ReadFile(l.path)
	created := errors.Is(err, os.ErrNotExist)
	if err != nil && !created {
		return nil, Recovery{}, fmt.Errorf("wal: read %s: %w", l.path, err)
	}
	recs, valid, err := lockmgr.ParseLog(raw)
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("%w: %s: %v; intact records follow the damage, so it is not a torn "+
			"write and this replica refuses to start. Its promises and accepted values may be needed for safety: "+
			"restore the directory from a backup; only if every other replica is intact may it be moved aside "+
			"so that this replica rejoins empty", ErrCorrupt, l.path, err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, fileMode)
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("wal: open %s: %w", l.path, err)
	}
	l.f = f
	rec := Recovery{Records: len(recs), Bytes: int64(valid), TruncatedBytes: int64(len(raw) - valid)}
	if rec.TruncatedBytes > 0 {
		if err := f.Truncate(int64(valid)); err != nil {
			f.Close()
			return nil, Recovery{}, fmt.Errorf("wal: cut torn tail of %s at byte %d: %w", l.path, valid, err)
		}
	}
	if rec.TruncatedBytes > 0 || created {
		if err := l.syncFileAndDir(f); err != nil {
			f.Close()
			return nil, Recovery{}, err
		}
	}
	l.stats.Bytes = int64(valid)
	return recs, rec, nil
}

// Append writes records to the log file. They reach the operating system
// at once (so a process kill keeps them) but are durable only after Sync.
func (l *Log) Append(recs []paxos.Record) error {
	if l.err != nil {
		return l.err
	}
	if len(recs) == 0 {
		return nil
	}
	l.buf = l.buf[:0]
	for i := range recs {
		l.buf = paxos.AppendRecord(l.buf, &recs[i])
	}
	if _, err := l.f.Write(l.buf); err != nil {
		// A partial write leaves a torn tail, which the next Open cuts off;
		// the error sticks so that nothing is appended after it.
		return l.fail(fmt.Errorf("wal: append to %s: %w", l.path, err))
	}
	l.dirty = true
	l.stats.Appends++
	l.stats.Records += uint64(len(recs))
	l.stats.Bytes += int64(len(l.buf))
	if cap(l.buf) > 1<<20 {
		l.buf = nil // do not pin a snapshot-sized buffer
	}
	return nil
}

// Sync makes everything appended so far durable. Every record appended
// since the last Sync shares this one fdatasync: group commit.
func (l *Log) Sync() error {
	if l.err != nil {
		return l.err
	}
	if !l.dirty {
		return nil
	}
	if err := datasync(l.f); err != nil {
		return l.fail(fmt.Errorf("wal: sync %s: %w", l.path, err))
	}
	l.dirty = false
	l.stats.Syncs++
	return nil
}

// Rewrite atomically replaces the whole log with recs, durably: it writes
// a temporary file, syncs it, renames it over the log and syncs the
// directory. A crash at any point leaves either the old log or the new one.
func (l *Log) Rewrite(recs []paxos.Record) error {
	if l.err != nil {
		return l.err
	}
	var b []byte
	for i := range recs {
		b = paxos.AppendRecord(b, &recs[i])
	}
	tmp := filepath.Join(l.dir, tmpName)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, fileMode)
	if err != nil {
		return l.fail(fmt.Errorf("wal: rewrite: %w", err))
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return l.fail(fmt.Errorf("wal: rewrite %s: %w", tmp, err))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return l.fail(fmt.Errorf("wal: rewrite: sync %s: %w", tmp, err))
	}
	if err := os.Rename(tmp, l.path); err != nil {
		f.Close()
		return l.fail(fmt.Errorf("wal: rewrite: %w", err))
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return l.fail(err)
	}
	old := l.f
	l.f, l.dirty = f, false
	l.stats.Rewrites++
	l.stats.Bytes = int64(len(b))
	if err := old.Close(); err != nil {
		return l.fail(fmt.Errorf("wal: close replaced log: %w", err))
	}
	return nil
}

// Stats reports what the log did so far.
func (l *Log) Stats() Stats { return l.stats }

// Path is the log file's path.
func (l *Log) Path() string { return l.path }

// Close syncs and closes the log and releases the directory.
func (l *Log) Close() error {
	var err error
	if l.f != nil {
		if l.err == nil {
			err = l.Sync()
		}
		if cerr := l.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("wal: close %s: %w", l.path, cerr)
		}
		l.f = nil
	}
	if l.lock != nil {
		l.lock.Close() // closing the descriptor drops the flock
		l.lock = nil
	}
	if l.err == nil {
		l.err = errors.New("wal: log is closed")
	}
	return err
}

func (l *Log) fail(err error) error {
	if l.err == nil {
		l.err = err
	}
	return err
}

func (l *Log) syncFileAndDir(f *os.File) error {
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wal: sync %s: %w", l.path, err)
	}
	return syncDir(l.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: open directory for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wal: sync directory %s: %w", dir, err)
	}
	return nil
}
