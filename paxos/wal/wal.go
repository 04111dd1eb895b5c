// Package wal is a replica's durable log on a real disk: one append-only
// file of checksummed records (paxos.AppendRecord's format, the same bytes
// the simulator's disk holds), made durable with fdatasync, and replaced
// atomically when the replica compacts around a snapshot. It implements
// the storage interface a lock-service host expects (Append, Sync,
// Rewrite).
//
// The file is preallocated ahead of the records (PreallocBytes at a time,
// with fallocate where the file system has it), so that an append
// overwrites reserved zeros and its fdatasync need not also change the
// file size: on ext4 that saves a journal commit per sync. The records
// are therefore followed by zeros, which recovery reads as the end of the
// log, not as damage; a clean Close trims them off again.
//
// Known limit: a power loss in the middle of an fsync may put pages on the
// disk out of order, leaving records, then zeros, then an intact later
// record. Recovery cannot tell that from damage in the middle of the log
// (it would need a durable mark of how far the log was synced), so it
// refuses to start (ErrCorrupt): safe, but an operator must step in. The
// records after the zeros were never synced, so nothing vouched for them.
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
	"time"

	"paxlock/paxos"
)

// File names inside a data directory.
const (
	LogName  = "wal"     // the log
	tmpName  = "wal.tmp" // a rewrite in progress; removed at start
	lockName = "LOCK"    // held (flock) while a process uses the directory
	fileMode = 0o644
)

// PreallocBytes is how far ahead of its records the log file is reserved.
// Reserving (fallocate) writes nothing, so it costs no disk bandwidth; it
// happens at Open, at each Rewrite and whenever the records reach the end
// of the reservation.
const PreallocBytes = 16 << 20

// preallocBytes is PreallocBytes, smaller in tests.
var preallocBytes int64 = PreallocBytes

// ErrCorrupt marks a log damaged in the middle: intact records follow the
// damage, so it is not a torn write and the log cannot be trusted.
var ErrCorrupt = errors.New("wal: log corrupt")

// Stats counts what a Log did, for tests and operators.
type Stats struct {
	Appends uint64 // Append calls that wrote something
	Records uint64 // records appended
	Syncs   uint64 // fdatasync calls made by Sync
	// SyncTime is the time spent in those calls.
	SyncTime time.Duration
	Rewrites uint64 // atomic replacements of the whole log
	Bytes    int64  // bytes of records in the log
	// Allocated is the log file's size: Bytes, then preallocated zeros.
	Allocated int64
}

// Recovery is what Open found on disk.
type Recovery struct {
	Records int   // intact records read back
	Bytes   int64 // bytes of intact records kept
	// TruncatedBytes is the torn tail cut off (a crash in the middle of a
	// write): the bytes from the end of the last intact record to the
	// last non-zero byte. Preallocated zeros after the records are not
	// torn and not counted.
	TruncatedBytes int64
}

// Log is an open durable log. It is not safe for concurrent use.
type Log struct {
	dir   string
	path  string
	f     *os.File
	lock  *os.File
	buf   []byte
	pos   int64 // end of the records: the next Append writes here
	alloc int64 // the file's size; [pos, alloc) holds zeros
	// noPrealloc: the file system cannot preallocate, so appends extend
	// the file.
	noPrealloc bool
	dirty      bool // written since the last sync
	err        error
	stats      Stats
}

// Open opens (creating if need be) the log in dir, recovers it and returns
// the records it holds, ready to rebuild a replica from. A torn tail is cut off
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
	recs, valid, end, err := parse(raw)
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("%w: %s: %v; intact records follow the damage, so it is not a torn "+
			"write and this replica refuses to start. Its promises and accepted values may be needed for safety: "+
			"restore the directory from a backup, or have the host rebuild this replica from the others "+
			"(paxosd -rejoin); never start it empty", ErrCorrupt, l.path, err)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, Recovery{}, fmt.Errorf("wal: open %s: %w", l.path, err)
	}
	rec := Recovery{Records: len(recs), Bytes: int64(valid), TruncatedBytes: int64(max(0, end-valid))}
	l.f, l.pos, l.alloc = f, int64(valid), int64(len(raw))
	changed := created
	if rec.TruncatedBytes > 0 {
		// Cut the torn bytes off; the reservation below puts zeros back,
		// so that whatever follows the records reads as their end.
		if err := f.Truncate(int64(valid)); err != nil {
			f.Close()
			return nil, Recovery{}, fmt.Errorf("wal: cut torn tail of %s at byte %d: %w", l.path, valid, err)
		}
		l.alloc, changed = int64(valid), true
	}
	if l.alloc-l.pos < preallocBytes/2 {
		l.growTo(l.pos + preallocBytes)
		changed = true
	}
	if changed {
		if err := l.syncFileAndDir(f); err != nil {
			f.Close()
			return nil, Recovery{}, err
		}
	}
	l.stats.Bytes, l.stats.Allocated = l.pos, l.alloc
	return recs, rec, nil
}

