package scenarios

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"paxlock/lockmgr"
	"paxlock/sim"
)

// A Scenario as a scenario file: one replay command whose input lines hold
// the whole schedule (the world's seed, every knob, each client's script,
// the fault timeline at its virtual times) and whose output is the verdict
// Run gives it, with the trace hash. Running the file runs exactly that
// Scenario again, so a failing seed exported this way reproduces on its
// own, and someone can edit the schedule by hand (drop faults, ops,
// clients) and see whether the failure stays.
//
//	replay seed=42 replicas=3 tick=1ms client-tick=5ms think=2ms safety=3s liveness=60s
//	net drop=0.05 dup=0 corrupt=0 latency=(80us, 2.1ms) tail=(0, 0s) reorder=(0, 0s) inflight=1024
//	disk torn=0.5
//	clocks drift-max=0 hash-payload=false
//	drift factors=(0.97, 1.02, 1)
//	client c1 lock("1") unlock("1") trylock("2") unlock("2")
//	client c2 unlock("1")
//	crash at=120ms n=2
//	partition at=300ms {1} {2,3}
//	heal at=900ms
//	restart at=1.1s n=2
//	----
//	ok
//	ops 6/6, events 41234, virtual 3200.000ms, trace_hash 1f2e3d4c5b6a7988
//
// Numbers print exactly (floats in their shortest round-trip form,
// durations to the nanosecond), so ParseScenario(ExportScenario(s)) == s.

// clientOpsPerLine wraps long scripts: a client's line may repeat.
const clientOpsPerLine = 20

// ExportScenario writes scn as a scenario file holding one replay command.
// With res (the result of running scn), the file expects that verdict and
// trace hash; without, its expected output is empty and a -rewrite fills
// it in.
func ExportScenario(scn *Scenario, res *Result) string {
	var b strings.Builder
	b.WriteString("# A scenario exported from a run: the whole schedule is the replay\n")
	b.WriteString("# command below (seed, knobs, client scripts, faults at virtual times).\n")
	if res != nil {
		fmt.Fprintf(&b, "# Seed %d gave: %s\n", scn.Seed, firstLine(res.Summary()))
	}
	b.WriteString("# Run it on its own with: go run ./cmd/paxsim -scenario FILE\n")
	b.WriteString("# Edit the schedule and add -rewrite to see what the run does then.\n")
	fmt.Fprintf(&b, "replay seed=%d replicas=%d tick=%s client-tick=%s think=%s safety=%s liveness=%s",
		scn.Seed, scn.Replicas, fmtDur(scn.TickNs), fmtDur(scn.ClientTickNs), fmtDur(scn.ThinkNs),
		fmtDur(scn.SafetyNs), fmtDur(scn.LivenessNs))
	// Knobs most scenarios leave at their defaults are written only when set.
	if scn.SnapshotSlots > 0 {
		fmt.Fprintf(&b, " snapshot=%d", scn.SnapshotSlots)
	}
	if scn.BatchCmdsMax > 0 {
		fmt.Fprintf(&b, " batch=%d", scn.BatchCmdsMax)
	}
	if scn.PatienceNs > 0 {
		fmt.Fprintf(&b, " patience=%s", fmtDur(scn.PatienceNs))
	}
	if scn.WaitBoundNs > 0 {
		fmt.Fprintf(&b, " wait-bound=%s", fmtDur(scn.WaitBoundNs))
	}
	if scn.Forger {
		b.WriteString(" forger=1")
	}
	if scn.Writes > 0 {
		fmt.Fprintf(&b, " writes=%d work=%s", scn.Writes, fmtDur(scn.WorkNs))
	}
	b.WriteString("\n")
	if scn.GroupCommit {
		b.WriteString("group-commit\n")
	}
	n := scn.Sim.Net
	fmt.Fprintf(&b, "net drop=%s dup=%s corrupt=%s latency=(%s, %s) tail=(%s, %s) reorder=(%s, %s) inflight=%d\n",
		fmtFloat(n.DropProb), fmtFloat(n.DupProb), fmtFloat(n.CorruptProb), fmtDur(n.LatencyMinNs), fmtDur(n.LatencyMaxNs),
		fmtFloat(n.TailProb), fmtDur(n.TailMaxNs), fmtFloat(n.ReorderProb), fmtDur(n.ReorderJitterNs), n.InflightPerLinkMax)
	fmt.Fprintf(&b, "disk torn=%s\n", fmtFloat(scn.Sim.DiskTornProb))
	fmt.Fprintf(&b, "clocks drift-max=%s hash-payload=%t\n", fmtFloat(scn.Sim.DriftMax), scn.Sim.TraceHashPayload)
	if scn.Drift != nil {
		fs := make([]string, len(scn.Drift))
		for i, f := range scn.Drift {
			fs[i] = fmtFloat(f)
		}
		fmt.Fprintf(&b, "drift factors=(%s)\n", strings.Join(fs, ", "))
	}
	for i, c := range scn.Clients {
		writeClient(&b, i, c.Ops)
	}
	for _, f := range scn.Faults {
		b.WriteString(exportFault(f))
		b.WriteByte('\n')
	}
	b.WriteString("----\n")
	if res != nil {
		b.WriteString(replayVerdict(res))
	}
	return b.String()
}

