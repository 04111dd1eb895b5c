package paxos

// Role changes swap the step and tick functions, so role-specific handling
// lives in one place per role instead of in scattered "if leader" checks.
// The become* functions are the only places that clear another role's
// state (votes gathered, candidate and leader state, timers), so no role
// starts with what an earlier one left behind. What a role does to its own
// state while it keeps the role (a follower hearing its leader, a leader
// starting a new check-quorum window) stays with that role's handlers.

// becomeFollower steps down (or starts) as a follower of leader (0 if not
// known). Commands queued for slots are handed to the forward queue, so a
// leader change does not lose them outright.
func (r *Replica) becomeFollower(leader ID) {
	if r.role != Follower {
		if len(r.pending) > 0 {
			r.mark(MarkPendingHandedOn)
		}
		r.forward = append(r.forward, r.pending...)
		r.pending = nil
		r.backoffAttempts++
	}
	r.role = Follower
	r.step = stepFollower
	r.tick = tickFollower
	r.leader = leader
	r.ballot = Ballot{}
	r.cand = candidateState{}
	r.preVote = preVoteState{}
	r.resetLeaderState()
	r.electionElapsed = 0
	r.resetElectionTimeout()
}

// resetLeaderState clears what only a leader uses; becomeFollower and
// becomeLeader call it so that a leader never starts with, and a follower
// never keeps, an earlier term's window, pipeline or timers.
func (r *Replica) resetLeaderState() {
	r.active = 0
	r.nextSlot = 0
	r.commitDirty = false
	r.heartbeatElapsed, r.resendElapsed, r.quorumElapsed = 0, 0, 0
}

// resetElectionTimeout draws the next timeout: uniform in [E, 2E), plus a
// randomized exponential backoff after lost elections, so that dueling
// candidates spread out instead of colliding forever.
func (r *Replica) resetElectionTimeout() {
	e := r.cfg.ElectionTicks
	t := e + r.cfg.Rand.IntN(e)
	if r.backoffAttempts > 0 {
		window := min(e<<min(r.backoffAttempts, 16), r.cfg.BackoffMaxTicks)
		t += r.cfg.Rand.IntN(window + 1)
	}
	r.electionTimeout = t
}

func stepFollower(r *Replica, m *Message) {
	// Promises, acceptances and acks are answers to a role this replica
	// no longer has; forwards are dropped rather than forwarded again, so
	// two replicas with stale views cannot bounce a command forever.
	if m.Type == MsgPreVoteAck {
		r.handlePreVoteAck(m)
	}
}

func tickFollower(r *Replica) {
	if !r.voting() {
		r.tickRebuilding()
		return
	}
	r.electionElapsed++
	if r.electionElapsed >= r.electionTimeout {
		if r.preVote.active && !r.preVote.heard {
			r.backoffAttempts++ // nobody answered the last round: back off
		}
		r.startPreVote()
		return
	}
	if !r.preVoteResending() {
		return
	}
	// Ask again whoever has not answered, a few times per round: on a
	// lossy network a round whose asks went out once would need every one
	// of them (and every answer) to arrive, and would otherwise wait a
	// whole election timeout to try again. A pre-vote changes nothing at
	// the asked, so asking twice is harmless; a replica that hears nothing
	// at all still sends only a few per round, and its rounds back off.
	r.resendElapsed++
	if r.resendElapsed >= r.cfg.ResendTicks {
		r.resendElapsed = 0
		r.preVote.resends++
		for i, p := range r.cfg.Peers {
			if r.preVote.votes&(1<<i) == 0 && p != r.id {
				r.send(Message{Type: MsgPreVote, To: p, Ballot: r.preVote.ballot, Commit: r.commit})
			}
		}
	}
}

// preVoteState is a pre-vote round in progress. Before raising any
// ballot, a replica that lost its leader asks whether a quorum would
// promise it (the job Raft gives to pre-vote). Nobody changes state for
// a pre-vote, so a replica cut off in a minority, however many of them
// there are, never leaves promises behind that would depose the
// majority's leader once the partition heals.
type preVoteState struct {
	active  bool
	ballot  Ballot
	votes   uint64
	heard   bool // some peer answered this round
	resends int  // asks repeated this round (at most preVoteResends)
}

