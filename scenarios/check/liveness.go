package check

import (
	"fmt"

	"paxlock/paxos"
)

// Liveness measures, from recorded events only, how fast the group serves
// once the faults have healed, and holds it to bounds stated in the
// group's own timeouts:
//
//   - recovery: from the heal until a leader is established, meaning a
//     replica sends a leader's message (heartbeat or accept) at a ballot of
//     its own that is the highest a majority has promised (the promises
//     counted are the Promise messages sent, which leave only once durable;
//     the owner counts for its own ballot unless it promised a higher one).
//     With one replica there is no election to wait for: the lone
//     replica is its own majority, recovery is zero, and the wait bound
//     below is what holds it to serving. (Its first commit after the heal
//     is no measure: with every client queued behind a lock whose holder
//     is gone, the first commit is that holder's expiry, a lease later.)
//   - wait: for every operation outstanding at the heal or started after
//     it, the time from the later of its start and the heal until its
//     answer, not counting time a Lock spent queued behind another holder
//     (that is the holder's to end, not the group's). Operations that never
//     finished count up to the time Bounds are checked.
//
// Neither figure trusts a replica's idea of its own role.
type Liveness struct {
	n         int
	healNs    int64          // -1 until the heal
	promised  []paxos.Ballot // by replica id: the highest ballot it sent a promise for
	leaderNs  int64          // when a leader was first established after the heal; -1 until then
	leaderB   paxos.Ballot
	started   map[int]int64 // open operations: history index -> start
	maxWait   int64         // after the heal
	maxWaitOp int
	maxAny    int64 // over the whole run, faults included
	maxAnyOp  int
	// Every leader established, counted once per ballot (the last one
	// seen; a leader's ballot does not come back).
	lastLeader paxos.Ballot
	elections  int
}

// Elections is how many leaders were established in the run (each ballot
// at which a replica led with a majority's promises, once).
func (l *Liveness) Elections() int { return l.elections }

// NewLiveness follows a group of n replicas.
func NewLiveness(n int) *Liveness {
	return &Liveness{n: n, healNs: -1, leaderNs: -1, maxWaitOp: -1, maxAnyOp: -1,
		promised: make([]paxos.Ballot, n+1), started: map[int]int64{}}
}

// Healed: every fault ended at now (the liveness phase began).
func (l *Liveness) Healed(now int64) {
	l.healNs = now
}

// Sent: replica id sent m at now.
func (l *Liveness) Sent(now int64, id paxos.ID, m *paxos.Message) {
	// What a replica says it promised: a promise, an acceptance (which
	// an acceptor sends only at or above its promise), or leading at a
	// ballot of its own (its own promise is never sent as a message).
	raise := func() {
		if int(id) < len(l.promised) && ballotLess(l.promised[id], m.Ballot) {
			l.promised[id] = m.Ballot
		}
	}
	switch m.Type {
	case paxos.MsgPromise, paxos.MsgAccepted:
		if !m.Reject {
			raise()
		}
	case paxos.MsgHeartbeat, paxos.MsgAccept:
		if !m.Reject && m.Ballot.Node == id {
			raise()
		}
		waiting := l.healNs >= 0 && l.leaderNs < 0
		if m.Reject || m.Ballot.Node != id || m.Ballot == l.lastLeader && !waiting {
			return
		}
		votes := 0
		for r := 1; r < len(l.promised); r++ {
			if l.promised[r] == m.Ballot {
				votes++
			}
		}
		if 2*votes <= l.n {
			return
		}
		if m.Ballot != l.lastLeader {
			l.lastLeader = m.Ballot
			l.elections++
		}
		if waiting {
			l.leaderNs, l.leaderB = now, m.Ballot
		}
	}
}

// Committed: with one replica, its first commit after the heal shows it leads.
func (l *Liveness) Committed(now int64) {}

// Gone: operation h's client died for good: nobody waits for its answer
// any more, and its wait so far stays counted.
func (l *Liveness) Gone(now int64, h int) {
	if t, ok := l.started[h]; ok {
		l.account(h, t, now)
		delete(l.started, h)
	}
}

