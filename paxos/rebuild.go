package paxos

import "bytes"

// Rebuilding after a disk loss.
//
// An acceptor that lost its durable state (a wiped or replaced disk) must
// not simply start empty: it may have promised a ballot, or been one of
// the quorum that chose a value, and an empty acceptor could help a later
// ballot choose another value. Following "Paxos Made Live" (§5.1), such a
// replica rejoins as a non-voting member: it answers no prepare, accepts
// nothing, acknowledges no heartbeat and starts no election, so it is part
// of no quorum; it learns every chosen slot (by catch-up and snapshot) and
// votes again only once it has seen a complete instance that began after
// it started rebuilding.
//
// Which instance began after the rebuild started is made certain rather
// than guessed: the rebuilding replica forwards a command of its own (the
// host's, Config.Rejoin, unique to this rebuild) to the leader, and waits
// until the slot that carries it is chosen and every slot below it is
// chosen and known here. That slot was proposed after the rebuild started,
// by a leader that had by then proposed or learned every slot below it,
// and a quorum without this replica accepted it, so every value the lost
// disk helped choose is among what it now knows chosen.
//
// That does not cover the promises the lost disk made: a candidate whose
// prepare it answered before the loss may still be collecting promises,
// counting that one, and Multi-Paxos's phase 1 covers every future slot.
// So the rebuilding replica also asks every other replica for the highest
// ballot it has seen (MsgCatchup with More; the answer is a MsgChosen
// with More and that ballot) and waits for all of them. Any ballot the
// lost disk promised was a candidate's, and that candidate has seen it
// (or has crashed since, and its candidacy with it); any ballot under
// which a value of the lost disk's own candidacy was accepted is one its
// acceptors have seen. The replica then promises the highest ballot it
// has seen, durably, which is at least all of those, and votes again.
// Until that promise is durable (the Ready that carries it is retired),
// Rebuilding stays true, so a host that keeps a "rebuilding" mark on disk
// clears it only once a restart would find the promise. A rebuild needs
// every other replica to answer, besides a majority to choose its slot.

// rebuildState is a rebuilding replica's progress; nil once it votes.
type rebuildState struct {
	nudge   []byte // the command whose chosen slot ends the rebuild
	resend  int    // ticks until the nudge is forwarded again
	resumed bool   // the nudge's slot is chosen: the promise is on its way to disk
	syncSeq uint64 // the outbox sync that carries the promise
	slot    uint64 // where the nudge was chosen
	// leading: the ballot of the leader followed (its commands go
	// there). Not maxSeen: a candidate that lost may have gone higher.
	leading Ballot
	found   bool   // the nudge's slot is chosen and known, at slot
	heard   uint64 // peers (bit = index in Config.Peers) that told their highest ballot
}

// Rebuilding reports whether the replica is rebuilding after a disk loss
// and not yet voting with a durable promise.
func (r *Replica) Rebuilding() bool { return r.rebuild != nil }

// RebuiltAt is the slot whose choice ended the rebuild (0 if none did).
func (r *Replica) RebuiltAt() uint64 { return r.rebuiltAt }

// voting reports whether this replica may vote: promise, accept,
// acknowledge a leader.
func (r *Replica) voting() bool { return r.rebuild == nil || r.rebuild.resumed }

// startRebuild puts a replica restored from what is left of its disk (a
// fresh replica, or one whose earlier rebuild was cut short) into the
// rebuilding state.
func (r *Replica) startRebuild(nudge []byte) {
	r.rebuild = &rebuildState{nudge: bytes.Clone(nudge), resend: 1}
	r.electionTimeout = r.cfg.ElectionTicks // no lead-first
}

// stepRebuilding handles a peer's message while not voting. It reports
// whether it did (the message needs nothing else).
func (r *Replica) stepRebuilding(m *Message) bool {
	switch m.Type {
	case MsgPrepare, MsgPreVote:
		r.mark(MarkRebuildIgnored)
		return true // no promise, no opinion
	case MsgAccept, MsgHeartbeat:
		// Nothing accepted, nothing acknowledged; but the leader is
		// known (commands are forwarded to it) and its commit says
		// what to catch up on.
		if !m.Ballot.Less(r.rebuild.leading) {
			r.rebuild.leading = m.Ballot
			r.leader = m.From
			r.electionElapsed = 0
		}
		r.learnCommit(m.Ballot, m.Commit, m.From)
		return true
	}
	return false
}

