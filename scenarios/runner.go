package scenarios

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
	"paxlock/lockmgr/simhost"
	"paxlock/paxos"
	"paxlock/scenarios/check"
	"paxlock/sim"
	"paxlock/sim/cover"
)

// Failure kinds of the runner's own (the checkers' are check.Fail*).
const (
	FailLinearizability = check.FailLinearizability
	FailCheckTimeout    = check.FailCheckTimeout
	FailLiveness        = check.FailLiveness
	FailPanic           = check.FailPanic
)

// Options tune a run without changing what it does.
type Options struct {
	KeepTrace    bool                 // retain every event (for -trace and artifacts)
	CheckTimeout time.Duration        // porcupine's budget; 0 means 30 s
	OnEvent      func(*sim.Event)     // sees every event, after the checkers
	Logf         func(string, ...any) // verbose progress, if set
	// Coverage counts the coverage marks the run reaches into
	// Result.Coverage (see Coverage); it changes nothing the run does.
	Coverage bool
}

// Result is what a run found.
type Result struct {
	Seed      uint64
	OK        bool
	Kind      string // failure kind, "" if OK
	Detail    string
	Ops       int // operations that completed
	OpsTotal  int
	Events    uint64
	VirtualNs int64
	HealNs    int64 // when the liveness phase began
	// RecoveryNs: from the heal until a leader was established (-1: none
	// was); MaxWaitNs: the longest an operation waited after the heal
	// (see check.Liveness). Bounds are what they were held to.
	RecoveryNs   int64
	MaxWaitNs    int64
	MaxWaitAnyNs int64 // the longest wait of the whole run, faults included
	Bounds       check.Bounds
	TraceHash    uint64
	History      []porcupine.Operation
	Info         porcupine.LinearizationInfo
	Annotations  []porcupine.Annotation
	Trace        []sim.Event
	// Coverage: hits per coverage mark, indexed like Coverage(); nil
	// unless Options.Coverage.
	Coverage cover.Counts
}

// Summary is the one-line account of a failure (or "ok").
func (r *Result) Summary() string {
	if r.OK {
		return "ok"
	}
	return r.Kind + ": " + r.Detail
}

// runner runs one scenario. It is the processes' Recorder: everything the
// simulated replicas and clients report reaches the checkers through it,
// and it reads the replicas only to annotate the history (leader changes)
// and for the scenario language's inspection commands.
type runner struct {
	scn     *Scenario
	opt     Options
	host    simhost.Config
	w       *sim.World
	peers   []paxos.ID
	clients []*simhost.Client
	roles   []paxos.Role
	hist    check.History
	checks  *check.Checkers
	live    *check.Liveness
	msgs    uint64 // replica messages sent
	bounds  check.Bounds
	healed  bool
	healNs  int64
	kind    string
	detail  string
	notes   []porcupine.Annotation
	onApply func(id paxos.ID, slot uint64, c lockmgr.Command, res lockmgr.Result, grants []lockmgr.Grant)
	onWrite func(nowNs int64, w simhost.Write, accepted bool)
	// onRebuilt: a replica that lost its disk votes again.
	onRebuilt func(id paxos.ID)
	done      []int // history indexes completed since the last Cluster.Done
	// expiries: when each expiry (session, ballot) was first proposed;
	// ended: the sessions whose end is in the history.
	expiries map[expiryKey]int64
	ended    map[lockmgr.ClientID]bool
	leases   *check.Leases
	fenced   *check.Fenced
	boots    []int // by replica id-1: incarnations so far
	// Clients that died for good (by index: when), and each client's
	// latest session.
	died    map[int]int64
	session []lockmgr.ClientID
	// lostDisk: the replicas that lost their disk and have not finished
	// rebuilding, with when.
	lostDisk map[paxos.ID]int64
	// expiryTrap: the armed expiry nemesis (Kind 0: none).
	expiryTrap Fault
	cov        *coverCounter // nil: coverage off
}

type expiryKey struct {
	session lockmgr.ClientID
	ballot  paxos.Ballot
}

