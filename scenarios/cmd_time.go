package scenarios

import (
	"hash/fnv"
	"slices"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// Running virtual time. Whatever happens meanwhile is printed: operations
// completing, new leaders, a checker failure.

// cmdTick runs count= tick periods (default 1).
//
// Example:
//
//	tick count=5
//	----
//	t=1.731ms 1 is leader (ballot 1.1)
func (s *script) cmdTick(a *args) error {
	n := a.num("count", 1, 1, 1_000_000)
	if err := a.done(); err != nil {
		return err
	}
	s.c.RunFor(int64(n) * s.c.TickNs())
	return nil
}

// cmdRun runs for= of virtual time.
//
// Example:
//
//	run for=500ms
//	----
//	t=180.412ms 2 is leader (ballot 2.2)
func (s *script) cmdRun(a *args) error {
	d := a.reqDur("for")
	if err := a.done(); err != nil {
		return err
	}
	s.c.RunFor(d)
	return nil
}

// Stabilize's defaults. The quiet window outlasts an election timeout with
// its backoff and a client's longest retry backoff, so that "nothing
// changed for this long" means nothing more will happen by itself.
const (
	quietDefaultNs     = 1_000_000_000
	stabilizeDefaultNs = 30_000_000_000
)

// cmdStabilize runs until the cluster is quiet: nothing visible changed
// for quiet= (default 1s) of virtual time: no replica's role, leader,
// ballot, promise or lock table, no replica up or down, no operation
// started or completed. The log itself may still grow: a client waiting
// in a Lock's queue reminds the group every 400 ticks, and each reminder
// is proposed again (it keeps the waiting session alive) and applied as a
// no-change repeat. A blocked Lock or a client cut off from a quorum does
// not keep the cluster from being quiet. Nor does it return while a
// client still has work queued or outstanding, unless pending=true: if
// that does not happen within max= (default 30s), it says so and names
// what is pending.
//
// Example:
//
//	stabilize
//	----
//	t=80.213ms 2 is leader (ballot 2.2)
//	t=95.004ms c1 lock("7") -> granted #3
func (s *script) cmdStabilize(a *args) error {
	quiet := a.dur("quiet", quietDefaultNs)
	limit := a.dur("max", stabilizeDefaultNs)
	pendingOK := a.boolean("pending", false)
	if err := a.done(); err != nil {
		return err
	}
	w := s.c.World()
	end := w.Now() + limit
	sig, last := s.signature(nil), w.Now()
	for s.c.Err() == nil && w.Now() < end {
		s.c.RunFor(min(s.c.TickNs(), end-w.Now()))
		if next := s.signature(sig[:0:0]); !slices.Equal(next, sig) {
			sig, last = next, w.Now()
		} else if w.Now()-last >= quiet && (pendingOK || s.c.Idle()) {
			return nil
		}
	}
	if s.c.Err() == nil {
		if w.Now()-last >= quiet {
			s.line("t=%s quiet, but client work still pending after %s:%s", fmtT(w.Now()), fmtDur(limit), s.pending())
		} else {
			s.line("t=%s not quiet after %s", fmtT(w.Now()), fmtDur(limit))
		}
	}
	return nil
}

// signature is everything stabilize watches, as numbers.
func (s *script) signature(sig []uint64) []uint64 {
	w := s.c.World()
	for i := 1; i <= s.c.Replicas(); i++ {
		srv := s.c.Server(paxos.ID(i))
		if srv == nil {
			sig = append(sig, 0)
			continue
		}
		r := srv.Replica()
		var paused uint64
		if w.Paused(sim.Addr(i)) {
			paused = 1
		}
		h := fnv.New64a()
		h.Write([]byte(lockmgr.FormatStatus(srv.StateMachine().Status())))
		sig = append(sig, 1+paused, uint64(r.Role()), uint64(r.Leader()),
			r.Ballot().Round, uint64(r.Ballot().Node), r.Promised().Round, uint64(r.Promised().Node), h.Sum64())
	}
	sig = append(sig, uint64(len(s.c.History())))
	for _, d := range s.done {
		sig = append(sig, uint64(d))
	}
	return sig
}
