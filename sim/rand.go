package sim

import (
	"math/bits"
	"math/rand/v2"
)

// Purposes name the independent random streams derived from the world seed.
// Each stream is keyed by (seed, purpose, address, incarnation), so a draw
// added to one stream never shifts the draws of another. The values are part
// of the reproducibility contract: never renumber them.
const (
	purposeNet  = 1 // a sender's network decisions: drop, dup, corrupt, latency
	purposeDisk = 2 // a process's torn writes at crash
	purposeTick = 3 // a process's tick phase and drawn drift
	purposeProc = 4 // the stream a process gets through Env.Rand
)

// splitmix64 is the SplitMix64 finalizer: a cheap bijective mixer that turns
// structured inputs (small integers) into well-spread seeds.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// newStream returns the PCG stream for (seed, purpose, addr, inc).
func newStream(seed, purpose uint64, addr Addr, inc uint32) *rand.PCG {
	s := splitmix64(seed)
	s = splitmix64(s ^ purpose)
	s = splitmix64(s ^ uint64(addr))
	s = splitmix64(s ^ uint64(inc))
	return rand.NewPCG(s, splitmix64(s^0x5851f42d4c957f2d))
}

// chance is a probability precomputed for an integer comparison against one
// 64-bit draw, which is cheaper than a float draw on the hot path. A zero
// chance never draws, so a disabled knob consumes nothing from its stream.
type chance struct {
	lim uint64 // hit iff draw < lim
	all bool   // probability 1: always hit (lim cannot represent 2^64)
}

func newChance(p float64) chance {
	const two64 = 18446744073709551616.0
	f := p * two64
	if f >= two64 {
		return chance{all: true}
	}
	return chance{lim: uint64(f)}
}

// hit draws from r only when the outcome is not already certain.
func (c chance) hit(r *rand.PCG) bool {
	if c.all {
		return true
	}
	if c.lim == 0 {
		return false
	}
	return r.Uint64() < c.lim
}

// between draws uniformly from [lo, hi] (inclusive); it does not draw when
// the range holds one value. The multiply-high reduction has a bias below
// 2^-40 for any span this package allows, which is irrelevant here.
func between(r *rand.PCG, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	span := uint64(hi-lo) + 1
	top, _ := bits.Mul64(r.Uint64(), span)
	return lo + int64(top)
}
