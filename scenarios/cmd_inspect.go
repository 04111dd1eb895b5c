package scenarios

import (
	"fmt"
	"strings"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// Looking at the cluster. These commands run no time.

// cmdStatus prints, for replica n (or every replica), its role, ballot,
// commit (every slot below it is chosen), applied slot and snapshot slot,
// then its lock table in the form the seed printed, then the packets it
// dropped by reason, if any (bad_packet: failed the checksum or did not
// decode; rejected: a client request it could not take, ...).
//
// Example:
//
//	status n=1
//	----
//	1: leader ballot=1.1 commit=3 applied=3 snapshot=0
//	1: Current Locks: {"7": c1 (token 1)}
func (s *script) cmdStatus(a *args) error {
	one, ok := a.optReplica("n")
	if err := a.done(); err != nil {
		return err
	}
	for _, id := range s.replicaList(one, ok) {
		srv := s.c.Server(id)
		if srv == nil {
			s.line("%d: %s", id, s.notRunning(sim.Addr(id)))
			continue
		}
		r := srv.Replica()
		s.line("%d: %s commit=%d applied=%d snapshot=%d", id, s.roleOf(id, r), r.Commit(), r.Applied(), r.SnapshotSlot())
		s.line("%d: %s", id, lockmgr.FormatStatus(srv.StateMachine().Status()))
		if c := dropCounters(srv.Counters()); c != "" {
			s.line("%d: dropped%s", id, c)
		}
	}
	return nil
}

// dropCounters lists a server's non-zero drop counters, " name=n" each.
func dropCounters(c lockmgr.Counters) string {
	var b strings.Builder
	for i, v := range c {
		if v > 0 {
			fmt.Fprintf(&b, " %v=%d", lockmgr.Counter(i), v)
		}
	}
	return b.String()
}

// notRunning says why a replica has no server to inspect: it is down, or
// it has not booted yet (no time has run since cluster).
func (s *script) notRunning(id sim.Addr) string {
	if s.c.World().Up(id) {
		return "not started yet (run some time first)"
	}
	return "down"
}

func (s *script) replicaList(one sim.Addr, ok bool) []paxos.ID {
	if ok {
		return []paxos.ID{paxos.ID(one)}
	}
	var ids []paxos.ID
	for i := 1; i <= s.c.Replicas(); i++ {
		ids = append(ids, paxos.ID(i))
	}
	return ids
}

// roleOf describes a replica's role: "leader ballot=2.1", "candidate
// ballot=3.2", "follower of 1 promised=2.1", with "(rebuilding)" while it
// rebuilds after a disk loss and "(paused)" if it is.
func (s *script) roleOf(id paxos.ID, r *paxos.Replica) string {
	var d string
	switch r.Role() {
	case paxos.Leader, paxos.Candidate:
		d = fmt.Sprintf("%v ballot=%v", r.Role(), r.Ballot())
	default:
		lead := "no leader"
		if r.Leader() != 0 {
			lead = fmt.Sprintf("of %d", r.Leader())
		}
		d = fmt.Sprintf("follower %s promised=%v", lead, r.Promised())
	}
	if r.Rebuilding() {
		d += " (rebuilding)"
	}
	if s.c.World().Paused(sim.Addr(id)) {
		d += " (paused)"
	}
	return d
}

// cmdLeader prints how each replica sees leadership.
//
// Example:
//
//	leader
//	----
//	1: down
//	2: leader ballot=2.2
//	3: follower of 2 promised=2.2
func (s *script) cmdLeader(a *args) error {
	if err := a.done(); err != nil {
		return err
	}
	for _, id := range s.replicaList(0, false) {
		if srv := s.c.Server(id); srv != nil {
			s.line("%d: %s", id, s.roleOf(id, srv.Replica()))
		} else {
			s.line("%d: %s", id, s.notRunning(sim.Addr(id)))
		}
	}
	return nil
}

// logLinesMax bounds what one log command prints.
const logLinesMax = 200

// cmdLog prints replica n's log, one slot a line, from its first slot not
// cleared by a snapshot to its last slot holding a value (or from= to=):
// the slot's state (empty, accepted, chosen), the entry in the paxos
// describe form (slot:ballot:commands), and each command decoded. A
// no-op is what a new leader proposes to fill a hole.
//
// Example:
//
//	log n=2
//	----
//	chosen s0:b1.1:[01010131~5B] c1#1 lock("7")
//	chosen s1:b2.2:noop
//	accepted s2:b2.2:[03010231~5B] c1#2 unlock("7")
func (s *script) cmdLog(a *args) error {
	id := a.replica("n")
	fromV, hasFrom := a.value("from")
	toV, hasTo := a.value("to")
	if err := a.done(); err != nil {
		return err
	}
	var lo, hi uint64
	var err error
	if hasFrom {
		if lo, err = parseSlot("from", fromV); err != nil {
			return err
		}
	}
	if hasTo {
		if hi, err = parseSlot("to", toV); err != nil {
			return err
		}
	}
	srv := s.c.Server(paxos.ID(id))
	if srv == nil {
		s.line("%d: %s", id, s.notRunning(id))
		return nil
	}
	r := srv.Replica()
	first := r.FirstSlot()
	last, ok := r.LastSlot()
	if !ok || last < first {
		last = first
		if r.Commit() > first {
			last = r.Commit() - 1
		}
	}
	if !hasTo {
		hi = last
	}
	if lo < first {
		s.line("s%d..s%d cleared (below the snapshot at %d)", lo, first-1, r.SnapshotSlot())
		lo = first
	}
	if lo > hi || !ok && !hasTo {
		s.line("no values from s%d on", lo)
		return nil
	}
	for n := lo; n <= hi; n++ {
		if n-lo == logLinesMax {
			s.line("... %d more slots (use from= and to=)", hi-n+1)
			break
		}
		s.line("%s", describeSlot(r, n))
	}
	return nil
}

func parseSlot(key, v string) (uint64, error) {
	var n uint64
	if _, err := fmt.Sscan(v, &n); err != nil || fmt.Sprint(n) != v {
		return 0, fmt.Errorf("log: %s=%s: want a slot number", key, v)
	}
	return n, nil
}

// describeSlot is one line of log: state, entry, decoded commands.
func describeSlot(r *paxos.Replica, n uint64) string {
	st, e := r.Slot(n)
	if st == paxos.SlotEmpty || st == paxos.SlotCleared {
		return fmt.Sprintf("%v s%d", st, n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s", st, paxos.DescribeEntry(e))
	for _, c := range e.Cmds {
		b.WriteByte(' ')
		if cmd, err := lockmgr.DecodeCommand(c); err == nil {
			b.WriteString(cmd.String())
		} else {
			b.WriteString("(undecodable command)")
		}
	}
	return b.String()
}

// cmdCheck runs the checkers over the history so far: linearizability of
// every operation (one still open counts as having an unknown outcome),
// equal state hashes for replicas that applied the same prefix, and the
// failures found along the way (agreement after every event, fencing
// tokens, assertions). It prints ok or the failure.
//
// Example:
//
//	check
//	----
//	ok
func (s *script) cmdCheck(a *args) error {
	if err := a.done(); err != nil {
		return err
	}
	if err := s.c.Check(); err != nil {
		s.failShown = true
		s.line("%s", firstLine(err.Error()))
		return nil
	}
	s.line("ok")
	return nil
}