// Invoked: operation h started at now.
func (l *Liveness) Invoked(now int64, h int) { l.started[h] = now }

// Queued: operation h was answered Queued at now; the wait so far counts,
// the wait from here until the grant does not.
func (l *Liveness) Queued(now int64, h int) {
	if t, ok := l.started[h]; ok {
		l.account(h, t, now)
		delete(l.started, h)
	}
}

// Returned: operation h was answered at now. A Lock that was queued is
// timed from its grant's arrival only if it was still being timed.
func (l *Liveness) Returned(now int64, h int) {
	if t, ok := l.started[h]; ok {
		l.account(h, t, now)
		delete(l.started, h)
	}
}

func (l *Liveness) account(h int, from, to int64) {
	if to-from > l.maxAny {
		l.maxAny, l.maxAnyOp = to-from, h
	}
	if l.healNs < 0 {
		return // waits before the heal are the faults' doing
	}
	if w := to - max(from, l.healNs); w > l.maxWait {
		l.maxWait, l.maxWaitOp = w, h
	}
}

// MaxWaitAnyNs is the longest wait of the whole run, faults included,
// counting operations still open at now, and its operation (-1: none).
func (l *Liveness) MaxWaitAnyNs(now int64) (int64, int) {
	w, op := l.maxAny, l.maxAnyOp
	for h, t := range l.started {
		if now-t > w || now-t == w && h < op {
			w, op = now-t, h
		}
	}
	return w, op
}

// RecoveryNs is the time from the heal to an established leader (-1: not
// yet, or not healed).
func (l *Liveness) RecoveryNs() int64 {
	switch {
	case l.healNs < 0:
		return -1
	case l.n == 1:
		return 0
	case l.leaderNs < 0:
		return -1
	}
	return l.leaderNs - l.healNs
}

// MaxWaitNs is the longest wait after the heal, counting operations still
// open at now, and the history index of the operation (-1: none).
func (l *Liveness) MaxWaitNs(now int64) (int64, int) {
	w, op := l.maxWait, l.maxWaitOp
	if l.healNs < 0 {
		return w, op
	}
	for h, t := range l.started {
		t = max(t, l.healNs)
		if now-t > w || now-t == w && h < op {
			w, op = now-t, h
		}
	}
	return w, op
}

// Bounds are the most recovery and wait may take.
type Bounds struct {
	RecoveryNs int64
	WaitNs     int64
	// AnyWaitNs, if > 0, bounds every wait of the run, faults included
	// (for runs whose faults always leave a majority connected).
	AnyWaitNs int64
}

// Check fails if recovery or a wait exceeded its bound by now (only once
// the faults have healed).
func (l *Liveness) Check(now int64, b Bounds) *Failure {
	if w, h := l.MaxWaitAnyNs(now); b.AnyWaitNs > 0 && w > b.AnyWaitNs {
		return &Failure{Kind: FailLiveness, Detail: fmt.Sprintf("operation %d waited %s, bound %s (faults included)",
			h, fmtNs(w), fmtNs(b.AnyWaitNs))}
	}
	if l.healNs < 0 {
		return nil
	}
	rec := l.RecoveryNs()
	switch {
	case rec > b.RecoveryNs:
		return &Failure{Kind: FailLiveness, Detail: fmt.Sprintf("leader established %s after the heal (ballot %s), bound %s",
			fmtNs(rec), fmtBallot(l.leaderB), fmtNs(b.RecoveryNs))}
	case rec < 0 && now-l.healNs > b.RecoveryNs:
		return &Failure{Kind: FailLiveness, Detail: fmt.Sprintf("no leader established %s after the heal, bound %s",
			fmtNs(now-l.healNs), fmtNs(b.RecoveryNs))}
	}
	if w, h := l.MaxWaitNs(now); w > b.WaitNs {
		return &Failure{Kind: FailLiveness, Detail: fmt.Sprintf("operation %d waited %s after the heal, bound %s",
			h, fmtNs(w), fmtNs(b.WaitNs))}
	}
	return nil
}

func fmtNs(ns int64) string { return fmt.Sprintf("%.1fms", float64(ns)/1e6) }