// Run executes a scenario in the simulator and checks it.
func Run(scn Scenario, opt Options) (res Result) {
	res = Result{Seed: scn.Seed, OpsTotal: scn.Ops()}
	if err := scn.Validate(); err != nil {
		res.Kind, res.Detail = "scenario", err.Error()
		return res
	}
	r := newRunner(&scn, opt)
	defer func() {
		if p := recover(); p != nil {
			r.fail(FailPanic, fmt.Sprintf("%v\n%s", p, firstFrames(debug.Stack())))
			r.finish(&res)
		}
	}()
	if err := r.setup(); err != nil {
		res.Kind, res.Detail = "scenario", err.Error()
		return res
	}
	r.safetyPhase()
	r.livenessPhase()
	r.finish(&res)
	r.checkHistory(&res)
	return res
}

func newRunner(scn *Scenario, opt Options) *runner {
	r := &runner{scn: scn, opt: opt, fenced: check.NewFenced(), expiries: map[expiryKey]int64{}, ended: map[lockmgr.ClientID]bool{}, checks: check.New(scn.Replicas, simhost.SimSM), live: check.NewLiveness(scn.Replicas)}
	for i := 1; i <= scn.Replicas; i++ {
		r.peers = append(r.peers, paxos.ID(i))
	}
	r.host = simhost.Config{Peers: r.peers, TickNs: scn.TickNs, ClientTickNs: scn.ClientTickNs,
		GroupCommit: scn.GroupCommit, ThinkNs: scn.ThinkNs, PatienceNs: scn.PatienceNs, SnapshotSlots: scn.SnapshotSlots, BatchCmdsMax: scn.BatchCmdsMax,
		HashEvery: check.StateHashEvery, Writes: scn.Writes, WorkNs: scn.WorkNs, StorageAddr: StorageAddr}
	if opt.Coverage {
		r.cov = newCoverCounter(scn.Replicas)
		r.host.Marks = r.cov.hooks()
	}
	return r
}

func (r *runner) checkTimeout() time.Duration {
	if r.opt.CheckTimeout > 0 {
		return r.opt.CheckTimeout
	}
	return 30 * time.Second
}

func (r *runner) setup() error {
	cfg := r.scn.Sim
	cfg.TraceKeep = r.opt.KeepTrace
	w, err := sim.NewWorld(r.scn.Seed, cfg)
	if err != nil {
		return err
	}
	r.w = w
	r.roles = make([]paxos.Role, r.scn.Replicas)
	for _, id := range r.peers {
		if err := w.AddProcess(sim.Addr(id), r.scn.TickNs, simhost.NewReplica(&r.host, id, r)); err != nil {
			return err
		}
		if r.scn.Drift != nil {
			w.SetDrift(sim.Addr(id), r.scn.Drift[id-1])
		}
	}
	for i := range r.scn.Clients {
		ops := make([]simhost.Op, len(r.scn.Clients[i].Ops))
		for k, op := range r.scn.Clients[i].Ops {
			ops[k] = simhost.Op{Op: op.Op, Name: op.Name}
		}
		c := simhost.NewClient(&r.host, i, ops, r)
		r.clients = append(r.clients, c)
		if err := w.AddProcess(ClientAddrBase+sim.Addr(i), r.host.ClientTick(), func() sim.Process { return c }); err != nil {
			return err
		}
	}
	if r.scn.Writes > 0 {
		s := simhost.NewStorage(r)
		if err := w.AddProcess(StorageAddr, r.host.ClientTick(), func() sim.Process { return s }); err != nil {
			return err
		}
	}
	if r.scn.Forger {
		f := simhost.NewForger(r.peers, 9, 2*len(r.scn.Clients)+2, r.host.ClientTick())
		if err := w.AddProcess(ForgerAddr, r.host.ClientTick(), func() sim.Process { return f }); err != nil {
			return err
		}
	}
	for _, f := range r.scn.Faults {
		w.AtLabel(f.AtNs, f.String(), func() { r.applyFault(f) })
	}
	w.OnEvent(r.observe)
	r.bounds = r.livenessBounds()
	r.boots = make([]int, r.scn.Replicas)
	r.died = map[int]int64{}
	r.session = make([]lockmgr.ClientID, len(r.clients))
	r.leases = check.NewLeases(r.scn.Replicas, r.scn.TickNs, func(id paxos.ID) check.Clock {
		return check.Clock{Incarnation: r.boots[id-1], Ticks: w.Ticks(sim.Addr(id))}
	})
	return nil
}