// parse reads a log file's bytes: the records, the length of the intact
// prefix they fill, and end, just past the last non-zero byte. Zeros after
// the records are the preallocated rest of the file; non-zero bytes
// between valid and end are a torn tail. An error is damage in the middle
// (see paxos.ParseLog).
func parse(raw []byte) (recs []paxos.Record, valid, end int, err error) {
	end = len(raw)
	for end > 0 && raw[end-1] == 0 {
		end--
	}
	// Parsing stops short of the zeros, which ParseLog would otherwise
	// scan once more for intact records.
	recs, valid, err = paxos.ParseLog(raw[:end])
	if err == nil && valid < end {
		// A torn tail, or a last record whose own final bytes are zero
		// and were cut off with the tail: decide on the whole file.
		recs, valid, err = paxos.ParseLog(raw)
	}
	return recs, valid, end, err
}

// reserve makes room for n more bytes of records past pos, preallocating
// PreallocBytes beyond them when it has to grow the file.
func (l *Log) reserve(n int64) {
	if l.pos+n > l.alloc {
		l.growTo(l.pos + n + preallocBytes)
	}
}

// growTo preallocates the file up to size bytes. The size change becomes
// durable with the next sync; the syncs after it need not change it again.
func (l *Log) growTo(size int64) {
	if l.noPrealloc || size <= l.alloc {
		return
	}
	if !preallocate(l.f, l.alloc, size-l.alloc) {
		l.noPrealloc = true
		return
	}
	l.alloc = size
	l.stats.Allocated = size
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
	l.reserve(int64(len(l.buf)))
	if _, err := l.f.WriteAt(l.buf, l.pos); err != nil {
		// A partial write leaves a torn tail, which the next Open cuts off;
		// the error sticks so that nothing is appended after it.
		return l.fail(fmt.Errorf("wal: append to %s: %w", l.path, err))
	}
	l.dirty = true
	l.pos += int64(len(l.buf))
	l.alloc = max(l.alloc, l.pos)
	l.stats.Appends++
	l.stats.Records += uint64(len(recs))
	l.stats.Bytes, l.stats.Allocated = l.pos, l.alloc
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
	// Wall time, deliberately: this is the real disk's log (the simulator
	// never uses this package), and the figure is only a statistic.
	start := time.Now()
	if err := datasync(l.f); err != nil {
		return l.fail(fmt.Errorf("wal: sync %s: %w", l.path, err))
	}
	l.stats.SyncTime += time.Since(start)
	l.dirty = false
	l.stats.Syncs++
	return nil
}

// Rewrite atomically replaces the whole log with recs, durably: it writes
// a temporary file (preallocated like the log), syncs it, renames it over
// the log and syncs the directory. A crash at any point leaves either the
// old log or the new one.
func (l *Log) Rewrite(recs []paxos.Record) error {
	if l.err != nil {
		return l.err
	}
	var b []byte
	for i := range recs {
		b = paxos.AppendRecord(b, &recs[i])
	}
	tmp := filepath.Join(l.dir, tmpName)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return l.fail(fmt.Errorf("wal: rewrite: %w", err))
	}
	alloc := int64(len(b))
	if !l.noPrealloc {
		if preallocate(f, 0, alloc+preallocBytes) {
			alloc += preallocBytes
		} else {
			l.noPrealloc = true
		}
	}
	if _, err := f.WriteAt(b, 0); err != nil {
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
	l.pos, l.alloc = int64(len(b)), alloc
	l.stats.Rewrites++
	l.stats.Bytes, l.stats.Allocated = l.pos, l.alloc
	if err := old.Close(); err != nil {
		return l.fail(fmt.Errorf("wal: close replaced log: %w", err))
	}
	return nil
}

// Stats reports what the log did so far.
func (l *Log) Stats() Stats { return l.stats }

// Path is the log file's path.
func (l *Log) Path() string { return l.path }

// Close syncs and closes the log and releases the directory. It trims the
// preallocated zeros, so that a cleanly closed log file holds exactly its
// records.
func (l *Log) Close() error {
	var err error
	if l.f != nil {
		if l.err == nil && l.alloc > l.pos {
			if terr := l.f.Truncate(l.pos); terr == nil {
				l.alloc, l.dirty = l.pos, true
				l.stats.Allocated = l.pos
			}
		}
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
