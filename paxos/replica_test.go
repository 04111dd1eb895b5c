package paxos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestFirstElectionReplicaOneLeads(t *testing.T) {
	for _, n := range []int{1, 3, 5, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := newTestCluster(t, n, 1)
			c.run(5)
			if l := c.leader(); l != 1 {
				t.Fatalf("leader = %d, want 1", l)
			}
			for i := 0; i < 10; i++ {
				if err := c.propose(ID(1+i%n), fmt.Sprintf("cmd%d", i)); err != nil {
					t.Fatalf("propose: %v", err)
				}
				c.run(2)
			}
			c.run(30)
			want := c.appliedCmds(1)
			if len(want) != 10 {
				t.Fatalf("replica 1 applied %d commands, want 10: %v", len(want), want)
			}
			for _, id := range c.ids {
				if got := c.appliedCmds(id); !slices.Equal(got, want) {
					t.Errorf("replica %d applied %v, want %v", id, got, want)
				}
			}
		})
	}
}

func TestLeaderCrashReelection(t *testing.T) {
	c := newTestCluster(t, 5, 2)
	c.run(5)
	c.propose(1, "before")
	c.run(5)
	c.crash(1)
	c.run(300)
	l := c.leader()
	if l == 0 || l == 1 {
		t.Fatalf("no new leader after crash: %d", l)
	}
	c.propose(l, "after")
	c.run(10)
	for _, id := range c.ids[1:] {
		if got := c.appliedCmds(id); !slices.Equal(got, []string{"before", "after"}) {
			t.Errorf("replica %d applied %v", id, got)
		}
	}
}

func TestDuelingProposersConverge(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		c := newTestCluster(t, 5, seed)
		// Everyone starts an election at once, repeatedly: only backoff
		// lets one of them finish phase 1 and then hold on.
		for _, id := range c.ids {
			c.reps[id].startElection()
		}
		c.drain()
		c.run(400)
		l := c.leader()
		if l == 0 {
			t.Fatalf("seed %d: no single leader after 400 ticks", seed)
		}
		c.propose(l, "x")
		c.run(10)
		for _, id := range c.ids {
			if !c.hasApplied(id, "x") {
				t.Fatalf("seed %d: replica %d did not apply x", seed, id)
			}
		}
	}
}

func TestMinorityCannotChoose(t *testing.T) {
	c := newTestCluster(t, 5, 3)
	c.run(5)
	c.partition([]ID{1, 2}, []ID{3, 4, 5})
	before := c.reps[1].Commit()
	c.reps[1].Propose([]byte("minority"))
	c.reps[2].Propose([]byte("minority2"))
	c.drain()
	c.run(300)
	for _, id := range []ID{1, 2} {
		if c.hasApplied(id, "minority") || c.reps[id].Commit() != before {
			t.Fatalf("replica %d in the minority chose something (commit %d -> %d)", id, before, c.reps[id].Commit())
		}
	}
	l := c.leader()
	if l < 3 {
		t.Fatalf("majority did not elect a leader: %d", l)
	}
	c.propose(l, "majority")
	c.run(20)
	for _, id := range []ID{3, 4, 5} {
		if !c.hasApplied(id, "majority") {
			t.Fatalf("majority replica %d did not apply", id)
		}
	}
	c.heal()
	c.run(300)
	for _, id := range c.ids {
		if !c.hasApplied(id, "majority") {
			t.Fatalf("replica %d did not catch up after heal", id)
		}
	}
}

func TestHoleFillingAfterLeaderChange(t *testing.T) {
	c := newTestCluster(t, 3, 4)
	c.run(5)
	// Leader 1 proposes three slots, but only the third reaches replica 2;
	// then it dies. The new leader must keep slot 2's value (it may have
	// been chosen: 1 and 2 form a quorum) and fill the others with no-ops.
	c.partition([]ID{1}, []ID{2, 3})
	for _, cmd := range []string{"a", "b", "c"} {
		c.reps[1].Propose([]byte(cmd))
		c.drain()
	}
	var kept []queued
	for _, q := range c.queue {
		var m Message
		DecodeMessage(q.pkt, &m)
		if m.Type == MsgAccept && q.to == 2 && len(m.Entries) > 0 && string(m.Entries[0].Cmds[0]) == "c" {
			kept = append(kept, q)
		}
	}
	c.queue = kept
	c.heal()
	c.cut[[2]ID{1, 2}], c.cut[[2]ID{1, 3}] = false, false
	for c.deliverOne() {
	}
	c.crash(1)
	c.run(400)
	l := c.leader()
	if l == 0 {
		t.Fatal("no leader")
	}
	got := c.appliedCmds(2)
	if !slices.Equal(got, []string{"c"}) {
		t.Fatalf("after hole filling replica 2 applied %v, want [c] (holes as no-ops)", got)
	}
	if n := len(c.applied[2]); n < 3 {
		t.Fatalf("replica 2 applied %d slots, want >= 3 (two no-ops and c)", n)
	}
}