func writeClient(b *strings.Builder, i int, ops []OpSpec) {
	for k := 0; k == 0 || k < len(ops); k += clientOpsPerLine {
		fmt.Fprintf(b, "client c%d", i+1)
		for _, op := range ops[k:min(k+clientOpsPerLine, len(ops))] {
			fmt.Fprintf(b, " %v(%s)", op.Op, strconv.Quote(op.Name))
		}
		b.WriteByte('\n')
	}
}

func exportFault(f Fault) string {
	at := "at=" + fmtDur(f.AtNs)
	switch f.Kind {
	case FaultCrash, FaultRestart, FaultPause, FaultResume, FaultIsolate, FaultLoseDisk:
		return fmt.Sprintf("%v %s n=%s", f.Kind, at, addrName(f.Node))
	case FaultCut:
		return fmt.Sprintf("%v %s from=%s to=%s", f.Kind, at, addrName(f.Node), addrName(f.To))
	case FaultClog:
		return fmt.Sprintf("%v %s from=%s to=%s until=%s", f.Kind, at, addrName(f.Node), addrName(f.To), fmtDur(f.UntilNs))
	case FaultDrift:
		return fmt.Sprintf("%v %s n=%s factor=%s", f.Kind, at, addrName(f.Node), fmtFloat(f.Factor))
	case FaultCrashLeader, FaultIsolateLeader:
		return fmt.Sprintf("%v %s until=%s", f.Kind, at, fmtDur(f.UntilNs))
	case FaultPauseHolder, FaultIsolateExpiring:
		return fmt.Sprintf("%v %s pick=%s until=%s", f.Kind, at, fmtFloat(f.Factor), fmtDur(f.UntilNs))
	case FaultPartition:
		gs := make([]string, len(f.Groups))
		for i, g := range f.Groups {
			ms := make([]string, len(g))
			for j, m := range g {
				ms[j] = addrName(m)
			}
			gs[i] = "{" + strings.Join(ms, ",") + "}"
		}
		return fmt.Sprintf("%v %s %s", f.Kind, at, strings.Join(gs, " "))
	}
	return fmt.Sprintf("%v %s", f.Kind, at)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// replayVerdict is replay's output: the verdict, then the numbers that
// pin the run down.
func replayVerdict(res *Result) string {
	return fmt.Sprintf("%s\nops %d/%d, events %d, virtual %s, trace_hash %016x\n",
		firstLine(res.Summary()), res.Ops, res.OpsTotal, res.Events, fmtT(res.VirtualNs), res.TraceHash)
}

// ParseScenario reads the schedule of the first replay command of a
// scenario file.
func ParseScenario(src string) (*Scenario, error) {
	r := &transcriptReader{name: "scenario", lines: splitLines(src)}
	for {
		d, ok, err := r.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errors.New("scenario: no replay command")
		}
		if d.Cmd == "replay" {
			scn, err := parseReplay(newArgs(d, nil), d.Input)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", d.Pos, err)
			}
			return scn, nil
		}
	}
}

