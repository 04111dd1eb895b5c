// Package scenarios runs the real lock service in the simulator and has
// it checked.
//
// A Scenario is data: the cluster's shape, the network and fault knobs, a
// timeline of faults, and each client's script of lock operations. It comes
// from a seed (Generate, swarm testing), from a scenario file (the script
// language of script.go and cmd_*.go), or from a property-test generator
// (rapid, in test code only); one runner (Run) executes any of them in
// package sim, with replica and client processes from lockmgr/simhost,
// feeds what they record to the checkers of scenarios/check, and exports a
// failure as a scenario file that replays it.
//
// It holds no checker itself and no host: the judging is scenarios/check's,
// the processes are lockmgr/simhost's. It is not a test framework of its
// own: go test and cmd/paxsim drive it. Like sim, it is deterministic: one
// goroutine per run, no wall clock in anything that reaches a result.
package scenarios

import (
	"fmt"

	"paxlock/lockmgr"
	"paxlock/sim"
)

// ClientAddrBase is the first client's simulator address; replicas are 1..N.
const ClientAddrBase sim.Addr = 1000

// ForgerAddr is the forger's address (Scenario.Forger).
const ForgerAddr sim.Addr = 900

// StorageAddr is the fenced resource's address (Scenario.Writes).
const StorageAddr sim.Addr = 901

// Scenario is everything one run needs; with the same Scenario, a run is
// exactly the same.
type Scenario struct {
	Seed     uint64
	Replicas int
	Sim      sim.Config
	Drift    []float64 // per replica tick-rate factor; nil: none
	TickNs   int64     // replica tick period; timers are set in time and converted
	// ClientTickNs is the clients' tick period: their timers are coarse
	// (tens of ms), so they need not tick as often as replicas. 0: TickNs.
	ClientTickNs int64
	Clients      []ClientScript
	ThinkNs      int64 // a client waits up to this long between operations
	// PatienceNs: a client gives up a Lock queued this long and goes on
	// (its next request withdraws the wait); 0: clients wait forever.
	PatienceNs int64
	// GroupCommit makes the replicas' hosts deliver every packet that
	// arrives between two ticks and drive the node once, at the tick, as
	// the UDP host does (many records, one sync). Off, each packet is
	// driven on arrival.
	GroupCommit bool
	// SnapshotSlots: replicas compact every this many applied slots; 0
	// means the simulator host's default (simhost.DefaultSnapshotSlots).
	SnapshotSlots uint64
	// BatchCmdsMax: commands a leader puts in one slot at most; 0 means
	// the replica default. 1 keeps a slot open per request in flight.
	BatchCmdsMax int
	Faults       []Fault
	SafetyNs     int64 // faults happen in [0, SafetyNs)
	// LivenessNs bounds the liveness phase: after SafetyNs every fault is
	// healed and every client must finish its script within this time.
	LivenessNs int64
	// WaitBoundNs, if > 0, bounds how long any operation may wait for its
	// answer during the whole run, faults included (time a Lock spends
	// queued behind another holder aside): for fault schedules that always
	// leave a majority connected.
	WaitBoundNs int64
	// Forger adds an adversary that sends requests in other sessions'
	// names with tags it cannot make (simhost.Forger).
	Forger bool
	// Writes: after each grant, a client writes this many times to a
	// fenced resource (simhost.Storage), each after up to WorkNs of work
	// begun once it checked its lease. 0: no resource.
	Writes int
	WorkNs int64
}

// ClientScript is one client's operations, issued one after another.
type ClientScript struct {
	Ops []OpSpec
}

// OpSpec is one operation of a script.
type OpSpec struct {
	Op   lockmgr.Op
	Name string
}

// FaultKind names a timeline entry.
type FaultKind uint8

const (
	FaultCrash     FaultKind = iota + 1 // Node crashes
	FaultRestart                        // Node restarts from its disk
	FaultPause                          // Node stops running
	FaultResume                         // Node runs again
	FaultPartition                      // Groups cannot talk to each other
	FaultCut                            // packets Node -> To are lost (one way)
	FaultIsolate                        // Node cannot talk to anyone
	FaultHeal                           // every cut removed
	FaultClog                           // packets Node -> To wait until UntilNs
	FaultDrift                          // Node's tick rate becomes Factor
	// The leader nemesis: whichever replica leads at AtNs (the highest
	// ballot among those that think they lead; nothing if none does).
	FaultCrashLeader   // crashes it; it restarts at UntilNs
	FaultIsolateLeader // isolates it; everything heals at UntilNs
	// The holder nemesis: a client in the middle of writing to the fenced
	// resource under a lock it holds (Factor in [0,1) picks which of
	// those writing then; nothing if none is) stops, as in a long GC
	// pause, and runs again at UntilNs.
	FaultPauseHolder
	// Node (a replica) crashes if it is up and loses its whole disk; it
	// is brought back, by a later restart, as paxosd -rejoin would: it
	// rebuilds before it votes again.
	FaultLoseDisk
	// The expiry nemesis: from AtNs to UntilNs, the first session expiry
	// a leader proposes has that leader isolated a moment later (Factor
	// in [0,1) of 2 ms: some of its accepts out, none of their answers
	// back), so the expiry is left to the next leader to recover or
	// lose; everything heals at UntilNs (or 200 ms after, if later).
	FaultIsolateExpiring
	faultKinds
)