func TestLaggingReplicaCatchesUp(t *testing.T) {
	c := newTestCluster(t, 3, 5)
	c.run(5)
	c.partition([]ID{3}, []ID{1, 2})
	for i := 0; i < 50; i++ {
		c.propose(1, fmt.Sprintf("c%d", i))
		c.run(1)
	}
	c.run(10)
	if len(c.appliedCmds(3)) != 0 {
		t.Fatal("isolated replica applied something")
	}
	c.heal()
	c.run(100)
	if got, want := c.appliedCmds(3), c.appliedCmds(1); !slices.Equal(got, want) || len(want) != 50 {
		t.Fatalf("lagging replica has %d commands, leader %d", len(got), len(want))
	}
}

func TestSnapshotInstall(t *testing.T) {
	c := newTestCluster(t, 3, 6)
	c.snapAt = 10
	c.run(5)
	c.partition([]ID{3}, []ID{1, 2})
	for i := 0; i < 60; i++ {
		c.propose(1, fmt.Sprintf("c%d", i))
		c.run(1)
	}
	c.run(10)
	if c.reps[1].FirstSlot() == 0 {
		t.Fatal("leader never compacted")
	}
	c.heal()
	c.run(200)
	r3 := c.reps[3]
	if r3.SnapshotSlot() == 0 {
		t.Fatal("lagging replica did not install a snapshot")
	}
	if r3.Commit() != c.reps[1].Commit() {
		t.Fatalf("replica 3 commit %d, leader %d", r3.Commit(), c.reps[1].Commit())
	}
}

func TestCrashRestartKeepsChosen(t *testing.T) {
	c := newTestCluster(t, 3, 7)
	c.run(5)
	for i := 0; i < 20; i++ {
		c.propose(1, fmt.Sprintf("c%d", i))
		c.run(1)
	}
	c.run(10)
	chosen := map[uint64][][]byte{}
	for k, v := range c.chosen {
		chosen[k] = v
	}
	for _, id := range c.ids {
		c.crash(id)
	}
	for _, id := range c.ids {
		c.restart(id)
	}
	c.run(400)
	l := c.leader()
	if l == 0 {
		t.Fatal("no leader after full restart")
	}
	c.propose(l, "later")
	c.run(20)
	for _, id := range c.ids {
		got := c.appliedCmds(id)
		if len(got) != 21 || got[20] != "later" {
			t.Fatalf("replica %d after restart applied %v", id, got)
		}
	}
	// checkAgreement ran after every event against values chosen before
	// the crash; make sure it still knows them.
	for k, v := range chosen {
		if !sameCmds(c.chosen[k], v) {
			t.Fatalf("slot %d changed", k)
		}
	}
}

// TestRandomFaults drives proposals through message loss, reordering,
// partitions and crashes; checkAgreement runs after every event, and once
// the faults stop every proposal that was taken must be applied everywhere.
func TestRandomFaults(t *testing.T) { randomFaults(t, 0) }

// TestRandomFaultsPipelined: the same, with hosts that Step and Tick
// between writing a Ready and Advance, as one that syncs in the
// background does: nothing those calls cause may be lost or reordered
// against durability.
func TestRandomFaultsPipelined(t *testing.T) { randomFaults(t, 0.5) }