// ---- the processes' Recorder ----

func (r *runner) Booted(id paxos.ID, recs []paxos.Record) {
	r.checks.Booted(id, recs)
	if r.boots[id-1] > 0 {
		r.coverMark(markCrashRestart)
	}
	r.boots[id-1]++
}
func (r *runner) Appended(id paxos.ID, recs []paxos.Record) { r.checks.Appended(id, recs) }
func (r *runner) Synced(id paxos.ID)                        { r.checks.Synced(id) }
func (r *runner) Rewrote(id paxos.ID, recs []paxos.Record)  { r.checks.Rewrote(id, recs) }
func (r *runner) Sent(id paxos.ID, m *paxos.Message) {
	r.checks.Sent(id, m)
	r.live.Sent(r.w.Now(), id, m)
	r.msgs++
	if r.cov != nil {
		r.coverSent(id, m)
	}
}

func (r *runner) Committed(id paxos.ID, e paxos.Entry) {
	r.checks.Committed(id, e)
	r.live.Committed(r.w.Now())
	if r.cov != nil {
		r.cov.chosenAt[id-1] = e.Ballot
	}
}

func (r *runner) Restored(id paxos.ID, slot uint64) {
	r.checks.Restored(id, slot)
	if r.cov != nil {
		r.coverRestored(id)
	}
}

func (r *runner) StateHash(id paxos.ID, applied, hash uint64) { r.checks.StateHash(id, applied, hash) }

func (r *runner) Applied(id paxos.ID, slot uint64, c lockmgr.Command, res lockmgr.Result, grants []lockmgr.Grant) {
	r.checks.Applied(id, slot, c, res, grants)
	r.fenced.Applied(c, res, grants)
	if r.cov != nil {
		r.coverApplied(id, c)
	}
	ended := res.Status == lockmgr.Ended && (c.Op == lockmgr.OpExpire || c.Op == lockmgr.OpClose)
	r.hist.Applied(r.w.Now(), c, ended, grants)
	if c.Op != lockmgr.OpExpire {
		r.leases.Applied(r.w.Now(), c, res)
	}
	if ended && c.Op == lockmgr.OpClose {
		r.ended[c.Client] = true
	}
	if ended && c.Op == lockmgr.OpExpire && !r.ended[c.Client] {
		r.leases.Applied(r.w.Now(), c, res)
		// An expiry is the group's own operation: called when first
		// proposed, returned when first applied.
		r.ended[c.Client] = true
		r.coverDeadSession(c.Client)
		k := expiryKey{c.Client, paxos.Ballot{Round: c.Arg, Node: c.Node}}
		call, ok := r.expiries[k]
		if !ok {
			r.fail(check.FailOracle, fmt.Sprintf("replica %d applied %v, which no replica proposed", id, c))
		}
		r.hist.Ended(call, r.w.Now(), c.Client, c.Op)
	}
	if r.onApply != nil {
		r.onApply(id, slot, c, res, grants)
	}
}

func (r *runner) Invoked(client int, nowNs int64, op lockmgr.Op, name string) int {
	h := r.hist.Call(client, nowNs, op, name)
	r.live.Invoked(nowNs, h)
	r.checks.Invoked(h, op)
	return h
}

func (r *runner) Queued(client, h int, nowNs int64) { r.live.Queued(nowNs, h) }

func (r *runner) Began(client, h int, s lockmgr.ClientID) {
	r.hist.Began(h, s)
	r.session[client] = s
}

func (r *runner) KeptAlive(id paxos.ID, s lockmgr.ClientID, b paxos.Ballot) {
	r.leases.KeptAlive(r.w.Now(), id, s, b)
	if r.cov != nil {
		r.cov.kept[s] = b
	}
}

