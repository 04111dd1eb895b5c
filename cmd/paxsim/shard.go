package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// shardsMax bounds N in -shard I/N. A Kubernetes Indexed Job allows up to
// 100,000 completions with parallelism; nothing real needs more.
const shardsMax = 1_000_000

// shardFlag is -shard I/N: run the I-th of N disjoint slices of the sweep
// (-seeds N from -start S), counting from 0 as JOB_COMPLETION_INDEX and a
// matrix of 0..N-1 do.
//
// The slices are contiguous blocks whose sizes differ by at most one (the
// first seeds%N blocks take one seed more), not strides (seeds I, I+N, ...):
//   - a block is an ordinary sweep (-start, -seeds), so a shard's summary,
//     replay lines and rerun need nothing new: `-shard 1/3 -seeds 90` is
//     `-start 31 -seeds 30`;
//   - seeds cost the same on average wherever they sit (every knob is drawn
//     from a generator seeded with the seed), so blocks of hundreds of seeds
//     balance as well as strides; strides would not even do that: every
//     determinismEvery-th seed runs twice, and strides with N sharing a
//     factor with it pile those seeds onto some shards (with N = 10, all
//     onto one).
type shardFlag struct {
	set  bool
	i, n int
}

func (f *shardFlag) String() string {
	if !f.set {
		return ""
	}
	return fmt.Sprintf("%d/%d", f.i, f.n)
}

func (f *shardFlag) Set(s string) error {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return fmt.Errorf("want I/N, e.g. 0/4: the I-th of N slices, counting from 0")
	}
	i, err := strconv.Atoi(is)
	if err != nil {
		return fmt.Errorf("index %q is not a number (an unexpanded variable?)", is)
	}
	n, err := strconv.Atoi(ns)
	if err != nil {
		return fmt.Errorf("count %q is not a number (an unexpanded variable?)", ns)
	}
	if n < 1 || n > shardsMax {
		return fmt.Errorf("count %d: want 1..%d", n, shardsMax)
	}
	if i < 0 || i >= n {
		return fmt.Errorf("index %d out of range 0..%d (shards count from 0)", i, n-1)
	}
	f.set, f.i, f.n = true, i, n
	return nil
}

// slice is the shard's part of the sweep of seeds seeds from start: its
// first seed and how many. The N slices of a sweep are disjoint and their
// union is the sweep, in order (TestShardSlicesTile).
func (f shardFlag) slice(start uint64, seeds int) (uint64, int) {
	if !f.set {
		return start, seeds
	}
	q, r := seeds/f.n, seeds%f.n
	first := f.i*q + min(f.i, r)
	count := q
	if f.i < r {
		count++
	}
	return start + uint64(first), count
}

// checkRange refuses a sweep that would run past the last seed (the
// counter would wrap to seed 0 and sweep seeds never asked for).
func checkRange(start uint64, seeds int) error {
	if seeds > 0 && start > math.MaxUint64-uint64(seeds-1) {
		return fmt.Errorf("-start %d -seeds %d: the sweep would run past the last seed, %d", start, seeds, uint64(math.MaxUint64))
	}
	return nil
}

// applyShard narrows opt's sweep to its shard, remembering the whole sweep
// for the summary.
func applyShard(opt *options) error {
	opt.sweepStart, opt.sweepSeeds = opt.start, opt.seeds
	if !opt.shard.set {
		return nil
	}
	if opt.shard.n > opt.seeds {
		return fmt.Errorf("-shard %s: %d shards for %d seeds would leave some empty; want N <= -seeds",
			opt.shard.String(), opt.shard.n, opt.seeds)
	}
	opt.start, opt.seeds = opt.shard.slice(opt.start, opt.seeds)
	return nil
}
