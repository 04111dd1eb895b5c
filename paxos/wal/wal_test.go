package wal

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"paxlock/paxos"
)

func testRecords(n int) []paxos.Record {
	var recs []paxos.Record
	for i := range n {
		recs = append(recs, paxos.Record{Type: paxos.RecAccept, Entry: paxos.Entry{
			Slot: uint64(i + 1), Ballot: paxos.Ballot{Round: 1, Node: 1},
			Cmds: [][]byte{[]byte(strings.Repeat("x", 10+i))},
		}})
	}
	return recs
}

func mustOpen(t *testing.T, dir string) (*Log, []paxos.Record, Recovery) {
	t.Helper()
	l, recs, rec, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l, recs, rec
}

func TestAppendSyncReopen(t *testing.T) {
	dir := t.TempDir()
	l, recs, _ := mustOpen(t, dir)
	if len(recs) != 0 {
		t.Fatalf("fresh log holds %d records", len(recs))
	}
	want := testRecords(5)
	if err := l.Append(want[:2]); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(want[2:]); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := l.Stats(); got.Syncs != 1 || got.Records != 5 || got.Appends != 2 {
		t.Fatalf("stats = %+v: want one sync for five records in two appends", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, got, rec := mustOpen(t, dir)
	defer l.Close()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reopened records:\n got %+v\nwant %+v", got, want)
	}
	if rec.Records != 5 || rec.TruncatedBytes != 0 {
		t.Fatalf("recovery = %+v", rec)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	l, _, _ := mustOpen(t, dir)
	defer l.Close()
	if _, _, _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open of a directory in use: err = %v", err)
	}
}

func writeLog(t *testing.T, dir string, recs []paxos.Record) []byte {
	t.Helper()
	l, _, _ := mustOpen(t, dir)
	if err := l.Append(recs); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, LogName))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestTornTailIsTruncated(t *testing.T) {
	dir := t.TempDir()
	want := testRecords(4)
	raw := writeLog(t, dir, want)
	one := len(paxos.AppendRecord(nil, &want[3]))
	cut := len(raw) - one/2 // half of the last record made it to disk
	if err := os.WriteFile(filepath.Join(dir, LogName), raw[:cut], fileMode); err != nil {
		t.Fatal(err)
	}
	l, got, rec := mustOpen(t, dir)
	if !reflect.DeepEqual(got, want[:3]) {
		t.Fatalf("after a torn tail got %d records, want the first 3", len(got))
	}
	if rec.TruncatedBytes != int64(cut-(len(raw)-one)) {
		t.Fatalf("recovery = %+v", rec)
	}
	// Appending after recovery continues from the intact prefix.
	if err := l.Append(want[3:]); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, got, _ = mustOpen(t, dir)
	defer l.Close()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after re-append got %d records, want %d", len(got), len(want))
	}
}

// TestCorruptRecordRefusesToStart: a data directory with a corrupted record
// in the middle of the log must not start, and the message must say where
// and why.
func TestCorruptRecordRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	recs := testRecords(4)
	raw := writeLog(t, dir, recs)
	first := len(paxos.AppendRecord(nil, &recs[0]))
	raw[first+8] ^= 0x40 // inside the second record's body
	if err := os.WriteFile(filepath.Join(dir, LogName), raw, fileMode); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := Open(dir)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a log corrupt in the middle: err = %v, want ErrCorrupt", err)
	}
	for _, want := range []string{filepath.Join(dir, LogName), "byte " + strconv.Itoa(first), "refuses to start", "checksum"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The refusal must leave the directory usable for a later attempt
	// (the lock is released) and the evidence untouched.
	after, _ := os.ReadFile(filepath.Join(dir, LogName))
	if len(after) != len(raw) {
		t.Fatalf("Open changed a corrupt log: %d bytes, was %d", len(after), len(raw))
	}
	if _, _, _, err := Open(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("second Open: %v", err)
	}
}

// TestCorruptLengthRefusesToStart: a flipped bit in a record's length
// field makes it claim to run past the end of the file, as a torn write
// would; the intact records after it show it is not one.
func TestCorruptLengthRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	raw := writeLog(t, dir, testRecords(4))
	raw[3] ^= 0x01 // length bit 8: the first record now claims 256 more bytes
	if err := os.WriteFile(filepath.Join(dir, LogName), raw, fileMode); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Open(dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "byte 0 of") {
		t.Fatalf("Open of a log with a corrupt length field: err = %v, want ErrCorrupt at byte 0", err)
	}
}

func TestRewriteReplacesLog(t *testing.T) {
	dir := t.TempDir()
	l, _, _ := mustOpen(t, dir)
	if err := l.Append(testRecords(50)); err != nil {
		t.Fatal(err)
	}
	before := l.Stats().Bytes
	snap := []paxos.Record{{Type: paxos.RecSnapshot, Slot: 48, Data: []byte("state")},
		{Type: paxos.RecPromise, Ballot: paxos.Ballot{Round: 2, Node: 3}}}
	if err := l.Rewrite(snap); err != nil {
		t.Fatal(err)
	}
	if l.Stats().Bytes >= before {
		t.Fatalf("rewrite did not shrink the log: %d -> %d bytes", before, l.Stats().Bytes)
	}
	more := testRecords(50)[48:]
	if err := l.Append(more); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, tmpName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	l, got, _ := mustOpen(t, dir)
	defer l.Close()
	if want := append(snap, more...); !reflect.DeepEqual(got, want) {
		t.Fatalf("after rewrite + append:\n got %+v\nwant %+v", got, want)
	}
}

// TestStaleTempFileIgnored: a crash between writing the rewrite's temporary
// file and renaming it leaves the old log in force.
func TestStaleTempFileIgnored(t *testing.T) {
	dir := t.TempDir()
	want := testRecords(3)
	writeLog(t, dir, want)
	if err := os.WriteFile(filepath.Join(dir, tmpName), []byte("half a rewrite"), fileMode); err != nil {
		t.Fatal(err)
	}
	l, got, _ := mustOpen(t, dir)
	defer l.Close()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	if _, err := os.Stat(filepath.Join(dir, tmpName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temporary file not removed: %v", err)
	}
}

func TestClosedLogRefusesWrites(t *testing.T) {
	l, _, _ := mustOpen(t, t.TempDir())
	l.Close()
	if err := l.Append(testRecords(1)); err == nil {
		t.Fatal("Append after Close succeeded")
	}
}