func (r *runner) Proposed(id paxos.ID, c lockmgr.Command) {
	r.leases.Proposed(r.w.Now(), id, c)
	if r.cov != nil {
		r.coverProposed(c)
	}
	if c.Op != lockmgr.OpExpire {
		return
	}
	if t := r.expiryTrap; t.Kind != 0 && r.w.Now() < t.UntilNs && !r.healed {
		r.expiryTrap = Fault{}
		r.isolateExpiring(id, t)
	}
	k := expiryKey{c.Client, paxos.Ballot{Round: c.Arg, Node: c.Node}}
	if _, ok := r.expiries[k]; !ok {
		r.expiries[k] = r.w.Now()
	}
}

func (r *runner) Abandoned(client, h int, seq uint64, nowNs int64) {
	r.hist.Abandon(h, seq)
	r.coverMark(markAbandonedWait)
	r.checks.Answered(h, r.hist.Op(h).Input.(check.Input).Client, lockmgr.Completion{})
}

func (r *runner) Returned(client, h int, nowNs int64, c lockmgr.Completion) {
	if c.Session != 0 {
		r.hist.Began(h, c.Session)
		r.session[client] = c.Session
	}
	r.hist.Return(h, nowNs, c.Result)
	if c.Result.Status == lockmgr.Report {
		r.hist.ReturnTable(h, c.Locks)
	}
	r.live.Returned(nowNs, h)
	r.checks.Answered(h, c.Session, c)
	r.done = append(r.done, h)
}

func (r *runner) Broken(kind, detail string) { r.fail(kind, detail) }

func (r *runner) Wrote(nowNs int64, w simhost.Write, accepted bool) {
	if accepted {
		r.fenced.Wrote(nowNs, w.Resource, w.Session, w.Token, w.Fenced)
	} else {
		r.coverMark(markFencedRefused)
	}
	if r.onWrite != nil {
		r.onWrite(nowNs, w, accepted)
	}
}

// ---- events ----

// observe runs after every event: the checkers' verdict so far, leader
// changes and faults for the annotations, then the caller's observer.
func (r *runner) observe(ev *sim.Event) {
	switch ev.Kind {
	case sim.KindCrash:
		r.note(ev.TimeNs, fmt.Sprintf("crash %d", ev.Proc), "#f4b6b6")
	case sim.KindPartition, sim.KindIsolate, sim.KindCut, sim.KindHeal, sim.KindClog, sim.KindPause:
		r.note(ev.TimeNs, ev.String()[strings.IndexByte(ev.String(), ' ')+1:], "#f3e2a9")
	}
	if f := r.checks.Err(); f != nil {
		r.fail(f.Kind, f.Detail)
	}
	if f := r.leases.Err(); f != nil {
		r.fail(f.Kind, f.Detail)
	}
	if f := r.fenced.Err(); f != nil {
		r.fail(f.Kind, f.Detail)
	}
	// Only the process an event ran can have changed its role.
	var a sim.Addr
	switch ev.Kind {
	case sim.KindDeliver:
		a = ev.To
	case sim.KindTick, sim.KindStart, sim.KindRestart:
		a = ev.Proc
	}
	if i := int(a) - 1; i >= 0 && i < len(r.roles) {
		r.noteRole(i, ev.TimeNs)
	}
	if r.opt.OnEvent != nil {
		r.opt.OnEvent(ev)
	}
}

// server returns replica id's running server, or nil.
func (r *runner) server(id paxos.ID) *lockmgr.Server {
	if p, ok := r.w.Instance(sim.Addr(id)).(*simhost.Replica); ok {
		return p.Server()
	}
	return nil
}

// noteRole annotates the history when replica i becomes leader.
func (r *runner) noteRole(i int, now int64) {
	srv := r.server(paxos.ID(i + 1))
	if srv == nil {
		return
	}
	rep := srv.Replica()
	if role := rep.Role(); role != r.roles[i] {
		r.roles[i] = role
		if role == paxos.Leader {
			r.note(now, fmt.Sprintf("leader %d (ballot %v)", i+1, rep.Ballot()), "#b6d7f4")
		}
	}
}

