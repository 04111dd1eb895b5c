package paxos

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Role is what a replica is doing at the moment.
type Role uint8

const (
	Follower  Role = iota // accepts what the leader proposes
	Candidate             // running phase 1 for its own ballot
	Leader                // phase 1 done for its ballot; runs phase 2
)

func (r Role) String() string {
	return [...]string{"follower", "candidate", "leader"}[r]
}

// Errors Propose returns; the command was not taken and the caller should
// retry elsewhere or later.
var (
	ErrNoLeader = errors.New("paxos: no known leader")
	ErrBusy     = errors.New("paxos: proposal queue full")
)

// Snapshot is application state covering every slot below Slot.
type Snapshot struct {
	Slot uint64
	Data []byte
}

// Ready is the work a replica hands to its host. The host must, in order:
// if Rewrite, replace its whole durable log with DurableState(), else append
// Records; if Sync, make them durable; then send Messages; then install
// Snapshot (if any) and apply Committed in order; then call Advance. The
// slices are only valid until Advance.
//
// Once it has written the records, a host may go on calling Step, Tick and
// Propose while it waits for the sync (no HasReady or Ready until
// Advance): what they cause goes into the next Ready, and Advance retires
// only what this one handed out. Breaking the pairing (HasReady or Ready
// before Advance, Advance without Ready) panics.
type Ready struct {
	Records   []Record
	Rewrite   bool
	Sync      bool
	Messages  []Message
	Snapshot  *Snapshot
	Committed []Entry
}

// Replica is one Multi-Paxos replica: proposer, acceptor and learner at once.
type Replica struct {
	cfg    Config
	id     ID
	self   int // index of id in cfg.Peers
	quorum int

	// Acceptor state; promised and accepted values are durable.
	promised Ballot
	log      slotLog
	snap     Snapshot

	// Learner state.
	commit  uint64 // every slot below commit is chosen
	applied uint64 // every slot below applied was handed out to apply

	// Proposer state.
	role     Role
	step     func(r *Replica, m *Message)
	tick     func(r *Replica)
	ballot   Ballot // this replica's own ballot, while candidate or leader
	maxSeen  Ballot // highest ballot seen anywhere: the next election goes above it
	leader   ID     // the replica believed to lead, 0 if unknown
	cand     candidateState
	preVote  preVoteState
	nextSlot uint64   // leader: next slot to propose into
	pending  [][]byte // leader or candidate: commands waiting for a slot
	active   uint64   // leader: peers heard from in this check-quorum window

	// Timers, in ticks.
	electionElapsed  int
	electionTimeout  int
	heartbeatElapsed int
	resendElapsed    int
	quorumElapsed    int
	backoffAttempts  int

	// Catch-up and snapshot transfer.
	catchupElapsed int
	catchupWanted  bool
	catchupFrom    ID // the peer last asked for catch-up
	snapIn         snapshotIn

	// Proposer queues flushed when the host asks for Ready.
	forward     [][]byte // follower: commands to forward to the leader
	commitDirty bool     // leader: the commit advanced, announce it

	// What waits for the host: see outbox.
	out outbox

	// Rebuilding after a disk loss (see rebuild.go): nil once voting.
	rebuild   *rebuildState
	rebuiltAt uint64

	conflicts uint64 // claims that a chosen slot holds another value
	conflict  string // the first of them, described
}

// New builds a replica with empty durable state. Use Restore to rebuild one
// from records.
func New(cfg Config) (*Replica, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Replica{cfg: cfg, id: cfg.ID, quorum: len(cfg.Peers)/2 + 1}
	for i, p := range cfg.Peers {
		if p == cfg.ID {
			r.self = i
		}
	}
	r.becomeFollower(0)
	if cfg.Rejoin != nil {
		r.startRebuild(cfg.Rejoin)
	}
	r.leadFirst()
	r.checkInvariants()
	return r, nil
}

