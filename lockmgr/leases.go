package lockmgr

import (
	"math"
	"slices"

	"paxlock/paxos"
)

// Leases are timed by the leader alone, on its own clock, and never logged:
// a keepalive costs the leader a map update and one reply. What goes
// through the log is the outcome, OpExpire, so every replica ends the same
// session at the same slot.
//
// A leader may time leases only once the log says it leads them: it
// proposes OpLead with its ballot as soon as it leads, and it starts timing
// when that command is applied, counting every live session as heard at
// that moment. So a new leader never expires a session on an old leader's
// timestamps (it has none), and an OpExpire the old leader proposed that is
// chosen after the OpLead carries the old ballot and is applied as Stale.
// No session ends sooner than its lease after the last keepalive a leader
// acknowledged, measured on that leader's clock, as long as the leader that
// acknowledged it still led: a deposed leader that does not know it yet
// still answers keepalives, and clocks drift. Leases make a dead client's
// locks come free; fencing tokens keep them safe.

// leaseTimer is the leader's volatile lease state.
type leaseTimer struct {
	// ballot: the ballot the leases are timed under; zero while this
	// replica does not time leases.
	ballot  paxos.Ballot
	heard   map[ClientID]*leaseRef
	next    int64 // the tick of the next scan for ended leases
	leadAt  int64 // when OpLead was last proposed
	leadFor paxos.Ballot
}

type leaseRef struct {
	heard      int64  // the tick the session was last heard
	keepalive  uint64 // the highest keepalive number taken
	proposedAt int64  // when its OpExpire was last proposed; 0: never
}

func (t *leaseTimer) init() {
	t.heard = map[ClientID]*leaseRef{}
	t.leadAt = math.MinInt64 / 2
}

// timing reports whether this replica times leases now: it leads, and its
// OpLead is the latest applied.
func (s *Server) timing() bool {
	return s.rep.Role() == paxos.Leader && s.sm.Leader() == s.rep.Ballot()
}

// syncLeases starts or stops timing as the replica's standing changed. A
// start counts every live session as heard now.
func (s *Server) syncLeases() {
	t := &s.leases
	switch {
	case !s.timing():
		if t.ballot != (paxos.Ballot{}) {
			s.ownRefs()
			t.ballot = paxos.Ballot{}
			clear(t.heard)
		}
	case t.ballot != s.rep.Ballot():
		s.ownRefs()
		t.ballot = s.rep.Ballot()
		clear(t.heard)
		for _, si := range s.sm.Sessions() {
			t.heard[si.ID] = &leaseRef{heard: s.now}
		}
		t.next = s.now
	}
}

// heard renews session id's lease now, if this replica times leases and
// has not proposed the session's expiry: an expiry proposed is final (it
// may be chosen already), so nothing renews the lease after it.
func (s *Server) heard(id ClientID) {
	if s.leases.ballot == (paxos.Ballot{}) {
		return
	}
	s.ownRefs()
	if ref := s.leases.heard[id]; ref != nil {
		if ref.proposedAt == 0 {
			ref.heard = s.now
		}
		return
	}
	s.leases.heard[id] = &leaseRef{heard: s.now}
	s.leases.next = min(s.leases.next, s.now+1)
}

// sessionRequest vets a request of a session before anything else: a tag
// that does not prove the secret is refused and counted; a session this
// replica knows has ended is answered SessionExpired; a keepalive is
// answered here. It reports whether the request goes on to the log.
func (s *Server) sessionRequest(from Addr, q *Request) bool {
	if _, live := s.sm.Session(q.Client); !live {
		if q.Client <= s.sm.LastSession() {
			markWith(s.cfg.Mark, MarkEndedAnswered)
			s.reply(from, &Reply{Client: q.Client, Seq: q.Seq, Status: SessionExpired, Leader: s.rep.Leader()})
			return false
		}
		// Opened at a slot this replica has not applied yet: the log
		// will judge it (a keepalive waits for the client's resend).
		return q.Op.Logged()
	}
	if !s.sm.Authentic(q.Command) {
		s.counters[Forged]++
		markWith(s.cfg.Mark, MarkForgedRefused)
		s.reply(from, &Reply{Client: q.Client, Seq: q.Seq, Status: Refused, Leader: s.rep.Leader()})
		return false
	}
	s.syncLeases()
	if q.Op != OpKeepAlive {
		s.heard(q.Client)
		return true
	}
	if s.leases.ballot == (paxos.Ballot{}) {
		s.reply(from, &Reply{Client: q.Client, Seq: q.Seq, Status: Redirect, Leader: s.rep.Leader()})
		return false
	}
	ref := s.leases.heard[q.Client]
	if ref != nil && ref.proposedAt != 0 {
		// Its expiry is on its way through the log: no answer, so the
		// client does not take its lease for renewed; its resend will
		// find the session gone.
		return false
	}
	// A keepalive counts once with this leader: a copy replayed later
	// renews nothing.
	if ref == nil || q.Seq > ref.keepalive {
		s.heard(q.Client) // owns the refs: leases are timed here
		s.leases.heard[q.Client].keepalive = q.Seq
		if s.obs != nil {
			s.obs.KeptAlive(q.Client, s.leases.ballot)
		}
	}
	s.reply(from, &Reply{Client: q.Client, Seq: q.Seq, Status: Alive, Leader: s.rep.ID()})
	return false
}

