package scenarios

import (
	"fmt"

	"paxlock/lockmgr"
	"paxlock/lockmgr/simhost"
	"paxlock/paxos"
	"paxlock/sim"
	"paxlock/sim/cover"
)

// Coverage marks: every situation a sweep should reach, counted per run
// when Options.Coverage is set. They come from four places, each named by
// its prefix: the replica (paxos.*), the lock service's servers and
// clients (lockmgr.*), the simulated hosts (simhost.*), and this runner
// (scenario.*), which sees what no single process can: a crash during
// phase 1, a leader cut off with slots open, a snapshot in flight when its
// receiver or sender went away. The runner derives its own from the world
// and the processes' reports, reading replicas as the annotations do; no
// mark decides anything a checker judges.

// Runner marks.
const (
	markCrashCandidate   = iota // a replica crashed while it ran phase 1
	markCrashLeaderOpen         // a leader crashed with slots proposed, not yet known chosen
	markCrashUnsynced           // a replica crashed with log records written but not synced
	markSnapshotCut             // a snapshot transfer was cut by a crash or a partition
	markLeaderCutPending        // a partition left the leader in a minority with slots open
	markFencedRefused           // the fenced store refused a write with a stale token
	markHolderPaused            // a lock holder was paused in the middle of its writes
	markDeadSessionEnded        // a client died and its session expired, its locks passing on
	markAbandonedWait           // a client gave up a queued Lock and went on
	markCrashRestart            // a crashed replica restarted from its disk
	markExpiryCarried           // an expiry one leader proposed was chosen under another's ballot
	markExpiryNewLeader         // a leader expired a session whose last keepalive an earlier leader took
	markDiskLost                // a replica lost its whole disk and came back rebuilding
	numRunnerMarks
)

var runnerMarks = [numRunnerMarks][2]string{
	markCrashCandidate:   {"crash-in-phase1", "a replica crashed while it ran phase 1 (a would-be leader)"},
	markCrashLeaderOpen:  {"crash-leader-open-slots", "a leader crashed with accepts in flight (slots proposed, not yet chosen)"},
	markCrashUnsynced:    {"crash-unsynced", "a replica crashed between a write and its sync (the tail is lost or torn)"},
	markSnapshotCut:      {"snapshot-cut", "a snapshot in flight was cut off by its receiver's or sender's crash or a partition"},
	markLeaderCutPending: {"leader-cut-off-pending", "a partition left the leader in a minority with slots open"},
	markFencedRefused:    {"fenced-write-refused", "the fenced store refused a write whose token was stale"},
	markHolderPaused:     {"holder-paused-writing", "a lock holder was paused in the middle of its writes"},
	markDeadSessionEnded: {"dead-client-expired", "a client died for good and its session expired"},
	markAbandonedWait:    {"wait-abandoned", "a client gave up a queued Lock and went on"},
	markCrashRestart:     {"crash-restart", "a crashed replica restarted from what its disk kept"},
	markExpiryCarried:    {"expiry-across-leaders", "a session expiry proposed by one leader was chosen under another's ballot"},
	markExpiryNewLeader:  {"expiry-new-leader", "a new leader expired a session whose last keepalive an earlier leader took"},
	markDiskLost:         {"disk-lost", "a replica lost its whole disk (it comes back rebuilding, as paxosd -rejoin)"},
}

// Offsets of each source's marks in the registry.
var (
	paxosBase  = 0
	lockBase   = paxosBase + int(paxos.NumMarks)
	hostBase   = lockBase + int(lockmgr.NumMarks)
	runnerBase = hostBase + int(simhost.NumMarks)
)

var coverage = mustCoverage()

func mustCoverage() *cover.Registry {
	var ps, ls, hs, rs []cover.Mark
	for m := range paxos.NumMarks {
		ps = append(ps, cover.Mark{Name: "paxos." + m.String(), Doc: m.Doc()})
	}
	for m := range lockmgr.NumMarks {
		ls = append(ls, cover.Mark{Name: "lockmgr." + m.String(), Doc: m.Doc()})
	}
	for m := range simhost.NumMarks {
		hs = append(hs, cover.Mark{Name: "simhost." + m.String(), Doc: m.Doc()})
	}
	for _, m := range runnerMarks {
		rs = append(rs, cover.Mark{Name: "scenario." + m[0], Doc: m[1]})
	}
	reg, err := cover.NewRegistry(ps, ls, hs, rs)
	if err != nil {
		panic(err) // the lists above are the program's own: a duplicate is a bug here
	}
	return reg
}

