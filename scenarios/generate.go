package scenarios

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"paxlock/lockmgr"
	"paxlock/sim"
)

// Ranges bound what Generate draws. Every knob of a generated scenario is
// drawn from the seed within these ranges (swarm testing: each seed gets
// its own mix of faults, so rare combinations come up without anyone
// having to think of them). Narrow them to focus a sweep.
type Ranges struct {
	Replicas               []int // cluster sizes to draw from
	ClientsMin, ClientsMax int
	OpsMin, OpsMax         int // operations over all clients
	LocksMin, LocksMax     int // distinct lock names: fewer means more contention
	DropMax                float64
	DupMax                 float64
	CorruptMax             float64
	LatencyMaxNs           int64   // upper bound of the latency body
	FaultsPerSecMax        float64 // fault timeline density
	DriftMax               float64
	SafetyNs               int64
	LivenessNs             int64
}

// DefaultRanges is what `go test` and paxsim sweep by default.
func DefaultRanges() Ranges {
	return Ranges{
		Replicas:   []int{1, 3, 3, 5, 5, 5, 7},
		ClientsMin: 1, ClientsMax: 32,
		OpsMin: 50, OpsMax: 300,
		LocksMin: 1, LocksMax: 6,
		DropMax: 0.15, DupMax: 0.05, CorruptMax: 0.02,
		LatencyMaxNs:    5_000_000,
		FaultsPerSecMax: 12,
		DriftMax:        0.1,
		SafetyNs:        3_000_000_000,
		LivenessNs:      60_000_000_000,
	}
}

// Validate reports an impossible range, naming the field.
func (r Ranges) Validate() error {
	prob := func(name string, p float64) error {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("ranges: %s = %v: want a probability in [0,1]", name, p)
		}
		return nil
	}
	for _, err := range []error{prob("DropMax", r.DropMax), prob("DupMax", r.DupMax), prob("CorruptMax", r.CorruptMax)} {
		if err != nil {
			return err
		}
	}
	switch {
	case len(r.Replicas) == 0:
		return fmt.Errorf("ranges: Replicas is empty")
	case r.ClientsMin < 1 || r.ClientsMax < r.ClientsMin:
		return fmt.Errorf("ranges: Clients %d..%d: want 1 <= min <= max", r.ClientsMin, r.ClientsMax)
	case r.OpsMin < 1 || r.OpsMax < r.OpsMin:
		return fmt.Errorf("ranges: Ops %d..%d: want 1 <= min <= max", r.OpsMin, r.OpsMax)
	case r.LocksMin < 1 || r.LocksMax < r.LocksMin:
		return fmt.Errorf("ranges: Locks %d..%d: want 1 <= min <= max", r.LocksMin, r.LocksMax)
	case r.LatencyMaxNs < 0:
		return fmt.Errorf("ranges: LatencyMaxNs = %d: want >= 0", r.LatencyMaxNs)
	case r.FaultsPerSecMax < 0:
		return fmt.Errorf("ranges: FaultsPerSecMax = %v: want >= 0", r.FaultsPerSecMax)
	case !(r.DriftMax >= 0 && r.DriftMax < 0.5):
		return fmt.Errorf("ranges: DriftMax = %v: want [0, 0.5)", r.DriftMax)
	case r.SafetyNs < 0 || r.LivenessNs <= 0:
		return fmt.Errorf("ranges: SafetyNs, LivenessNs = %d, %d: want >= 0 and > 0", r.SafetyNs, r.LivenessNs)
	}
	for _, n := range r.Replicas {
		if n < 1 || n > 9 {
			return fmt.Errorf("ranges: Replicas holds %d: want 1..9", n)
		}
	}
	return nil
}

