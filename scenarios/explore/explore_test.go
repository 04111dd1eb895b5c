package explore

import (
	"slices"
	"strings"
	"testing"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

var (
	lockA    = Op{Op: lockmgr.OpLock, Name: "a"}
	unlockA  = Op{Op: lockmgr.OpUnlock, Name: "a"}
	trylockA = Op{Op: lockmgr.OpTryLock, Name: "a"}
)

// ciConfigs are exhausted by every go test run: each must finish in a
// few seconds and find nothing.
var ciConfigs = []Config{
	// Two clients contend for one lock on a single replica: the lock
	// rules, sessions and at-most-once, every interleaving of their
	// requests, replies and first timers.
	{Replicas: 1, Clients: [][]Op{{lockA, unlockA}, {lockA, unlockA}}, Bounds: Bounds{Depth: 60, Timers: 2}},
	// Three replicas elect a leader and choose one client's trylock,
	// in every order of their messages, within 14 steps.
	{Replicas: 3, Clients: [][]Op{{trylockA}}, Bounds: Bounds{Depth: 14, Timers: 1}},
}

func TestExhaustSmallConfigurations(t *testing.T) {
	for _, cfg := range ciConfigs {
		cfg.TickNs, cfg.PruneDone = 10_000_000, true
		r, err := Search(cfg, Meter{})
		if err != nil {
			t.Fatal(err)
		}
		name := Command(&cfg)
		if r.Violation != nil {
			v := r.Violation
			t.Fatalf("%s: %s: %s after\n%s", name, v.Kind, v.Detail, strings.Join(v.Steps, "\n"))
		}
		if !r.Exhausted {
			t.Fatalf("%s: not exhausted: %+v", name, r)
		}
		if r.Unique < 1000 || r.Goals == 0 && cfg.Replicas == 1 {
			t.Fatalf("%s: only %d states, %d goals: the search is not exploring", name, r.Unique, r.Goals)
		}
		t.Logf("%s: %d unique states, %d generated, depth %d, %d goals", name, r.Unique, r.Generated, r.Depth, r.Goals)
	}
}

// TestSearchIsDeterministic: the same configuration visits the same
// number of states, levels alike.
func TestSearchIsDeterministic(t *testing.T) {
	cfg := Config{Replicas: 1, Clients: [][]Op{{trylockA}}, Bounds: Bounds{Depth: 30, Timers: 2, Dups: 1}, TickNs: 10_000_000}
	a, err := Search(cfg, Meter{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Search(cfg, Meter{})
	if a.Unique != b.Unique || a.Generated != b.Generated || len(a.Levels) != len(b.Levels) {
		t.Fatalf("two searches of one configuration differ: %d/%d unique, %d/%d generated", a.Unique, b.Unique, a.Generated, b.Generated)
	}
}

// TestReplayReachesTheSameState rebuilds the path to every state of a
// small search from its parents and replays it from the start: the
// replay must end in a state with the same fingerprint, which is what
// makes an exported counterexample reproduce its violation.
func TestReplayReachesTheSameState(t *testing.T) {
	for _, order := range []Order{BreadthFirst, DepthFirst} {
		cfg := Config{Replicas: 3, Clients: [][]Op{{lockA}}, Bounds: Bounds{Depth: 9, Timers: 1, Drops: 1, Crashes: 1},
			TickNs: 10_000_000, Order: order}
		s := &searcher{cfg: &cfg, lin: map[uint64]bool{}}
		search := s.run
		if order == DepthFirst {
			search = s.dfs // parents rewritten by states reached again in fewer steps
		}
		if _, err := search(); err != nil {
			t.Fatal(err)
		}
		n := 0
		for fp, p := range s.visited.all() {
			if p.depth < 9 || n >= 200 {
				continue
			}
			n++
			v := &Violation{}
			s.pathTo(v, fp)
			if len(v.Path) != int(p.depth) {
				t.Fatalf("%v: the path to a state at depth %d has %d steps", order, p.depth, len(v.Path))
			}
			w, err := newWorld(&cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range v.Path {
				if err := w.apply(st); err != nil {
					t.Fatalf("%v: replaying %v: %v", order, v.Steps, err)
				}
			}
			var f fingerprinter
			if got := f.of(w); got != fp {
				t.Fatalf("%v: the replay of %v ends in state %x, the search reached %x", order, v.Steps, got, fp)
			}
		}
		if n == 0 {
			t.Fatalf("%v: no state at depth 9", order)
		}
	}
}

// TestDepthFirstVisitsTheSameStates: depth-first search reaches exactly
// the states breadth-first does, at the same shortest depths, with faults
// and a depth bound that make it reach states again in fewer steps.
func TestDepthFirstVisitsTheSameStates(t *testing.T) {
	reexpanded := false
	for _, cfg := range append(slices.Clone(ciConfigs),
		Config{Replicas: 3, Clients: [][]Op{{lockA}}, Bounds: Bounds{Depth: 9, Timers: 1, Drops: 1, Crashes: 1}},
		Config{Replicas: 1, Clients: [][]Op{{trylockA}}, Bounds: Bounds{Depth: 12, Timers: 2, Dups: 1}},
		Config{Replicas: 3, Clients: [][]Op{{trylockA}}, Bounds: Bounds{Depth: 10, Timers: 1, Dups: 1}},
	) {
		cfg.TickNs, cfg.PruneDone = 10_000_000, true
		bfs, err := Search(cfg, Meter{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Order = DepthFirst
		s := &searcher{cfg: &cfg, lin: map[uint64]bool{}}
		dfs, err := s.dfs()
		if err != nil {
			t.Fatal(err)
		}
		name := Command(&cfg)
		if dfs.Unique != bfs.Unique || !slices.Equal(dfs.Levels, bfs.Levels) || dfs.Goals != bfs.Goals ||
			dfs.Depth != bfs.Depth || dfs.Exhausted != bfs.Exhausted || dfs.Violation != nil || bfs.Violation != nil {
			t.Errorf("%s: depth-first %d unique, levels %v, %d goals, depth %d, exhausted %v, %v;\n"+
				"breadth-first %d unique, levels %v, %d goals, depth %d, exhausted %v, %v", name,
				dfs.Unique, dfs.Levels, dfs.Goals, dfs.Depth, dfs.Exhausted, dfs.Violation,
				bfs.Unique, bfs.Levels, bfs.Goals, bfs.Depth, bfs.Exhausted, bfs.Violation)
		}
		reexpanded = reexpanded || s.reexpanded > 0
		t.Logf("%s: %d unique; %d generated depth-first (%d re-expanded), %d breadth-first", name, dfs.Unique,
			dfs.Generated, s.reexpanded, bfs.Generated)
	}
	if !reexpanded {
		t.Error("no configuration reached a state again in fewer steps: the re-expansion is untested")
	}
}

// TestDepthFirstReportsTheShortestPath: a violation found depth-first is
// reported with the shortest path to one, as breadth-first finds it.
func TestDepthFirstReportsTheShortestPath(t *testing.T) {
	// The "violation": replica 3 has an accepted value on its disk.
	fail := func(w *world) bool {
		for _, r := range w.reps[2].durable {
			if r.Type == paxos.RecAccept {
				return true
			}
		}
		return false
	}
	var got [2]Report
	for i, order := range []Order{BreadthFirst, DepthFirst} {
		cfg := Config{Replicas: 3, Clients: [][]Op{{trylockA}}, Bounds: Bounds{Depth: 30, Timers: 1}, TickNs: 10_000_000, Order: order}
		s := &searcher{cfg: &cfg, lin: map[uint64]bool{}, fail: fail}
		search := s.run
		if order == DepthFirst {
			search = s.dfs
		}
		r, err := search()
		if err != nil {
			t.Fatal(err)
		}
		if r.Violation == nil || r.Exhausted || !r.Violation.Shortest {
			t.Fatalf("%v: no violation found, or not said to be the shortest: %+v", order, r)
		}
		w, err := newWorld(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range r.Violation.Path {
			if err := w.apply(st); err != nil {
				t.Fatalf("%v: replaying %v: %v", order, r.Violation.Steps, err)
			}
		}
		if !fail(w) {
			t.Fatalf("%v: the path reported does not reach a failing state: %v", order, r.Violation.Steps)
		}
		got[i] = r
	}
	if b, d := len(got[0].Violation.Path), len(got[1].Violation.Path); b != d || b < 5 {
		t.Fatalf("the shortest path is %d steps breadth-first, %d depth-first", b, d)
	}
}

// TestCopiesDoNotWriteTheirParents searches configurations with every
// kind of step (crashes, duplicates, drops, snapshots, two clients) and
// fails if a state's encoding changed while its successors were made
// from it: a copy wrote something it shares with its parent.
func TestCopiesDoNotWriteTheirParents(t *testing.T) {
	for _, cfg := range []Config{
		{Replicas: 3, Clients: [][]Op{{lockA, unlockA}}, Bounds: Bounds{Depth: 9, Timers: 2, Crashes: 1, Dups: 1}, SnapshotSlots: 2},
		{Replicas: 1, Clients: [][]Op{{lockA, unlockA}, {lockA}}, Bounds: Bounds{Depth: 30, Timers: 2, Drops: 1, Crashes: 1}, SnapshotSlots: 2},
		// Leases timed while the clock moves: heard() renews a shared ref.
		{Replicas: 1, Clients: [][]Op{{lockA, unlockA}, {lockA, unlockA}}, Bounds: Bounds{Depth: 40, Timers: 4}, MaxStates: 100_000},
	} {
		cfg.TickNs, cfg.PruneDone, cfg.Order = 10_000_000, true, DepthFirst
		s := &searcher{cfg: &cfg, lin: map[uint64]bool{}, verifyParents: true}
		r, err := s.dfs()
		if err != nil {
			t.Fatalf("%s: %v", Command(&cfg), err)
		}
		if r.Violation != nil || r.Unique < 1000 {
			t.Fatalf("%s: %d states, %v", Command(&cfg), r.Unique, r.Violation)
		}
		t.Logf("%s: %d states", Command(&cfg), r.Unique)
	}
}

func TestParseStepRoundTrip(t *testing.T) {
	for _, s := range []Step{
		{Kind: Deliver, From: 1, To: clientAddrBase + 1, N: 3},
		{Kind: Drop, From: clientAddrBase, To: 2},
		{Kind: Dup, From: 3, To: 1, N: 1},
		{Kind: Timer, Proc: 2}, {Kind: Timer, Proc: clientAddrBase + 2},
		{Kind: Crash, Proc: 1}, {Kind: Restart, Proc: 5}, {Kind: Invoke, Proc: clientAddrBase},
	} {
		got, err := ParseStep(s.String())
		if err != nil || got != s {
			t.Errorf("ParseStep(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
		if got := pack(s).unpack(); got != s {
			t.Errorf("pack(%v).unpack() = %v", s, got)
		}
	}
}

func TestBadInputIsAnError(t *testing.T) {
	for _, line := range []string{"", "deliver", "deliver 1-2 #0", "deliver 1->2", "deliver 1->2 #x", "timer 0",
		"timer c9", "fly 1", "invoke c0", "crash 6"} {
		if _, err := ParseStep(line); err == nil {
			t.Errorf("ParseStep(%q) took it", line)
		}
	}
	for _, cfg := range []Config{
		{Replicas: 0, Bounds: Bounds{Depth: 1}, TickNs: 1},
		{Replicas: 6, Bounds: Bounds{Depth: 1}, TickNs: 1},
		{Replicas: 1, Bounds: Bounds{Depth: 0}, TickNs: 1},
		{Replicas: 1, Bounds: Bounds{Depth: 1}, TickNs: 0},
		{Replicas: 1, Bounds: Bounds{Depth: 1, Drops: -1}, TickNs: 1},
		{Replicas: 1, Clients: [][]Op{{}}, Bounds: Bounds{Depth: 1}, TickNs: 1},
		{Replicas: 1, Clients: [][]Op{{{Op: lockmgr.OpLock}}}, Bounds: Bounds{Depth: 1}, TickNs: 1},
		{Replicas: 1, Clients: [][]Op{{{Op: lockmgr.OpStatus}}}, Bounds: Bounds{Depth: 1}, TickNs: 1},
	} {
		if _, err := Search(cfg, Meter{}); err == nil {
			t.Errorf("Search(%+v) took it", cfg)
		}
	}
	if _, err := ParseOps("lock"); err != nil {
		// A lock without a name parses; Validate refuses it.
		t.Fatal(err)
	}
	if _, err := ParseOps("frobnicate:a"); err == nil {
		t.Error("ParseOps took an unknown op")
	}
	cfg := Config{Replicas: 1, Bounds: Bounds{Depth: 5}, TickNs: 10_000_000}
	if _, err := ParseInput(&cfg, "invoke c1\nclient c1 lock:a"); err == nil {
		t.Error("ParseInput took a client line after a step")
	}
	cfg.Clients = [][]Op{{lockA}}
	if _, _, err := Replay(cfg, []Step{{Kind: Deliver, From: 1, To: 2}}); err == nil {
		t.Error("Replay took a step that is not enabled")
	}
}