// tickRebuilding replaces the follower's election timer while rebuilding:
// the nudge is forwarded to the leader until its slot is chosen.
func (r *Replica) tickRebuilding() {
	r.electionElapsed++
	if r.rebuild.resumed {
		return
	}
	r.rebuild.resend--
	if r.rebuild.resend > 0 {
		return
	}
	r.rebuild.resend = r.cfg.ResendTicks
	if r.leader != 0 && r.leader != r.id && len(r.forward) < r.cfg.PendingCmdsMax {
		r.forward = append(r.forward, r.rebuild.nudge)
	}
	for i, p := range r.cfg.Peers {
		if p != r.id && r.rebuild.heard&(1<<i) == 0 {
			r.send(Message{Type: MsgCatchup, To: p, Slot: r.commit, More: true})
		}
	}
}

// answerBallotQuery answers a rebuilding peer's question (MsgCatchup with
// More): the highest ballot this replica has seen, whatever it has to
// offer otherwise.
func (r *Replica) answerBallotQuery(m *Message) {
	r.send(Message{Type: MsgChosen, To: m.From, Ballot: r.maxSeen, Commit: r.commit, More: true})
}

// ballotReported takes a peer's answer (MsgChosen with More); stepMsg has
// raised maxSeen to its ballot already. Outside a rebuild it is stale.
func (r *Replica) ballotReported(m *Message) {
	if r.rebuild == nil || r.rebuild.resumed {
		return
	}
	if i := r.peerIndex(m.From); i >= 0 {
		r.rebuild.heard |= 1 << i
	}
	r.maybeResume()
}

// maybeResume ends the rebuild once the nudge's slot is known chosen and
// every other replica has told its highest ballot.
func (r *Replica) maybeResume() {
	rb := r.rebuild
	all := uint64(1)<<len(r.cfg.Peers) - 1
	if rb.found && rb.heard|1<<r.self == all {
		r.resume(rb.slot)
	}
}

// rebuildChosen looks for the nudge among slots just added to the chosen
// prefix [from, to), and resumes voting when it finds it.
func (r *Replica) rebuildChosen(from, to uint64) {
	if r.rebuild == nil || r.rebuild.resumed {
		return
	}
	for n := from; n < to; n++ {
		s := r.log.peek(n)
		for _, c := range s.cmds {
			if bytes.Equal(c, r.rebuild.nudge) && !r.rebuild.found {
				r.rebuild.found, r.rebuild.slot = true, n
				r.maybeResume()
				return
			}
		}
	}
}

// resume ends the rebuild: every slot up to the nudge's is chosen and
// known here, and every other replica has told its highest ballot. The
// replica promises the highest ballot it has seen, so that it cannot
// accept below anything the lost disk promised, and votes from now on.
func (r *Replica) resume(slot uint64) {
	r.rebuild.resumed = true
	r.rebuild.slot = slot
	r.mark(MarkRebuilt)
	// The nudge went to a leader this replica heard, so it saw a ballot;
	// the promise record is also what tells a restart that the rebuild
	// finished (Restore).
	assert(!r.maxSeen.IsZero(), "replica %v: rebuilt without seeing a ballot", r.id)
	r.promised = r.maxSeen
	r.persist(Record{Type: RecPromise, Ballot: r.promised}, true)
	r.rebuild.syncSeq = r.out.syncSeq
	r.electionElapsed = 0
	r.resetElectionTimeout()
}

// rebuildRetired ends the rebuilding state once the Ready carrying the
// promise was retired: the promise is durable.
func (r *Replica) rebuildRetired(syncSeq uint64) {
	if r.rebuild != nil && r.rebuild.resumed && syncSeq >= r.rebuild.syncSeq {
		r.rebuiltAt = r.rebuild.slot
		r.rebuild = nil
	}
}