// leadFirst makes replica 1 (the lowest id) lead first, as in the seed: on
// a fresh group it starts phase 1 at its first tick instead of waiting out
// a timeout. A replica that ever promised anything is not fresh.
func (r *Replica) leadFirst() {
	if r.id == r.cfg.Peers[0] && r.promised.IsZero() && r.rebuild == nil {
		r.electionTimeout = 1
	}
}

// Restore rebuilds a replica from the durable records its host kept, in the
// order they were written. The replica starts as a follower.
func Restore(cfg Config, recs []Record) (*Replica, error) {
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	// The rebuild, if any, starts once the records are read: chosen slots
	// restored from the disk do not count towards ending it.
	rebuilding := r.rebuild != nil
	r.rebuild = nil
	for i := range recs {
		if err := r.replay(&recs[i]); err != nil {
			return nil, fmt.Errorf("paxos: restore record %d: %w", i, err)
		}
	}
	r.advanceCommit()
	r.applied = r.log.start
	if r.snap.Data != nil || r.snap.Slot > 0 {
		r.out.offerSnapshot(r.snap)
	}
	r.maxSeen = r.promised
	// Only the end of a rebuild writes a promise: with one on the disk,
	// the rebuild finished, and its host had not yet cleared its mark
	// when it stopped.
	r.becomeFollower(0)
	if rebuilding && r.promised.IsZero() {
		r.startRebuild(cfg.Rejoin)
	}
	r.leadFirst()
	r.checkInvariants()
	return r, nil
}

func (r *Replica) replay(rec *Record) error {
	switch rec.Type {
	case RecPromise:
		if r.promised.Less(rec.Ballot) {
			r.promised = rec.Ballot
		}
	case RecAccept:
		if s := r.log.at(rec.Entry.Slot); s != nil && s.state != SlotChosen {
			s.state, s.ballot, s.cmds = SlotAccepted, rec.Entry.Ballot, rec.Entry.Cmds
		}
	case RecChosen:
		s := r.log.at(rec.Entry.Slot)
		if s == nil {
			return nil
		}
		// A RecChosen omits the commands when they are the ones accepted
		// locally at the same ballot; replay sees the same local state.
		if s.state == SlotEmpty || s.ballot != rec.Entry.Ballot {
			s.cmds = rec.Entry.Cmds
		}
		s.state, s.ballot = SlotChosen, rec.Entry.Ballot
	case RecSnapshot:
		r.snap = Snapshot{Slot: rec.Slot, Data: rec.Data}
		r.log.truncate(rec.Slot)
		if r.commit < rec.Slot {
			r.commit = rec.Slot
		}
	case RecHost:
		// The host's; nothing for the replica.
	default:
		return fmt.Errorf("unknown record type %d", rec.Type)
	}
	return nil
}

// Propose hands a client command to the replica. A leader queues it for the
// next slot; another replica forwards it to the leader it knows.
func (r *Replica) Propose(cmd []byte) error {
	err := r.propose(cmd)
	r.checkInvariants()
	return err
}

func (r *Replica) propose(cmd []byte) error {
	switch r.role {
	case Leader, Candidate:
		if len(r.pending) >= r.cfg.PendingCmdsMax {
			return ErrBusy
		}
		r.pending = append(r.pending, cmd)
		return nil
	}
	if r.leader == 0 || r.leader == r.id {
		return ErrNoLeader
	}
	if len(r.forward) >= r.cfg.PendingCmdsMax {
		return ErrBusy
	}
	r.forward = append(r.forward, cmd)
	return nil
}

// Tick advances the replica's timers by one tick.
func (r *Replica) Tick() {
	r.tick(r)
	r.tickCatchup()
	r.checkInvariants()
}

// Step hands the replica one message from a peer. Messages not addressed to
// this replica, or from a stranger, are ignored.
func (r *Replica) Step(m *Message) {
	if m.To != r.id || r.peerIndex(m.From) < 0 || m.From == r.id {
		return
	}
	r.stepMsg(m)
	r.checkInvariants()
}