// Coverage is the registry of every coverage mark, in report order; a
// Result's Coverage is indexed like it.
func Coverage() *cover.Registry { return coverage }

// coverCounter counts one run's marks; nil when coverage is off.
type coverCounter struct {
	n cover.Counts
	// snaps: per receiving replica (index id-1), the snapshot transfer
	// last sent to it and not yet installed: sender and when.
	snaps []snapSend
	// chosenAt: per replica, the ballot of the slot it is applying.
	chosenAt []paxos.Ballot
	// kept: per session, the ballot of the leader that took its latest
	// keepalive (looked up only, never ranged over).
	kept map[lockmgr.ClientID]paxos.Ballot
}

type snapSend struct {
	from paxos.ID
	atNs int64
}

func newCoverCounter(replicas int) *coverCounter {
	return &coverCounter{n: coverage.New(), snaps: make([]snapSend, replicas), chosenAt: make([]paxos.Ballot, replicas),
		kept: map[lockmgr.ClientID]paxos.Ballot{}}
}

func (c *coverCounter) hit(i int) { c.n[runnerBase+i]++ }

// hooks are the per-run hooks the processes report their marks through.
func (c *coverCounter) hooks() simhost.Marks {
	return simhost.Marks{
		Paxos: func(m paxos.Mark) { c.n[paxosBase+int(m)]++ },
		Lock:  func(m lockmgr.Mark) { c.n[lockBase+int(m)]++ },
		Host:  func(m simhost.Mark) { c.n[hostBase+int(m)]++ },
	}
}

// sent notes a snapshot leaving for a peer.
func (r *runner) coverSent(id paxos.ID, m *paxos.Message) {
	if m.Type == paxos.MsgSnapshot && int(m.To) >= 1 && int(m.To) <= len(r.cov.snaps) {
		r.cov.snaps[m.To-1] = snapSend{from: id, atNs: r.w.Now()}
	}
}

// coverRestored: replica id installed a snapshot; its transfer is over.
func (r *runner) coverRestored(id paxos.ID) {
	if i := int(id) - 1; i >= 0 && i < len(r.cov.snaps) {
		r.cov.snaps[i] = snapSend{}
	}
}

// snapshotInFlight reports whether a snapshot sent to replica to may
// still be on its way: not installed, sent no longer ago than the
// network's slowest delivery, and packets on the link.
func (r *runner) snapshotInFlight(to paxos.ID) (paxos.ID, bool) {
	s := r.cov.snaps[to-1]
	if s.from == 0 {
		return 0, false
	}
	n := r.w.Net()
	slowest := max(n.LatencyMaxNs, n.TailMaxNs)
	if r.w.Now()-s.atNs > slowest || r.w.InFlight(sim.Addr(s.from), sim.Addr(to)) == 0 {
		return 0, false
	}
	return s.from, true
}

// coverCrash looks at replica a just before it crashes.
func (r *runner) coverCrash(a sim.Addr) {
	if r.cov == nil || int(a) < 1 || int(a) > len(r.peers) {
		return
	}
	id := paxos.ID(a)
	if srv := r.server(id); srv != nil {
		rep := srv.Replica()
		switch rep.Role() {
		case paxos.Candidate:
			r.cov.hit(markCrashCandidate)
		case paxos.Leader:
			if r.openSlots(rep) {
				r.cov.hit(markCrashLeaderOpen)
			}
		}
	}
	if d := r.w.Disk(a); d != nil && d.Unsynced(simhost.LogFile) > 0 {
		r.cov.hit(markCrashUnsynced)
	}
	r.coverCut(func(from, to paxos.ID) bool { return from == id || to == id })
}