// cmdReplay runs a whole Scenario, written out as its input lines (see
// ExportScenario), with Run, and prints the verdict and trace hash. It
// needs no cluster and leaves the file's cluster alone.
//
// Example:
//
//	replay seed=9 replicas=3 tick=1ms client-tick=0s think=0s safety=100ms liveness=10s
//	net drop=0 dup=0 corrupt=0 latency=(50us, 500us) tail=(0, 0s) reorder=(0, 0s) inflight=1024
//	disk torn=0.5
//	clocks drift-max=0 hash-payload=false
//	client c1 lock("a") unlock("a")
//	crash at=20ms n=1
//	----
//	ok
//	ops 2/2, events 1234, virtual 300.000ms, trace_hash 0123456789abcdef
func (s *script) cmdReplay(a *args, input string) error {
	scn, err := parseReplay(a, input)
	if err != nil {
		return err
	}
	res := Run(*scn, Options{})
	s.out.WriteString(replayVerdict(&res))
	return nil
}

// parseReplay reads replay's arguments and input lines.
func parseReplay(a *args, input string) (*Scenario, error) {
	scn := &Scenario{Replicas: a.reqNum("replicas", "the cluster size, 1..9", 1, 9)}
	if v, ok := a.value("seed"); !ok {
		a.missing("seed", "the world's seed")
	} else if seed, err := strconv.ParseUint(v, 10, 64); err != nil {
		a.fail("seed=%s: want a whole number", v)
	} else {
		scn.Seed = seed
	}
	scn.TickNs = a.reqDur("tick")
	scn.ClientTickNs = a.dur("client-tick", 0)
	scn.ThinkNs = a.dur("think", 0)
	scn.SafetyNs = a.reqDur("safety")
	scn.LivenessNs = a.reqDur("liveness")
	scn.SnapshotSlots = uint64(a.num("snapshot", 0, 1, 1<<20))
	scn.BatchCmdsMax = a.num("batch", 0, 1, 4096)
	scn.WaitBoundNs = a.dur("wait-bound", 0)
	scn.PatienceNs = a.dur("patience", 0)
	scn.Forger = a.num("forger", 0, 0, 1) == 1
	scn.Writes = a.num("writes", 0, 0, 100)
	scn.WorkNs = a.dur("work", 0)
	if err := a.done(); err != nil {
		return nil, err
	}
	p := replayParser{scn: scn}
	for i, line := range strings.Split(input, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := p.line(line); err != nil {
			return nil, fmt.Errorf("replay: input line %d: %w", i+1, err)
		}
	}
	scn.Sim.Net = p.net
	if err := scn.Validate(); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return scn, nil
}

// replayParser reads replay's input lines into a Scenario.
type replayParser struct {
	scn *Scenario
	net sim.NetConfig
}

func (p *replayParser) line(line string) error {
	if rest, ok := strings.CutPrefix(line, "client "); ok {
		return p.client(rest)
	}
	cmd, cargs, err := parseLine(line)
	if err != nil {
		return err
	}
	a := &args{cmd: cmd, list: cargs, replicas: p.scn.Replicas, clients: len(p.scn.Clients)}
	switch cmd {
	case "net":
		a.netKnobs(&p.net)
	case "disk":
		p.scn.Sim.DiskTornProb = a.prob("torn", 0)
	case "group-commit":
		p.scn.GroupCommit = true
	case "clocks":
		if v, ok := a.value("drift-max"); ok {
			p.scn.Sim.DriftMax = a.parseProb("drift-max", v)
		}
		p.scn.Sim.TraceHashPayload = a.boolean("hash-payload", false)
	case "drift":
		if _, ok := a.value("at"); ok {
			return p.fault(a, FaultDrift)
		}
		vals, _ := a.values("factors")
		for _, v := range vals {
			p.scn.Drift = append(p.scn.Drift, a.parseFactor("factors", strings.TrimSpace(v)))
		}
	default:
		for k := FaultCrash; k < faultKinds; k++ {
			if k.String() == cmd {
				return p.fault(a, k)
			}
		}
		names := []string{"net", "disk", "group-commit", "clocks", "drift", "client"}
		for k := FaultCrash; k < faultKinds; k++ {
			names = append(names, k.String())
		}
		hint := ""
		if m := closest(cmd, names); m != "" {
			hint = fmt.Sprintf(" (did you mean %s?)", m)
		}
		return fmt.Errorf("%s: unknown line%s", cmd, hint)
	}
	return a.done()
}