func (r *Replica) stepMsg(m *Message) {
	// A pre-vote's ballot is only a proposal: nobody promised it, so it
	// must not push the next election's ballot up.
	if r.maxSeen.Less(m.Ballot) && m.Type != MsgPreVote && m.Type != MsgPreVoteAck {
		r.maxSeen = m.Ballot
	}
	if !r.voting() && r.stepRebuilding(m) {
		return
	}
	switch m.Type {
	case MsgCatchup:
		if m.More {
			r.answerBallotQuery(m)
		} else {
			r.handleCatchup(m)
		}
	case MsgChosen:
		if m.More {
			r.ballotReported(m)
		} else {
			r.handleChosen(m)
		}
	case MsgPrepare:
		r.handlePrepare(m)
	case MsgAccept:
		r.handleAccept(m)
	case MsgHeartbeat:
		r.handleHeartbeat(m)
	case MsgSnapshot:
		r.handleSnapshot(m)
	case MsgPreVote:
		r.handlePreVote(m)
	default:
		r.step(r, m) // role-specific: promises, acceptances, forwards, acks
	}
}

// checkInvariants asserts what holds between any two calls into the
// replica, whatever it did in between. It runs on every call, so it tests
// the conditions first and builds the assertions' arguments only if one
// fails.
func (r *Replica) checkInvariants() {
	// The log starts at the snapshot; the applied prefix is inside the
	// chosen one, which is inside the log: snapshot <= applied <= commit
	// <= one past the last slot held.
	logAtSnap := r.log.start == r.snap.Slot
	prefixes := r.log.start <= r.applied && r.applied <= r.commit && r.commit <= r.log.end()
	// The next election's ballot goes above the promise as well as
	// everything seen; maxSeen alone already covers the promise.
	seen := !r.maxSeen.Less(r.promised)
	// A replica has its own ballot exactly while candidate or leader, and a
	// leader's ballot is what it promised (any higher promise deposes it).
	ownBallot := (r.role == Follower) == r.ballot.IsZero() && (r.role == Follower || r.ballot.Node == r.id)
	leads := r.role != Leader || (r.leader == r.id && r.promised == r.ballot)
	// Each role's state exists only in that role: the become* functions
	// clear what the others left.
	preVote := r.role == Follower || !r.preVote.active
	cand := r.role == Candidate || r.cand.from == nil
	lead := r.role == Leader || (r.active == 0 && r.nextSlot == 0 && !r.commitDirty)
	pending := (r.role != Follower || len(r.pending) == 0) && len(r.pending) <= r.cfg.PendingCmdsMax
	// A rebuilding replica is a follower that promised nothing until it
	// resumes.
	rebuild := r.voting() || (r.role == Follower && r.promised.IsZero())
	if logAtSnap && prefixes && seen && ownBallot && leads && preVote && cand && lead && pending && rebuild {
		return
	}
	assert(rebuild, "replica %v: rebuilding as %v with promise %v", r.id, r.role, r.promised)
	assert(logAtSnap, "replica %v: log starts at %d, snapshot at %d", r.id, r.log.start, r.snap.Slot)
	assert(prefixes, "replica %v: first slot %d, applied %d, commit %d, log end %d",
		r.id, r.log.start, r.applied, r.commit, r.log.end())
	assert(seen, "replica %v: highest ballot seen %v below promised %v", r.id, r.maxSeen, r.promised)
	assert(ownBallot, "replica %v: %v with ballot %v", r.id, r.role, r.ballot)
	assert(leads, "replica %v: leader at %v believes %v leads, promised %v", r.id, r.ballot, r.leader, r.promised)
	assert(preVote, "replica %v: %v with a pre-vote round", r.id, r.role)
	assert(cand, "replica %v: %v with candidate state", r.id, r.role)
	assert(lead, "replica %v: %v with leader state", r.id, r.role)
	assert(pending, "replica %v: %v with %d commands for slots (at most %d)", r.id, r.role, len(r.pending), r.cfg.PendingCmdsMax)
}

// HasReady reports whether Ready has anything to hand out.
func (r *Replica) HasReady() bool {
	// The contract (see Ready): no HasReady or Ready until Advance.
	assert(!r.out.outstanding, "HasReady called between Ready and Advance")
	r.flush()
	r.checkInvariants()
	return r.out.hasWork() || r.commit > r.applied
}

