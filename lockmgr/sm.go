package lockmgr

import (
	"maps"
	"slices"

	"paxlock/paxos"
)

// Defaults of SMConfig's zero fields.
const (
	DefaultMaxSessions = 100_000
	DefaultLeaseMinMs  = 1_000
	DefaultLeaseMaxMs  = 600_000
)

// SMConfig configures a StateMachine. Every replica of a group must use the
// same configuration, since it shapes the replicated state.
type SMConfig struct {
	// MaxSessions bounds the session table: an OpOpen beyond it is answered
	// Full. Zero means DefaultMaxSessions.
	MaxSessions int
	// LeaseMinMs and LeaseMaxMs bound the lease a session may ask for; an
	// OpOpen's ask is clamped into them. Zero means the default.
	LeaseMinMs, LeaseMaxMs uint64
}

func (c SMConfig) maxSessions() int {
	if c.MaxSessions <= 0 {
		return DefaultMaxSessions
	}
	return c.MaxSessions
}

// Lease clamps a lease asked for (ms) into the configured bounds.
func (c SMConfig) Lease(askMs uint64) uint64 {
	lo, hi := c.LeaseMinMs, c.LeaseMaxMs
	if lo == 0 {
		lo = DefaultLeaseMinMs
	}
	if hi == 0 {
		hi = DefaultLeaseMaxMs
	}
	hi = max(hi, lo)
	return min(max(askMs, lo), hi)
}

// StateMachine is the replicated lock table. Replicas apply the chosen log
// with Apply, command by command in slot order, and stay identical.
//
// Locks: a held lock has one holder, the holder's fencing token, and a FIFO
// queue of blocked Lock requests. A free lock has no entry at all. Tokens come
// from one counter shared by all locks and bumped on every grant, so they
// strictly increase per lock in log order even when one slot holds a batch.
//
// Sessions: every lock request belongs to a session. OpOpen starts one: the
// state machine numbers it (never reusing a number), records the secret
// the opener chose and its lease, and answers Opened. A repeat of the same
// open (same nonce and secret) while the session lives gets the same
// session; a delayed copy that arrives after it ended opens a new session
// nobody uses, which holds nothing and expires. Every later command of the
// session carries a tag made with the secret (Command.Tag); one that does
// not is Refused and changes nothing, so knowing a session's number (status
// prints it) is not enough to act for it.
//
// A session ends by OpClose (from its client) or OpExpire (from the leader,
// when the lease ran out; see Server): every lock it holds is released (the
// head waiter granted with a new token), its wait is withdrawn, and its
// record is dropped, so any later request of it is answered SessionExpired.
// Since numbers are never reused, nothing a dead session sent can act again.
//
// Leases are timed by the leader, outside the replicated state; what the log
// holds is who may expire sessions. OpLead records a new leader's ballot,
// and an OpExpire counts only if it carries the ballot of the latest OpLead
// applied: an expiry a deposed leader proposed, chosen later, is applied as
// Stale. (The leader starts timing at its own OpLead, counting every
// session as heard then; see leases.go for what that guarantees and what
// it cannot.)
//
// At-most-once: per session, the latest Seq and its Result. A repeat of the
// latest Seq gets the recorded answer (a waiting Lock's record turns from
// Queued to Granted when a later Unlock grants it), so a retried Lock never
// queues twice; an older Seq gets Stale. A new Seq from a session whose Lock
// is still queued cancels that wait: a session has one outstanding request,
// so a new one means it stopped waiting, and granting the lock later would
// hand it to a client that no longer expects it. (So an Unlock of a lock
// the caller only waits for withdraws the wait, and answers NotHeld.)
type StateMachine struct {
	cfg         SMConfig
	applied     uint64 // last slot applied
	lastToken   uint64 // last fencing token handed out
	lastSession ClientID
	leader      paxos.Ballot // the ballot of the latest OpLead
	locks       map[string]*lockState
	sessions    map[ClientID]*session
	nonces      map[ClientID]ClientID // open nonce -> its live session
	scratch     []byte                // Hash's encoding, reused
	mark        func(Mark)            // coverage marks (ServerConfig.Mark); not state
	// Scratch of sessionIDs and lockNames; not state.
	idsScratch   []ClientID
	namesScratch []string
}

type lockState struct {
	holder  ClientID
	token   uint64
	waiters []waiter // FIFO
}

type waiter struct {
	client ClientID
	seq    uint64
}