func (r *runner) note(t int64, text, color string) {
	r.notes = append(r.notes, porcupine.Annotation{Tag: "cluster", Start: t, Description: text, BackgroundColor: color})
}

func (r *runner) fail(kind, detail string) {
	if r.kind == "" {
		r.kind, r.detail = kind, detail
	}
}

func (r *runner) applyFault(f Fault) {
	if r.healed {
		return // the safety phase ended early; its remaining faults are moot
	}
	w := r.w
	switch f.Kind {
	case FaultCrash:
		if w.Up(f.Node) {
			r.coverCrash(f.Node)
			w.Crash(f.Node)
			if i := r.clientIndex(f.Node); i >= 0 {
				r.clientDied(i)
			}
		}
	case FaultRestart:
		if !w.Up(f.Node) {
			w.Restart(f.Node)
		}
	case FaultLoseDisk:
		r.loseDisk(f.Node)
	case FaultIsolateExpiring:
		r.expiryTrap = f
	case FaultPause:
		w.Pause(f.Node)
	case FaultResume:
		w.Resume(f.Node)
	case FaultPartition:
		leader := r.coverLeader()
		w.Partition(f.Groups...)
		r.coverLinks(leader, partitionSide(f.Groups))
	case FaultCut:
		w.Cut(f.Node, f.To)
		if r.cov != nil {
			r.coverCut(func(from, to paxos.ID) bool { return sim.Addr(from) == f.Node && sim.Addr(to) == f.To })
		}
	case FaultIsolate:
		leader := r.coverLeader()
		w.Isolate(f.Node)
		r.coverLinks(leader, isolatedSide(f.Node))
	case FaultHeal:
		w.Heal()
	case FaultClog:
		w.Clog(f.Node, f.To, f.UntilNs)
	case FaultDrift:
		w.SetDrift(f.Node, f.Factor)
	case FaultCrashLeader:
		if n := r.leaderNow(); n != 0 && w.Up(n) {
			r.coverCrash(n)
			w.Crash(n)
			w.AtLabel(f.UntilNs, fmt.Sprintf("restart %d (crashed as leader)", n), func() {
				if !r.healed && !w.Up(n) {
					w.Restart(n)
				}
			})
		}
	case FaultPauseHolder:
		var writers []int
		for i, c := range r.clients {
			if _, dead := r.died[i]; !dead && c.Writing() && !w.Paused(ClientAddrBase+sim.Addr(i)) {
				writers = append(writers, i)
			}
		}
		if len(writers) > 0 {
			i := writers[min(len(writers)-1, int(f.Factor*float64(len(writers))))]
			a := ClientAddrBase + sim.Addr(i)
			r.coverMark(markHolderPaused)
			w.Pause(a)
			w.AtLabel(f.UntilNs, fmt.Sprintf("resume c%d (paused holding a lock)", i+1), func() {
				if !r.healed && w.Paused(a) {
					w.Resume(a)
				}
			})
		}
	case FaultIsolateLeader:
		if n := r.leaderNow(); n != 0 {
			w.Isolate(n)
			r.coverLinks(n, isolatedSide(n))
			w.AtLabel(f.UntilNs, "heal (leader isolated)", func() {
				if !r.healed {
					w.Heal()
				}
			})
		}
	}
}

// leaderNow picks the nemesis's target: of the running replicas that
// think they lead, the one with the highest ballot (0 if none).
func (r *runner) leaderNow() sim.Addr {
	var best sim.Addr
	var bb paxos.Ballot
	for _, id := range r.peers {
		srv := r.server(id)
		if srv == nil || srv.Replica().Role() != paxos.Leader {
			continue
		}
		if b := srv.Replica().Ballot(); best == 0 || bb.Less(b) {
			best, bb = sim.Addr(id), b
		}
	}
	return best
}

const chunkNs = 10_000_000