// coverCut counts a snapshot in flight between two replicas that cut
// separates (a crash, a partition).
func (r *runner) coverCut(cut func(from, to paxos.ID) bool) {
	for i := range r.cov.snaps {
		to := paxos.ID(i + 1)
		if from, ok := r.snapshotInFlight(to); ok && cut(from, to) {
			r.cov.hit(markSnapshotCut)
			r.cov.snaps[i] = snapSend{}
		}
	}
}

// openSlots reports whether rep holds a slot at or above its chosen
// prefix that is not chosen: an accept still in flight.
func (r *runner) openSlots(rep *paxos.Replica) bool {
	last, ok := rep.LastSlot()
	if !ok || last < rep.Commit() {
		return false
	}
	for n := rep.Commit(); n <= last; n++ {
		if st, _ := rep.Slot(n); st == paxos.SlotAccepted {
			return true
		}
	}
	return false
}

// coverLinks looks at the group just after a partition-like fault: side
// says which side of it each replica is on (-1: keeps every link).
func (r *runner) coverLinks(leader sim.Addr, side func(a sim.Addr) int) {
	if r.cov == nil {
		return
	}
	sep := func(a, b sim.Addr) bool { return side(a) >= 0 && side(b) >= 0 && side(a) != side(b) }
	r.coverCut(func(from, to paxos.ID) bool { return sep(sim.Addr(from), sim.Addr(to)) })
	if leader == 0 {
		return
	}
	with := 0
	for _, id := range r.peers {
		if !sep(leader, sim.Addr(id)) {
			with++
		}
	}
	if srv := r.server(paxos.ID(leader)); srv != nil && with < len(r.peers)/2+1 && r.openSlots(srv.Replica()) {
		r.cov.hit(markLeaderCutPending)
	}
}

// partitionSide is Partition's view of the links: the group an address
// is in, -1 if in none.
func partitionSide(groups [][]sim.Addr) func(sim.Addr) int {
	return func(a sim.Addr) int {
		for i, g := range groups {
			for _, x := range g {
				if x == a {
					return i
				}
			}
		}
		return -1
	}
}

// isolatedSide is Isolate's view: n alone on one side, all else on the other.
func isolatedSide(n sim.Addr) func(sim.Addr) int {
	return func(a sim.Addr) int {
		if a == n {
			return 1
		}
		return 0
	}
}

// coverLeader is the leader before a partition-like fault, if coverage
// is on (0 otherwise, or if none).
func (r *runner) coverLeader() sim.Addr {
	if r.cov == nil {
		return 0
	}
	return r.leaderNow()
}

// coverDeadSession counts an expiry of the session of a client that died.
func (r *runner) coverDeadSession(s lockmgr.ClientID) {
	if r.cov == nil {
		return
	}
	for i, cur := range r.session {
		if _, dead := r.died[i]; dead && cur == s {
			r.cov.hit(markDeadSessionEnded)
			return
		}
	}
}

// coverApplied counts an expiry chosen under another ballot than the one
// it was proposed under: the leader that proposed it lost its place
// before the slot was chosen, and the next one carried it on.
func (r *runner) coverApplied(id paxos.ID, c lockmgr.Command) {
	if c.Op == lockmgr.OpExpire && r.cov.chosenAt[id-1] != (paxos.Ballot{Round: c.Arg, Node: c.Node}) {
		r.cov.hit(markExpiryCarried)
	}
}

// coverProposed counts an expiry proposed by a leader other than the one
// that took the session's latest keepalive: the new leader timed the
// lease from its own takeover.
func (r *runner) coverProposed(c lockmgr.Command) {
	if c.Op != lockmgr.OpExpire {
		return
	}
	if b, ok := r.cov.kept[c.Client]; ok && b != (paxos.Ballot{Round: c.Arg, Node: c.Node}) {
		r.cov.hit(markExpiryNewLeader)
	}
}

// coverMark counts runner mark i, if coverage is on.
func (r *runner) coverMark(i int) {
	if r.cov != nil {
		r.cov.hit(i)
	}
}

// CoverageSummary formats counts as one line of the marks hit, for a
// replay's report.
func CoverageSummary(c cover.Counts) string {
	hit := 0
	for _, n := range c {
		if n > 0 {
			hit++
		}
	}
	return fmt.Sprintf("%d of %d coverage marks hit", hit, len(c))
}