// Ready returns the pending work; see the Ready type for what the host does.
func (r *Replica) Ready() Ready {
	r.flush()
	r.checkInvariants()
	return r.out.take(&r.log, r.applied, r.commit)
}

// Advance tells the replica the host did everything the last Ready asked.
// Messages to itself (its own promise or acceptance) count only now, after
// the records that back them are durable.
func (r *Replica) Advance() {
	commit, self := r.out.retire()
	r.rebuildRetired(r.out.retiredSync)
	// The chosen prefix never goes down, so what the Ready handed out to
	// apply is still below it.
	assert(commit <= r.commit, "Advance: Ready handed out up to %d, commit is %d", commit, r.commit)
	r.applied = max(r.applied, commit)
	for i := range self {
		r.stepMsg(&self[i])
	}
	r.checkInvariants()
}

// Compact tells the replica the application's state after applying every
// slot below slot; the log below it is discarded and the host is asked to
// rewrite its durable state around the snapshot.
func (r *Replica) Compact(slot uint64, data []byte) error {
	if slot > r.applied {
		return fmt.Errorf("paxos: compact at %d beyond applied %d", slot, r.applied)
	}
	if slot <= r.snap.Slot {
		return nil
	}
	r.snap = Snapshot{Slot: slot, Data: data}
	r.log.truncate(slot)
	r.out.requestRewrite()
	r.checkInvariants()
	return nil
}

// DurableState is the minimal record list equivalent to everything this
// replica has made durable: the snapshot, the promise, and the slots above
// the snapshot. A host rewrites its log with it when Ready says Rewrite.
func (r *Replica) DurableState() []Record {
	recs := []Record{{Type: RecSnapshot, Slot: r.snap.Slot, Data: r.snap.Data}}
	if !r.promised.IsZero() {
		recs = append(recs, Record{Type: RecPromise, Ballot: r.promised})
	}
	for i := range r.log.s {
		s := &r.log.s[i]
		e := Entry{Slot: r.log.start + uint64(i), Ballot: s.ballot, Cmds: s.cmds}
		switch s.state {
		case SlotAccepted:
			recs = append(recs, Record{Type: RecAccept, Entry: e})
		case SlotChosen:
			recs = append(recs, Record{Type: RecChosen, Entry: e})
		}
	}
	return recs
}

// persist queues a record; sync says it vouches for a promise or acceptance
// and must be durable before any message leaves.
func (r *Replica) persist(rec Record, sync bool) { r.out.persist(rec, sync) }

// send queues a message. A message to itself waits until the records queued
// so far are durable (see Advance).
func (r *Replica) send(m Message) {
	m.From = r.id
	if m.To == r.id {
		r.out.sendSelf(m)
		return
	}
	r.out.send(m)
}

func (r *Replica) peerIndex(id ID) int {
	for i, p := range r.cfg.Peers {
		if p == id {
			return i
		}
	}
	return -1
}

// flush turns queued commands into slots (leader) or a forward (follower),
// and announces an advanced commit. It runs when the host asks for Ready, so
// everything that arrived in one step is batched together.
//
// Forwards still queued when the replica is not a follower at flush time
// are dropped here, not in becomeCandidate: a candidate that falls back to
// follower before the next flush still forwards them.
func (r *Replica) flush() {
	switch {
	case r.role == Leader:
		r.proposePending()
		if r.commitDirty {
			r.broadcastCommit()
			r.commitDirty = false
		}
	case len(r.forward) > 0 && r.leader != 0 && r.leader != r.id:
		r.sendForwards()
	}
	if r.role != Follower {
		r.forward = nil
	}
}

