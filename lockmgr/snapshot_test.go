package lockmgr

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"
)

// TestSnapshotRestoreBehavesIdentically drives a state machine at random,
// restores a copy from its snapshot, then feeds both the same commands: the
// copy must give the same answers and keep the same hash all the way.
func TestSnapshotRestoreBehavesIdentically(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := SMConfig{MaxSessions: rapid.IntRange(1, 6).Draw(t, "maxSessions")}
		d := newStepper(NewStateMachine(cfg), 4)
		for range rapid.IntRange(0, 40).Draw(t, "before") {
			d.step(t)
		}
		snap := d.s.Snapshot()
		cp, err := RestoreStateMachine(cfg, snap)
		if err != nil {
			t.Fatalf("restore: %v", err)
		}
		if cp.Hash() != d.s.Hash() || !bytes.Equal(cp.Snapshot(), snap) || cp.Applied() != d.s.Applied() {
			t.Fatalf("restored state differs")
		}
		if FormatStatus(cp.Status()) != FormatStatus(d.s.Status()) {
			t.Fatalf("status differs: %s vs %s", FormatStatus(cp.Status()), FormatStatus(d.s.Status()))
		}
		d.mirror = cp
		for range rapid.IntRange(1, 40).Draw(t, "after") {
			d.step(t)
		}
	})
}

func TestSnapshotOfEmptyStateMachine(t *testing.T) {
	s := NewStateMachine(SMConfig{})
	cp, err := RestoreStateMachine(SMConfig{}, s.Snapshot())
	if err != nil || cp.Hash() != s.Hash() || cp.Applied() != 0 {
		t.Fatalf("restore empty: %v", err)
	}
}

// TestHashDistinguishesStates: each pair of histories leads to different
// states (holder, lock name, waiter order, token counter, client table,
// applied slot), so the hashes must differ.
func TestHashDistinguishesStates(t *testing.T) {
	l := func(c ClientID, seq uint64, op Op, name string) Command {
		return signed(Command{Client: c, Seq: seq, Op: op, Name: name})
	}
	tests := []struct {
		name string
		a, b []Command
	}{
		{"holder", []Command{l(1, 1, OpLock, "a")}, []Command{l(2, 1, OpLock, "a")}},
		{"lock name", []Command{l(1, 1, OpLock, "a")}, []Command{l(1, 1, OpLock, "b")}},
		{
			"waiter order",
			[]Command{l(1, 1, OpLock, "a"), l(2, 1, OpLock, "a"), l(3, 1, OpLock, "a")},
			[]Command{l(1, 1, OpLock, "a"), l(3, 1, OpLock, "a"), l(2, 1, OpLock, "a")},
		},
		{
			"token counter",
			[]Command{l(1, 1, OpLock, "a"), l(1, 2, OpUnlock, "a"), l(1, 3, OpLock, "a")},
			[]Command{l(1, 1, OpLock, "a"), l(1, 2, OpUnlock, "b"), l(1, 3, OpLock, "a")},
		},
		{"client seq", []Command{l(1, 1, OpUnlock, "a"), l(1, 2, OpUnlock, "a")}, []Command{l(1, 1, OpUnlock, "a"), l(1, 3, OpUnlock, "a")}},
		{"recorded result", []Command{l(1, 1, OpUnlock, "a")}, []Command{l(1, 1, OpUnlock, "")}},
		{"applied slot", []Command{l(1, 1, OpUnlock, "a")}, []Command{l(1, 1, OpUnlock, "a"), l(1, 0, OpUnlock, "a")}},
		{"session table", []Command{l(1, 1, OpUnlock, "a")}, []Command{l(1, 1, OpUnlock, "a"), l(2, 1, OpClose, "")}},
		{"leader", []Command{{Op: OpLead, Arg: 1, Node: 1}}, []Command{{Op: OpLead, Arg: 1, Node: 2}}},
	}
	for _, tt := range tests {
		ha, hb := hashAfter(tt.a), hashAfter(tt.b)
		if ha == hb {
			t.Errorf("%s: equal hashes %x", tt.name, ha)
		}
	}
}

// TestHashIgnoresInsertionOrder: the same state reached in different
// orders hashes the same.
func TestHashIgnoresInsertionOrder(t *testing.T) {
	var ids []ClientID
	for c := range ClientID(50) {
		ids = append(ids, c+1)
	}
	s1, s2 := NewStateMachine(SMConfig{}), NewStateMachine(SMConfig{})
	openSessions(t, s1, len(ids))
	openSessions(t, s2, len(ids))
	for i, c := range ids {
		s1.Apply(1, signed(Command{Client: c, Seq: 1, Op: OpUnlock, Name: string(rune('a' + i%26))}))
		j := len(ids) - 1 - i
		s2.Apply(1, signed(Command{Client: ids[j], Seq: 1, Op: OpUnlock, Name: string(rune('a' + j%26))}))
	}
	if s1.Hash() != s2.Hash() {
		t.Fatalf("same state, different hashes")
	}
}

// hashAfter opens sessions 1..3 and applies cmds one per slot.
func hashAfter(cmds []Command) uint64 {
	s := NewStateMachine(SMConfig{})
	for i := ClientID(1); i <= 3; i++ {
		s.Apply(0, Command{Client: NonceBit | i, Op: OpOpen, Arg: 5000, Key: testSecret(i)})
	}
	for i, c := range cmds {
		s.Apply(uint64(i+1), c)
	}
	return s.Hash()
}

func TestRestoreRejectsCorruptSnapshots(t *testing.T) {
	s := NewStateMachine(SMConfig{})
	openSessions(t, s, 2)
	s.Apply(1, signed(Command{Client: 1, Seq: 1, Op: OpLock, Name: "a"}))
	s.Apply(2, signed(Command{Client: 2, Seq: 1, Op: OpLock, Name: "a"}))
	good := s.Snapshot()
	for n := range len(good) {
		if _, err := RestoreStateMachine(SMConfig{}, good[:n]); err == nil {
			t.Errorf("accepted a %d-byte prefix of a %d-byte snapshot", n, len(good))
		}
	}
	tests := []struct {
		name   string
		mutate func([]byte) []byte
	}{
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }},
		{"version", func(b []byte) []byte { b[0] = 9; return b }},
		{"token counter below tokens", func(b []byte) []byte { b[2] = 0; return b }},
		{"session counter below sessions", func(b []byte) []byte { b[3] = 1; return b }},
	}
	for _, tt := range tests {
		_, err := RestoreStateMachine(SMConfig{}, tt.mutate(bytes.Clone(good)))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: error %v, want ErrBadSnapshot", tt.name, err)
		}
	}
}

// TestRestoreArbitraryBytes: never panics, and accepts only canonical input.
func TestRestoreArbitraryBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "bytes")
		if rapid.Bool().Draw(t, "versioned") && len(b) > 0 {
			b[0] = snapshotVersion
		}
		s, err := RestoreStateMachine(SMConfig{}, b)
		if err == nil && !bytes.Equal(s.Snapshot(), b) {
			t.Fatalf("accepted non-canonical %x", b)
		}
	})
}