// preVoteResends is how often a round asks again those that did not answer.
const preVoteResends = 2

func (r *Replica) preVoteResending() bool {
	return r.preVote.active && r.preVote.resends < preVoteResends
}

func (r *Replica) startPreVote() {
	round := max(r.maxSeen.Round, r.promised.Round) + 1
	r.preVote = preVoteState{active: true, ballot: Ballot{Round: round, Node: r.id}, votes: 1 << r.self}
	// The leader went silent for a whole election timeout: stop counting
	// it as alive, or this replica would refuse the other survivors'
	// pre-votes and prepares for another timeout.
	r.leader = 0
	r.electionElapsed, r.resendElapsed = 0, 0
	r.resetElectionTimeout()
	if r.quorum == 1 {
		r.startElection()
		return
	}
	r.broadcast(Message{Type: MsgPreVote, Ballot: r.preVote.ballot, Commit: r.commit})
}

// handlePreVote answers whether this replica would promise m.Ballot now:
// not while it hears a live leader (other than the asker), and never below
// its promise. It changes nothing here. A refusal because of a higher
// promise carries that promise, so that the asker's next round asks above
// it instead of asking the same ballot again forever.
func (r *Replica) handlePreVote(m *Message) {
	switch {
	case m.Ballot.Less(r.promised):
		r.send(Message{Type: MsgPreVoteAck, To: m.From, Ballot: r.promised, Reject: true})
	default:
		reject := m.From != r.leader && r.leaderAlive()
		if reject {
			r.mark(MarkPreVoteRefused)
		}
		r.send(Message{Type: MsgPreVoteAck, To: m.From, Ballot: m.Ballot, Reject: reject})
	}
}

func (r *Replica) handlePreVoteAck(m *Message) {
	if m.Reject && m.Ballot != r.preVote.ballot && r.maxSeen.Less(m.Ballot) {
		r.maxSeen = m.Ballot // a higher promise: ask above it next round
	}
	if r.preVote.active && (m.Ballot == r.preVote.ballot || m.Reject) {
		r.preVote.heard = true
	}
	if !r.preVote.active || m.Ballot != r.preVote.ballot || m.Reject {
		return
	}
	r.preVote.votes |= 1 << r.peerIndex(m.From)
	if popcount(r.preVote.votes) >= r.quorum {
		r.startElection()
	}
}

// candidateState is phase 1 in progress.
type candidateState struct {
	base       uint64   // first slot the prepare covers (commit at the start)
	done       uint64   // peers whose promise is complete
	rejects    uint64   // peers that refused
	from       []uint64 // per peer: the slot the next prepare page starts at
	best       slotLog  // highest-ballot accepted value reported per slot
	peerCommit uint64   // highest chosen prefix a promiser reported
	askedSelf  bool     // the candidate's own promise was asked for
	dropped    bool     // a promised value was beyond LogSlotsMax: do not lead
}

// becomeCandidate starts phase 1 afresh (also from an earlier candidacy
// that timed out) at a ballot above every one seen, from the chosen prefix.
func (r *Replica) becomeCandidate() {
	r.preVote = preVoteState{}
	r.role = Candidate
	r.step = stepCandidate
	r.tick = tickCandidate
	round := max(r.maxSeen.Round, r.promised.Round) + 1
	r.ballot = Ballot{Round: round, Node: r.id}
	r.maxSeen = r.ballot
	r.leader = 0
	r.cand = candidateState{base: r.commit, from: make([]uint64, len(r.cfg.Peers))}
	r.cand.best.start = r.commit
	for i := range r.cand.from {
		r.cand.from[i] = r.commit
	}
	r.electionElapsed = 0
	r.resendElapsed = 0
	r.resetElectionTimeout()
}

// startElection becomes a candidate and asks every other replica for its
// promise (its own is asked for once the others could make a quorum).
func (r *Replica) startElection() {
	r.mark(MarkPhase1)
	r.becomeCandidate()
	for _, p := range r.cfg.Peers {
		if p != r.id {
			r.sendPrepare(p, r.commit)
		}
	}
	r.maybeAskSelf()
}