func randomFaults(t *testing.T, stepDuring float64) {
	seeds := 60
	if testing.Short() {
		seeds = 10
	}
	stepped := 0
	defer func() {
		if stepDuring > 0 && !t.Failed() && stepped == 0 {
			t.Fatal("no message was stepped between Ready and Advance: the test exercised nothing")
		}
	}()
	for seed := uint64(100); seed < uint64(100+seeds); seed++ {
		n := []int{1, 3, 5}[seed%3]
		c := newTestCluster(t, n, seed)
		c.stepDuring = stepDuring
		defer func() { stepped += c.steppedIn }()
		c.snapAt = uint64(5 + seed%20)
		rng := rand.New(rand.NewPCG(seed, 7))
		c.dropP = 0.2
		next := 0
		for step := 0; step < 600; step++ {
			switch x := rng.IntN(100); {
			case x < 30:
				id := c.ids[rng.IntN(n)]
				if c.reps[id] != nil {
					c.reps[id].Propose([]byte(fmt.Sprintf("s%d-%d", seed, next)))
					next++
					c.drain()
				}
			case x < 33 && n > 1:
				id := c.ids[rng.IntN(n)]
				if c.reps[id] != nil {
					c.crash(id)
				} else {
					c.restart(id)
				}
			case x < 35 && n > 1:
				k := 1 + rng.IntN(n-1)
				c.heal()
				c.partition(c.ids[:k], c.ids[k:])
			case x < 38:
				c.heal()
			}
			c.tick()
		}
		c.heal()
		c.dropP = 0
		for _, id := range c.ids {
			if c.reps[id] == nil {
				c.restart(id)
			}
		}
		c.run(1500)
		// Live once healed: a command proposed now is chosen everywhere.
		l := c.leader()
		if l == 0 {
			t.Fatalf("seed %d: no leader after healing", seed)
		}
		c.propose(l, "final")
		c.run(100)
		if !c.hasApplied(l, "final") {
			t.Fatalf("seed %d: the leader did not apply the command proposed after healing", seed)
		}
		// Every replica then holds the same chosen prefix (a replica may
		// have got "final" inside a snapshot rather than applying it).
		base := c.reps[1].Commit()
		t.Logf("seed %d n=%d: %d proposals, commit %d, sent %d", seed, n, next, base, c.sent)
		for _, id := range c.ids {
			if got := c.reps[id].Commit(); got != base {
				t.Fatalf("seed %d: replica %d commit %d, replica 1 %d", seed, id, got, base)
			}
		}
	}
}

// TestLogStaysBounded: a long steady run with periodic snapshots keeps
// every replica's log, and the durable state it would rewrite, bounded.
func TestLogStaysBounded(t *testing.T) {
	c := newTestCluster(t, 3, 12)
	c.snapAt = 50
	c.run(5)
	maxLen, maxDurable := 0, 0
	for i := 0; i < 3000; i++ {
		c.propose(1, fmt.Sprintf("c%d", i))
		if i%7 == 0 {
			c.run(1)
		}
		for _, id := range c.ids {
			r := c.reps[id]
			maxLen = max(maxLen, len(r.log.s))
			maxDurable = max(maxDurable, len(r.DurableState()))
		}
	}
	c.run(20)
	if got := c.reps[1].Commit(); got < 300 {
		t.Fatalf("only %d slots chosen", got)
	}
	bound := int(c.snapAt) + c.cfgs[1].WindowSlots + 1
	if maxLen > bound || maxDurable > bound+2 {
		t.Fatalf("log grew to %d slots (durable state %d records); want <= %d", maxLen, maxDurable, bound)
	}
	t.Logf("3000 commands in %d slots: log at most %d slots, durable state at most %d records", c.reps[1].Commit(), maxLen, maxDurable)
}

// TestPreVoteAfterLeaderDies: once a follower's own election timer fires
// it no longer counts its old leader as alive, so it grants another
// replica's pre-vote and prepare instead of refusing them for another
// election timeout (found by the scenario catalogue: survivors of a
// leader crash refused each other for rounds on a slow network).
func TestPreVoteAfterLeaderDies(t *testing.T) {
	c := newTestCluster(t, 3, 21)
	c.run(5)
	c.crash(1)
	r2 := c.reps[2]
	for r2.preVote.ballot.IsZero() {
		r2.Tick()
	}
	if r2.leaderAlive() {
		t.Fatal("a pre-voting replica still counts its silent leader as alive")
	}
	r2.Step(&Message{Type: MsgPreVote, From: 3, To: 2, Ballot: Ballot{Round: 2, Node: 3}})
	acks := r2.Ready().Messages
	r2.Advance()
	for _, m := range acks {
		if m.Type == MsgPreVoteAck && m.Reject {
			t.Fatalf("pre-vote refused: %s", DescribeMessage(&m))
		}
	}
}