// leasesRestored follows a snapshot install: a replica timing leases
// counts the sessions it did not know as heard now, so that they expire
// in time like the others.
func (s *Server) leasesRestored() {
	s.syncLeases()
	if s.leases.ballot == (paxos.Ballot{}) {
		return
	}
	for _, si := range s.sm.Sessions() {
		if s.leases.heard[si.ID] == nil {
			s.heard(si.ID)
		}
	}
}

// leaseApplied follows an applied command into the lease timer.
func (s *Server) leaseApplied(c Command, res Result) {
	switch {
	case c.Op == OpLead:
		s.syncLeases()
	case res.Status == Opened:
		s.syncLeases()
		s.heard(res.Holder)
	case c.Op == OpClose && res.Status == Ended, c.Op == OpExpire && res.Status == Ended:
		if s.leases.heard[c.Client] != nil {
			s.ownRefs()
			delete(s.leases.heard, c.Client)
		}
	case c.Op.Session() && res.Status != Refused && res.Status != SessionExpired:
		s.heard(c.Client)
	}
}

// tickLeases proposes OpLead when this replica leads but the log does not
// say so yet, and OpExpire for every session whose lease ran out.
func (s *Server) tickLeases() {
	t := &s.leases
	if s.rep.Role() == paxos.Leader && s.sm.Leader() != s.rep.Ballot() {
		if t.leadFor != s.rep.Ballot() || s.now-t.leadAt >= s.cfg.ReproposeTicks {
			b := s.rep.Ballot()
			c := Command{Op: OpLead, Arg: b.Round, Node: b.Node}
			if s.rep.Propose(c.Encode(nil)) == nil {
				t.leadFor, t.leadAt = b, s.now
				s.proposed(c)
			}
		}
	}
	s.syncLeases()
	if t.ballot == (paxos.Ballot{}) || s.now < t.next {
		return
	}
	s.ownRefs()
	t.next = math.MaxInt64
	var due []ClientID
	for id, ref := range t.heard {
		if _, live := s.sm.Session(id); !live {
			delete(t.heard, id) // order-independent
			continue
		}
		end := ref.heard + s.leaseTicks(id)
		if s.now < end {
			t.next = min(t.next, end)
			continue
		}
		if ref.proposedAt != 0 && s.now-ref.proposedAt < s.cfg.ReproposeTicks {
			t.next = min(t.next, ref.proposedAt+s.cfg.ReproposeTicks)
			continue
		}
		due = append(due, id)
	}
	// Proposals reach the log: in id order, not the map's.
	slices.Sort(due)
	for _, id := range due {
		ref := t.heard[id]
		c := Command{Op: OpExpire, Client: id, Arg: t.ballot.Round, Node: t.ballot.Node}
		if s.rep.Propose(c.Encode(nil)) == nil {
			ref.proposedAt = s.now
			s.proposed(c)
		}
		t.next = min(t.next, s.now+s.cfg.ReproposeTicks)
	}
}

// leaseTicks is session id's lease in ticks of this replica, rounded up.
func (s *Server) leaseTicks(id ClientID) int64 {
	si, _ := s.sm.Session(id)
	ns := int64(min(si.LeaseMs, math.MaxInt64/2/1_000_000)) * 1_000_000
	return (ns + s.cfg.TickNs - 1) / s.cfg.TickNs
}

// ticksToTimer is how many ticks from now the lease timers next need a
// tick (math.MaxInt32: none).
func (s *Server) ticksToTimer() int {
	t := &s.leases
	next := int64(math.MaxInt32)
	if s.rep.Role() == paxos.Leader && s.sm.Leader() != s.rep.Ballot() {
		next = min(next, max(1, t.leadAt+s.cfg.ReproposeTicks-s.now))
		if t.leadFor != s.rep.Ballot() {
			next = 1
		}
	}
	if s.timing() || t.ballot != (paxos.Ballot{}) {
		next = min(next, max(1, t.next-s.now))
	}
	return int(next)
}

func (s *Server) proposed(c Command) {
	if s.obs != nil {
		s.obs.Proposed(c)
	}
}
