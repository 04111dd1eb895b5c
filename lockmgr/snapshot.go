package lockmgr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"paxlock/paxos"
)

// snapshotVersion tags the snapshot format; bump it on any change.
const snapshotVersion = 2

// Snapshot returns the canonical encoding of the replicated state: equal
// states give equal bytes, because locks and clients are written sorted and
// every integer is a minimal uvarint.
//
//	version byte | applied | lastToken | lastSession | leader round | leader node
//	| nLocks | per lock by name: name | holder | token | nWaiters | (client, seq)...
//	| nSessions | per session by id: id | nonce | secret (16 bytes) | leaseMs
//	  | seq | status byte | token | holder
func (s *StateMachine) Snapshot() []byte { return s.appendSnapshot(nil) }

func (s *StateMachine) appendSnapshot(b []byte) []byte {
	b = append(b, snapshotVersion)
	b = binary.AppendUvarint(b, s.applied)
	b = binary.AppendUvarint(b, s.lastToken)
	b = binary.AppendUvarint(b, uint64(s.lastSession))
	b = binary.AppendUvarint(b, s.leader.Round)
	b = binary.AppendUvarint(b, uint64(s.leader.Node))
	names := s.lockNames()
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = appendLock(b, name, s.locks[name])
	}
	ids := s.sessionIDs()
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = appendSession(b, s.sessions[id])
	}
	return b
}

func appendLock(b []byte, name string, l *lockState) []byte {
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendUvarint(b, uint64(l.holder))
	b = binary.AppendUvarint(b, l.token)
	b = binary.AppendUvarint(b, uint64(len(l.waiters)))
	for _, w := range l.waiters {
		b = binary.AppendUvarint(b, uint64(w.client))
		b = binary.AppendUvarint(b, w.seq)
	}
	return b
}

func appendSession(b []byte, sess *session) []byte {
	b = binary.AppendUvarint(b, uint64(sess.id))
	b = binary.AppendUvarint(b, uint64(sess.nonce))
	b = append(b, sess.secret[:]...)
	b = binary.AppendUvarint(b, sess.leaseMs)
	b = binary.AppendUvarint(b, sess.seq)
	b = append(b, byte(sess.result.Status))
	b = binary.AppendUvarint(b, sess.result.Token)
	return binary.AppendUvarint(b, uint64(sess.result.Holder))
}

// Hash is FNV-1a 64 over the canonical snapshot, so replicas with equal state
// have equal hashes, and (up to collisions) only those.
func (s *StateMachine) Hash() uint64 {
	s.scratch = s.appendSnapshot(s.scratch[:0])
	h := fnv.New64a()
	h.Write(s.scratch)
	return h.Sum64()
}

// ErrBadSnapshot is wrapped by every RestoreStateMachine error.
var ErrBadSnapshot = errors.New("lockmgr: bad snapshot")

// RestoreStateMachine rebuilds a state machine from Snapshot's output. It
// never panics: it rejects anything that is not the canonical encoding of a
// consistent state, since a replica that restored a wrong table would
// silently diverge from the others.
func RestoreStateMachine(cfg SMConfig, data []byte) (*StateMachine, error) {
	s := NewStateMachine(cfg)
	r := reader{b: data}
	if v := r.byte(); r.err == nil && v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d", ErrBadSnapshot, v)
	}
	s.applied = r.uvarint()
	s.lastToken = r.uvarint()
	s.lastSession = ClientID(r.uvarint())
	s.leader.Round = r.uvarint()
	if node := r.uvarint(); node > 1<<32-1 {
		r.fail("leader node")
	} else {
		s.leader.Node = paxos.ID(node)
	}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		s.readLock(&r)
	}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		s.readSession(&r)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, r.err)
	}
	if err := s.rebuild(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	// Canonical form: sorted, no duplicates, minimal varints, no trailing
	// bytes. Re-encoding is the simplest complete check.
	if !bytes.Equal(s.Snapshot(), data) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrBadSnapshot)
	}
	return s, nil
}

func (s *StateMachine) readLock(r *reader) {
	name := string(r.bytes(r.uvarint()))
	l := &lockState{holder: ClientID(r.uvarint()), token: r.uvarint()}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		l.waiters = append(l.waiters, waiter{client: ClientID(r.uvarint()), seq: r.uvarint()})
	}
	if r.err == nil {
		s.locks[name] = l
	}
}

func (s *StateMachine) readSession(r *reader) {
	sess := &session{id: ClientID(r.uvarint()), nonce: ClientID(r.uvarint())}
	copy(sess.secret[:], r.bytes(KeyBytes))
	sess.leaseMs = r.uvarint()
	sess.seq = r.uvarint()
	sess.result.Status = Status(r.byte())
	sess.result.Token = r.uvarint()
	sess.result.Holder = ClientID(r.uvarint())
	if r.err == nil {
		s.sessions[sess.id] = sess
		s.nonces[sess.nonce] = sess.id
	}
}

// rebuild checks the invariants Apply maintains and recomputes the derived
// session fields.
func (s *StateMachine) rebuild() error {
	if len(s.nonces) != len(s.sessions) {
		return fmt.Errorf("two sessions share an open nonce")
	}
	for _, id := range s.sessionIDs() {
		if err := s.checkSession(s.sessions[id]); err != nil {
			return err
		}
	}
	for _, name := range s.lockNames() {
		if err := s.linkLock(name, s.locks[name]); err != nil {
			return err
		}
	}
	for _, id := range s.sessionIDs() {
		sess := s.sessions[id]
		if sess.result.Status == Queued && sess.waitName == "" {
			return fmt.Errorf("%v is queued but waits for no lock", id)
		}
	}
	return nil
}

func (s *StateMachine) checkSession(sess *session) error {
	r := sess.result
	switch {
	case sess.id == 0 || sess.id > s.lastSession || sess.nonce&NonceBit == 0:
		return fmt.Errorf("session %v (nonce %x)", sess.id, uint64(sess.nonce))
	case sess.seq == 0 && r != Result{}:
		return fmt.Errorf("%v: a result before any request", sess.id)
	case sess.seq == 0:
		return nil
	case !r.Status.valid() || r.Status > Invalid:
		return fmt.Errorf("%v: recorded status %v", sess.id, r.Status)
	case r.Status == Granted && (r.Token == 0 || r.Token > s.lastToken):
		return fmt.Errorf("%v: recorded token %d", sess.id, r.Token)
	case r.Status != Granted && r.Token != 0, r.Status != Busy && r.Holder != 0:
		return fmt.Errorf("%v: stray fields in %v", sess.id, r)
	}
	return nil
}

// linkLock checks one lock against the client table and counts its holder
// and waiters into their sessions.
func (s *StateMachine) linkLock(name string, l *lockState) error {
	holder := s.sessions[l.holder]
	switch {
	case !ValidName(name):
		return fmt.Errorf("lock name of %d bytes", len(name))
	case holder == nil:
		return fmt.Errorf("lock %q: holder %v has no record", name, l.holder)
	case l.token == 0 || l.token > s.lastToken:
		return fmt.Errorf("lock %q: token %d", name, l.token)
	}
	holder.hold(name)
	for _, w := range l.waiters {
		sess := s.sessions[w.client]
		switch {
		case sess == nil || sess.seq != w.seq || sess.result.Status != Queued:
			return fmt.Errorf("lock %q: waiter %v#%d has no matching record", name, w.client, w.seq)
		case sess.waitName != "" || w.client == l.holder:
			return fmt.Errorf("lock %q: waiter %v waits twice", name, w.client)
		}
		sess.waitName = name
	}
	return nil
}
