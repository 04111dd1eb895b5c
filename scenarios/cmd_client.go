package scenarios

import (
	"fmt"

	"paxlock/lockmgr"
)

// Client operations. A client runs one operation at a time, in the order
// they were given, and does what a real client does: it sends to a random
// replica first, then to the leader replies name, and retries with backoff
// on a timeout (with the same sequence number, so a retry is applied once).

const (
	opWaitNs       = 10_000_000_000 // how long lock, trylock, unlock wait by default
	workloadWaitNs = 30_000_000_000 // how long workload waits by default
)

// cmdOp starts a lock, trylock or unlock of lock k at client c (or a read
// of the whole table through the log, which names no lock); the client
// sends it at its next tick, after the operations already queued there.
// By default the command runs until the operation completes (at most
// timeout=, 10s); wait=false returns at once, and the completion is printed
// by whichever later command is running when it comes.
//
// Example:
//
//	lock c=1 k=7
//	----
//	t=1.731ms 1 is leader (ballot 1.1)
//	t=3.412ms c1 lock("7") -> granted #1
func (s *script) cmdOp(a *args, op lockmgr.Op) error {
	i := a.client("c")
	name := ""
	if op.Named() {
		name = a.lockName("k")
	}
	wait := a.boolean("wait", true)
	limit := a.dur("timeout", opWaitNs)
	if err := a.done(); err != nil {
		return err
	}
	rec, err := s.start(i, op, name, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", a.cmd, err)
	}
	if wait && !s.runUntil(limit, func() bool { return rec.done }) && s.c.Err() == nil {
		s.line("t=%s %s: no answer after %s", fmtT(s.c.World().Now()), rec, fmtDur(limit))
	}
	return nil
}

// batch is a workload: operations printed as one summary line.
type batch struct {
	client      int
	name        string
	pairs, done int
	first, last uint64 // tokens of the first and last grant
}

// cmdWorkload queues pairs= lock+unlock pairs of lock k at client c and by
// default runs until they are all done (at most timeout=, 30s), printing
// one line for the whole batch instead of one per operation; an answer
// other than granted or released is printed on its own.
//
// Example:
//
//	workload c=1 k=a pairs=40
//	----
//	t=95.120ms c1 workload done: 40 lock/unlock pairs of "a", tokens #3..#42
func (s *script) cmdWorkload(a *args) error {
	i := a.client("c")
	name := a.lockName("k")
	pairs := a.reqNum("pairs", "how many lock+unlock pairs", 1, 10_000)
	wait := a.boolean("wait", true)
	limit := a.dur("timeout", workloadWaitNs)
	if err := a.done(); err != nil {
		return err
	}
	b := &batch{client: i, name: name, pairs: pairs}
	for k := 0; k < pairs; k++ {
		for _, op := range []lockmgr.Op{lockmgr.OpLock, lockmgr.OpUnlock} {
			if _, err := s.start(i, op, name, b); err != nil {
				return fmt.Errorf("workload: %w", err)
			}
		}
	}
	if wait && !s.runUntil(limit, func() bool { return b.done == 2*b.pairs }) && s.c.Err() == nil {
		s.line("t=%s c%d workload: %d of %d operations done after %s", fmtT(s.c.World().Now()),
			i+1, b.done, 2*b.pairs, fmtDur(limit))
	}
	return nil
}

func (b *batch) completed(s *script, rec *scriptOp, t int64) {
	b.done++
	r := rec.res
	switch {
	case !r.stale && r.out.Status == lockmgr.Granted:
		if b.first == 0 {
			b.first = r.out.Token
		}
		b.last = r.out.Token
	case !r.stale && r.out.Status == lockmgr.Released:
	default:
		s.line("t=%s %s -> %s (in a workload)", fmtT(t), rec, r)
	}
	if b.done == 2*b.pairs {
		s.line("t=%s c%d workload done: %d lock/unlock pairs of %q, tokens #%d..#%d",
			fmtT(t), b.client+1, b.pairs, b.name, b.first, b.last)
	}
}