// Generate draws a whole scenario from seed within r.
func Generate(seed uint64, r Ranges) Scenario {
	rng := rand.New(rand.NewPCG(seed, 0x5ce7a210))
	s := Scenario{
		Seed:         seed,
		Replicas:     r.Replicas[rng.IntN(len(r.Replicas))],
		TickNs:       2_000_000,
		ClientTickNs: 5_000_000,
		SafetyNs:     r.SafetyNs,
		LivenessNs:   r.LivenessNs,
		ThinkNs:      int64(rng.IntN(5)) * 1_000_000,
	}
	s.Sim = drawSim(rng, r)
	if r.DriftMax > 0 {
		s.Drift = make([]float64, s.Replicas)
		for i := range s.Drift {
			s.Drift[i] = 1 - r.DriftMax + 2*r.DriftMax*rng.Float64()
		}
	}
	clients := drawClients(rng, r)
	ops := between(rng, r.OpsMin, r.OpsMax)
	locks := between(rng, r.LocksMin, r.LocksMax)
	s.Clients = drawScripts(rng, clients, ops, locks)
	rate := r.FaultsPerSecMax * rng.Float64()
	s.Faults = drawFaults(rng, s.Replicas, rate, r.SafetyNs)
	// Drawn from a stream of its own, so that adding this knob did not
	// change any other seed's draws.
	s.GroupCommit = rand.New(rand.NewPCG(seed, 0x6c0)).IntN(3) == 0
	// The corners where bugs hide, each from a stream of its own: a small
	// snapshot interval (compaction and snapshot transfer all the time),
	// and one command per slot (as many slots open as requests in flight,
	// so a leader change has many to recover).
	corners := rand.New(rand.NewPCG(seed, 0xc0e2))
	if corners.IntN(3) == 0 {
		s.SnapshotSlots = uint64(4 + corners.IntN(13))
	}
	if corners.IntN(4) == 0 {
		s.BatchCmdsMax = 1
	}
	// Impatient clients, from a stream of their own (so that adding them
	// left every other corner where it was): they give up a queued Lock
	// and go on.
	if impatient := rand.New(rand.NewPCG(seed, 0x9a71)); impatient.IntN(4) == 0 {
		s.PatienceNs = int64(20_000_000 + impatient.IntN(300_000_000))
	}
	// A forger, from a stream of its own: requests in other sessions'
	// names, with tags it cannot make.
	s.Forger = rand.New(rand.NewPCG(seed, 0xf0a9)).IntN(4) == 0
	switch x := corners.IntN(10); {
	case s.Replicas >= 3 && r.FaultsPerSecMax > 0 && x < 2:
		// A majority always connected: every request must then be
		// answered within a bound, however the partitions fall.
		s.Faults = drawMajorityPhases(corners, s.Replicas, r.SafetyNs)
		s.Drift = nil
		s.WaitBoundNs = MajorityWaitBoundNs
	case s.Replicas > 1 && r.FaultsPerSecMax > 0 && x < 6:
		s.Faults = mergeFaults(s.Faults, drawNemesis(corners, r.SafetyNs))
	}
	// The fenced resource, from a stream of its own: half the seeds'
	// holders write to it with their tokens.
	if fr := rand.New(rand.NewPCG(seed, 0xfe4c)); fr.IntN(2) == 0 {
		s.Writes = 1 + fr.IntN(4)
		s.WorkNs = int64(1+fr.IntN(30)) * 1_000_000
		// Half of those pause holders mid-write, past their lease.
		if fr.IntN(2) == 0 && s.WaitBoundNs == 0 {
			s.Faults = mergeFaults(s.Faults, drawHolderPauses(fr, r.SafetyNs))
		}
	}
	// Client faults, from a stream of their own, where no wait bound
	// holds during the faults: clients that die for good (their
	// sessions must expire and their locks pass on), pauses past the
	// lease, and clocks that drift beyond the bound clients allow for.
	if cf := rand.New(rand.NewPCG(seed, 0xc11e)); cf.IntN(3) == 0 && s.WaitBoundNs == 0 {
		s.Faults = mergeFaults(s.Faults, drawClientFaults(cf, len(s.Clients), r.SafetyNs))
	}
	// The expiry nemesis, from a stream of its own, in a third of the
	// seeds of two replicas or more without a wait bound: a window in
	// which the first expiry a leader proposes gets that leader isolated
	// at once, so that the next leader recovers the expiry, or loses it.
	if xn := rand.New(rand.NewPCG(seed, 0xe4f1)); xn.IntN(3) == 0 && s.Replicas > 1 &&
		r.FaultsPerSecMax > 0 && r.SafetyNs > 0 && s.WaitBoundNs == 0 {
		t := xn.Int64N(r.SafetyNs)
		until := min(t+int64(1_000_000_000+xn.IntN(1_500_000_000)), r.SafetyNs)
		s.Faults = mergeFaults(s.Faults, []Fault{{AtNs: t, Kind: FaultIsolateExpiring, Factor: xn.Float64(), UntilNs: until}})
	}
	// A disk loss, from a stream of its own, in a quarter of the seeds of
	// three replicas or more (a rebuild needs a majority of voters
	// besides the rebuilding replica) where no wait bound holds: one
	// replica loses its whole disk and comes back, after a while,
	// rebuilding (paxosd -rejoin).
	if dl := rand.New(rand.NewPCG(seed, 0xd15c)); dl.IntN(4) == 0 && s.Replicas >= 3 &&
		r.FaultsPerSecMax > 0 && r.SafetyNs > 0 && s.WaitBoundNs == 0 {
		n := sim.Addr(1 + dl.IntN(s.Replicas))
		t := dl.Int64N(r.SafetyNs)
		end := min(t+int64(10_000_000+dl.IntN(800_000_000)), r.SafetyNs)
		s.Faults = mergeFaults(s.Faults, []Fault{{AtNs: t, Kind: FaultLoseDisk, Node: n}, {AtNs: end, Kind: FaultRestart, Node: n}})
	}
	return s
}