// TestPromiseCancelsPreVote: a replica that promised another candidate's
// prepare must not start phase 1 on a late yes to its own pre-vote.
func TestPromiseCancelsPreVote(t *testing.T) {
	c := newTestCluster(t, 3, 22)
	c.run(5)
	c.crash(1)
	r3 := c.reps[3]
	for r3.preVote.ballot.IsZero() {
		r3.Tick()
	}
	mine := r3.preVote.ballot
	r3.Step(&Message{Type: MsgPrepare, From: 2, To: 3, Ballot: Ballot{Round: mine.Round, Node: 2}})
	r3.Ready()
	r3.Advance()
	r3.Step(&Message{Type: MsgPreVoteAck, From: 2, To: 3, Ballot: mine})
	if r3.Role() != Follower {
		t.Fatalf("after promising 2, a late pre-vote yes made 3 a %v", r3.Role())
	}
}

// TestLeaderWaitsForOwnPromise: a host that delivers several packets
// before one flush (group commit) may hand a candidate a quorum of others'
// promises before its own promise record is durable. It must not lead
// (and send accepts) until its own promise counted, or after a power loss
// it could reuse the ballot with other values.
func TestLeaderWaitsForOwnPromise(t *testing.T) {
	c := newTestCluster(t, 5, 23)
	r := c.reps[1]
	r.Tick() // replica 1 starts its pre-vote at once
	rd := r.Ready()
	r.Advance()
	_ = rd
	for _, p := range []ID{2, 3, 4} {
		r.Step(&Message{Type: MsgPreVoteAck, From: p, To: 1, Ballot: r.preVote.ballot})
	}
	if r.Role() != Candidate {
		t.Fatalf("role %v after a quorum of pre-votes", r.Role())
	}
	b := r.Ballot()
	// Three promises in one batch, with no Ready/Advance in between.
	for _, p := range []ID{2, 3, 4} {
		r.Step(&Message{Type: MsgPromise, From: p, To: 1, Ballot: b})
	}
	if r.Role() == Leader {
		t.Fatal("leader before its own promise was durable")
	}
	r.Ready()
	r.Advance() // the self-promise is durable now and counts
	if r.Role() != Leader {
		t.Fatalf("role %v after its own promise counted", r.Role())
	}
}

// TestStepBetweenReadyAndAdvance: a follower whose Ready (an accepted
// entry and its Accepted) is written but not advanced takes a heartbeat;
// Advance retires only what the Ready handed out, so the heartbeat's ack
// comes in the next Ready, and nothing is handed out twice.
func TestStepBetweenReadyAndAdvance(t *testing.T) {
	c := newTestCluster(t, 3, 31)
	c.run(30)
	l := c.leader()
	if l == 0 {
		t.Fatal("no leader")
	}
	f := c.ids[0]
	if f == l {
		f = c.ids[1]
	}
	c.queue = nil
	lead, fol := c.reps[l], c.reps[f]
	mine := func(typ MsgType) Message {
		t.Helper()
		for i, q := range c.queue {
			var m Message
			if err := DecodeMessage(q.pkt, &m); err != nil {
				t.Fatal(err)
			}
			if q.to == f && m.Type == typ {
				c.queue = slices.Delete(c.queue, i, i+1)
				return m
			}
		}
		t.Fatalf("no %v for replica %d queued", typ, f)
		return Message{}
	}
	if err := lead.Propose([]byte("x")); err != nil {
		t.Fatal(err)
	}
	c.handleReady(l, lead)
	acc := mine(MsgAccept)
	fol.Step(&acc)
	rd := fol.Ready()
	if len(rd.Records) != 1 || len(rd.Messages) != 1 || rd.Messages[0].Type != MsgAccepted {
		t.Fatalf("follower's Ready: %d records, messages %v", len(rd.Records), rd.Messages)
	}
	for range lead.cfg.HeartbeatTicks {
		lead.Tick()
	}
	c.handleReady(l, lead)
	hb := mine(MsgHeartbeat)
	fol.Step(&hb) // between Ready and Advance
	fol.Advance()
	if !fol.HasReady() {
		t.Fatal("the heartbeat's ack was lost at Advance")
	}
	rd = fol.Ready()
	if len(rd.Records) != 0 || len(rd.Messages) != 1 || rd.Messages[0].Type != MsgHeartbeatAck {
		t.Fatalf("next Ready: %d records, messages %v; want just the HeartbeatAck", len(rd.Records), rd.Messages)
	}
	fol.Advance()
	if fol.HasReady() {
		t.Fatalf("still ready after both: %+v", fol.Ready())
	}
}

