package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsRoundTrip(t *testing.T) {
	for _, ns := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 999_999, 1 << 40, 1<<63 - 1} {
		b := bucketOf(ns)
		lo := lowOf(b)
		if lo > ns {
			t.Fatalf("value %d in bucket %d whose low end is %d", ns, b, lo)
		}
		if b+1 < len(hist{}.counts) && lowOf(b+1) <= ns {
			t.Fatalf("value %d in bucket %d, but bucket %d starts at %d", ns, b, b+1, lowOf(b+1))
		}
	}
	// Buckets are contiguous and increasing.
	for b := 1; b < 40<<subBits; b++ {
		if lowOf(b) <= lowOf(b-1) || bucketOf(lowOf(b)) != b {
			t.Fatalf("bucket %d: low %d, previous low %d, maps back to %d", b, lowOf(b), lowOf(b-1), bucketOf(lowOf(b)))
		}
	}
}

// The histogram's quantiles agree with the exact ones from sorted samples
// to within its resolution.
func TestQuantilesMatchSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h hist
	var all []time.Duration
	for range 100_000 {
		d := time.Duration(200_000 + rng.ExpFloat64()*300_000) // 0.2 ms + a tail
		h.add(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, p := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := all[min(len(all)-1, int(p*float64(len(all))))]
		got := h.quantile(p)
		if diff := got - exact; diff < -exact/100 || diff > exact/100 {
			t.Errorf("p%.1f: histogram %v, exact %v", p*100, got, exact)
		}
	}
	var empty hist
	if empty.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	var m hist
	m.merge(&h)
	m.merge(&h)
	if m.n != 2*h.n || m.quantile(0.5) != h.quantile(0.5) {
		t.Fatalf("merge: n=%d median %v, want %d and %v", m.n, m.quantile(0.5), 2*h.n, h.quantile(0.5))
	}
}
