package scenarios

import (
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// Failure kinds, each with its own message.
const (
	FailLinearizability = "linearizability" // porcupine rejected the history
	FailCheckTimeout    = "check-timeout"   // porcupine could not decide in time
	FailAgreement       = "agreement"       // a slot chosen with two values
	FailStateHash       = "state-hash"      // same applied prefix, different state
	FailFencing         = "fencing"         // a token that did not increase
	FailLiveness        = "liveness"        // operations unfinished after healing
	FailPanic           = "panic"           // an assertion fired (a found bug)
	FailDurability      = "durability"      // a message not backed by durable state
	FailTimer           = "timer"           // a timer fired while its host slept (TicksToTimer lied)
)

// Options tune a run without changing what it does.
type Options struct {
	KeepTrace    bool                 // retain every event (for -trace and artifacts)
	CheckTimeout time.Duration        // porcupine's budget; 0 means 30 s
	OnEvent      func(*sim.Event)     // sees every event, after the checkers
	Logf         func(string, ...any) // verbose progress, if set
}

// Result is what a run found.
type Result struct {
	Seed        uint64
	OK          bool
	Kind        string // failure kind, "" if OK
	Detail      string
	Ops         int // operations that completed
	OpsTotal    int
	Events      uint64
	VirtualNs   int64
	HealNs      int64 // when the liveness phase began
	TraceHash   uint64
	History     []porcupine.Operation
	Info        porcupine.LinearizationInfo
	Annotations []porcupine.Annotation
	Trace       []sim.Event
}

// Summary is the one-line account of a failure (or "ok").
func (r *Result) Summary() string {
	if r.OK {
		return "ok"
	}
	return r.Kind + ": " + r.Detail
}

type runner struct {
	scn      *Scenario
	opt      Options
	w        *sim.World
	peers    []paxos.ID
	replicas []*replicaProc
	clients  []*clientProc
	roles    []paxos.Role
	hist     history
	agree    *agreement
	fencing  *fencing
	healed   bool
	healNs   int64
	kind     string
	detail   string
	notes    []porcupine.Annotation
	onApply  func(id paxos.ID, slot uint64, c lockmgr.Command, res lockmgr.Result, grants []lockmgr.Grant)
	done     []int // history indexes completed since the last takeDone
}

// completed notes that client i's operation h finished.
func (r *runner) completed(i, h int) { r.done = append(r.done, h) }

// Run executes a scenario in the simulator and checks it.
func Run(scn Scenario, opt Options) (res Result) {
	res = Result{Seed: scn.Seed, OpsTotal: scn.Ops()}
	if err := scn.Validate(); err != nil {
		res.Kind, res.Detail = "scenario", err.Error()
		return res
	}
	r := &runner{scn: &scn, opt: opt, agree: newAgreement(scn.Replicas), fencing: newFencing()}
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
	n := r.scn.Replicas
	r.replicas = make([]*replicaProc, n)
	r.roles = make([]paxos.Role, n)
	for i := 1; i <= n; i++ {
		r.peers = append(r.peers, paxos.ID(i))
	}
	for _, id := range r.peers {
		if err := w.AddProcess(sim.Addr(id), r.scn.TickNs, func() sim.Process {
			return &replicaProc{run: r, id: id}
		}); err != nil {
			return err
		}
		if r.scn.Drift != nil {
			w.SetDrift(sim.Addr(id), r.scn.Drift[id-1])
		}
	}
	for i := range r.scn.Clients {
		c := &clientProc{run: r, idx: i, cur: -1, queue: r.scn.Clients[i].Ops}
		r.clients = append(r.clients, c)
		if err := w.AddProcess(ClientAddrBase+sim.Addr(i), r.clientTickNs(), func() sim.Process { return c }); err != nil {
			return err
		}
	}
	for _, f := range r.scn.Faults {
		w.AtLabel(f.AtNs, f.String(), func() { r.applyFault(f) })
	}
	w.OnEvent(r.observe)
	return nil
}

// Timer durations, converted to ticks of whatever period a scenario uses.
const (
	heartbeatNs   = 10_000_000
	electionNs    = 50_000_000
	resendNs      = 20_000_000
	backoffMaxNs  = 400_000_000
	clientWaitNs  = 40_000_000
	clientMaxNs   = 640_000_000
	clientQueueNs = 400_000_000
	reproposeNs   = 20_000_000
)

// ticks converts a duration to a whole number of ticks, at least one.
func ticks(ns, tickNs int64) int { return int(max(1, ns/tickNs)) }

func (r *runner) clientTickNs() int64 {
	if r.scn.ClientTickNs > 0 {
		return r.scn.ClientTickNs
	}
	return r.scn.TickNs
}

// serverConfig is every replica's configuration. Snapshots are taken often
// so that compaction and snapshot transfer happen in ordinary runs.
func (r *runner) serverConfig(id paxos.ID, rng *rand.Rand) lockmgr.ServerConfig {
	cfg := lockmgr.DefaultServerConfig(id, r.peers)
	t := r.scn.TickNs
	p := &cfg.Paxos
	p.Rand = rng
	p.HeartbeatTicks = ticks(heartbeatNs, t)
	p.ElectionTicks = max(p.HeartbeatTicks+1, ticks(electionNs, t))
	p.ResendTicks = ticks(resendNs, t)
	p.BackoffMaxTicks = ticks(backoffMaxNs, t)
	cfg.ReproposeTicks = int64(ticks(reproposeNs, t))
	cfg.SnapshotSlots = 64
	return cfg
}

// clientConfig is every client's configuration.
func (r *runner) clientConfig(id lockmgr.ClientID, rng *rand.Rand) lockmgr.ClientConfig {
	cfg := lockmgr.DefaultClientConfig(id, r.peers)
	t := r.clientTickNs()
	cfg.Rand = rng
	cfg.TimeoutTicks = ticks(clientWaitNs, t)
	cfg.BackoffMaxTicks = ticks(clientMaxNs, t)
	cfg.WaitTicks = ticks(clientQueueNs, t)
	return cfg
}

// observe runs after every event: agreement on every live replica, leader
// changes for the annotations, then the caller's observer.
func (r *runner) observe(ev *sim.Event) {
	switch ev.Kind {
	case sim.KindRestart:
		if i := int(ev.Proc) - 1; i >= 0 && i < len(r.replicas) {
			r.agree.restarted(i)
		}
	case sim.KindCrash:
		r.note(ev.TimeNs, fmt.Sprintf("crash %d", ev.Proc), "#f4b6b6")
	case sim.KindPartition, sim.KindIsolate, sim.KindCut, sim.KindHeal, sim.KindClog, sim.KindPause:
		r.note(ev.TimeNs, ev.String()[strings.IndexByte(ev.String(), ' ')+1:], "#f3e2a9")
	}
	// Only the process an event ran can have changed its state: a packet's
	// receiver, or the process that ticked or started.
	var a sim.Addr
	switch ev.Kind {
	case sim.KindDeliver:
		a = ev.To
	case sim.KindTick, sim.KindStart, sim.KindRestart:
		a = ev.Proc
	}
	if i := int(a) - 1; i >= 0 && i < len(r.replicas) {
		r.checkReplica(i, ev.TimeNs)
	}
	if r.fencing.err != nil {
		r.fail(FailFencing, r.fencing.err.Error())
	}
	if r.opt.OnEvent != nil {
		r.opt.OnEvent(ev)
	}
}

// checkReplica runs the per-event checks on replica i: agreement on its
// newly chosen slots, and leader changes for the annotations.
func (r *runner) checkReplica(i int, now int64) {
	p := r.replicas[i]
	if p == nil || p.node == nil || !r.w.Up(sim.Addr(i+1)) {
		return
	}
	rep := p.node.Server().Replica()
	if err := r.agree.check(i, rep); err != nil {
		r.fail(FailAgreement, err.Error())
	}
	if n, first := rep.Conflicts(); n > 0 {
		r.fail(FailAgreement, first)
	}
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
			w.Crash(f.Node)
		}
	case FaultRestart:
		if !w.Up(f.Node) {
			w.Restart(f.Node)
		}
	case FaultPause:
		w.Pause(f.Node)
	case FaultResume:
		w.Resume(f.Node)
	case FaultPartition:
		w.Partition(f.Groups...)
	case FaultCut:
		w.Cut(f.Node, f.To)
	case FaultIsolate:
		w.Isolate(f.Node)
	case FaultHeal:
		w.Heal()
	case FaultClog:
		w.Clog(f.Node, f.To, f.UntilNs)
	case FaultDrift:
		w.SetDrift(f.Node, f.Factor)
	}
}

