package paxos

import (
	"encoding/binary"
	"hash"
	"math/rand/v2"
	"slices"
)

// Copying and fingerprinting a replica, for an exhaustive explorer that
// branches a run at every step (scenarios/explore): Clone gives each
// branch a replica of its own, and AppendFingerprint encodes everything
// that decides what the replica does next, canonically, so that two
// branches that reached the same state are searched once.
//
// Both cover every field of the replica and of the types it holds; a test
// (fingerprint_test.go) lists each field as encoded or left out (with the
// reason), and fails when a field is added to a struct without a decision.

// Clone returns a deep copy of r that shares nothing mutable with it; it
// draws its random choices from rng from now on (the caller copies the
// source's state if the two are to draw alike). Command bytes, snapshot
// data and configuration slices are shared: nothing writes them once
// they are in a replica.
func (r *Replica) Clone(rng *rand.Rand) *Replica {
	c := *r
	c.cfg.Rand = rng
	c.log = r.log.clone()
	c.cand.from = slices.Clone(r.cand.from)
	c.cand.best = r.cand.best.clone()
	c.pending = slices.Clone(r.pending)
	c.forward = slices.Clone(r.forward)
	c.snapIn.buf = slices.Clone(r.snapIn.buf)
	c.snapIn.have = slices.Clone(r.snapIn.have)
	c.out = r.out.clone()
	if r.rebuild != nil {
		rb := *r.rebuild // the nudge's bytes are never written
		c.rebuild = &rb
	}
	return &c
}

func (l slotLog) clone() slotLog {
	l.s = slices.Clone(l.s)
	return l
}

func (o *outbox) clone() outbox {
	c := *o
	c.records = slices.Clone(o.records)
	c.msgs = slices.Clone(o.msgs)
	c.self = slices.Clone(o.self)
	c.committed = nil // a buffer, refilled by each Ready
	if o.snap != nil {
		s := *o.snap
		c.snap = &s
	}
	return c
}

// Fingerprint writes r's canonical encoding (see AppendFingerprint) to h.
func (r *Replica) Fingerprint(h hash.Hash64) {
	h.Write(r.AppendFingerprint(nil))
}

// AppendFingerprint appends a canonical encoding of r's whole state,
// durable and volatile, to b: two replicas with equal encodings behave
// alike from here on, given equal inputs and equal random draws (the
// random source is the caller's to encode). Left out: the configuration
// (fixed for a run), the step and tick functions (they follow the role,
// which is encoded) and scratch buffers.
func (r *Replica) AppendFingerprint(b []byte) []byte {
	b = appendU(b, uint64(r.id), uint64(r.self), uint64(r.quorum))
	b = appendBallot(b, r.promised)
	b = r.log.appendFingerprint(b)
	b = appendU(b, r.snap.Slot, uint64(len(r.snap.Data)))
	b = append(b, r.snap.Data...)
	b = appendU(b, r.commit, r.applied, uint64(r.role))
	b = appendBallot(b, r.ballot)
	b = appendBallot(b, r.maxSeen)
	b = appendU(b, uint64(r.leader))
	b = r.cand.appendFingerprint(b)
	b = appendU(b, b2u(r.preVote.active))
	b = appendBallot(b, r.preVote.ballot)
	b = appendU(b, r.preVote.votes, b2u(r.preVote.heard), uint64(r.preVote.resends))
	b = appendU(b, r.nextSlot)
	b = appendCmds(b, r.pending)
	b = appendU(b, r.active)
	b = appendI(b, r.electionElapsed, r.electionTimeout, r.heartbeatElapsed, r.resendElapsed,
		r.quorumElapsed, r.backoffAttempts, r.catchupElapsed)
	b = appendU(b, b2u(r.catchupWanted), uint64(r.catchupFrom))
	b = appendU(b, uint64(r.snapIn.from), r.snapIn.slot, uint64(len(r.snapIn.buf)))
	b = append(b, r.snapIn.buf...)
	b = appendU(b, uint64(len(r.snapIn.have)))
	b = appendU(b, r.snapIn.have...)
	b = appendU(b, r.snapIn.got)
	b = appendCmds(b, r.forward)
	b = appendU(b, b2u(r.commitDirty))
	b = r.out.appendFingerprint(b)
	b = r.appendRebuildFingerprint(b)
	b = appendU(b, r.conflicts, uint64(len(r.conflict)))
	return append(b, r.conflict...)
}

// appendRebuildFingerprint encodes the rebuild's progress; its sync
// number only relative to the outbox's, as the outbox's own.
func (r *Replica) appendRebuildFingerprint(b []byte) []byte {
	b = appendU(b, r.rebuiltAt)
	rb := r.rebuild
	if rb == nil {
		return appendU(b, 0)
	}
	b = appendU(b, 1)
	b = appendCmds(b, [][]byte{rb.nudge})
	b = appendI(b, rb.resend)
	b = appendU(b, b2u(rb.resumed), r.out.syncSeq-rb.syncSeq, rb.slot)
	b = appendBallot(b, rb.leading)
	return appendU(b, b2u(rb.found), rb.heard)
}

func (l *slotLog) appendFingerprint(b []byte) []byte {
	b = appendU(b, l.start, uint64(len(l.s)))
	for i := range l.s {
		s := &l.s[i]
		b = appendU(b, uint64(s.state))
		b = appendBallot(b, s.ballot)
		b = appendCmds(b, s.cmds)
		b = appendU(b, s.acks)
	}
	return b
}

func (c *candidateState) appendFingerprint(b []byte) []byte {
	b = appendU(b, c.base, c.done, c.rejects, uint64(len(c.from)))
	b = appendU(b, c.from...)
	b = c.best.appendFingerprint(b)
	return appendU(b, c.peerCommit, b2u(c.askedSelf), b2u(c.dropped))
}

// appendFingerprint encodes what waits for the host. The sequence numbers
// matter only against what the outstanding Ready took (retire compares
// them), so only their differences are encoded: a replica at rest is the
// same whatever they count up to.
func (o *outbox) appendFingerprint(b []byte) []byte {
	b = appendU(b, uint64(len(o.records)))
	for i := range o.records {
		b = AppendRecord(b, &o.records[i])
	}
	b = appendU(b, b2u(o.rewrite), b2u(o.sync), uint64(len(o.msgs)))
	for i := range o.msgs {
		b = AppendMessage(b, &o.msgs[i])
	}
	if o.snap != nil {
		b = appendU(b, 1, o.snap.Slot, uint64(len(o.snap.Data)))
		b = append(b, o.snap.Data...)
	} else {
		b = appendU(b, 0)
	}
	b = appendU(b, uint64(len(o.self)))
	for i := range o.self {
		b = AppendMessage(b, &o.self[i])
	}
	b = appendU(b, b2u(o.outstanding))
	if o.outstanding {
		h := &o.handed
		b = appendU(b, uint64(h.records), uint64(h.msgs), uint64(h.self), o.syncSeq-h.syncSeq,
			o.rewriteSeq-h.rewriteSeq, o.snapSeq-h.snapSeq, h.commit)
	}
	return b
}

func appendU(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func appendI(b []byte, vs ...int) []byte {
	for _, v := range vs {
		b = binary.AppendVarint(b, int64(v))
	}
	return b
}

func appendCmds(b []byte, cmds [][]byte) []byte {
	b = appendU(b, uint64(len(cmds)))
	for _, c := range cmds {
		b = appendU(b, uint64(len(c)))
		b = append(b, c...)
	}
	return b
}

func b2u(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}