func (r *runner) allDone() bool {
	for i, c := range r.clients {
		if _, dead := r.died[i]; !dead && !c.Done() {
			return false
		}
	}
	return true
}

// clientIndex is the client at address a, or -1.
func (r *runner) clientIndex(a sim.Addr) int {
	if i := int(a - ClientAddrBase); a >= ClientAddrBase && i < len(r.clients) {
		return i
	}
	return -1
}

// clientDied: client i crashed, for good (clients never restart).
func (r *runner) clientDied(i int) {
	if _, dead := r.died[i]; dead {
		return
	}
	now := r.w.Now()
	r.died[i] = now
	if h := r.clients[i].Outstanding(); h >= 0 {
		r.live.Gone(now, h)
	}
	r.note(now, fmt.Sprintf("c%d dies", i+1), "#f4b6b6")
}

// isolateExpiring springs the expiry nemesis on leader id, which has just
// proposed an expiry: a moment later (so that some of its accepts are
// out) it is cut off from everyone until the trap's end, or 200 ms after
// if that is later. It runs from a process's callback, so the world calls
// are scheduled, not made, here.
func (r *runner) isolateExpiring(id paxos.ID, t Fault) {
	w := r.w
	a := sim.Addr(id)
	at := w.Now() + 1 + int64(t.Factor*2_000_000)
	w.AtLabel(at, fmt.Sprintf("isolate %d (it just proposed an expiry)", id), func() {
		if r.healed || !w.Up(a) {
			return
		}
		w.Isolate(a)
		r.coverLinks(a, isolatedSide(a))
		w.AtLabel(max(t.UntilNs, at+200_000_000), "heal (expiring leader isolated)", func() {
			if !r.healed {
				w.Heal()
			}
		})
	})
}

// loseDisk crashes replica a if it is up and destroys its disk, and
// prepares it as paxosd -rejoin does: its next start rebuilds.
func (r *runner) loseDisk(a sim.Addr) {
	w := r.w
	if w.Up(a) {
		w.Crash(a)
	}
	w.LoseDisk(a)
	r.coverMark(markDiskLost)
	simhost.PrepareRejoin(w.Disk(a))
	r.checks.DiskLost(paxos.ID(a))
	if r.lostDisk == nil {
		r.lostDisk = map[paxos.ID]int64{}
	}
	r.lostDisk[paxos.ID(a)] = w.Now()
	r.note(w.Now(), fmt.Sprintf("replica %d loses its disk", a), "#f4b6b6")
}

// Rebuilt: replica id finished rebuilding after its disk loss.
func (r *runner) Rebuilt(id paxos.ID) {
	delete(r.lostDisk, id)
	if r.onRebuilt != nil {
		r.onRebuilt(id)
	}
}

// rebuildBound is when a replica that lost its disk at lostNs must vote
// again: once the group can hear it (the later of the loss and the heal),
// the recovery bound for a leader, then a catch-up and its rejoin
// command's slot, a few election timeouts.
func (r *runner) rebuildBound(lostNs int64) int64 {
	return max(lostNs, r.healNs) + r.bounds.RecoveryNs + 4*r.host.ElectionNs()
}

// deadSessionBound is when the session of a client that died at diedNs
// must have ended: a lease after the group could hear from it no more
// (the later of the death and the heal), on the slowest replica clock,
// plus the recovery bound (a new leader counts the lease from its
// takeover) and a few repropose periods.
func (r *runner) deadSessionBound(diedNs int64) int64 {
	slowest := 1.0
	for _, id := range r.peers {
		slowest = max(slowest, r.w.Drift(sim.Addr(id)))
	}
	lease := float64(r.host.Lease()) * 1e6 * slowest
	return max(diedNs, r.healNs) + int64(lease) + r.bounds.RecoveryNs + 4*r.host.ElectionNs()
}

// deadSessionsOpen lists the dead clients whose last session has not
// ended yet, and whether any of them is past its bound.
func (r *runner) deadSessionsOpen() (open []int, late bool) {
	for i := range r.clients {
		t, dead := r.died[i]
		if s := r.session[i]; dead && s != 0 && !r.ended[s] {
			open = append(open, i)
			late = late || r.w.Now() > r.deadSessionBound(t)
		}
	}
	return open, late
}

