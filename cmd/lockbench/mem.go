package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"
)

// memSample is the process's memory at one moment: the live Go heap (right
// after a forced collection, so garbage does not blur a trend) and the
// resident set the kernel reports, which also counts the runtime's own and
// the sockets' buffers. With -start the replicas run in this process.
type memSample struct {
	at      time.Duration // since measuring began
	heap    uint64        // runtime.MemStats.HeapAlloc after runtime.GC
	objects uint64
	rss     uint64 // 0 where /proc/self/statm is not available
}

func sampleMem(at time.Duration) memSample {
	runtime.GC() // one per sample: negligible at the intervals -mem is for
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{at: at, heap: ms.HeapAlloc, objects: ms.HeapObjects, rss: rss()}
}

// rss reads the resident set size from /proc/self/statm (Linux).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func (s memSample) String() string {
	return fmt.Sprintf("mem t=%v live-heap=%.1fMiB objects=%d rss=%.1fMiB", s.at.Round(time.Second), mib(s.heap), s.objects, mib(s.rss))
}

// memReport sums up a run's samples: the first (after warm-up), the
// largest and the last, so a reader sees whether memory stayed flat.
func memReport(w io.Writer, samples []memSample) {
	if len(samples) == 0 {
		return
	}
	first, last := samples[0], samples[len(samples)-1]
	var peakHeap, peakRSS uint64
	for _, s := range samples {
		peakHeap, peakRSS = max(peakHeap, s.heap), max(peakRSS, s.rss)
	}
	fmt.Fprintf(w, "lockbench: memory over %v (%d samples): live heap %.1f -> %.1f MiB (peak %.1f), rss %.1f -> %.1f MiB (peak %.1f)\n",
		last.at.Round(time.Second), len(samples), mib(first.heap), mib(last.heap), mib(peakHeap), mib(first.rss), mib(last.rss), mib(peakRSS))
}
