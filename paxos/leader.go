package paxos

import "slices"

// The leader role: phase 2 for its ballot, pipelined and batched.

// becomeLeader ends phase 1: every slot from the chosen prefix up to the
// highest slot any promiser reported is proposed again at the new ballot,
// with the chosen value if known, else the highest-ballot value reported,
// else a no-op that fills the hole.
func (r *Replica) becomeLeader() {
	// Paired with maybeLead: phase 1 is complete for this ballot, its own
	// promise (asked for last) counted, and no promised value was lost.
	assert(r.role == Candidate && popcount(r.cand.done) >= r.quorum && r.cand.done&(1<<r.self) != 0 &&
		r.cand.askedSelf && r.commit >= r.cand.peerCommit && !r.cand.dropped && r.promised == r.ballot,
		"replica %v: %v leads at %v without a complete phase 1 (promised %v)", r.id, r.role, r.ballot, r.promised)
	r.role = Leader
	r.step = stepLeader
	r.tick = tickLeader
	r.leader = r.id
	r.backoffAttempts = 0
	r.resetLeaderState()
	end := r.commit
	if last, ok := r.cand.best.lastNonEmpty(); ok {
		end = max(end, last+1)
	}
	if last, ok := r.log.lastNonEmpty(); ok {
		end = max(end, last+1)
	}
	var out []Entry
	for n := r.commit; n < end; n++ {
		var cmds [][]byte
		if s := r.log.peek(n); s != nil && s.state == SlotChosen {
			cmds = s.cmds
		} else if b := r.cand.best.peek(n); b != nil && b.state != SlotEmpty {
			cmds = b.cmds
		}
		r.markReproposed(n)
		out = append(out, r.proposeAt(n, cmds))
	}
	r.nextSlot = end
	r.cand = candidateState{}
	r.proposePending()
	if len(out) == 0 {
		r.broadcast(Message{Type: MsgHeartbeat, Ballot: r.ballot, Commit: r.commit})
	}
	r.sendAccepts(out)
}

// markReproposed reports what phase 1 gave slot n: a value a promise
// reported, or nothing (a hole, filled with a no-op).
func (r *Replica) markReproposed(n uint64) {
	if r.cfg.Mark == nil {
		return
	}
	if s := r.log.peek(n); s != nil && s.state == SlotChosen {
		return
	}
	if b := r.cand.best.peek(n); b != nil && b.state != SlotEmpty {
		r.mark(MarkValueRecovered)
	} else {
		r.mark(MarkHoleFilled)
	}
}

// proposeAt accepts a value locally at the leader's ballot and returns the
// entry to send. The leader's own acknowledgment is queued behind the
// record, so its vote counts only once durable.
func (r *Replica) proposeAt(n uint64, cmds [][]byte) Entry {
	// Below the chosen prefix there is nothing left to propose into.
	assert(r.role == Leader && n >= r.commit, "replica %v: %v proposes into slot %d, commit %d", r.id, r.role, n, r.commit)
	e := Entry{Slot: n, Ballot: r.ballot, Cmds: cmds}
	if r.acceptEntry(r.ballot, &e) {
		if s := r.log.peek(n); s != nil {
			s.acks = 0
		}
		r.send(Message{Type: MsgAccepted, To: r.id, Ballot: r.ballot, Slots: []uint64{n}})
	}
	return e
}

// proposePending packs queued commands into new slots while the pipeline
// window has room.
func (r *Replica) proposePending() {
	var out []Entry
	r.nextSlot = max(r.nextSlot, r.commit) // never into a chosen or compacted slot
	for len(r.pending) > 0 && r.nextSlot < r.commit+uint64(r.cfg.WindowSlots) {
		k, size := 0, 0
		for k < len(r.pending) && k < r.cfg.BatchCmdsMax {
			size += len(r.pending[k])
			if size > r.cfg.BatchBytesMax && k > 0 {
				break
			}
			k++
		}
		batch := slices.Clone(r.pending[:k])
		n := copy(r.pending, r.pending[k:])
		clear(r.pending[n:])
		r.pending = r.pending[:n]
		out = append(out, r.proposeAt(r.nextSlot, batch))
		r.nextSlot++
	}
	if len(out) > 0 {
		r.sendAccepts(out)
		r.commitDirty = false // the accepts carry the commit
	}
}