// TestForgedChosenIsCountedNotTaken: a Chosen message claiming another
// value for a slot this replica knows chosen (a forgery, in a group
// without a key, or a bug) is ignored and counted; the replica keeps
// running with its value.
func TestForgedChosenIsCountedNotTaken(t *testing.T) {
	c := newTestCluster(t, 3, 41)
	c.run(30)
	l := c.leader()
	if l == 0 {
		t.Fatal("no leader")
	}
	if err := c.propose(l, "real"); err != nil {
		t.Fatal(err)
	}
	c.run(20)
	r := c.reps[l]
	var slot uint64
	found := false
	for n := r.FirstSlot(); n < r.Commit(); n++ {
		if st, e := r.Slot(n); st == SlotChosen && len(e.Cmds) == 1 && string(e.Cmds[0]) == "real" {
			slot, found = n, true
		}
	}
	if !found {
		t.Fatal("the command was not chosen")
	}
	other := c.ids[0]
	if other == l {
		other = c.ids[1]
	}
	forged := Message{Type: MsgChosen, From: other, To: l, Commit: r.Commit(),
		Entries: []Entry{{Slot: slot, Ballot: Ballot{Round: 99, Node: other}, Cmds: [][]byte{[]byte("forged")}}}}
	r.Step(&forged) // must not panic
	if n, first := r.Conflicts(); n != 1 || first == "" {
		t.Fatalf("Conflicts() = %d, %q; want 1 and a description", n, first)
	}
	if _, e := r.Slot(slot); string(e.Cmds[0]) != "real" {
		t.Fatalf("slot %d now holds %q", slot, e.Cmds[0])
	}
	// The claim's higher ballot made the leader step down; the group
	// elects one again and goes on working.
	c.run(400)
	l = c.leader()
	if l == 0 {
		t.Fatal("no leader after the forged message")
	}
	if err := c.propose(l, "after"); err != nil {
		t.Fatal(err)
	}
	c.run(40)
	if !c.hasApplied(l, "after") {
		t.Fatal("the group stopped after the forged message")
	}
}

// TestSnapshotHandedOutSurvivesANewerOne: a host that steps between
// writing a Ready and installing its Snapshot may see another snapshot
// arrive meanwhile; the Ready must still describe the first (the replica
// used to hand out a pointer to its own current snapshot).
func TestSnapshotHandedOutSurvivesANewerOne(t *testing.T) {
	ids := []ID{1, 2, 3}
	cfg := DefaultConfig(2, ids)
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	snap := func(slot uint64, data string) *Message {
		return &Message{Type: MsgSnapshot, From: 1, To: 2, Ballot: Ballot{Round: 1, Node: 1}, Slot: slot,
			Commit: slot, Total: uint64(len(data)), Data: []byte(data)}
	}
	r.Step(snap(10, "ten"))
	rd := r.Ready()
	if rd.Snapshot == nil || rd.Snapshot.Slot != 10 {
		t.Fatalf("first Ready's snapshot: %+v", rd.Snapshot)
	}
	r.Step(snap(20, "twenty")) // after the write, before the install
	if rd.Snapshot.Slot != 10 || string(rd.Snapshot.Data) != "ten" {
		t.Fatalf("the handed-out snapshot changed to slot %d %q", rd.Snapshot.Slot, rd.Snapshot.Data)
	}
	r.Advance()
	rd = r.Ready()
	if rd.Snapshot == nil || rd.Snapshot.Slot != 20 {
		t.Fatalf("the newer snapshot was lost at Advance: %+v", rd.Snapshot)
	}
}
