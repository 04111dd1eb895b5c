package scenarios

import (
	"testing"

	"github.com/anishathalye/porcupine"
	"time"
)

// BenchmarkStandardSeed: one standard seed (5 replicas, 5 clients, 200
// operations, default faults) end to end, including its checks. Target
// (DESIGN §7): <= 5 ms per seed.
func BenchmarkStandardSeed(b *testing.B) {
	var events, virt int64
	for i := 0; b.Loop(); i++ {
		res := Run(Standard(uint64(i%64+1)), Options{})
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
		if v, _ := checkLinearizable(res.History, time.Minute); v != porcupine.Ok {
			b.Fatalf("verdict %v", v)
		}
	}
}
