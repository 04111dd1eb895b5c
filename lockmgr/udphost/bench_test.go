package udphost

import (
	"slices"
	"testing"
	"time"

	"paxlock/lockmgr"
)

// BenchmarkPair: one client's lock+unlock pair against an in-process
// 3-replica group on loopback, fsync on. Reports the median and p99 pair
// latency beside ns/op.
//
//	go test ./udphost -run '^$' -bench Pair -benchtime 3000x
func BenchmarkPair(b *testing.B) {
	g := startGroup(b, testConfig(b, 3, nil))
	c := newTestClient(b, g.cfg)
	do(b, c, lockmgr.OpLock, "warm")
	do(b, c, lockmgr.OpUnlock, "warm")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		do(b, c, lockmgr.OpLock, "p")
		do(b, c, lockmgr.OpUnlock, "p")
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	var syncs uint64
	for _, id := range g.cfg.Peers() {
		syncs += g.stats(id).Log.Syncs
	}
	b.ReportMetric(float64(syncs)/float64(b.N), "fsyncs/pair")
}
