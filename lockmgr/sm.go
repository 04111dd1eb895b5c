package lockmgr

import (
	"maps"
	"slices"
)

// DefaultMaxClients is the at-most-once table bound used when SMConfig leaves
// MaxClients zero.
const DefaultMaxClients = 100_000

// SMConfig configures a StateMachine. Every replica of a group must use the
// same configuration, since it shapes the replicated state.
type SMConfig struct {
	// MaxClients bounds the number of idle client records kept for
	// at-most-once answers (see StateMachine). Zero means DefaultMaxClients.
	MaxClients int
}

func (c SMConfig) maxClients() int {
	if c.MaxClients <= 0 {
		return DefaultMaxClients
	}
	return c.MaxClients
}

// StateMachine is the replicated lock table. Replicas apply the chosen log
// with Apply, command by command in slot order, and stay identical.
//
// Locks: a held lock has one holder, the holder's fencing token, and a FIFO
// queue of blocked Lock requests. A free lock has no entry at all. Tokens come
// from one counter shared by all locks and bumped on every grant, so they
// strictly increase per lock in log order even when one slot holds a batch.
//
// At-most-once: per client, the latest Seq and its Result. A repeat of the
// latest Seq gets the recorded answer (a waiting Lock's record turns from
// Queued to Granted when a later Unlock grants it), so a retried Lock never
// queues twice; an older Seq gets Stale. A new Seq from a client whose Lock
// is still queued cancels that wait: a client has one outstanding request,
// so a new one means it stopped waiting, and granting the lock later would
// hand it to a client that no longer expects it.
//
// Bounding the table: when a new client arrives and MaxClients records exist,
// idle clients are forgotten, the one whose last command (or repeat of it)
// was applied in the oldest slot first, lowest id first within a slot, until
// there is room. Clients that hold or wait for a lock are pinned and never
// evicted: forgetting a holder would leave its lock unreleasable, and
// forgetting a waiter would leave its grant with nobody to answer. So the
// table exceeds MaxClients only while that many clients hold or wait.
//
// A forgotten client is indistinguishable from a new one, so an unknown client
// is accepted only with Seq == FirstSeq; any other Seq from an unknown client
// is answered Stale with no change. Re-applying instead would be unsafe: a
// delayed copy of an evicted client's TryLock that returned Busy could grant
// a lock nobody waits for, and a retried Unlock that had returned Released
// would report NotHeld. A client that gets Stale for its current request must
// treat the outcome as unknown and start a new session with a fresh id (it
// holds nothing, or it would have been pinned). The one case left open is a
// delayed copy of a client's very first request arriving after the client
// was evicted: it is applied as new (a Lock or TryLock copy could grant a
// lock to a client that has moved on). That needs a message to outlive the
// activity of MaxClients more recent clients.
type StateMachine struct {
	cfg       SMConfig
	applied   uint64 // last slot applied
	lastToken uint64 // last fencing token handed out
	locks     map[string]*lockState
	sessions  map[ClientID]*session
	idle      idleHeap // unpinned sessions, least recently active first
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
	}
}

// Applied returns the last slot applied (0 before any).
func (s *StateMachine) Applied() uint64 { return s.applied }

// Apply applies one command chosen in slot and returns its result, plus the
// queued Locks that it granted (only an Unlock grants any). Commands of one
// slot are applied in batch order with the same slot; slots never go back.
// A repeat of the client's latest Seq is answered from the record even if its
// op or name differ, since a client never reuses a Seq for another request.
func (s *StateMachine) Apply(slot uint64, c Command) (Result, []Grant) {
	assert(slot >= s.applied, "slots are applied in order")
	s.applied = slot
	if c.Op.Logged() && c.Op.ReadOnly() {
		// A read changes nothing and is recorded nowhere: the server
		// answers it with the table as it stands at this point of the log.
		return Result{Status: Report}, nil
	}
	sess := s.sessions[c.Client]
	switch {
	case sess == nil && c.Seq != FirstSeq:
		return Result{Status: Stale}, nil
	case sess == nil:
		sess = s.newSession(c.Client)
	case c.Seq < sess.seq:
		return Result{Status: Stale}, nil
	case c.Seq == sess.seq:
		// A retry or a network duplicate: answer from the record. It still
		// counts as activity, so a client retrying for long is not evicted.
		s.touch(sess, slot)
		return sess.result, nil
	}
	s.cancelWait(sess)
	res, grants := s.execute(sess, c)
	sess.seq, sess.result = c.Seq, res
	s.touch(sess, slot)
	return res, grants
}

// Lookup returns the recorded result of (c, seq) if seq is c's latest request.
// A server can answer a retry from it without going through the log.
func (s *StateMachine) Lookup(c ClientID, seq uint64) (Result, bool) {
	sess := s.sessions[c]
	if sess == nil || sess.seq != seq {
		return Result{}, false
	}
	return sess.result, true
}

// Latest returns client c's latest seq and its recorded result, if the
// table holds c (for checkers that follow the state machine).
func (s *StateMachine) Latest(c ClientID) (seq uint64, res Result, ok bool) {
	sess := s.sessions[c]
	if sess == nil {
		return 0, Result{}, false
	}
	return sess.seq, sess.result, true
}

func (s *StateMachine) execute(sess *session, c Command) (Result, []Grant) {
	if !ValidName(c.Name) {
		return Result{Status: Invalid}, nil
	}
	switch c.Op {
	case OpLock, OpTryLock:
		return s.acquire(sess, c), nil
	case OpUnlock:
		return s.release(sess, c.Name)
	}
	return Result{Status: Invalid}, nil
}

func (s *StateMachine) acquire(sess *session, c Command) Result {
	l := s.locks[c.Name]
	switch {
	case l == nil:
		l = &lockState{holder: sess.id, token: s.nextToken()}
		s.locks[c.Name] = l
		sess.holds++
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
	assert(sess.holds > 0, "a holder's count of held locks covers the lock it releases")
	sess.holds--
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
	next.holds++
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
func (s *StateMachine) lockNames() []string { return slices.Sorted(maps.Keys(s.locks)) }
