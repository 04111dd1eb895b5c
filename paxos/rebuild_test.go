package paxos

import (
	"fmt"
	"math/rand/v2"
	"slices"
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

// TestRebuildForgottenPromise plays, in a group of five, the schedule a
// rebuild that ignores the lost disk's promises gets wrong: replica 3 is
// a candidate at a high ballot, holding the promise of replica 5 (and
// nobody else's); replica 5 loses its disk and rebuilds while leader 1
// goes on at its lower ballot; 1 then gets a value chosen with 5's help,
// and 3 completes its phase 1 with 4 and 5's old promise, never hearing
// of it. Here 3 is unreachable for 5, so 5 cannot learn 3's ballot and
// must stay out of every quorum. A rebuild that resumes without every
// peer's ballot fails the check below; with that check taken out, the
// schedule goes on to choose "v" and "w" for one slot, which the
// agreement check (after every step) reports.
func TestRebuildForgottenPromise(t *testing.T) {
	c := newTestCluster(t, 5, 3)
	c.run(200)
	if c.leader() != 1 {
		t.Fatalf("leader %d, want 1", c.leader())
	}
	for i := range 3 {
		if err := c.propose(1, fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
		c.run(5)
	}
	c.run(50)
	// Replica 3 runs phase 1 at a ballot above the leader's; only 5,
	// which is made to stop hearing the leader, gets its prepare.
	c.partition([]ID{3}, []ID{1, 2, 4})
	c.reps[5].leader = 0
	c.reps[3].startElection()
	b := c.reps[3].Ballot()
	c.drain()
	for k := 0; k < 50 && c.reps[5].Promised() != b; k++ {
		c.deliverOne()
	}
	// 5's promise reaches 3.
	for k := 0; k < 200 && slices.ContainsFunc(c.queue, func(q queued) bool { return q.from == 5 && q.to == 3 }); k++ {
		c.deliverOne()
	}
	if c.reps[5].Promised() != b || c.reps[3].Role() != Candidate {
		t.Fatalf("replica 5 promised %v (want %v), replica 3 is %v", c.reps[5].Promised(), b, c.reps[3].Role())
	}
	// Replica 5 loses its disk; 3 stays a candidate at b (its timers are
	// not run) and cannot reach it any more.
	c.partition([]ID{3}, []ID{5})
	cand := c.reps[3]
	c.reps[3] = nil
	c.wipe(5, "nudge-5")
	c.run(300)
	if c.reps[5].Promised().Less(b) && !c.reps[5].Rebuilding() {
		t.Fatalf("replica 5 votes again, promising %v, below %v, which it promised before its loss to a candidate still counting it",
			c.reps[5].Promised(), b)
	}
	// The leader, cut off from 4, proposes v; 3 then completes phase 1
	// with 4 and 5's old promise and proposes its own value for v's slot.
	c.partition([]ID{1}, []ID{4})
	if err := c.propose(1, "v"); err != nil {
		t.Fatal(err)
	}
	// 5 accepts v (if it votes) but does not hear that v is chosen.
	for k := 0; k < 200 && !c.reps[5].holds("v"); k++ {
		c.deliverOne()
	}
	c.cut[[2]ID{1, 5}] = true
	c.run(100)
	c.reps[3] = cand
	c.heal()
	c.partition([]ID{3}, []ID{1, 2, 5})
	c.reps[4].leader = 0
	cand.sendPrepare(4, cand.commit)
	c.drain()
	for k := 0; k < 200 && cand.Role() != Leader; k++ {
		if !c.deliverOne() {
			break
		}
	}
	if cand.Role() == Leader {
		if err := c.propose(3, "w"); err != nil {
			t.Fatal(err)
		}
	}
	c.heal()
	c.run(400) // agreement is checked after every step
}

// holds reports whether the replica holds cmd in a slot, accepted or chosen.
func (r *Replica) holds(cmd string) bool {
	for n := r.log.start; n < r.log.end(); n++ {
		for _, c := range r.log.peek(n).cmds {
			if string(c) == cmd {
				return true
			}
		}
	}
	return false
}
