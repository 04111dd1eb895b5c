package paxos

import "fmt"

// The learner role: knowing which slots are chosen, catching up on missed
// decisions, and installing snapshots.

// choose marks slot n chosen: a quorum accepted its value at ballot b. The
// record need not be synced: losing it only means learning the slot again.
func (r *Replica) choose(n uint64, s *slot, b Ballot) {
	// Paired with the callers' checks: this replica holds the value
	// accepted at b, so what it marks chosen is the value chosen at b.
	assert(s.state == SlotAccepted && s.ballot == b,
		"replica %v: slot %d chosen at %v but held %v at %v", r.id, n, b, s.state, s.ballot)
	s.state = SlotChosen
	s.acks = 0
	r.persist(Record{Type: RecChosen, Entry: Entry{Slot: n, Ballot: s.ballot}}, false)
}

// advanceCommit moves the chosen prefix over every chosen slot. Ready
// asserts the other half: every slot it hands out to apply is chosen.
func (r *Replica) advanceCommit() {
	before := r.commit
	for {
		s := r.log.peek(r.commit)
		if s == nil || s.state != SlotChosen {
			break
		}
		r.commit++
	}
	if r.commit > before && r.role == Leader {
		r.commitDirty = true
	}
	r.rebuildChosen(before, r.commit)
}

// learnCommit applies a leader's piggybacked commit: slots below c are
// chosen, and where this replica accepted the leader's own ballot the value
// is the one chosen (one ballot proposes one value per slot, and a leader
// steps down before it could vouch for a slot chosen above its ballot).
// Whatever is still unknown is fetched from the leader.
func (r *Replica) learnCommit(b Ballot, c uint64, from ID) {
	for n := r.commit; n < c; n++ {
		s := r.log.peek(n)
		if s == nil {
			break
		}
		if s.state == SlotAccepted && s.ballot == b {
			r.choose(n, s, b)
		}
	}
	r.advanceCommit()
	if r.commit < c {
		r.wantCatchup(from)
	}
}

// learnChosen records a value some replica knows chosen at ballot e.Ballot.
func (r *Replica) learnChosen(e *Entry) {
	if e.Slot < r.log.start || e.Slot-r.log.start >= uint64(r.cfg.LogSlotsMax) {
		return
	}
	if r.role != Follower && r.ballot.Less(e.Ballot) {
		// A quorum accepted a higher ballot: ours is stale.
		r.markOutbid()
		r.becomeFollower(0)
	}
	s := r.log.at(e.Slot)
	if s.state == SlotChosen {
		if !sameCmds(s.cmds, e.Cmds) {
			// Two values chosen for one slot: a bug, or a forged packet
			// in a group without a key. Either way the claim is not
			// taken; it is counted, so a harness fails on it and an
			// operator sees it, instead of one packet stopping the node.
			r.conflicts++
			if r.conflict == "" {
				r.conflict = fmt.Sprintf("replica %d: slot %d chosen as %s here, claimed chosen as %s at ballot %v",
					r.id, e.Slot, DescribeEntry(Entry{Slot: e.Slot, Ballot: s.ballot, Cmds: s.cmds}), DescribeEntry(*e), e.Ballot)
			}
		}
		return
	}
	rec := Record{Type: RecChosen, Entry: Entry{Slot: e.Slot, Ballot: e.Ballot}}
	if s.state != SlotAccepted || s.ballot != e.Ballot {
		s.cmds = e.Cmds
		rec.Entry.Cmds = e.Cmds // replay takes these, as the local value differs
	}
	s.state, s.ballot, s.acks = SlotChosen, e.Ballot, 0
	r.persist(rec, false)
}

// wantCatchup asks from for the chosen slots this replica is missing, at
// most once per resend period.
func (r *Replica) wantCatchup(from ID) {
	if from == 0 || from == r.id {
		return
	}
	r.catchupWanted, r.catchupFrom = true, from
	if r.catchupElapsed > 0 {
		return
	}
	r.catchupElapsed = r.cfg.ResendTicks
	r.send(Message{Type: MsgCatchup, To: from, Slot: r.commit})
}

// tickCatchup asks again while the missing slots have not come: the
// leader, if one is known, else the peer last asked (a candidate knows no
// leader, and waits for exactly this catch-up before it may lead).
func (r *Replica) tickCatchup() {
	if r.catchupElapsed > 0 {
		r.catchupElapsed--
		if r.catchupElapsed == 0 && r.catchupWanted {
			if r.leader != 0 {
				r.wantCatchup(r.leader)
			} else {
				r.wantCatchup(r.catchupFrom)
			}
		}
	}
}