// drawClientFaults lays out 1..4 faults of clients over [0, safetyNs):
// deaths (at most half the clients), pauses of 0.1..2.5 s, and drift of
// 0.5..1.5 times the tick period.
func drawClientFaults(rng *rand.Rand, clients int, safetyNs int64) []Fault {
	var fs []Fault
	deaths := 0
	for range 1 + rng.IntN(4) {
		a := ClientAddrBase + sim.Addr(rng.IntN(clients))
		t := rng.Int64N(max(1, safetyNs))
		switch x := rng.IntN(3); {
		case x == 0 && deaths < clients/2:
			deaths++
			fs = append(fs, Fault{AtNs: t, Kind: FaultCrash, Node: a})
		case x <= 1:
			end := min(t+int64(100_000_000+rng.IntN(2_400_000_000)), safetyNs)
			fs = append(fs, Fault{AtNs: t, Kind: FaultPause, Node: a}, Fault{AtNs: end, Kind: FaultResume, Node: a})
		default:
			fs = append(fs, Fault{AtNs: t, Kind: FaultDrift, Node: a, Factor: 0.5 + rng.Float64()})
		}
	}
	sortFaults(fs)
	return fs
}

// drawHolderPauses lays out 2..5 pauses of a lock holder in the middle of
// its writes, each 0.5..2.5 s: past a 1 s lease, so that the lock moves on
// while the holder is stopped, and its next write must be fenced off.
// Factor picks which of the holders writing then.
func drawHolderPauses(rng *rand.Rand, safetyNs int64) []Fault {
	var fs []Fault
	for range 2 + rng.IntN(4) {
		t := rng.Int64N(max(1, safetyNs))
		fs = append(fs, Fault{AtNs: t, Kind: FaultPauseHolder, Factor: rng.Float64(),
			UntilNs: min(t+int64(500_000_000+rng.IntN(2_000_000_000)), safetyNs)})
	}
	sortFaults(fs)
	return fs
}

// MajorityWaitBoundNs bounds every wait in a seed whose faults always leave
// a majority connected (as TestConstantRepartitioning does, over longer
// runs): 40 election timeouts.
const MajorityWaitBoundNs = 2_000_000_000

