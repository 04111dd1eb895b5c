package scenarios

import (
	"fmt"

	"paxlock/sim"
)

// Per-link control: drop or deliver exactly the packets on one link, to
// stage an interleaving. Each dropped or delivered packet prints its trace
// line and what it carried (the paxos describe form, or the client
// request or reply).

// cmdDrop drops the packets in flight on the link from -> to now
// (including those a clog holds), and with next=N also the next N packets
// sent on it.
//
// Example:
//
//	drop from=1 to=2 next=1
//	----
//	t=4.000ms drop 1->2 len=34 harness: 1->2 Accept b=1.1 c=2 [s2:b1.1:1cmd]
//	t=4.000ms dropnext 1->2 n=1
func (s *script) cmdDrop(a *args) error {
	from, to := a.endpoint("from"), a.endpoint("to")
	next := a.num("next", 0, 0, 1<<20)
	if err := a.done(); err != nil {
		return err
	}
	w := s.c.World()
	var n int
	err := s.apply(a.cmd, func() {
		n = w.DropInFlight(from, to)
		if next > 0 {
			w.DropNext(from, to, next)
		}
	})
	if err == nil && n == 0 && next == 0 {
		s.nothingInFlight(from, to)
	}
	return err
}

// cmdDup sends a copy of every packet in flight on the link from -> to,
// as the network's own duplication would (each copy gets its own latency
// and arrives flagged dup); the originals travel on.
//
// Example:
//
//	dup from=1 to=2
//	----
func (s *script) cmdDup(a *args) error {
	from, to := a.endpoint("from"), a.endpoint("to")
	if err := a.done(); err != nil {
		return err
	}
	w := s.c.World()
	var n int
	err := s.apply(a.cmd, func() { n = w.DuplicateInFlight(from, to) })
	if err == nil && n == 0 {
		s.nothingInFlight(from, to)
	}
	return err
}

// cmdDeliver makes the packets in flight on the link from -> to arrive
// now, in the order they would have arrived, even through a clog (which
// stays for later packets).
//
// Example:
//
//	deliver from=1 to=3
//	----
//	t=4.000ms deliver 1->3 len=34 early: 1->3 Accept b=1.1 c=2 [s2:b1.1:1cmd]
func (s *script) cmdDeliver(a *args) error {
	from, to := a.endpoint("from"), a.endpoint("to")
	if err := a.done(); err != nil {
		return err
	}
	w := s.c.World()
	before := w.Stats()
	var n int
	err := s.apply(a.cmd, func() { n = w.DeliverInFlight(from, to) })
	if err != nil || s.c.Err() != nil {
		return err
	}
	after := w.Stats()
	held := int(after.Held - before.Held)
	lost := n - int(after.Delivered-before.Delivered) - held
	switch {
	case n == 0:
		s.nothingInFlight(from, to)
	case held > 0:
		s.line("t=%s %d held by the paused receiver", fmtT(w.Now()), held)
	}
	if lost > 0 {
		s.line("t=%s %d lost: the link is cut or %d is down", fmtT(w.Now()), lost, to)
	}
	return nil
}

func (s *script) nothingInFlight(from, to sim.Addr) {
	held := ""
	if k := s.c.World().InFlight(from, to); k > 0 {
		held = fmt.Sprintf(" (%d held by the paused receiver)", k)
	}
	s.line("t=%s nothing on its way on %d->%d%s", fmtT(s.c.World().Now()), from, to, held)
}

// cmdClog holds the packets arriving on the link from -> to for the next
// for= of virtual time, then delivers them in arrival order; for=0 lifts a
// clog.
//
// Example:
//
//	clog from=1 to=2 for=200ms
//	----
//	t=10.000ms clog 1->2 until=210.000ms
func (s *script) cmdClog(a *args) error {
	from, to := a.endpoint("from"), a.endpoint("to")
	d := a.reqDur("for")
	if err := a.done(); err != nil {
		return err
	}
	w := s.c.World()
	return s.apply(a.cmd, func() { w.Clog(from, to, w.Now()+d) })
}
