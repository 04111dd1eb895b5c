package check

import (
	"paxlock/lockmgr"
	"paxlock/paxos"
)

// Leases checks the lease rule: no session is expired sooner than its
// lease, counted on the clock of the leader that expires it, after the
// last keepalive a leader acknowledged while it timed leases (its lead
// being the latest applied). It reads only events: the leads and opens
// replicas apply, the keepalives they acknowledge, the expiries they
// propose, and each replica's tick count as the simulator keeps it (not
// the replica's own idea of time).
//
// What it cannot see: a keepalive acknowledged by a deposed leader that
// does not know it yet (its lead is no longer the latest applied) counts
// for nothing here, as it counts for nothing with the new leader; a
// client that took such an answer as a renewal may lose its locks early,
// which is why fencing tokens, not leases, keep the locks safe.
type Leases struct {
	tickNs  int64
	clock   func(paxos.ID) Clock
	n       int
	lead    paxos.Ballot
	leaseMs map[lockmgr.ClientID]uint64
	heard   map[lockmgr.ClientID]heardAt // the last acknowledged keepalive (or the open)
	expiry  map[expiryKey]proposal       // the first proposal of each expiry
	err     *Failure
}

// Clock is a replica's tick count in its current incarnation.
type Clock struct {
	Incarnation int
	Ticks       int64
}

type heardAt struct {
	atNs   int64
	clocks []Clock // every replica's, by id-1
}

type expiryKey struct {
	s lockmgr.ClientID
	b paxos.Ballot
}

type proposal struct {
	atNs  int64
	by    paxos.ID
	clock Clock
}

// NewLeases checks a group of n replicas whose ticks last tickNs; clock
// reads a replica's tick count now.
func NewLeases(n int, tickNs int64, clock func(paxos.ID) Clock) *Leases {
	return &Leases{n: n, tickNs: tickNs, clock: clock, leaseMs: map[lockmgr.ClientID]uint64{},
		heard: map[lockmgr.ClientID]heardAt{}, expiry: map[expiryKey]proposal{}}
}

// Err is the first failure found, or nil.
func (l *Leases) Err() *Failure { return l.err }

func (l *Leases) stamp(now int64) heardAt {
	h := heardAt{atNs: now, clocks: make([]Clock, l.n)}
	for i := range h.clocks {
		h.clocks[i] = l.clock(paxos.ID(i + 1))
	}
	return h
}

// KeptAlive: replica id, timing leases under ballot b, acknowledged a
// keepalive of session s at now.
func (l *Leases) KeptAlive(now int64, id paxos.ID, s lockmgr.ClientID, b paxos.Ballot) {
	if b == l.lead {
		l.heard[s] = l.stamp(now)
	}
}

// Proposed: replica id proposed c at now.
func (l *Leases) Proposed(now int64, id paxos.ID, c lockmgr.Command) {
	if c.Op != opExpire {
		return
	}
	k := expiryKey{c.Client, paxos.Ballot{Round: c.Arg, Node: c.Node}}
	if _, ok := l.expiry[k]; !ok {
		l.expiry[k] = proposal{atNs: now, by: id, clock: l.clock(id)}
	}
}

// Applied: a command was applied, at now, with result r; only its first
// application anywhere counts (an expiry is reported once, when first
// applied).
func (l *Leases) Applied(now int64, c lockmgr.Command, r lockmgr.Result) {
	switch {
	case c.Op == opLead && r.Status == lockmgr.Ended:
		if b := (paxos.Ballot{Round: c.Arg, Node: c.Node}); l.lead.Less(b) {
			l.lead = b
		}
	case c.Op == opOpen && r.Status == lockmgr.Opened:
		if _, ok := l.leaseMs[r.Holder]; !ok {
			l.leaseMs[r.Holder] = r.Token
			l.heard[r.Holder] = l.stamp(now)
		}
	case c.Op == opExpire && r.Status == lockmgr.Ended:
		l.expired(c)
	}
}

func (l *Leases) expired(c lockmgr.Command) {
	p, ok := l.expiry[expiryKey{c.Client, paxos.Ballot{Round: c.Arg, Node: c.Node}}]
	h, heard := l.heard[c.Client]
	if !ok || !heard || l.err != nil {
		return // the runner fails an expiry nobody proposed
	}
	at := h.clocks[p.by-1]
	elapsed := p.clock.Ticks
	if at.Incarnation == p.clock.Incarnation {
		elapsed -= at.Ticks
	}
	// The lease in the proposer's ticks, rounded up as a replica does;
	// one tick of slack for where in a tick each event fell.
	need := (int64(l.leaseMs[c.Client])*1_000_000 + l.tickNs - 1) / l.tickNs
	if elapsed < need-1 {
		l.err = failf(FailLease, "%v expired by replica %d at %s, %d of its ticks after a leader last heard it at %s; its lease is %d ms, %d ticks",
			c.Client, p.by, fmtNs(p.atNs), elapsed, fmtNs(h.atNs), l.leaseMs[c.Client], need)
	}
}