// drawMajorityPhases replaces the fault timeline by phases of 200..700 ms:
// a random majority cut off from the rest, another, then all healed, and
// so on. Clients reach every replica throughout.
func drawMajorityPhases(rng *rand.Rand, replicas int, safetyNs int64) []Fault {
	var fs []Fault
	nodes := make([]sim.Addr, replicas)
	for i := range nodes {
		nodes[i] = sim.Addr(i + 1)
	}
	for t, k := int64(0), 0; t < safetyNs; k++ {
		if k%3 == 2 {
			fs = append(fs, Fault{AtNs: t, Kind: FaultHeal})
		} else {
			rng.Shuffle(replicas, func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
			maj, rest := slices.Clone(nodes[:replicas/2+1]), slices.Clone(nodes[replicas/2+1:])
			slices.Sort(maj)
			slices.Sort(rest)
			fs = append(fs, Fault{AtNs: t, Kind: FaultPartition, Groups: [][]sim.Addr{maj, rest}})
		}
		t += int64(200_000_000 + rng.IntN(500_000_000))
	}
	return fs
}

// drawNemesis lays out leader-targeted faults: every few hundred ms the
// replica that leads then is crashed or isolated for a while. Leader
// changes with slots still open are where phase 1's value selection,
// hole filling and the at-most-once table are tested hardest.
func drawNemesis(rng *rand.Rand, safetyNs int64) []Fault {
	var fs []Fault
	for t := int64(100_000_000 + rng.IntN(300_000_000)); t < safetyNs; t += int64(200_000_000 + rng.IntN(600_000_000)) {
		until := min(t+int64(30_000_000+rng.IntN(400_000_000)), safetyNs)
		k := FaultCrashLeader
		if rng.IntN(2) == 0 {
			k = FaultIsolateLeader
		}
		fs = append(fs, Fault{AtNs: t, Kind: k, UntilNs: until})
	}
	return fs
}

// mergeFaults merges two timelines, stably by time (a's first at a tie).
func mergeFaults(a, b []Fault) []Fault {
	out := append(slices.Clone(a), b...)
	sortFaults(out)
	return out
}

// sortFaults orders a timeline by time, keeping the drawn order at a tie.
func sortFaults(fs []Fault) {
	slices.SortStableFunc(fs, func(x, y Fault) int { return cmp.Compare(x.AtNs, y.AtNs) })
}

// drawClients draws the number of clients: most seeds have a few (up to
// 8), a quarter are crowds up to ClientsMax, so that many requests are in
// flight at once.
func drawClients(rng *rand.Rand, r Ranges) int {
	if hi := min(r.ClientsMax, 8); rng.IntN(4) != 0 && hi >= r.ClientsMin {
		return between(rng, r.ClientsMin, hi)
	}
	return between(rng, r.ClientsMin, r.ClientsMax)
}

// Standard is the benchmark's standard seed shape: 5 replicas, 5 clients,
// 200 operations, the default faults.
func Standard(seed uint64) Scenario {
	r := DefaultRanges()
	r.Replicas = []int{5}
	r.ClientsMin, r.ClientsMax = 5, 5
	r.OpsMin, r.OpsMax = 200, 200
	return Generate(seed, r)
}

func between(rng *rand.Rand, lo, hi int) int { return lo + rng.IntN(hi-lo+1) }

func drawSim(rng *rand.Rand, r Ranges) sim.Config {
	c := sim.DefaultConfig()
	n := &c.Net
	// Each knob is off for some seeds, so clean runs are covered too.
	maybe := func(max float64) float64 {
		if rng.IntN(4) == 0 {
			return 0
		}
		return max * rng.Float64()
	}
	n.DropProb = maybe(r.DropMax)
	n.DupProb = maybe(r.DupMax)
	n.CorruptProb = maybe(r.CorruptMax)
	n.LatencyMinNs = int64(rng.IntN(200_000))
	n.LatencyMaxNs = n.LatencyMinNs + int64(rng.Float64()*float64(r.LatencyMaxNs))
	n.TailProb = maybe(0.05)
	n.TailMaxNs = n.LatencyMaxNs + int64(rng.IntN(50_000_000))
	n.ReorderProb = maybe(0.1)
	c.DiskTornProb = rng.Float64()
	c.DriftMax = 0 // drift comes from Scenario.Drift, drawn here
	return c
}

// drawScripts builds each client's operations out of episodes that never
// hold two locks at once, so clients cannot deadlock each other: every wait
// is behind a holder whose next operation is its unlock.
func drawScripts(rng *rand.Rand, clients, ops, locks int) []ClientScript {
	scripts := make([]ClientScript, clients)
	name := func() string { return fmt.Sprint(1 + rng.IntN(locks)) }
	for total := 0; total < ops; {
		c := &scripts[rng.IntN(clients)]
		k := name()
		var ep []OpSpec
		switch x := rng.IntN(10); {
		case x < 5:
			ep = []OpSpec{{lockmgr.OpLock, k}, {lockmgr.OpUnlock, k}}
		case x < 7:
			ep = []OpSpec{{lockmgr.OpTryLock, k}, {lockmgr.OpUnlock, k}}
		case x < 8:
			ep = []OpSpec{{lockmgr.OpLock, k}, {lockmgr.OpLock, k}, {lockmgr.OpUnlock, k}}
		case x < 9:
			ep = []OpSpec{{lockmgr.OpUnlock, k}}
		default:
			ep = []OpSpec{{lockmgr.OpLock, k}, {lockmgr.OpTryLock, k}, {lockmgr.OpUnlock, k}}
		}
		// Now and then the client reads the whole table: through the log
		// (linearizable) or from one replica (a status).
		switch rng.IntN(16) {
		case 0:
			ep = append(ep, OpSpec{lockmgr.OpRead, ""})
		case 1:
			ep = append(ep, OpSpec{lockmgr.OpStatus, ""})
		}
		c.Ops = append(c.Ops, ep...)
		total += len(ep)
	}
	return scripts
}

// drawFaults lays out a fault timeline over [0, safetyNs): crashes and
// pauses that end after a while, partitions of every shape that heal, clogs
// and one-way cuts.
func drawFaults(rng *rand.Rand, replicas int, perSec float64, safetyNs int64) []Fault {
	var fs []Fault
	if perSec <= 0 || safetyNs <= 0 {
		return nil
	}
	nodes := make([]sim.Addr, replicas)
	for i := range nodes {
		nodes[i] = sim.Addr(i + 1)
	}
	node := func() sim.Addr { return nodes[rng.IntN(replicas)] }
	gap := int64(1e9 / perSec)
	for t := int64(rng.Float64() * float64(gap)); t < safetyNs; t += 1 + int64(rng.ExpFloat64()*float64(gap)) {
		dur := int64(10_000_000 + rng.IntN(800_000_000))
		end := min(t+dur, safetyNs)
		switch x := rng.IntN(12); {
		case x < 3 && replicas > 1:
			n := node()
			fs = append(fs, Fault{AtNs: t, Kind: FaultCrash, Node: n}, Fault{AtNs: end, Kind: FaultRestart, Node: n})
		case x < 4:
			n := node()
			fs = append(fs, Fault{AtNs: t, Kind: FaultPause, Node: n}, Fault{AtNs: end, Kind: FaultResume, Node: n})
		case x < 7 && replicas > 1:
			perm := slices.Clone(nodes)
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			k := 1 + rng.IntN(replicas-1)
			a, b := slices.Clone(perm[:k]), slices.Clone(perm[k:])
			slices.Sort(a)
			slices.Sort(b)
			fs = append(fs, Fault{AtNs: t, Kind: FaultPartition, Groups: [][]sim.Addr{a, b}}, Fault{AtNs: end, Kind: FaultHeal})
		case x < 8 && replicas > 1:
			fs = append(fs, Fault{AtNs: t, Kind: FaultIsolate, Node: node()}, Fault{AtNs: end, Kind: FaultHeal})
		case x < 10 && replicas > 1:
			a, b := node(), node()
			if a != b {
				fs = append(fs, Fault{AtNs: t, Kind: FaultCut, Node: a, To: b}, Fault{AtNs: end, Kind: FaultHeal})
			}
		case x < 11 && replicas > 1:
			a, b := node(), node()
			if a != b {
				fs = append(fs, Fault{AtNs: t, Kind: FaultClog, Node: a, To: b, UntilNs: end})
			}
		default:
			fs = append(fs, Fault{AtNs: t, Kind: FaultDrift, Node: node(), Factor: 0.5 + rng.Float64()})
		}
	}
	sortFaults(fs)
	return fs
}