// NewStateMachine returns an empty lock table.
func NewStateMachine(cfg SMConfig) *StateMachine {
	return &StateMachine{
		cfg:      cfg,
		locks:    make(map[string]*lockState),
		sessions: make(map[ClientID]*session),
		nonces:   make(map[ClientID]ClientID),
	}
}

// Applied returns the last slot applied (0 before any).
func (s *StateMachine) Applied() uint64 { return s.applied }

// Leader returns the ballot of the latest OpLead applied: the leader whose
// expiries count.
func (s *StateMachine) Leader() paxos.Ballot { return s.leader }

// Apply applies one command chosen in slot and returns its result, plus the
// queued Locks that it granted (an Unlock, a Close or an Expire grants
// some). Commands of one slot are applied in batch order with the same
// slot; slots never go back. A repeat of the session's latest Seq is
// answered from the record even if its op or name differ, since a client
// never reuses a Seq for another request.
func (s *StateMachine) Apply(slot uint64, c Command) (Result, []Grant) {
	assert(slot >= s.applied, "slots are applied in order")
	s.applied = slot
	switch c.Op {
	case OpLead:
		if b := (paxos.Ballot{Round: c.Arg, Node: c.Node}); s.leader.Less(b) {
			s.leader = b
			return Result{Status: Ended}, nil
		}
		return Result{Status: Stale}, nil
	case OpExpire:
		if (paxos.Ballot{Round: c.Arg, Node: c.Node}) != s.leader {
			return Result{Status: Stale}, nil
		}
		sess := s.sessions[c.Client]
		if sess == nil {
			return Result{Status: SessionExpired}, nil
		}
		markWith(s.mark, MarkSessionExpired)
		return Result{Status: Ended}, s.end(sess)
	case OpOpen:
		return s.open(c), nil
	case OpRejoin:
		return Result{Status: Ended}, nil
	}
	if !c.Op.Session() {
		return Result{Status: Invalid}, nil
	}
	sess := s.sessions[c.Client]
	switch {
	case sess == nil:
		return Result{Status: SessionExpired}, nil
	case !sess.tagValid(c):
		markWith(s.mark, MarkForgedRefused)
		return Result{Status: Refused}, nil
	case c.Op.ReadOnly():
		// A read changes nothing and is recorded nowhere: the server
		// answers it with the table as it stands at this point of the log.
		return Result{Status: Report}, nil
	case c.Seq < sess.seq:
		return Result{Status: Stale}, nil
	case c.Seq == sess.seq:
		// A retry or a network duplicate: answer from the record.
		markWith(s.mark, MarkDupApplied)
		return sess.result, nil
	}
	if sess.result.Status == Queued {
		markWith(s.mark, MarkWaitWithdrawn)
	}
	s.cancelWait(sess)
	if c.Op == OpClose {
		return Result{Status: Ended}, s.end(sess)
	}
	res, grants := s.execute(sess, c)
	sess.seq, sess.result = c.Seq, res
	return res, grants
}

// open starts a session, or answers a repeat of a live one's open.
func (s *StateMachine) open(c Command) Result {
	if id, ok := s.nonces[c.Client]; ok {
		sess := s.sessions[id]
		if sess.secret != c.Key {
			return Result{Status: Refused}
		}
		return Result{Status: Opened, Holder: id, Token: sess.leaseMs}
	}
	if len(s.sessions) >= s.cfg.maxSessions() {
		return Result{Status: Full}
	}
	assert(s.lastSession < NonceBit-1, "session ids stay below the nonce range")
	s.lastSession++
	sess := &session{id: s.lastSession, nonce: c.Client, secret: c.Key, leaseMs: s.cfg.Lease(c.Arg)}
	s.sessions[sess.id] = sess
	s.nonces[sess.nonce] = sess.id
	return Result{Status: Opened, Holder: sess.id, Token: sess.leaseMs}
}

// end releases everything sess holds, in name order, withdraws its wait
// and drops it.
func (s *StateMachine) end(sess *session) []Grant {
	s.cancelWait(sess)
	var grants []Grant
	for len(sess.held) > 0 {
		_, g := s.release(sess, sess.held[0])
		grants = append(grants, g...)
	}
	if len(grants) > 0 {
		markWith(s.mark, MarkGrantOnEnd)
	}
	delete(s.sessions, sess.id)
	delete(s.nonces, sess.nonce)
	return grants
}

