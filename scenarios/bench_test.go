package scenarios

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"paxlock/scenarios/check"
	"paxlock/sim"
)

// BenchmarkStandardSeed: one standard seed (5 replicas, 5 clients, 200
// operations, default faults) end to end, including its checks. Target
// (BENCHMARKS.md): <= 5 ms per seed.
func BenchmarkStandardSeed(b *testing.B) { benchStandard(b, Options{}) }

// BenchmarkStandardSeedCoverage: the same with coverage marks counted;
// against BenchmarkStandardSeed it is what counting costs. (What the
// marks cost when off is BenchmarkStandardSeed before and after they were
// added: see BENCHMARKS.md.)
func BenchmarkStandardSeedCoverage(b *testing.B) { benchStandard(b, Options{Coverage: true}) }

func benchStandard(b *testing.B, opt Options) {
	var events, virt int64
	for i := 0; b.Loop(); i++ {
		res := Run(Standard(uint64(i%64+1)), opt)
		if !res.OK {
			b.Fatalf("seed %d: %s", i%64+1, res.Summary())
		}
		events += int64(res.Events)
		virt += res.VirtualNs
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(events)/sec, "events/s")
	b.ReportMetric(float64(virt)/1e9/sec, "sim-s/wall-s")
}

// BenchmarkStandardCheck: porcupine alone on a standard seed's history.
func BenchmarkStandardCheck(b *testing.B) {
	res := Run(Standard(1), Options{})
	if !res.OK {
		b.Fatal(res.Summary())
	}
	for b.Loop() {
		if v, _ := check.Linearizable(res.History, time.Minute); v != porcupine.Ok {
			b.Fatalf("verdict %v", v)
		}
	}
}

// BenchmarkIdleGroup: a standard-shaped group (5 replicas, 5 clients, the
// default timers) with nothing to do, for 10 s of simulated time per
// iteration: what remains is the leader's heartbeats and their acks, with
// every process asleep in between. It bounds the simulated/wall ratio of
// any workload: one heartbeat round every 10 ms costs 8 deliveries.
func BenchmarkIdleGroup(b *testing.B) {
	cfg := sim.DefaultConfig()
	cfg.Net = sim.NetConfig{LatencyMinNs: 100_000, LatencyMaxNs: 300_000}
	scn := Scenario{Seed: 1, Replicas: 5, Sim: cfg, TickNs: 2_000_000, ClientTickNs: 5_000_000,
		Clients: make([]ClientScript, 5), LivenessNs: 1}
	c, err := NewCluster(scn)
	if err != nil {
		b.Fatal(err)
	}
	c.RunFor(1e9) // elect the leader
	w := c.World()
	ev0, t0 := w.Stats().Events, w.Now()
	for b.Loop() {
		if err := c.RunFor(10e9); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(w.Stats().Events-ev0)/sec, "events/s")
	b.ReportMetric(float64(w.Now()-t0)/1e9/sec, "sim-s/wall-s")
}