func (r *Replica) handleCatchup(m *Message) {
	if m.Slot < r.log.start {
		r.mark(MarkCatchupSnapshot)
		r.sendSnapshot(m.From)
		return
	}
	if m.Slot >= r.commit {
		return // nothing to offer
	}
	r.mark(MarkCatchupLog)
	es, _ := r.entriesFrom(m.Slot, true)
	r.send(Message{Type: MsgChosen, To: m.From, Commit: r.commit, Entries: es})
}

func (r *Replica) handleChosen(m *Message) {
	// A leader may learn slots chosen beyond its commit at lower ballots
	// (answers to catch-up it asked for as a candidate): those values are
	// the ones it would propose anyway. Evidence of a higher ballot makes
	// it step down, in learnChosen.
	for i := range m.Entries {
		r.learnChosen(&m.Entries[i])
	}
	r.advanceCommit()
	r.catchupElapsed = 0
	r.catchupWanted = false
	if r.commit < m.Commit {
		r.wantCatchup(m.From)
	}
	if r.role == Candidate {
		r.maybeLead()
	}
}

func (r *Replica) sendSnapshot(to ID) {
	data := r.snap.Data
	chunk := r.cfg.MsgBytesMax
	for off := 0; ; off += chunk {
		end := min(off+chunk, len(data))
		r.send(Message{Type: MsgSnapshot, To: to, Slot: r.snap.Slot, Commit: r.commit,
			Offset: uint64(off), Total: uint64(len(data)), Data: data[off:end]})
		if end == len(data) {
			return
		}
	}
}

// snapshotIn assembles a snapshot arriving in chunks.
type snapshotIn struct {
	from ID
	slot uint64
	buf  []byte
	have []uint64 // bitmap of the chunk indexes received
	got  uint64   // chunks received
}

// handleSnapshot takes one chunk of a peer's snapshot. Chunks are
// MsgBytesMax long (the last one shorter) at multiples of it, so a bitmap of
// chunk indexes says exactly when the whole snapshot is there; a chunk of
// any other shape is dropped, so overlapping or empty chunks cannot fake
// completion or grow the state.
func (r *Replica) handleSnapshot(m *Message) {
	chunk := uint64(r.cfg.MsgBytesMax)
	if m.Slot <= r.commit || m.Total > uint64(r.cfg.SnapshotBytesMax) || m.Offset%chunk != 0 ||
		m.Offset > m.Total || uint64(len(m.Data)) != min(chunk, m.Total-m.Offset) ||
		(len(m.Data) == 0 && m.Total != 0) {
		return
	}
	if r.role == Leader {
		// Someone knows slots chosen beyond this leader's commit, so a
		// higher ballot chose them: this leader is stale.
		r.mark(MarkLeaderDeposed)
		r.becomeFollower(0)
	}
	in := &r.snapIn
	chunks := (m.Total + chunk - 1) / chunk
	if in.from != m.From || in.slot != m.Slot || uint64(len(in.buf)) != m.Total {
		*in = snapshotIn{from: m.From, slot: m.Slot, buf: make([]byte, m.Total), have: make([]uint64, (chunks+63)/64)}
	}
	i := m.Offset / chunk
	if len(in.have) > 0 && in.have[i/64]&(1<<(i%64)) != 0 {
		return // duplicate chunk
	}
	if len(in.have) > 0 {
		in.have[i/64] |= 1 << (i % 64)
	}
	copy(in.buf[m.Offset:], m.Data)
	in.got++
	if in.got < chunks {
		return
	}
	r.mark(MarkSnapshotInstalled)
	r.installSnapshot(Snapshot{Slot: m.Slot, Data: in.buf})
	*in = snapshotIn{}
	if r.commit < m.Commit {
		r.wantCatchup(m.From)
	}
}

// installSnapshot replaces everything below s.Slot with the snapshot, and
// asks the host to reset its application state and rewrite its durable log.
func (r *Replica) installSnapshot(s Snapshot) {
	// Paired with handleSnapshot: only a snapshot beyond the chosen
	// prefix is taken, so nothing chosen here is left out of it.
	assert(s.Slot > r.commit, "replica %v: install snapshot at %d, commit is %d", r.id, s.Slot, r.commit)
	r.snap = s
	r.log.truncate(s.Slot)
	r.commit = max(r.commit, s.Slot)
	r.applied = s.Slot
	r.out.offerSnapshot(s)
	r.out.requestRewrite()
	r.catchupWanted = false
	r.advanceCommit()
	if r.role == Candidate {
		r.maybeLead()
	}
}

// markOutbid reports a candidate or leader that learned of a higher ballot.
func (r *Replica) markOutbid() {
	if r.role == Leader {
		r.mark(MarkLeaderDeposed)
	} else {
		r.mark(MarkCandidateOutbid)
	}
}