// Lookup returns the recorded result of (c, seq) if seq is c's latest request.
// A server can answer a retry from it without going through the log.
func (s *StateMachine) Lookup(c ClientID, seq uint64) (Result, bool) {
	sess := s.sessions[c]
	if sess == nil || sess.seq != seq || seq == 0 {
		return Result{}, false
	}
	return sess.result, true
}

func (s *StateMachine) execute(sess *session, c Command) (Result, []Grant) {
	if !ValidName(c.Name) {
		return Result{Status: Invalid}, nil
	}
	switch c.Op {
	case OpLock, OpTryLock:
		return s.acquire(sess, c), nil
	case OpUnlock:
		res, grants := s.release(sess, c.Name)
		if len(grants) > 0 {
			markWith(s.mark, MarkGrantOnRelease)
		}
		return res, grants
	}
	return Result{Status: Invalid}, nil
}

func (s *StateMachine) acquire(sess *session, c Command) Result {
	l := s.locks[c.Name]
	switch {
	case l == nil:
		l = &lockState{holder: sess.id, token: s.nextToken()}
		s.locks[c.Name] = l
		sess.hold(c.Name)
		return Result{Status: Granted, Token: l.token}
	case l.holder == sess.id:
		// Re-entrant without counting: the same token, and one Unlock frees it.
		return Result{Status: Granted, Token: l.token}
	case c.Op == OpTryLock:
		return Result{Status: Busy, Holder: l.holder}
	}
	l.waiters = append(l.waiters, waiter{client: sess.id, seq: c.Seq})
	sess.waitName = c.Name
	return Result{Status: Queued}
}

// release frees name if sess holds it and hands it to the head waiter.
func (s *StateMachine) release(sess *session, name string) (Result, []Grant) {
	l := s.locks[name]
	if l == nil || l.holder != sess.id {
		return Result{Status: NotHeld}, nil
	}
	sess.unhold(name)
	if len(l.waiters) == 0 {
		delete(s.locks, name)
		return Result{Status: Released}, nil
	}
	w := l.waiters[0]
	l.waiters = slices.Delete(l.waiters, 0, 1)
	next := s.sessions[w.client]
	assert(next != nil && next.seq == w.seq && next.result.Status == Queued && next.waitName == name,
		"a queued waiter's session records that very wait")
	token := s.nextToken()
	assert(token > l.token, "a grant's fencing token exceeds the lock's last")
	l.holder, l.token = w.client, token
	next.hold(name)
	next.waitName = ""
	next.result = Result{Status: Granted, Token: l.token}
	grant := Grant{Client: w.client, Seq: w.seq, Name: name, Token: l.token}
	return Result{Status: Released}, []Grant{grant}
}

// cancelWait removes sess from the queue it waits in, if any.
func (s *StateMachine) cancelWait(sess *session) {
	if sess.result.Status != Queued {
		return
	}
	l := s.locks[sess.waitName]
	assert(l != nil && l.holder != sess.id, "a waiting session waits on a lock someone else holds")
	i := slices.IndexFunc(l.waiters, func(w waiter) bool { return w.client == sess.id })
	assert(i >= 0, "a waiter being cancelled is in its lock's queue")
	l.waiters = slices.Delete(l.waiters, i, i+1)
	sess.waitName = ""
	sess.result = Result{}
}

func (s *StateMachine) nextToken() uint64 {
	assert(s.lastToken < ^uint64(0), "fencing tokens do not wrap")
	s.lastToken++
	return s.lastToken
}

// Status lists the held locks sorted by name.
func (s *StateMachine) Status() []LockStatus {
	names := s.lockNames()
	out := make([]LockStatus, 0, len(names))
	for _, name := range names {
		l := s.locks[name]
		ls := LockStatus{Name: name, Holder: l.holder, Token: l.token}
		for _, w := range l.waiters {
			ls.Waiters = append(ls.Waiters, w.client)
		}
		out = append(out, ls)
	}
	return out
}

// lockNames lists the lock names in order: nothing that reaches an output
// iterates the map itself.
//
// The slice is the state machine's scratch, valid until the next call
// (see sessionIDs).
func (s *StateMachine) lockNames() []string {
	clear(s.namesScratch) // let go of names of locks that are gone
	s.namesScratch = slices.AppendSeq(s.namesScratch[:0], maps.Keys(s.locks))
	slices.Sort(s.namesScratch)
	return s.namesScratch
}