// sendForwards hands queued commands to the leader, as many messages as it
// takes to stay under the packet size.
func (r *Replica) sendForwards() {
	for len(r.forward) > 0 {
		k, size := 0, 0
		for k < len(r.forward) {
			size += len(r.forward[k]) + 4
			if size > r.cfg.MsgBytesMax && k > 0 {
				break
			}
			k++
		}
		r.send(Message{Type: MsgForward, To: r.leader, Entries: []Entry{{Cmds: r.forward[:k:k]}}})
		r.forward = r.forward[k:]
	}
	r.forward = nil
}

func popcount(x uint64) int { return bits.OnesCount64(x) }

// ---- Inspection, for checkers and status views ----

// ID is this replica's id.
func (r *Replica) ID() ID { return r.id }

// Role is the replica's current role.
func (r *Replica) Role() Role { return r.role }

// Leader is the replica this one believes leads (itself included), or 0.
func (r *Replica) Leader() ID { return r.leader }

// SinceLeader is how many ticks ago this replica last heard from its
// leader: 0 for a leader, -1 if it knows none.
func (r *Replica) SinceLeader() int {
	switch {
	case r.role == Leader:
		return 0
	case r.leader == 0:
		return -1
	}
	return r.electionElapsed
}

// Promised is the highest ballot this replica promised.
func (r *Replica) Promised() Ballot { return r.promised }

// Ballot is the replica's own ballot while candidate or leader.
func (r *Replica) Ballot() Ballot { return r.ballot }

// Commit is the chosen prefix: every slot below it is chosen.
func (r *Replica) Commit() uint64 { return r.commit }

// Applied is one past the last slot handed out to apply.
func (r *Replica) Applied() uint64 { return r.applied }

// FirstSlot is the first slot not cleared (the snapshot's slot).
func (r *Replica) FirstSlot() uint64 { return r.log.start }

// LastSlot is the last slot holding a value; ok is false if none does.
func (r *Replica) LastSlot() (uint64, bool) { return r.log.lastNonEmpty() }

// SnapshotSlot is the slot of the latest snapshot held.
func (r *Replica) SnapshotSlot() uint64 { return r.snap.Slot }

// Slot reports what the replica holds for slot n. The commands alias the
// replica's memory: do not modify them.
func (r *Replica) Slot(n uint64) (SlotState, Entry) {
	if n < r.log.start {
		return SlotCleared, Entry{Slot: n}
	}
	s := r.log.peek(n)
	if s == nil {
		return SlotEmpty, Entry{Slot: n}
	}
	return s.state, Entry{Slot: n, Ballot: s.ballot, Cmds: s.cmds}
}

// Conflicts counts the claims, from a peer's Chosen message, that a slot
// this replica knows chosen holds another value, and describes the first.
// Each was ignored. Any at all means a bug or a forgery (in a group
// without a packet key): agreement checkers fail on it.
func (r *Replica) Conflicts() (n uint64, first string) { return r.conflicts, r.conflict }

// TicksToTimer is how many Ticks from now the replica's next timer fires:
// the Ticks before that one only count down, so they leave HasReady as it
// was and a host may run them late, all at once, just before the next
// Step, Propose or timer (the simulator's hosts sleep through them). It is
// at least 1.
func (r *Replica) TicksToTimer() int {
	// Each timer fires on the Tick that brings its count to its limit.
	until := func(elapsed, limit int) int { return max(1, limit-elapsed) }
	n := math.MaxInt32
	switch {
	case r.role == Leader:
		n = min(until(r.heartbeatElapsed, r.cfg.HeartbeatTicks), until(r.resendElapsed, r.cfg.ResendTicks),
			until(r.quorumElapsed, r.cfg.ElectionTicks))
	case r.role == Candidate:
		n = min(until(r.electionElapsed, r.electionTimeout), until(r.resendElapsed, r.cfg.ResendTicks))
	case !r.voting():
		n = max(1, r.rebuild.resend)
	case r.preVoteResending():
		n = min(until(r.electionElapsed, r.electionTimeout), until(r.resendElapsed, r.cfg.ResendTicks))
	default:
		n = until(r.electionElapsed, r.electionTimeout)
	}
	if r.catchupElapsed > 0 {
		n = min(n, r.catchupElapsed) // counts down to 0
	}
	return n
}
