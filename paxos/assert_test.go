package paxos

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// mustAssert runs f and fails unless it panics with an assertion failure
// whose message contains want.
func mustAssert(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		v := recover()
		msg, ok := v.(string)
		if !ok || !strings.HasPrefix(msg, assertPrefix) || !strings.Contains(msg, want) {
			t.Fatalf("panic %v; want an assertion failure containing %q", v, want)
		}
	}()
	f()
}

func TestAssertFiresWithPrefix(t *testing.T) {
	assert(true, "never")
	mustAssert(t, "slot 7 ballot 3.2 role leader ok true (unsupported assert argument)", func() {
		assert(false, "slot %d ballot %v role %v ok %v %v", uint64(7), Ballot{Round: 3, Node: 2}, Leader, true, []int{1})
	})
}

// TestAssertDoesNotAllocate: a passing assert costs a branch, not a heap
// allocation for its arguments.
func TestAssertDoesNotAllocate(t *testing.T) {
	n, b := uint64(1000), Ballot{Round: 1000, Node: 3}
	allocs := testing.AllocsPerRun(100, func() {
		n++
		assert(n > 0, "n %d ballot %v id %v state %v", n, b, ID(n), SlotState(n%3))
	})
	if allocs != 0 {
		t.Fatalf("a passing assert allocates %v times", allocs)
	}
}

// newTestReplica is a lone replica of a 3-replica group, for poking at.
func newTestReplica(t *testing.T, id ID) *Replica {
	t.Helper()
	cfg := DefaultConfig(id, []ID{1, 2, 3})
	cfg.Rand = rand.New(rand.NewPCG(uint64(id), 7))
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAssertReadyAdvancePairs(t *testing.T) {
	r := newTestReplica(t, 2)
	mustAssert(t, "Advance called without a Ready", r.Advance)

	r = newTestReplica(t, 2)
	r.Step(&Message{Type: MsgHeartbeat, From: 1, To: 2, Ballot: Ballot{Round: 1, Node: 1}})
	r.Ready()
	mustAssert(t, "Ready called again before Advance", func() { r.Ready() })

	r = newTestReplica(t, 2)
	r.Ready()
	mustAssert(t, "HasReady called between Ready and Advance", func() { r.HasReady() })
	r.Advance()
	r.HasReady()
	mustAssert(t, "Advance called without a Ready", r.Advance)
}

func TestAssertChosenOnlyAsAccepted(t *testing.T) {
	r := newTestReplica(t, 2)
	b := Ballot{Round: 1, Node: 1}
	r.Step(&Message{Type: MsgAccept, From: 1, To: 2, Ballot: b,
		Entries: []Entry{{Slot: 0, Ballot: b, Cmds: [][]byte{[]byte("x")}}}})
	s := r.log.peek(0)
	mustAssert(t, "slot 0 chosen at 2.3 but held accepted at 1.1", func() { r.choose(0, s, Ballot{Round: 2, Node: 3}) })
	r.choose(0, s, b)
	mustAssert(t, "slot 0 chosen at 1.1 but held chosen", func() { r.choose(0, s, b) })

	// Ready hands out to apply only what is held chosen.
	r = newTestReplica(t, 2)
	r.Step(&Message{Type: MsgAccept, From: 1, To: 2, Ballot: b,
		Entries: []Entry{{Slot: 0, Ballot: b, Cmds: [][]byte{[]byte("x")}}}})
	r.commit = 1 // as if advanceCommit had moved over an unchosen slot
	mustAssert(t, "slot 0 below commit 1 is handed out to apply but not held chosen", func() { r.Ready() })
}

func TestAssertAcceptorMonotonic(t *testing.T) {
	r := newTestReplica(t, 2)
	b1, b2 := Ballot{Round: 1, Node: 1}, Ballot{Round: 2, Node: 3}
	r.promise(b2)
	mustAssert(t, "replica 2: promise 1.1 below promised 2.3", func() { r.promise(b1) })

	e := Entry{Slot: 0, Ballot: b1, Cmds: [][]byte{[]byte("x")}}
	mustAssert(t, "replica 2: accept slot 0 at 1.1, promised 2.3", func() { r.acceptEntry(b1, &e) })

	r = newTestReplica(t, 2)
	r.promise(b1)
	r.log.at(0).state, r.log.at(0).ballot = SlotAccepted, b2 // as if accepted above the promise
	mustAssert(t, "replica 2: slot 0 accepted at 2.3 goes down to 1.1", func() { r.acceptEntry(b1, &e) })
}

// TestAssertInvariantsAfterEachCall: each public call ends by checking the
// replica-wide invariants; break one and the next call fires.
func TestAssertInvariantsAfterEachCall(t *testing.T) {
	cases := []struct {
		want    string
		corrupt func(r *Replica)
	}{
		{"applied 1, commit 0", func(r *Replica) { r.applied = 1 }},
		{"commit 5, log end 0", func(r *Replica) { r.commit = 5 }},
		{"log starts at 0, snapshot at 3", func(r *Replica) { r.snap.Slot = 3 }},
		{"highest ballot seen 0.0 below promised 1.1", func(r *Replica) { r.promised = Ballot{Round: 1, Node: 1} }},
		{"follower with ballot 1.2", func(r *Replica) { r.ballot = Ballot{Round: 1, Node: 2} }},
		{"leader at 1.2 believes 0 leads", func(r *Replica) { r.role, r.ballot = Leader, Ballot{Round: 1, Node: 2} }},
		{"candidate with a pre-vote round", func(r *Replica) {
			r.role, r.ballot, r.preVote.active = Candidate, Ballot{Round: 1, Node: 2}, true
		}},
		{"follower with candidate state", func(r *Replica) { r.cand.from = make([]uint64, 3) }},
		{"follower with leader state", func(r *Replica) { r.nextSlot = 4 }},
		{"follower with 1 commands for slots (at most", func(r *Replica) { r.pending = [][]byte{nil} }},
	}
	for _, c := range cases {
		r := newTestReplica(t, 2)
		c.corrupt(r)
		mustAssert(t, c.want, r.Tick)
	}
	r := newTestReplica(t, 2)
	r.applied = 1
	mustAssert(t, "applied 1", func() { r.Step(&Message{Type: MsgHeartbeat, From: 1, To: 2}) })
	mustAssert(t, "applied 1", func() { _ = r.Propose([]byte("x")) })
	mustAssert(t, "applied 1", func() { r.HasReady() })
	mustAssert(t, "applied 1", func() { r.Ready() })
}

func TestAssertRoleTransitions(t *testing.T) {
	r := newTestReplica(t, 2)
	mustAssert(t, "replica 2: follower leads at 0.0 without a complete phase 1", r.becomeLeader)

	r = newTestReplica(t, 2)
	r.startElection()
	r.cand.done = 0b111 // a quorum, itself included, but its own promise never asked for
	mustAssert(t, "replica 2: candidate leads at", r.becomeLeader)

	r = newTestReplica(t, 2)
	mustAssert(t, "replica 2: follower proposes into slot 0", func() { r.proposeAt(0, nil) })

	r = newTestReplica(t, 2)
	b := Ballot{Round: 1, Node: 1}
	r.Step(&Message{Type: MsgAccept, From: 1, To: 2, Ballot: b, Commit: 1,
		Entries: []Entry{{Slot: 0, Ballot: b}}})
	mustAssert(t, "replica 2: install snapshot at 1, commit is 1", func() { r.installSnapshot(Snapshot{Slot: 1}) })
}