const chunkNs = 10_000_000

func (r *runner) allDone() bool {
	for _, c := range r.clients {
		if !c.done() {
			return false
		}
	}
	return true
}

// safetyPhase runs with faults until SafetyNs, or until every client is done.
func (r *runner) safetyPhase() {
	for r.kind == "" && r.w.Now() < r.scn.SafetyNs && !r.allDone() {
		r.w.RunUntil(min(r.w.Now()+chunkNs, r.scn.SafetyNs))
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
	r.note(heal, "heal all: liveness phase", "#c9f4b6")
	deadline := heal + r.scn.LivenessNs
	for r.kind == "" && !r.allDone() && w.Now() < deadline {
		w.RunUntil(min(w.Now()+chunkNs, deadline))
	}
	if r.kind == "" && !r.allDone() {
		r.fail(FailLiveness, r.stuck(heal))
	}
	// Let the replicas settle, then compare state hashes.
	if r.kind == "" {
		w.RunFor(200_000_000)
		r.checkStateHashes()
	}
}

// stuck describes the operations that did not finish.
func (r *runner) stuck(heal int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s after healing at %s (bound %s), unfinished:", fmtMs(r.w.Now()-heal), fmtMs(heal), fmtMs(r.scn.LivenessNs))
	for _, c := range r.clients {
		if c.done() {
			continue
		}
		fmt.Fprintf(&b, " c%d(%d ops left", c.idx+1, len(c.queue))
		if c.cur >= 0 {
			op := r.hist.ops[c.cur]
			fmt.Fprintf(&b, " %v since %s", op.Input, fmtMs(op.Call))
		}
		b.WriteString(")")
	}
	return b.String()
}

// checkStateHashes: replicas that applied the same prefix hold the same
// state.
func (r *runner) checkStateHashes() {
	seen := map[uint64]struct {
		id   paxos.ID
		hash uint64
	}{}
	for i, p := range r.replicas {
		if p == nil || p.node == nil || !r.w.Up(sim.Addr(i+1)) {
			continue
		}
		srv := p.node.Server()
		applied, h := srv.Replica().Applied(), srv.StateMachine().Hash()
		if prev, ok := seen[applied]; ok && prev.hash != h {
			r.fail(FailStateHash, fmt.Sprintf("replicas %d and %d applied slots below %d but hold states %x and %x",
				prev.id, i+1, applied, prev.hash, h))
			return
		} else if !ok {
			seen[applied] = struct {
				id   paxos.ID
				hash uint64
			}{paxos.ID(i + 1), h}
		}
	}
}

func (r *runner) finish(res *Result) {
	res.OK = r.kind == ""
	res.Kind, res.Detail = r.kind, r.detail
	res.Ops = r.hist.completed()
	res.History = r.hist.forCheck(r.w.Now())
	res.Annotations = r.notes
	res.HealNs = r.healNs
	if r.w != nil {
		res.Events = r.w.Stats().Events
		res.VirtualNs = r.w.Now()
		res.TraceHash = r.w.TraceHash()
		res.Trace = r.w.Trace()
	}
}

// checkHistory runs porcupine on the whole history, failures or not, so a
// liveness failure still reports a safety violation if there is one.
func (r *runner) checkHistory(res *Result) {
	verdict, info := checkLinearizable(res.History, r.checkTimeout())
	res.Info = info
	switch verdict {
	case porcupine.Ok:
	case porcupine.Illegal:
		res.OK = false
		res.Kind, res.Detail = FailLinearizability, "the lock history is not linearizable"+prefixDetail(res)
	default:
		if res.OK {
			res.OK = false
			res.Kind, res.Detail = FailCheckTimeout, fmt.Sprintf("porcupine gave no verdict within %v", r.opt.CheckTimeout)
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
