package scenarios

import (
	"fmt"
	"math/rand/v2"
	"paxlock/scenarios/check"
	"strings"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// script is the state of one scenario file being run: the cluster that
// `cluster` built, the operations the file started, and the output of the
// command in progress. Everything that happens while a command runs (a
// fault it caused, an operation that completed, a new leader, a checker
// failure) is printed in that command's output, one line per fact, in the
// order it happened, with its virtual time.
type script struct {
	c         *Cluster
	clusterAt string // where cluster was called, for a second call's error
	clients   [][]*scriptOp
	done      []int // per client: how many of its operations completed
	roles     []roleView
	failShown bool
	out       strings.Builder
	rng       *rand.Rand // the file's own draws (rand:LO..HI), seeded by the cluster's seed
}

// scriptOp is one operation a file started at a client.
type scriptOp struct {
	client int // 0-based
	op     lockmgr.Op
	name   string
	done   bool
	res    opResult
	batch  *batch // the workload it belongs to, if any: printed as a whole
}

type opResult struct {
	stale bool // the group could not say (outcome unknown)
	out   check.Output
}

// roleView is what the script last saw of one replica's role.
type roleView struct {
	role   paxos.Role
	up     bool
	ballot paxos.Ballot
}

func newScript() *script { return &script{} }

// commands lists every command, for the dispatch and for suggestions.
var commands = []string{
	"cluster", "net",
	"lock", "trylock", "unlock", "read", "close", "workload",
	"crash", "restart", "pause", "resume", "lose-disk", "drift",
	"partition", "cut", "isolate", "heal",
	"drop", "dup", "clog", "deliver",
	"tick", "run", "stabilize", "idle", "assert", "repeat",
	"status", "log", "leader", "check",
	"replay", "explore",
}

// exec runs one command and returns what it printed. An error is a
// mistake in the file; the caller adds the file and line.
func (s *script) exec(d *command) (string, error) {
	s.out.Reset()
	if err := s.precheck(d); err != nil {
		return "", err
	}
	if d.Cmd != "repeat" { // a repeat draws anew each round
		if err := s.draw(d); err != nil {
			return "", err
		}
	}
	var err error
	if s.c == nil {
		err = s.dispatch(d)
	} else {
		s.c.Guard(func() { err = s.dispatch(d) })
		s.showFailure(s.c.World().Now())
	}
	if err != nil {
		return "", err
	}
	return s.out.String(), nil
}

// precheck rejects what no command accepts: an unknown command, a command
// before cluster, input lines under a command that takes none.
func (s *script) precheck(d *command) error {
	known := false
	for _, c := range commands {
		known = known || c == d.Cmd
	}
	switch {
	case !known:
		if m := closest(d.Cmd, commands); m != "" {
			return fmt.Errorf("%s: unknown command (did you mean %s?)", d.Cmd, m)
		}
		return fmt.Errorf("%s: unknown command (want one of %s)", d.Cmd, strings.Join(commands, ", "))
	case s.c == nil && d.Cmd != "cluster" && d.Cmd != "replay" && d.Cmd != "explore":
		return fmt.Errorf("%s: no cluster yet: start the file with `cluster replicas=N clients=M`", d.Cmd)
	case d.Input != "" && d.Cmd != "replay" && d.Cmd != "repeat" && d.Cmd != "explore":
		return fmt.Errorf("%s: unexpected input lines below the command (a missing ----?): %q", d.Cmd, firstLine(d.Input))
	}
	return nil
}

// dispatch runs the command's handler. Each handler lives in a cmd_*.go
// file with an example of its use.
func (s *script) dispatch(d *command) error {
	a := newArgs(d, s.c)
	switch d.Cmd {
	case "cluster":
		return s.cmdCluster(a, d.Pos)
	case "net":
		return s.cmdNet(a)
	case lockmgr.OpLock.String(), lockmgr.OpTryLock.String(), lockmgr.OpUnlock.String(), lockmgr.OpRead.String(), lockmgr.OpClose.String():
		op, _ := lockmgr.ParseOp(d.Cmd)
		return s.cmdOp(a, op)
	case "workload":
		return s.cmdWorkload(a)
	case "crash", "restart", "pause", "resume":
		return s.cmdProcess(a)
	case "lose-disk":
		return s.cmdLoseDisk(a)
	case "drift":
		return s.cmdDrift(a)
	case "partition":
		return s.cmdPartition(a)
	case "cut":
		return s.cmdCut(a)
	case "isolate":
		return s.cmdIsolate(a)
	case "heal":
		return s.cmdHeal(a)
	case "drop":
		return s.cmdDrop(a)
	case "clog":
		return s.cmdClog(a)
	case "dup":
		return s.cmdDup(a)
	case "idle":
		return s.cmdIdle(a)
	case "assert":
		return s.cmdAssert(a)
	case "repeat":
		return s.cmdRepeat(a, d.Input)
	case "deliver":
		return s.cmdDeliver(a)
	case "tick":
		return s.cmdTick(a)
	case "run":
		return s.cmdRun(a)
	case "stabilize":
		return s.cmdStabilize(a)
	case "status":
		return s.cmdStatus(a)
	case "log":
		return s.cmdLog(a)
	case "leader":
		return s.cmdLeader(a)
	case "check":
		return s.cmdCheck(a)
	case "replay":
		return s.cmdReplay(a, d.Input)
	case "explore":
		return s.cmdExplore(a, d.Input)
	}
	return fmt.Errorf("%s: command without a handler", d.Cmd) // unreachable: precheck knows the list
}

// line prints one line of the current command's output.
func (s *script) line(format string, args ...any) {
	fmt.Fprintf(&s.out, format, args...)
	s.out.WriteByte('\n')
}

// observe sees every event of the world. It prints the faults and harness
// packet actions (with the trace's describe form), then a checker failure,
// new leaders and completed operations.
func (s *script) observe(ev *sim.Event) {
	if echoed(ev) {
		text := ev.String()
		if len(ev.Data) > 0 && (ev.Kind == sim.KindDrop || ev.Kind == sim.KindDeliver) {
			text += ": " + describePacket(ev.Data)
		}
		s.line("%s", text)
	}
	s.showFailure(ev.TimeNs)
	s.showLeaders(ev.TimeNs)
	for _, op := range s.c.Done() {
		s.completed(op, ev.TimeNs)
	}
}

// echoed reports whether an event is one the file caused or asked about.
func echoed(ev *sim.Event) bool {
	switch ev.Kind {
	case sim.KindCrash, sim.KindRestart, sim.KindPause, sim.KindResume, sim.KindDrift, sim.KindDiskLoss,
		sim.KindPartition, sim.KindCut, sim.KindIsolate, sim.KindHeal, sim.KindClog,
		sim.KindNet, sim.KindDropNext:
		return true
	case sim.KindDrop:
		return ev.Reason == sim.DropHarness
	case sim.KindDeliver:
		return ev.Flags&sim.FlagEarly != 0
	}
	return false
}

// showFailure prints the first checker failure once, when it happens.
func (s *script) showFailure(t int64) {
	if s.failShown || s.c == nil {
		return
	}
	if err := s.c.Err(); err != nil {
		s.failShown = true
		s.line("t=%s FAILED %s", fmtT(t), firstLine(err.Error()))
	}
}

// showLeaders prints each replica that became leader since the last event.
func (s *script) showLeaders(t int64) {
	for i := range s.roles {
		id := paxos.ID(i + 1)
		var v roleView
		if srv := s.c.Server(id); srv != nil {
			rep := srv.Replica()
			v = roleView{role: rep.Role(), up: true, ballot: rep.Ballot()}
		}
		prev := s.roles[i]
		s.roles[i] = v
		if v.up && v.role == paxos.Leader && (!prev.up || prev.role != paxos.Leader || prev.ballot != v.ballot) {
			s.line("t=%s %d is leader (ballot %v)", fmtT(t), id, v.ballot)
		}
	}
}

// completed matches a completion with the operation the file started and
// prints it (a workload prints once, when its last operation completes).
func (s *script) completed(op porcupine.Operation, t int64) {
	i := op.ClientId
	k := s.done[i]
	if k >= len(s.clients[i]) {
		return // not started by the file: cannot happen, but never index past
	}
	s.done[i]++
	rec := s.clients[i][k]
	rec.done = true
	if out, ok := op.Output.(check.Output); ok && op.Return >= 0 {
		rec.res.out = out
	} else {
		rec.res.stale = true
	}
	if rec.batch != nil {
		rec.batch.completed(s, rec, t)
		return
	}
	s.line("t=%s %s -> %s", fmtT(t), rec, rec.res)
}

func (o *scriptOp) String() string { return fmt.Sprintf("c%d %v(%q)", o.client+1, o.op, o.name) }

func (r opResult) String() string {
	if r.stale {
		return "stale (outcome unknown)"
	}
	if r.out.Status == lockmgr.Report {
		return r.out.Table
	}
	return lockmgr.Result{Status: r.out.Status, Token: r.out.Token, Holder: r.out.Holder}.String()
}

// start queues an operation at client i.
func (s *script) start(i int, op lockmgr.Op, name string, b *batch) (*scriptOp, error) {
	rec := &scriptOp{client: i, op: op, name: name, batch: b}
	if err := s.c.Start(i, op, name); err != nil {
		return nil, err
	}
	s.clients[i] = append(s.clients[i], rec)
	return rec, nil
}

// runUntil runs the world in steps of one tick until cond holds, limitNs
// passes or a checker fails; it reports whether cond held.
func (s *script) runUntil(limitNs int64, cond func() bool) bool {
	w := s.c.World()
	end := w.Now() + limitNs
	for !cond() && s.c.Err() == nil && w.Now() < end {
		s.c.RunFor(min(s.c.TickNs(), end-w.Now()))
	}
	return cond()
}

// fmtT prints virtual time as the trace does: milliseconds with
// microsecond precision.
func fmtT(ns int64) string {
	us := ns / 1000
	return fmt.Sprintf("%d.%03dms", us/1000, us%1000)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// closest returns the candidate nearest to s by edit distance, if it is
// near enough to be a typo of it.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance, with a swap of two adjacent
// letters counting as one edit.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
