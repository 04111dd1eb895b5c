package wal

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"paxlock/paxos"
)

// crash drops the log the way a killed process does: no sync, no trim of
// the preallocated zeros, the lock released by closing its descriptor.
func (l *Log) crash() {
	l.f.Close()
	l.lock.Close()
	l.f, l.lock = nil, nil
	l.err = os.ErrClosed
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// smallPrealloc shrinks the reservation for one test, so that growth past
// it is cheap to reach.
func smallPrealloc(t *testing.T, n int64) {
	old := preallocBytes
	preallocBytes = n
	t.Cleanup(func() { preallocBytes = old })
}

func mustAppend(t *testing.T, l *Log, recs []paxos.Record) {
	t.Helper()
	if err := l.Append(recs); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

// TestZeroTailIsEndOfLog: after a crash the records are followed by the
// preallocated zeros; recovery reads them as the end of the log, not as a
// torn tail, and keeps the reservation.
func TestZeroTailIsEndOfLog(t *testing.T) {
	dir := t.TempDir()
	l, _, _ := mustOpen(t, dir)
	want := testRecords(7)
	mustAppend(t, l, want)
	st := l.Stats()
	l.crash()
	if size := fileSize(t, filepath.Join(dir, LogName)); size <= st.Bytes || size != st.Allocated {
		t.Skipf("no preallocation on this file system (file %d bytes, records %d)", size, st.Bytes)
	}
	l, got, rec := mustOpen(t, dir)
	defer l.Close()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	if rec.TruncatedBytes != 0 || rec.Bytes != st.Bytes || rec.Records != len(want) {
		t.Fatalf("recovery = %+v, want %d bytes of records and nothing truncated", rec, st.Bytes)
	}
	if l.Stats().Allocated <= rec.Bytes {
		t.Fatalf("reopened log lost its reservation: %+v", l.Stats())
	}
}

// TestTornRecordBeforeZeros: a crash in the middle of an append into the
// preallocated zeros leaves part of a record followed by zeros; it is cut
// off as a torn tail, and appends go on from the intact prefix.
func TestTornRecordBeforeZeros(t *testing.T) {
	dir := t.TempDir()
	l, _, _ := mustOpen(t, dir)
	want := testRecords(5)
	mustAppend(t, l, want[:4])
	pos := l.Stats().Bytes
	whole := paxos.AppendRecord(nil, &want[4])
	half := whole[:len(whole)/2]
	if _, err := l.f.WriteAt(half, pos); err != nil { // the write the crash cut short
		t.Fatal(err)
	}
	l.crash()
	l, got, rec := mustOpen(t, dir)
	if !reflect.DeepEqual(got, want[:4]) {
		t.Fatalf("got %d records, want the first 4", len(got))
	}
	if rec.TruncatedBytes != int64(len(half)) || rec.Bytes != pos {
		t.Fatalf("recovery = %+v, want %d torn bytes cut at %d", rec, len(half), pos)
	}
	// The torn bytes are gone, not just skipped: a shorter record written
	// over them must not leave any of them behind.
	short := []paxos.Record{{Type: paxos.RecPromise, Ballot: paxos.Ballot{Round: 9, Node: 2}}}
	mustAppend(t, l, short)
	l.crash()
	l, got, rec = mustOpen(t, dir)
	defer l.Close()
	if want := append(want[:4:4], short...); !reflect.DeepEqual(got, want) {
		t.Fatalf("after re-append got %+v, want %+v", got, want)
	}
	if rec.TruncatedBytes != 0 {
		t.Fatalf("recovery = %+v: leftovers of the torn record", rec)
	}
}

// TestReopenAppendAfterCrashes: crash, reopen and append, over and over, in
// a preallocated file; every synced record survives, in order.
func TestReopenAppendAfterCrashes(t *testing.T) {
	dir := t.TempDir()
	all := testRecords(40)
	var want []paxos.Record
	for i := 0; i < len(all); i += 8 {
		l, got, rec := mustOpen(t, dir)
		if !reflect.DeepEqual(got, want) || rec.TruncatedBytes != 0 {
			t.Fatalf("round %d: got %d records (recovery %+v), want %d", i/8, len(got), rec, len(want))
		}
		mustAppend(t, l, all[i:i+8])
		want = all[:i+8]
		l.crash()
	}
	l, got, _ := mustOpen(t, dir)
	defer l.Close()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
}

// TestGrowthPastPreallocation: records beyond the reservation extend it;
// all of them survive a crash and a clean close.
func TestGrowthPastPreallocation(t *testing.T) {
	smallPrealloc(t, 256)
	dir := t.TempDir()
	l, _, _ := mustOpen(t, dir)
	want := testRecords(200) // about 10 KiB: dozens of reservations
	for i := 0; i < len(want); i += 10 {
		mustAppend(t, l, want[i:i+10])
		if st := l.Stats(); st.Allocated < st.Bytes {
			t.Fatalf("stats %+v: records beyond the file", st)
		}
	}
	big := []paxos.Record{{Type: paxos.RecSnapshot, Slot: 1, Data: make([]byte, 4096)}} // one record above the chunk
	mustAppend(t, l, big)
	want = append(want, big...)
	l.crash()
	l, got, rec := mustOpen(t, dir)
	if !reflect.DeepEqual(got, want) || rec.TruncatedBytes != 0 {
		t.Fatalf("after a crash got %d records (recovery %+v), want %d", len(got), rec, len(want))
	}
	bytes := rec.Bytes
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if size := fileSize(t, filepath.Join(dir, LogName)); size != bytes {
		t.Fatalf("cleanly closed log is %d bytes, want exactly its %d bytes of records", size, bytes)
	}
	l, got, _ = mustOpen(t, dir)
	defer l.Close()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after close got %d records, want %d", len(got), len(want))
	}
}

// TestLastRecordEndingInZeros: a record whose checksum ends in zero bytes
// looks, byte by byte, like part of the zero tail; it must still be read
// back whole.
func TestLastRecordEndingInZeros(t *testing.T) {
	var last paxos.Record
	for i := 0; ; i++ {
		last = paxos.Record{Type: paxos.RecPromise, Ballot: paxos.Ballot{Round: uint64(i + 1), Node: 1}}
		if b := paxos.AppendRecord(nil, &last); b[len(b)-1] == 0 {
			break
		}
	}
	dir := t.TempDir()
	l, _, _ := mustOpen(t, dir)
	want := append(testRecords(3), last)
	mustAppend(t, l, want)
	l.crash()
	l, got, rec := mustOpen(t, dir)
	defer l.Close()
	if !reflect.DeepEqual(got, want) || rec.TruncatedBytes != 0 {
		t.Fatalf("got %d records (recovery %+v), want %d", len(got), rec, len(want))
	}
}

// TestRewriteThenCrash: the rewritten log is preallocated too, and what is
// appended after a rewrite survives a crash.
func TestRewriteThenCrash(t *testing.T) {
	dir := t.TempDir()
	l, _, _ := mustOpen(t, dir)
	mustAppend(t, l, testRecords(30))
	snap := []paxos.Record{{Type: paxos.RecSnapshot, Slot: 20, Data: []byte("state")}}
	if err := l.Rewrite(snap); err != nil {
		t.Fatal(err)
	}
	more := testRecords(30)[20:]
	mustAppend(t, l, more)
	l.crash()
	l, got, rec := mustOpen(t, dir)
	defer l.Close()
	if want := append(snap, more...); !reflect.DeepEqual(got, want) || rec.TruncatedBytes != 0 {
		t.Fatalf("got %d records (recovery %+v), want %d", len(got), rec, len(want))
	}
}

// TestZerosThenRecordIsCorrupt: zeros followed by an intact record are
// damage in the middle, not the end of the log.
func TestZerosThenRecordIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	recs := testRecords(3)
	var raw []byte
	raw = paxos.AppendRecord(raw, &recs[0])
	raw = append(raw, make([]byte, 512)...)
	raw = paxos.AppendRecord(raw, &recs[1])
	raw = append(raw, make([]byte, 4096)...)
	if err := os.WriteFile(filepath.Join(dir, LogName), raw, fileMode); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Open(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of records, zeros, a record: err = %v, want ErrCorrupt", err)
	}
}