// safetyPhase runs with faults until SafetyNs, or until every client is done.
func (r *runner) safetyPhase() {
	for r.kind == "" && r.w.Now() < r.scn.SafetyNs && !r.allDone() {
		r.w.RunUntil(min(r.w.Now()+chunkNs, r.scn.SafetyNs))
		r.checkBounds()
	}
}

// livenessPhase heals everything (network, crashed and paused replicas,
// lossy links) and requires every client to finish within LivenessNs.
func (r *runner) livenessPhase() {
	if r.kind != "" {
		return
	}
	w := r.w
	r.healed = true
	heal := w.Now()
	r.healNs = heal
	w.Heal()
	n := w.Net()
	n.DropProb, n.DupProb, n.CorruptProb = 0, 0, 0
	if err := w.SetNet(n); err != nil {
		r.fail("scenario", err.Error())
		return
	}
	for _, id := range r.peers {
		a := sim.Addr(id)
		if !w.Up(a) {
			w.Restart(a)
		}
		if w.Paused(a) {
			w.Resume(a)
		}
	}
	for i := range r.clients {
		if a := ClientAddrBase + sim.Addr(i); w.Paused(a) {
			w.Resume(a)
		}
	}
	r.note(heal, "heal all: liveness phase", "#c9f4b6")
	r.live.Healed(heal)
	r.bounds = r.livenessBounds()
	deadline := heal + r.scn.LivenessNs
	for r.kind == "" && !r.allDone() && w.Now() < deadline {
		w.RunUntil(min(w.Now()+chunkNs, deadline))
		r.checkBounds()
	}
	if r.kind == "" && !r.allDone() {
		r.fail(FailLiveness, r.stuck(heal))
	}
	// The sessions of clients that died must end, their locks going to
	// whoever waits, within a lease and the recovery bound.
	for r.kind == "" {
		open, late := r.deadSessionsOpen()
		if len(open) == 0 {
			break
		}
		if late {
			var b strings.Builder
			for _, i := range open {
				fmt.Fprintf(&b, " c%d (%v, died at %s, bound %s)", i+1, r.session[i], fmtMs(r.died[i]), fmtMs(r.deadSessionBound(r.died[i])))
			}
			r.fail(FailLiveness, "the sessions of dead clients never ended:"+b.String())
			break
		}
		w.RunUntil(w.Now() + chunkNs)
		r.checkBounds()
	}
	// A replica that lost its disk must finish rebuilding: a rebuild that
	// never ends leaves the group one voter short for good.
	for r.kind == "" && len(r.lostDisk) > 0 {
		late := ""
		for _, id := range r.peers {
			if t, ok := r.lostDisk[id]; ok && w.Now() > r.rebuildBound(t) {
				late += fmt.Sprintf(" replica %d (disk lost at %s, bound %s)", id, fmtMs(t), fmtMs(r.rebuildBound(t)))
			}
		}
		if late != "" {
			r.fail(FailLiveness, "replicas never finished rebuilding after a disk loss:"+late)
			break
		}
		w.RunUntil(w.Now() + chunkNs)
		r.checkBounds()
	}
	// Every client may be done before a leader is: wait for one, within
	// its bound, so that recovery is measured in every run.
	for r.kind == "" && r.live.RecoveryNs() < 0 && w.Now() <= heal+r.bounds.RecoveryNs {
		w.RunUntil(w.Now() + chunkNs)
		r.checkBounds()
	}
	// Let the replicas settle, then compare state hashes.
	if r.kind == "" {
		w.RunFor(200_000_000)
		r.checkStateHashes()
	}
}

// livenessBounds states how fast the healed group must recover, from its
// timeouts: the slowest replica clock stretches every timer.
func (r *runner) livenessBounds() check.Bounds {
	slow := 1.0
	for _, id := range r.peers {
		slow = min(slow, r.w.Drift(sim.Addr(id)))
	}
	e := float64(r.host.ElectionNs()) / slow
	return check.Bounds{RecoveryNs: int64(RecoveryElections * e), WaitNs: int64(WaitElections * e),
		AnyWaitNs: r.scn.WaitBoundNs}
}

