package scenarios

import (
	"flag"
	"math/rand/v2"
	"testing"

	"paxlock/sim"
)

var repartitionSeeds = flag.Int("repartition-seeds", 100, "seeds of TestConstantRepartitioning")

// repartitionScenario: 5 replicas and 5 clients under 20% loss, while a
// random majority is connected for 2 s, another for 2 s, then all for 2 s,
// over and over. A majority is always connected, so every request must be
// answered within 2 s however the partitions fall (a Lock's time queued
// behind another holder aside).
func repartitionScenario(seed uint64) Scenario {
	rng := rand.New(rand.NewPCG(seed, 0x2e9a))
	cfg := sim.DefaultConfig()
	cfg.Net.DropProb = 0.2
	cfg.Net.LatencyMinNs, cfg.Net.LatencyMaxNs = 100_000, 2_000_000
	const phase = 2_000_000_000
	scn := Scenario{Seed: seed, Replicas: 5, Sim: cfg, TickNs: 2_000_000, ClientTickNs: 5_000_000,
		ThinkNs: 2_000_000, SafetyNs: 24 * phase, LivenessNs: 10 * phase, WaitBoundNs: phase}
	replicas := []sim.Addr{1, 2, 3, 4, 5}
	for t := int64(0); t < scn.SafetyNs; t += 3 * phase {
		for k := int64(0); k < 2; k++ {
			p := append([]sim.Addr(nil), replicas...)
			rng.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
			scn.Faults = append(scn.Faults, Fault{AtNs: t + k*phase, Kind: FaultPartition, Groups: [][]sim.Addr{p[:3], p[3:]}})
		}
		scn.Faults = append(scn.Faults, Fault{AtNs: t + 2*phase, Kind: FaultHeal})
	}
	// Clients keep working for the whole safety phase: each its own locks
	// and one shared one.
	scn.Clients = drawScripts(rng, 5, 1500, 6)
	return scn
}

// TestConstantRepartitioning holds the group to a wait bound while it is
// repartitioned every 2 s under 20% loss.
func TestConstantRepartitioning(t *testing.T) {
	n := *repartitionSeeds
	if testing.Short() {
		n = 10
	}
	worst := int64(0)
	for seed := uint64(1); seed <= uint64(n); seed++ {
		res := Run(repartitionScenario(seed), Options{})
		if !res.OK {
			t.Fatalf("seed %d: %s", seed, res.Summary())
		}
		worst = max(worst, res.MaxWaitAnyNs)
	}
	t.Logf("%d seeds: longest wait %s", n, fmtMs(worst))
}
