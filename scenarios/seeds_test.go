package scenarios

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var (
	flagSeeds  = flag.Int("seeds", 0, "number of random seeds to sweep (default: 300, 40 with -short)")
	flagStart  = flag.Uint64("start", 1, "first seed of the sweep")
	flagSeed   = flag.Int64("seed", -1, "replay exactly this seed, verbosely")
	flagRandom = flag.Bool("random", false, "start the sweep at a random seed (printed first)")
)

// determinismEvery: every this-many-th seed of a sweep is run twice and its
// trace hashes compared.
const determinismEvery = 10

// TestSeeds runs the real lock service in the simulator over many seeds;
// every failure prints the one line that replays it.
func TestSeeds(t *testing.T) {
	if *flagSeed >= 0 {
		replay(t, uint64(*flagSeed))
		return
	}
	n := *flagSeeds
	if n == 0 {
		n = 300
		if testing.Short() {
			n = 40
		}
	}
	start := *flagStart
	if *flagRandom {
		start = rand.Uint64() >> 16 // the one place a wall-clock-free random start is wanted
		t.Logf("random start seed: %d", start)
	}
	failed := 0
	for s := start; s < start+uint64(n); s++ {
		res := Run(Generate(s, DefaultRanges()), Options{CheckTimeout: time.Minute})
		if s%determinismEvery == 0 && res.OK {
			// The determinism self-check: a sample of seeds runs twice.
			if again := Run(Generate(s, DefaultRanges()), Options{}); again.TraceHash != res.TraceHash {
				res.OK, res.Kind = false, "determinism"
				res.Detail = fmt.Sprintf("trace hash %016x then %016x", res.TraceHash, again.TraceHash)
			}
		}
		if !res.OK {
			failed++
			t.Errorf("seed %d: %s\n    replay: go test ./scenarios -run 'TestSeeds$' -seed=%d   (or: go run ./cmd/paxsim -seed %d -v)",
				s, res.Summary(), s, s)
			if failed >= 5 {
				t.Fatal("stopping after 5 failures")
			}
		}
	}
}

func replay(t *testing.T, seed uint64) {
	scn := Generate(seed, DefaultRanges())
	t.Logf("seed %d: %d replicas, %d clients, %d ops, %d faults", seed, scn.Replicas, len(scn.Clients), scn.Ops(), len(scn.Faults))
	res := Run(scn, Options{})
	t.Logf("%d/%d ops, %d events, %s virtual, trace hash %016x", res.Ops, res.OpsTotal, res.Events, fmtMs(res.VirtualNs), res.TraceHash)
	if !res.OK {
		t.Fatalf("seed %d: %s", seed, res.Summary())
	}
}

// TestDeterminism: the same seed twice gives the same trace hash; a sample
// of seeds is checked, and different seeds give different traces.
func TestDeterminism(t *testing.T) {
	seen := map[uint64]uint64{}
	for s := uint64(1); s <= 8; s++ {
		a := Run(Generate(s, DefaultRanges()), Options{})
		b := Run(Generate(s, DefaultRanges()), Options{})
		if a.TraceHash != b.TraceHash || a.Events != b.Events {
			t.Fatalf("seed %d: trace hash %016x then %016x (%d vs %d events)", s, a.TraceHash, b.TraceHash, a.Events, b.Events)
		}
		if prev, ok := seen[a.TraceHash]; ok {
			t.Fatalf("seeds %d and %d have the same trace hash", prev, s)
		}
		seen[a.TraceHash] = s
	}
}

func ExampleGenerate() {
	s := Generate(7, DefaultRanges())
	fmt.Println(s.Replicas > 0, len(s.Clients) > 0)
	// Output: true true
}

func TestSweepStats(t *testing.T) {
	for s := uint64(1); s <= 10; s++ {
		scn := Generate(s, DefaultRanges())
		t0 := time.Now()
		res := Run(scn, Options{})
		t.Logf("seed %d: n=%d clients=%d faults=%d ok=%v %d/%d ops %d events %s virtual heal@%s wall %v %s", s, scn.Replicas, len(scn.Clients), len(scn.Faults), res.OK, res.Ops, res.OpsTotal, res.Events, fmtMs(res.VirtualNs), fmtMs(res.HealNs), time.Since(t0), res.Summary())
	}
}
