package main

import (
	"math/bits"
	"time"
)

// hist is a latency histogram of fixed size, so that a run of any length
// costs the same memory (keeping every sample would grow by ~200 KB/s at
// 25,000 pairs/s and hide whatever the replicas do). Buckets are
// log-linear: 2^subBits buckets per power of two of nanoseconds, so a
// quantile is off by less than 1/2^subBits (0.8%) of its value.
type hist struct {
	counts [64 << subBits]uint64
	n      uint64
}

const subBits = 7

func bucketOf(ns uint64) int {
	if ns < 1<<subBits {
		return int(ns) // exact below 128 ns
	}
	e := bits.Len64(ns) - 1 - subBits // how far the top subBits+1 bits are shifted
	return (e+1)<<subBits | int(ns>>e)&(1<<subBits-1)
}

// lowOf is the smallest value in bucket b; midOf the value reported.
func lowOf(b int) uint64 {
	if b < 1<<subBits {
		return uint64(b)
	}
	e := b>>subBits - 1
	return (1<<subBits | uint64(b&(1<<subBits-1))) << e
}

func midOf(b int) uint64 {
	if b < 1<<subBits {
		return uint64(b)
	}
	e := b>>subBits - 1
	return lowOf(b) + (uint64(1)<<e)/2
}

func (h *hist) add(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))]++
	h.n++
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile is the value below which a fraction p of the samples fall (the
// nearest-rank sample, to the histogram's resolution); 0 with no samples.
func (h *hist) quantile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := min(h.n-1, uint64(p*float64(h.n))) // 0-based, as sorted[rank]
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen > rank {
			return time.Duration(midOf(b))
		}
	}
	return 0 // unreachable: the counts add up to n
}