// maybeAskSelf makes the candidate promise its own ballot only once the
// others' promises could make a quorum with it. A replica cut off from the
// group therefore never raises its own promise above the live leader's
// ballot, and cannot depose that leader when it is heard again (the job
// Raft gives to pre-vote). The promise still precedes every accept at the
// ballot, so a restarted replica never reuses a ballot it proposed in.
func (r *Replica) maybeAskSelf() {
	if r.cand.askedSelf || popcount(r.cand.done) < r.quorum-1 {
		return
	}
	r.cand.askedSelf = true
	r.sendPrepare(r.id, r.cand.base)
}

func (r *Replica) sendPrepare(to ID, from uint64) {
	m := Message{Type: MsgPrepare, From: r.id, To: to, Ballot: r.ballot, Slot: from}
	if to == r.id {
		r.handlePrepare(&m) // our own promise, counted once durable
		return
	}
	r.send(m)
}

func stepCandidate(r *Replica, m *Message) {
	if m.Type != MsgPromise {
		return
	}
	pi := r.peerIndex(m.From)
	if m.Reject {
		if r.ballot.Less(m.Ballot) {
			r.mark(MarkCandidateOutbid)
			r.becomeFollower(0) // outbid: back off
			return
		}
		r.cand.rejects |= 1 << pi
		if popcount(r.cand.rejects) > len(r.cfg.Peers)-r.quorum {
			r.becomeFollower(0) // a quorum still hears a leader
		}
		return
	}
	if m.Ballot != r.ballot || r.cand.done&(1<<pi) != 0 {
		return
	}
	r.mergePromise(m.Entries)
	r.cand.peerCommit = max(r.cand.peerCommit, m.Commit)
	if m.Commit > r.commit {
		r.wantCatchup(m.From)
	}
	if m.More && len(m.Entries) > 0 {
		r.cand.from[pi] = m.Entries[len(m.Entries)-1].Slot + 1
		r.sendPrepare(m.From, r.cand.from[pi])
		return
	}
	r.cand.done |= 1 << pi
	r.maybeAskSelf()
	r.maybeLead()
}

func (r *Replica) mergePromise(es []Entry) {
	for i := range es {
		e := &es[i]
		if e.Slot < r.cand.best.start {
			continue // below the prefix the candidate knows chosen
		}
		if e.Slot-r.cand.best.start >= uint64(r.cfg.LogSlotsMax) {
			r.cand.dropped = true // cannot hold it: must not lead this round
			continue
		}
		b := r.cand.best.at(e.Slot)
		if b.state == SlotEmpty || b.ballot.Less(e.Ballot) {
			b.state, b.ballot, b.cmds = SlotAccepted, e.Ballot, e.Cmds
		}
	}
}

// maybeLead finishes phase 1 once a quorum promised and this replica knows
// every slot any of them knows to be chosen (below that, a promiser may have
// compacted its log and could not report its values).
//
// It also waits for its own promise, which counts only once durable: a
// host that group-commits may hand it a quorum of others' promises first,
// and a leader whose ballot is not durably promised could, after a power
// loss, take the same ballot again and propose other values under it. And
// it refuses to lead while a promised value fell outside what it could
// hold (a candidate far behind): the election times out and runs again
// from the chosen prefix it has caught up to by then.
func (r *Replica) maybeLead() {
	if popcount(r.cand.done) >= r.quorum && r.cand.done&(1<<r.self) != 0 &&
		r.commit >= r.cand.peerCommit && !r.cand.dropped {
		r.becomeLeader()
	}
}

func tickCandidate(r *Replica) {
	r.electionElapsed++
	if r.electionElapsed >= r.electionTimeout {
		r.backoffAttempts++
		r.mark(MarkPhase1Retry)
		r.startElection()
		return
	}
	r.resendElapsed++
	if r.resendElapsed >= r.cfg.ResendTicks {
		r.resendElapsed = 0
		for i, p := range r.cfg.Peers {
			if r.cand.done&(1<<i) == 0 && p != r.id {
				r.sendPrepare(p, r.cand.from[i])
			}
		}
	}
}
