package lockmgr

import (
	"encoding/binary"
	"hash"
	"maps"
	"math/rand/v2"
	"slices"

	"paxlock/paxos"
)

// Copying and fingerprinting nodes and clients, for an exhaustive explorer
// that branches a run at every step (scenarios/explore); see
// paxos/fingerprint.go. A test (fingerprint_test.go) lists every field of
// every struct involved as encoded or left out, and fails when one is
// added without a decision.
//
// A session's HMAC (mac) is shared between copies: it is a keyed tagger
// whose scratch state is reset on every use, so copies driven one at a
// time (the explorer is single-threaded, as this package is) cannot see
// each other through it, and setting up a key costs more than a tag.

// Clone returns a deep copy of n, driving store and net from now on, seen
// by obs, drawing its random choices from rng. n must be at rest (not
// inside a drive), which is all a caller outside the package can see.
func (n *Node) Clone(store Storage, net Transport, obs Observer, rng *rand.Rand) *Node {
	c := *n
	c.srv = n.srv.clone(obs, rng)
	c.store, c.net = store, net
	// Packets already handed out keep the old slab; the copy carves its
	// own from a small one once it sends (see firstSlabBytes).
	c.slab = nil
	return &c
}

func (s *Server) clone(obs Observer, rng *rand.Rand) *Server {
	c := *s
	c.cfg.Paxos.Rand = rng
	c.rep = s.rep.Clone(rng)
	// The state machine changes only when a slot is applied (or a
	// snapshot adopted), which most steps of an explorer's copy do not
	// do: the copy shares it until then (see ownSM).
	c.smShared, s.smShared = true, true
	// So are the client and lease maps, until one of the two changes
	// them (ownRefs): most steps only read them.
	c.refsShared, s.refsShared = true, true
	c.replies = slices.Clone(s.replies)
	c.in = paxos.Message{}
	c.slab = nil
	c.obs = obs
	return &c
}

func (s *StateMachine) clone() *StateMachine {
	c := *s
	c.locks = make(map[string]*lockState, len(s.locks))
	for name, l := range s.locks {
		lc := *l
		lc.waiters = slices.Clone(l.waiters)
		c.locks[name] = &lc
	}
	c.sessions = make(map[ClientID]*session, len(s.sessions))
	for id, sess := range s.sessions {
		sc := *sess
		sc.held = slices.Clone(sess.held)
		c.sessions[id] = &sc
	}
	c.nonces = maps.Clone(s.nonces)
	c.scratch, c.idsScratch, c.namesScratch = nil, nil, nil
	return &c
}

// Clone returns a deep copy of c drawing its random choices from rng.
func (c *Client) Clone(rng *rand.Rand) *Client {
	x := *c
	x.cfg.Rand = rng
	x.cur = c.cur.clone()
	x.open = c.open.clone()
	x.out = slices.Clone(c.out)
	return &x
}

func (r *request) clone() *request {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// Fingerprint writes n's canonical encoding (see AppendFingerprint) to h.
func (n *Node) Fingerprint(h hash.Hash64) { h.Write(n.AppendFingerprint(nil)) }

// AppendFingerprint appends a canonical encoding of the node's whole
// state, the replica's and the lock server's, to b: maps are encoded in
// key order. Left out: the configuration, the storage, transport and
// observer (the caller's), scratch buffers and caches (the packet slabs,
// the decoded message, a session's HMAC and the last tag it verified).
func (n *Node) AppendFingerprint(b []byte) []byte {
	s := n.srv
	b = s.rep.AppendFingerprint(b)
	b = s.sm.appendSnapshot(b)
	b = fpU(b, n.skippedAt, b2u(n.err != nil), b2u(n.rebuilding), uint64(len(s.clients)))
	var ids [16]ClientID // most nodes know few clients: no allocation
	for _, id := range sortedIDs(s.clients, ids[:0]) {
		ref := s.clients[id]
		b = fpU(b, uint64(id), uint64(ref.addr), ref.seq)
		b = fpI(b, ref.proposedAt, ref.seenAt)
	}
	b = fpI(b, s.now)
	b = fpU(b, uint64(len(s.replies)))
	for _, p := range s.replies {
		b = fpU(b, uint64(p.To), uint64(len(p.Data)))
		b = append(b, p.Data...)
	}
	b = fpU(b, s.counters[:]...)
	b = fpU(b, s.nextApply)
	t := &s.leases
	b = fpU(b, t.ballot.Round, uint64(t.ballot.Node), uint64(len(t.heard)))
	for _, id := range sortedIDs(t.heard, ids[:0]) {
		ref := t.heard[id]
		b = fpU(b, uint64(id), ref.keepalive)
		b = fpI(b, ref.heard, ref.proposedAt)
	}
	b = fpI(b, t.next, t.leadAt)
	return fpU(b, t.leadFor.Round, uint64(t.leadFor.Node))
}

// sortedIDs appends m's keys to dst, in order.
func sortedIDs[V any](m map[ClientID]V, dst []ClientID) []ClientID {
	for id := range m {
		dst = append(dst, id)
	}
	slices.Sort(dst)
	return dst
}

// Fingerprint writes c's canonical encoding (see AppendFingerprint) to h.
func (c *Client) Fingerprint(h hash.Hash64) { h.Write(c.AppendFingerprint(nil)) }

// AppendFingerprint appends a canonical encoding of the client's whole
// state to b. Left out: the configuration (the random source is the
// caller's to encode) and the session's HMAC (made from the secret).
func (c *Client) AppendFingerprint(b []byte) []byte {
	b = fpI(b, c.now)
	b = fpU(b, c.nextSeq, c.nextRead, uint64(c.leader))
	b = c.cur.appendFingerprint(b)
	b = fpU(b, uint64(len(c.out)))
	for _, p := range c.out {
		b = fpU(b, uint64(p.To), uint64(len(p.Data)))
		b = append(b, p.Data...)
	}
	b = fpU(b, uint64(c.id))
	b = append(b, c.secret[:]...)
	b = fpI(b, c.leaseTicks, c.heldUntil)
	b = fpU(b, uint64(c.lost))
	b = c.open.appendFingerprint(b)
	b = fpU(b, c.ka.seq)
	return fpI(b, c.ka.sentAt, c.ka.due, int64(c.ka.target))
}

func (r *request) appendFingerprint(b []byte) []byte {
	if r == nil {
		return fpU(b, 0)
	}
	b = fpU(b, 1)
	b = r.req.appendBody(b)
	b = append(b, r.req.Key[:]...)
	b = fpI(b, int64(r.target), int64(r.attempts), int64(r.elapsed), int64(r.timeout), int64(r.backoff))
	b = fpU(b, b2u(r.hop), b2u(r.queued))
	b = fpI(b, r.sentAt)
	return fpU(b, b2u(r.started))
}

func fpU(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func fpI(b []byte, vs ...int64) []byte {
	for _, v := range vs {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func b2u(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}
