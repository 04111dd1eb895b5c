package main

import (
	"sync/atomic"
	"testing"

	"paxlock/scenarios"
)

// BenchmarkSweep: what `paxsim -seeds N` does, as a benchmark: seeds from
// the default ranges, one per iteration, run on every core (GOMAXPROCS
// workers), each with all its checks. It reports seeds per second and the
// ratio of simulated to wall time over all cores. Target (BENCHMARKS.md):
// simulated time >= 10,000x wall time.
func BenchmarkSweep(b *testing.B) {
	r := scenarios.DefaultRanges()
	var next atomic.Uint64
	var virt, seeds atomic.Int64
	defer tuneGC()() // as paxsim's sweep does
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seed := next.Add(1)
			res := scenarios.Run(scenarios.Generate(seed, r), scenarios.Options{})
			if !res.OK {
				b.Errorf("seed %d: %s", seed, res.Summary())
			}
			virt.Add(res.VirtualNs)
			seeds.Add(1)
		}
	})
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(seeds.Load())/sec, "seeds/s")
	b.ReportMetric(float64(virt.Load())/1e9/sec, "sim-s/wall-s")
}