// The liveness bounds, in election timeouts E (at the slowest clock):
//
//   - a leader within 12E of the heal: a follower notices the silence
//     within 2E, a replica that lost elections before may back off up to
//     8E (BackoffMaxTicks), and pre-vote and phase 1, resent every 0.4E,
//     take about 2E more on a lossless network;
//   - every operation answered within 16E of the heal (or of its start):
//     recovery, plus a client's longest retry interval (3.2E), plus a
//     redirect, a forward and the commit reaching the replica asked.
const (
	RecoveryElections = 12
	WaitElections     = 16
)

func (r *runner) checkBounds() {
	if r.kind == "" {
		if f := r.live.Check(r.w.Now(), r.bounds); f != nil {
			r.fail(f.Kind, f.Detail)
		}
	}
}

// stuck describes the operations that did not finish.
func (r *runner) stuck(heal int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s after healing at %s (bound %s), unfinished:", fmtMs(r.w.Now()-heal), fmtMs(heal), fmtMs(r.scn.LivenessNs))
	for i, c := range r.clients {
		if c.Done() {
			continue
		}
		fmt.Fprintf(&b, " c%d(%d ops left", i+1, c.Queued())
		if h := c.Outstanding(); h >= 0 {
			op := r.hist.Op(h)
			fmt.Fprintf(&b, " %v since %s", op.Input, fmtMs(op.Call))
		}
		b.WriteString(")")
	}
	return b.String()
}

// checkStateHashes reports every running replica's state hash at its
// applied prefix: replicas that applied the same prefix hold the same
// state.
func (r *runner) checkStateHashes() {
	for _, id := range r.peers {
		if srv := r.server(id); srv != nil {
			r.checks.StateHash(id, srv.Replica().Applied(), srv.StateMachine().Hash())
		}
	}
	if f := r.checks.Err(); f != nil {
		r.fail(f.Kind, f.Detail)
	}
}

func (r *runner) finish(res *Result) {
	res.OK = r.kind == ""
	res.Kind, res.Detail = r.kind, r.detail
	res.Ops = r.hist.Completed()
	res.Annotations = r.notes
	res.HealNs = r.healNs
	res.RecoveryNs = r.live.RecoveryNs()
	res.Bounds = r.bounds
	if r.w != nil {
		res.MaxWaitNs, _ = r.live.MaxWaitNs(r.w.Now())
		res.MaxWaitAnyNs, _ = r.live.MaxWaitAnyNs(r.w.Now())
	}
	if r.w != nil {
		res.History = r.hist.ForCheck(r.w.Now())
		res.Events = r.w.Stats().Events
		res.VirtualNs = r.w.Now()
		res.TraceHash = r.w.TraceHash()
		res.Trace = r.w.Trace()
	}
	if r.cov != nil {
		res.Coverage = r.cov.n
	}
}

// checkHistory runs porcupine on the whole history, failures or not, so a
// liveness failure still reports a safety violation if there is one.
func (r *runner) checkHistory(res *Result) {
	verdict, info := check.Linearizable(res.History, r.checkTimeout())
	res.Info = info
	switch verdict {
	case porcupine.Ok:
	case porcupine.Illegal:
		res.OK = false
		res.Kind, res.Detail = FailLinearizability, "the lock history is not linearizable"+prefixDetail(res)
	default:
		if res.OK {
			res.OK = false
			res.Kind, res.Detail = FailCheckTimeout, fmt.Sprintf("porcupine gave no verdict within %v", r.checkTimeout())
		}
	}
}

func prefixDetail(res *Result) string {
	if res.Detail == "" {
		return ""
	}
	return " (also: " + res.Kind + ": " + res.Detail + ")"
}

// firstFrames keeps the top of a panic's stack: enough to find the assertion.
func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	if len(lines) > 16 {
		lines = lines[:16]
	}
	return strings.Join(lines, "\n")
}