// fault reads one timeline entry; the args' at= was already asked for by
// drift.
func (p *replayParser) fault(a *args, k FaultKind) error {
	f := Fault{Kind: k}
	a.asked = a.asked[:0]
	f.AtNs = a.reqDur("at")
	switch k {
	case FaultCrash, FaultRestart, FaultPause, FaultResume, FaultIsolate, FaultLoseDisk:
		f.Node = a.endpoint("n")
	case FaultCut:
		f.Node, f.To = a.endpoint("from"), a.endpoint("to")
	case FaultClog:
		f.Node, f.To = a.endpoint("from"), a.endpoint("to")
		f.UntilNs = a.reqDur("until")
	case FaultDrift:
		f.Node = a.endpoint("n")
		f.Factor = a.factor("factor", 0)
	case FaultCrashLeader, FaultIsolateLeader:
		f.UntilNs = a.reqDur("until")
	case FaultPauseHolder, FaultIsolateExpiring:
		f.Factor = a.prob("pick", 0)
		f.UntilNs = a.reqDur("until")
	case FaultPartition:
		for _, g := range a.bare() {
			members, err := parseGroup(a, g)
			if err != nil {
				return err
			}
			f.Groups = append(f.Groups, members)
		}
	}
	if err := a.done(); err != nil {
		return err
	}
	p.scn.Faults = append(p.scn.Faults, f)
	return nil
}

// client reads `c2 lock("a") unlock("a")`: client c2's next operations.
// A client's first line starts its script; clients come in order.
func (p *replayParser) client(line string) error {
	id, rest, _ := strings.Cut(line, " ")
	n, err := strconv.Atoi(strings.TrimPrefix(id, "c"))
	switch k := len(p.scn.Clients); {
	case err != nil || !strings.HasPrefix(id, "c"):
		return fmt.Errorf("client: %q: want client c1, c2, ... in order", id)
	case n == k+1:
		p.scn.Clients = append(p.scn.Clients, ClientScript{})
	case n != k || k == 0:
		return fmt.Errorf("client: c%d out of order: want c%d (or c%d to continue)", n, k+1, k)
	}
	c := &p.scn.Clients[n-1]
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		var op OpSpec
		if op, rest, err = parseOp(rest); err != nil {
			return fmt.Errorf("client: c%d: %w", n, err)
		}
		c.Ops = append(c.Ops, op)
	}
	return nil
}

// parseOp reads one `lock("a")` off the front of s.
func parseOp(s string) (OpSpec, string, error) {
	name, rest, ok := strings.Cut(s, "(")
	var op OpSpec
	o, err := lockmgr.ParseOp(name)
	if !ok || err != nil || !o.Callable() {
		var forms []string
		for _, o := range lockmgr.Ops() {
			if !o.Callable() {
				continue
			}
			arg := `""`
			if o.Named() {
				arg = `"name"`
			}
			forms = append(forms, o.String()+"("+arg+")")
		}
		return op, "", fmt.Errorf("%q: want one of %s", firstField(s), strings.Join(forms, ", "))
	}
	op.Op = o
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return op, "", fmt.Errorf("%s(: want a quoted lock name", name)
	}
	op.Name, _ = strconv.Unquote(q)
	rest, ok = strings.CutPrefix(rest[len(q):], ")")
	if !ok {
		return op, "", fmt.Errorf("%s(%s: want )", name, q)
	}
	return op, rest, nil
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}
