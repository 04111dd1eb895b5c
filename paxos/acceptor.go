package paxos

// The acceptor role: promises and acceptances. Every change here is
// persisted (and synced) before the reply that vouches for it can leave,
// because send only queues the reply behind the records (see Ready).

// promise raises the promised ballot durably. Promises never go down:
// every caller refuses a ballot below its promise first.
func (r *Replica) promise(b Ballot) {
	assert(!b.Less(r.promised), "replica %v: promise %v below promised %v", r.id, b, r.promised)
	if b == r.promised {
		return
	}
	r.promised = b
	r.persist(Record{Type: RecPromise, Ballot: b}, true)
}

// leaderAlive reports whether this replica hears from a live leader. A
// replica that does refuses other candidates' prepares: that keeps a node
// which cannot hear the leader (an asymmetric partition) from deposing it
// over and over. Refusing is always safe; it only delays an election, and
// only while the leader really is heard.
func (r *Replica) leaderAlive() bool {
	switch r.role {
	case Leader:
		return true
	case Follower:
		return r.leader != 0 && r.electionElapsed < r.cfg.ElectionTicks
	}
	return false
}

func (r *Replica) handlePrepare(m *Message) {
	sticky := m.From != r.id && m.Ballot != r.promised && m.From != r.leader && r.leaderAlive()
	if m.Ballot.Less(r.promised) || sticky {
		r.mark(MarkPrepareRefused)
		r.send(Message{Type: MsgPromise, To: m.From, Ballot: r.promised, Commit: r.commit, Reject: true})
		return
	}
	if r.promised.Less(m.Ballot) {
		r.promise(m.Ballot)
		if m.From != r.id {
			if r.role != Follower {
				r.markOutbid()
				r.becomeFollower(0)
			} else {
				// A follower stays one, but forgets its leader, drops its
				// own pre-vote round (moot: it promised another) and gives
				// the candidate time to finish.
				r.leader = 0
				r.preVote = preVoteState{}
				r.electionElapsed = 0
			}
		}
	}
	reply := Message{Type: MsgPromise, To: m.From, Ballot: m.Ballot, Commit: r.commit}
	reply.Entries, reply.More = r.entriesFrom(max(m.Slot, r.log.start), false)
	r.send(reply)
}

// entriesFrom collects non-empty slots from n on (only chosen ones if
// chosenOnly, stopping at the first gap in that case), up to the message
// budget. more reports that the budget cut the list short.
func (r *Replica) entriesFrom(n uint64, chosenOnly bool) (es []Entry, more bool) {
	size := 0
	for ; n < r.log.end(); n++ {
		s := r.log.peek(n)
		if s.state == SlotEmpty || (chosenOnly && s.state != SlotChosen) {
			if chosenOnly {
				break
			}
			continue
		}
		size += entryBytes(n, s.ballot, s.cmds)
		if size > r.cfg.MsgBytesMax && len(es) > 0 {
			return es, true
		}
		es = append(es, Entry{Slot: n, Ballot: s.ballot, Cmds: s.cmds})
	}
	return es, false
}

func (r *Replica) handleAccept(m *Message) {
	if m.Ballot.Less(r.promised) {
		r.mark(MarkAcceptRefused)
		r.send(Message{Type: MsgAccepted, To: m.From, Ballot: r.promised, Reject: true})
		return
	}
	r.promise(m.Ballot)
	if m.From != r.id {
		r.followLeader(m.From, m.Ballot)
	}
	var acks []uint64
	for i := range m.Entries {
		if r.acceptEntry(m.Ballot, &m.Entries[i]) {
			acks = append(acks, m.Entries[i].Slot)
		}
	}
	if len(acks) > 0 {
		r.send(Message{Type: MsgAccepted, To: m.From, Ballot: m.Ballot, Slots: acks})
	}
	r.learnCommit(m.Ballot, m.Commit, m.From)
}

// acceptEntry accepts one slot's value at ballot b and reports whether to
// acknowledge it.
func (r *Replica) acceptEntry(b Ballot, e *Entry) bool {
	if e.Slot < r.log.start {
		return true // chosen and compacted: the value can only be the chosen one
	}
	if e.Slot-r.log.start >= uint64(r.cfg.LogSlotsMax) {
		return false // too far ahead: catch up first
	}
	s := r.log.at(e.Slot)
	if s.state == SlotChosen {
		// Any proposal above the chosen ballot carries the chosen value;
		// one below it cannot gather a quorum. Acknowledge only the same.
		return sameCmds(s.cmds, e.Cmds)
	}
	// A value is accepted only at the ballot promised (handleAccept
	// promised it just now; a leader's ballot is its promise), and every
	// accepted ballot is at most the promise, so an accepted ballot never
	// goes down.
	assert(b == r.promised, "replica %v: accept slot %d at %v, promised %v", r.id, e.Slot, b, r.promised)
	assert(s.state == SlotEmpty || !b.Less(s.ballot),
		"replica %v: slot %d accepted at %v goes down to %v", r.id, e.Slot, s.ballot, b)
	s.state, s.ballot, s.cmds = SlotAccepted, b, e.Cmds
	r.persist(Record{Type: RecAccept, Entry: Entry{Slot: e.Slot, Ballot: b, Cmds: e.Cmds}}, true)
	return true
}

func (r *Replica) handleHeartbeat(m *Message) {
	if m.Ballot.Less(r.promised) {
		r.send(Message{Type: MsgHeartbeatAck, To: m.From, Ballot: r.promised, Reject: true})
		return
	}
	r.promise(m.Ballot)
	r.followLeader(m.From, m.Ballot)
	r.learnCommit(m.Ballot, m.Commit, m.From)
	r.send(Message{Type: MsgHeartbeatAck, To: m.From, Ballot: m.Ballot, Commit: r.commit})
}

// followLeader records that from leads at ballot b (at least our promise).
func (r *Replica) followLeader(from ID, b Ballot) {
	if r.role != Follower && r.ballot != b {
		r.markOutbid()
		r.becomeFollower(from)
	}
	r.leader = from
	r.electionElapsed = 0
	r.backoffAttempts = 0
	r.preVote = preVoteState{}
}
