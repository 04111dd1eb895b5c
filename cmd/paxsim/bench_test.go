package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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

// BenchmarkMerge: what `paxsim -merge` costs per seed line, reading a file
// of 100,000 lines (one real seed's line, renumbered). A nightly sweep of
// 400,000 seeds is four times this.
func BenchmarkMerge(b *testing.B) {
	const lines = 100_000
	res := scenarios.Run(scenarios.Generate(1, scenarios.DefaultRanges()), scenarios.Options{})
	line := lineOf(&options{}, &res, 0)
	var buf bytes.Buffer
	for s := uint64(1); s <= lines; s++ {
		line.Seed = s
		j, _ := json.Marshal(line)
		buf.Write(j)
		buf.WriteByte('\n')
	}
	name := filepath.Join(b.TempDir(), "shard.jsonl")
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for range b.N {
		m := newMerger(1, lines)
		if err := m.readAll([]string{name}, nil); err != nil || m.tot.seeds != lines {
			b.Fatalf("%v, %d seeds", err, m.tot.seeds)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