var faultNames = [...]string{
	FaultCrash: "crash", FaultRestart: "restart", FaultPause: "pause", FaultResume: "resume",
	FaultPartition: "partition", FaultCut: "cut", FaultIsolate: "isolate", FaultHeal: "heal",
	FaultClog: "clog", FaultDrift: "drift", FaultCrashLeader: "crash-leader", FaultIsolateLeader: "isolate-leader",
	FaultPauseHolder: "pause-holder", FaultLoseDisk: "lose-disk", FaultIsolateExpiring: "isolate-expiring-leader",
}

func (k FaultKind) String() string {
	if int(k) < len(faultNames) && faultNames[k] != "" {
		return faultNames[k]
	}
	return fmt.Sprintf("FaultKind(%d)", uint8(k))
}

// Fault is one timeline entry.
type Fault struct {
	AtNs    int64
	Kind    FaultKind
	Node    sim.Addr
	To      sim.Addr
	Groups  [][]sim.Addr
	UntilNs int64
	Factor  float64
}

func (f Fault) String() string {
	s := fmt.Sprintf("t=%s %s", fmtMs(f.AtNs), f.Kind)
	switch f.Kind {
	case FaultCrash, FaultRestart, FaultPause, FaultResume, FaultIsolate, FaultLoseDisk:
		s += fmt.Sprintf(" %d", f.Node)
	case FaultCut:
		s += fmt.Sprintf(" %d->%d", f.Node, f.To)
	case FaultClog:
		s += fmt.Sprintf(" %d->%d until=%s", f.Node, f.To, fmtMs(f.UntilNs))
	case FaultCrashLeader, FaultIsolateLeader:
		s += fmt.Sprintf(" until=%s", fmtMs(f.UntilNs))
	case FaultPauseHolder, FaultIsolateExpiring:
		s += fmt.Sprintf(" pick=%.3f until=%s", f.Factor, fmtMs(f.UntilNs))
	case FaultDrift:
		s += fmt.Sprintf(" %d factor=%.3f", f.Node, f.Factor)
	case FaultPartition:
		s += " " + fmtGroups(f.Groups)
	}
	return s
}

func fmtGroups(gs [][]sim.Addr) string {
	s := ""
	for i, g := range gs {
		if i > 0 {
			s += "|"
		}
		s += "{"
		for j, a := range g {
			if j > 0 {
				s += ","
			}
			s += fmt.Sprint(a)
		}
		s += "}"
	}
	return s
}

func fmtMs(ns int64) string { return fmt.Sprintf("%.3fms", float64(ns)/1e6) }

// Ops is the number of operations in every script together.
func (s *Scenario) Ops() int {
	n := 0
	for _, c := range s.Clients {
		n += len(c.Ops)
	}
	return n
}

// Validate reports the first impossible value, naming the field.
func (s *Scenario) Validate() error {
	switch {
	case s.Replicas < 1 || s.Replicas > 9:
		return fmt.Errorf("scenario: Replicas = %d: want 1..9", s.Replicas)
	case s.TickNs <= 0 || s.TickNs > 10_000_000:
		return fmt.Errorf("scenario: TickNs = %d: want 1ns..10ms", s.TickNs)
	case s.ClientTickNs < 0 || s.ClientTickNs > 20_000_000:
		return fmt.Errorf("scenario: ClientTickNs = %d: want 0..20ms", s.ClientTickNs)
	case len(s.Clients) > 500:
		return fmt.Errorf("scenario: %d clients: want at most 500", len(s.Clients))
	case s.ThinkNs < 0:
		return fmt.Errorf("scenario: ThinkNs = %d: want >= 0", s.ThinkNs)
	case s.SafetyNs < 0 || s.LivenessNs <= 0:
		return fmt.Errorf("scenario: SafetyNs = %d, LivenessNs = %d: want >= 0 and > 0", s.SafetyNs, s.LivenessNs)
	case s.Drift != nil && len(s.Drift) != s.Replicas:
		return fmt.Errorf("scenario: Drift has %d factors for %d replicas", len(s.Drift), s.Replicas)
	}
	for i, c := range s.Clients {
		for j, op := range c.Ops {
			if !op.Op.Known() || op.Op.Named() != lockmgr.ValidName(op.Name) || !op.Op.Named() && op.Name != "" {
				return fmt.Errorf("scenario: client %d op %d: bad operation %v %q", i+1, j+1, op.Op, op.Name)
			}
		}
	}
	for i, f := range s.Faults {
		if f.Kind < FaultCrash || f.Kind >= faultKinds || f.AtNs < 0 {
			return fmt.Errorf("scenario: fault %d: bad kind %d or time %d", i, f.Kind, f.AtNs)
		}
		if f.Kind == FaultLoseDisk && (f.Node < 1 || int(f.Node) > s.Replicas) {
			return fmt.Errorf("scenario: fault %d: lose-disk of %s: only a replica has a disk", i, addrName(f.Node))
		}
	}
	return nil
}