// sendAccepts sends entries to every other replica, split to fit messages.
func (r *Replica) sendAccepts(out []Entry) {
	for len(out) > 0 {
		k, size := 0, 0
		for k < len(out) {
			size += entryBytes(out[k].Slot, out[k].Ballot, out[k].Cmds)
			if size > r.cfg.MsgBytesMax && k > 0 {
				break
			}
			k++
		}
		r.broadcast(Message{Type: MsgAccept, Ballot: r.ballot, Commit: r.commit, Entries: out[:k:k]})
		out = out[k:]
	}
}

// broadcast sends m to every other replica.
func (r *Replica) broadcast(m Message) {
	for _, p := range r.cfg.Peers {
		if p != r.id {
			m.To = p
			r.send(m)
		}
	}
}

// broadcastCommit tells followers the commit advanced, right away, so a
// replica that took a client's request can answer it without waiting for
// the next heartbeat. An Accept without entries asks for no reply.
func (r *Replica) broadcastCommit() {
	r.broadcast(Message{Type: MsgAccept, Ballot: r.ballot, Commit: r.commit})
}

func stepLeader(r *Replica, m *Message) {
	switch m.Type {
	case MsgAccepted:
		r.handleAccepted(m)
	case MsgHeartbeatAck:
		if m.Reject {
			if r.ballot.Less(m.Ballot) {
				r.mark(MarkLeaderDeposed)
				r.becomeFollower(0)
			}
			return
		}
		if m.Ballot == r.ballot {
			r.active |= 1 << r.peerIndex(m.From)
		}
	case MsgForward:
		if len(m.Entries) == 1 {
			for _, c := range m.Entries[0].Cmds {
				_ = r.propose(c) // a full queue drops it; the client retries
			}
		}
	}
}

func (r *Replica) handleAccepted(m *Message) {
	if m.Reject {
		if r.ballot.Less(m.Ballot) {
			r.mark(MarkLeaderDeposed)
			r.becomeFollower(0)
		}
		return
	}
	if m.Ballot != r.ballot {
		return
	}
	pi := r.peerIndex(m.From)
	bit := uint64(1) << pi
	r.active |= bit
	for _, n := range m.Slots {
		s := r.log.peek(n)
		if s == nil || s.state != SlotAccepted || s.ballot != r.ballot {
			continue
		}
		s.acks |= bit
		if popcount(s.acks) >= r.quorum {
			r.choose(n, s, r.ballot)
		}
	}
	r.advanceCommit()
}

func tickLeader(r *Replica) {
	r.heartbeatElapsed++
	if r.heartbeatElapsed >= r.cfg.HeartbeatTicks {
		r.heartbeatElapsed = 0
		r.broadcast(Message{Type: MsgHeartbeat, Ballot: r.ballot, Commit: r.commit})
	}
	r.resendElapsed++
	if r.resendElapsed >= r.cfg.ResendTicks {
		r.resendElapsed = 0
		r.resendAccepts()
	}
	// Check quorum: a leader that has not heard from a majority for an
	// election timeout steps down, so clients stop waiting on it.
	r.quorumElapsed++
	if r.quorumElapsed >= r.cfg.ElectionTicks {
		heard := popcount(r.active | 1<<r.self)
		r.quorumElapsed, r.active = 0, 0
		if heard < r.quorum {
			r.mark(MarkQuorumLost)
			r.becomeFollower(0)
		}
	}
}

// resendAccepts sends every slot still in flight again to each replica that
// has not acknowledged it.
func (r *Replica) resendAccepts() {
	for i, p := range r.cfg.Peers {
		if p == r.id {
			continue
		}
		var es []Entry
		size := 0
		for n := r.commit; n < r.nextSlot && size <= r.cfg.MsgBytesMax; n++ {
			s := r.log.peek(n)
			if s == nil || s.state != SlotAccepted || s.ballot != r.ballot || s.acks&(1<<i) != 0 {
				continue
			}
			size += entryBytes(n, s.ballot, s.cmds)
			es = append(es, Entry{Slot: n, Ballot: s.ballot, Cmds: s.cmds})
		}
		if len(es) > 0 {
			r.mark(MarkAcceptsResent)
			r.send(Message{Type: MsgAccept, To: p, Ballot: r.ballot, Commit: r.commit, Entries: es})
		}
	}
}
