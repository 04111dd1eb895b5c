package lockmgr

import (
	"crypto/hmac"
	"maps"
	"slices"
)

// session is a client session's record: its identity, lease and
// at-most-once answer.
type session struct {
	id      ClientID
	nonce   ClientID // the OpOpen's nonce, so that a repeated open finds it
	secret  Key
	leaseMs uint64
	seq     uint64 // latest request applied; 0 before the first
	result  Result // its answer

	// Derived from the lock table, rebuilt on restore, never encoded.
	held     []string // the locks held, sorted
	waitName string   // the lock waited for while result.Status == Queued
	mac      *mac     // keyed with secret, made on first use
	// verified is the last command whose tag was checked and found good:
	// the replica that took a request checks it on arrival, and need not
	// compute the same tag again when it applies that very command.
	verified Command
}

// tagValid reports whether c's Key is its tag under the session's secret,
// in constant time.
func (sess *session) tagValid(c Command) bool {
	if c == sess.verified {
		return true
	}
	if sess.mac == nil {
		sess.mac = newMAC(sess.secret)
	}
	t := sess.mac.tag(c)
	if !hmac.Equal(t[:], c.Key[:]) {
		return false
	}
	sess.verified = c
	return true
}

func (sess *session) hold(name string) {
	i, found := slices.BinarySearch(sess.held, name)
	assert(!found, "a session holds a lock once")
	sess.held = slices.Insert(sess.held, i, name)
}

func (sess *session) unhold(name string) {
	i, found := slices.BinarySearch(sess.held, name)
	assert(found, "a holder's list of held locks has the lock it releases")
	sess.held = slices.Delete(sess.held, i, i+1)
}

// SessionInfo describes a live session, for a leader timing leases (the
// secret is not in it).
type SessionInfo struct {
	ID      ClientID
	LeaseMs uint64
}

// Sessions lists the live sessions in id order.
func (s *StateMachine) Sessions() []SessionInfo {
	ids := s.sessionIDs()
	out := make([]SessionInfo, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.info(s.sessions[id]))
	}
	return out
}

// Session describes session id, if it lives.
func (s *StateMachine) Session(id ClientID) (SessionInfo, bool) {
	sess := s.sessions[id]
	if sess == nil {
		return SessionInfo{}, false
	}
	return s.info(sess), true
}

// LastSession is the id of the latest session opened: every id up to it
// was handed out once, so one of them that is not live has ended for good.
func (s *StateMachine) LastSession() ClientID { return s.lastSession }

// Authentic reports whether c's tag proves the secret of its session,
// which lives. A server checks it before it proposes a request or counts
// a keepalive; the state machine checks again when it applies one.
func (s *StateMachine) Authentic(c Command) bool {
	sess := s.sessions[c.Client]
	return sess != nil && sess.tagValid(c)
}

func (s *StateMachine) info(sess *session) SessionInfo {
	return SessionInfo{ID: sess.id, LeaseMs: sess.leaseMs}
}

// sessionIDs lists the session ids in order (see lockNames).
//
// The slice is the state machine's scratch, valid until the next call:
// Hash runs every few slots at every replica, and a fresh slice each time
// was about 5% of the objects a sweep allocated.
func (s *StateMachine) sessionIDs() []ClientID {
	s.idsScratch = slices.AppendSeq(s.idsScratch[:0], maps.Keys(s.sessions))
	slices.Sort(s.idsScratch)
	return s.idsScratch
}

// OpenedBy answers a repeat of an OpOpen whose session lives, so that a
// server need not log it again; ok is false for anything else.
func (s *StateMachine) OpenedBy(c Command) (Result, bool) {
	if c.Op != OpOpen {
		return Result{}, false
	}
	id, ok := s.nonces[c.Client]
	if !ok || s.sessions[id].secret != c.Key {
		return Result{}, false
	}
	return Result{Status: Opened, Holder: id, Token: s.sessions[id].leaseMs}, true
}
