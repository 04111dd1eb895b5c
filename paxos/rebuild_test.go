package paxos

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// wipe crashes replica id, loses its whole disk, and restarts it
// rebuilding with the given nudge.
func (c *testCluster) wipe(id ID, nudge string) {
	c.crash(id)
	c.disk[id] = nil
	cfg := c.cfgs[id]
	cfg.Rejoin = []byte(nudge)
	c.cfgs[id] = cfg
	c.restart(id)
}

// TestRebuildVotesInNoQuorum: a replica rebuilding after a disk loss is
// part of no quorum: with it and the leader alone up (the third replica
// down), nothing is chosen and it promises nothing; once the third is back
// the rebuilder catches up, sees its own command chosen, and only then
// votes, so that it alone with the leader then makes progress.
func TestRebuildVotesInNoQuorum(t *testing.T) {
	c := newTestCluster(t, 3, 7)
	c.run(200)
	l := c.leader()
	if l != 1 {
		t.Fatalf("leader %d, want 1", l)
	}
	for i := 0; i < 20; i++ {
		if err := c.propose(l, fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
		c.run(5)
	}
	c.run(100)
	c.wipe(3, "nudge-3")
	if !c.reps[3].Rebuilding() || c.reps[3].Role() != Follower {
		t.Fatalf("wiped replica: rebuilding %v, role %v", c.reps[3].Rebuilding(), c.reps[3].Role())
	}
	// Replica 2 down: the leader and the rebuilder are no quorum.
	c.crash(2)
	if err := c.propose(l, "during"); err != nil {
		t.Fatal(err)
	}
	c.run(400)
	if c.hasApplied(1, "during") || c.hasApplied(3, "during") {
		t.Fatal("a command was chosen by the leader and a rebuilding replica alone")
	}
	if p := c.reps[3].Promised(); !p.IsZero() {
		t.Fatalf("the rebuilding replica promised %v", p)
	}
	for _, rec := range c.disk[3] {
		if rec.Type == RecPromise || rec.Type == RecAccept {
			t.Fatalf("the rebuilding replica wrote a vote: %+v", rec)
		}
	}
	// Back with a quorum: the rebuilder learns everything chosen so far,
	// its nudge gets chosen, and it votes again.
	c.restart(2)
	c.run(600)
	if c.reps[3].Rebuilding() {
		t.Fatal("still rebuilding with the whole group up")
	}
	at := c.reps[3].RebuiltAt()
	if !c.hasApplied(3, "before-0") || !c.hasApplied(3, "during") || !c.hasApplied(3, "nudge-3") {
		t.Fatalf("rebuilt replica applied %q", c.appliedCmds(3))
	}
	if got := c.reps[3].Commit(); got <= at {
		t.Fatalf("rebuilt at slot %d with commit %d: the nudge's slot is not in the chosen prefix", at, got)
	}
	if p := c.reps[3].Promised(); p.IsZero() {
		t.Fatal("rebuilt replica promised nothing")
	}
	synced := false
	for _, rec := range c.disk[3] {
		synced = synced || (rec.Type == RecPromise && rec.Ballot == c.reps[3].Promised())
	}
	if !synced {
		t.Fatalf("rebuilt replica's promise %v is not on its disk", c.reps[3].Promised())
	}
	// Now it counts: replica 2 down again, the leader and 3 choose.
	c.crash(2)
	l = c.leader()
	if l == 0 {
		c.run(600)
		l = c.leader()
	}
	if err := c.propose(l, "after"); err != nil {
		t.Fatal(err)
	}
	c.run(400)
	if !c.hasApplied(3, "after") {
		t.Fatalf("the rebuilt replica does not vote: applied %q", c.appliedCmds(3))
	}
}

// TestRebuildCutShort: a rebuilding replica that crashes before it votes
// again rebuilds again from what it wrote (chosen values only), and never
// votes on the strength of a partial rebuild.
func TestRebuildCutShort(t *testing.T) {
	c := newTestCluster(t, 3, 11)
	c.run(200)
	for i := 0; i < 10; i++ {
		if err := c.propose(c.leader(), fmt.Sprintf("v%d", i)); err != nil {
			t.Fatal(err)
		}
		c.run(5)
	}
	c.crash(2) // no quorum without 2: the nudge cannot be chosen
	c.wipe(3, "nudge-a")
	c.run(300)
	if !c.reps[3].Rebuilding() || !c.hasApplied(3, "v9") {
		t.Fatalf("rebuilding %v, applied %q", c.reps[3].Rebuilding(), c.appliedCmds(3))
	}
	c.crash(3)
	cfg := c.cfgs[3]
	cfg.Rejoin = []byte("nudge-b")
	c.cfgs[3] = cfg
	c.restart(3) // its host still finds the rebuild unfinished
	c.restart(2)
	c.run(600)
	if c.reps[3].Rebuilding() || !c.hasApplied(3, "nudge-b") {
		t.Fatalf("second rebuild: rebuilding %v, applied %q", c.reps[3].Rebuilding(), c.appliedCmds(3))
	}
}

// TestRebuildPromisesEveryPeersHighestBallot: the lost disk may have
// promised a candidate's ballot that candidate is still counting, so a
// rebuilt replica votes only once every other replica has told it the
// highest ballot it has seen, and promises at least that: here replica 2
// reports 9.2 while the leader is at 1.1, and the rebuilt replica then
// refuses the leader's accepts. With the nudge chosen but one replica
// silent, it does not resume.
func TestRebuildPromisesEveryPeersHighestBallot(t *testing.T) {
	cfg := DefaultConfig(3, []ID{1, 2, 3})
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	cfg.Rejoin = []byte("nudge")
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lead := Ballot{Round: 1, Node: 1}
	r.Step(&Message{Type: MsgHeartbeat, From: 1, To: 3, Ballot: lead})
	for range cfg.ResendTicks {
		r.Tick()
	}
	rd := r.Ready()
	var asked []ID
	forwarded := false
	for _, m := range rd.Messages {
		switch {
		case m.Type == MsgCatchup && m.More:
			asked = append(asked, m.To)
		case m.Type == MsgForward && m.To == 1 && len(m.Entries) == 1 && string(m.Entries[0].Cmds[0]) == "nudge":
			forwarded = true
		case m.Type == MsgHeartbeatAck || m.Type == MsgAccepted || m.Type == MsgPromise:
			t.Fatalf("a rebuilding replica sent %v", DescribeMessage(&m))
		}
	}
	r.Advance()
	if !forwarded || fmt.Sprint(asked) != "[1 2]" {
		t.Fatalf("forwarded the nudge: %v; asked %v for their ballots, want [1 2]", forwarded, asked)
	}
	// The nudge is chosen (slot 0) and known here; only replica 1 answered.
	r.Step(&Message{Type: MsgAccept, From: 1, To: 3, Ballot: lead, Commit: 1,
		Entries: []Entry{{Slot: 0, Ballot: lead, Cmds: [][]byte{[]byte("nudge")}}}})
	r.Step(&Message{Type: MsgChosen, From: 1, To: 3, Commit: 1, Entries: []Entry{{Slot: 0, Ballot: lead, Cmds: [][]byte{[]byte("nudge")}}}})
	r.Step(&Message{Type: MsgChosen, From: 1, To: 3, Ballot: lead, Commit: 1, More: true})
	if r.Commit() != 1 || !r.Rebuilding() || !r.Promised().IsZero() {
		t.Fatalf("commit %d, rebuilding %v, promised %v: want 1, still rebuilding, nothing promised", r.Commit(), r.Rebuilding(), r.Promised())
	}
	high := Ballot{Round: 9, Node: 2}
	r.Step(&Message{Type: MsgChosen, From: 2, To: 3, Ballot: high, Commit: 1, More: true})
	if r.Promised() != high {
		t.Fatalf("promised %v after every peer answered, want %v", r.Promised(), high)
	}
	rd = r.Ready()
	durable := false
	for _, rec := range rd.Records {
		durable = durable || rec.Type == RecPromise && rec.Ballot == high
	}
	if !durable || !rd.Sync || !r.Rebuilding() {
		t.Fatalf("the promise's Ready: records %v sync %v; rebuilding %v until it is retired", rd.Records, rd.Sync, r.Rebuilding())
	}
	r.Advance()
	if r.Rebuilding() || r.RebuiltAt() != 0 {
		t.Fatalf("after the promise is durable: rebuilding %v, rebuilt at %d (want false, slot 0)", r.Rebuilding(), r.RebuiltAt())
	}
	r.Step(&Message{Type: MsgAccept, From: 1, To: 3, Ballot: lead, Commit: 1,
		Entries: []Entry{{Slot: 1, Ballot: lead, Cmds: [][]byte{[]byte("v")}}}})
	rd = r.Ready()
	for _, m := range rd.Messages {
		if m.Type == MsgAccepted && !m.Reject {
			t.Fatalf("accepted below the ballot it promised: %v", DescribeMessage(&m))
		}
	}
	r.Advance()
}
