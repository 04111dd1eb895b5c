package explore

import (
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/anishathalye/porcupine"

	"paxlock/paxos"
	"paxlock/scenarios/check"
)

// The fingerprint of a state: every process's canonical encoding
// (paxos.Replica and lockmgr.Node/Client AppendFingerprint), its random
// source, each replica's disk (durable and unsynced records), the
// clients' scripts and histories, the budgets spent, and the multiset of
// messages in flight, hashed to 64 bits. The checkers' own state is not
// in it: it is a function of the path, and a state reached again by
// another path is not searched again (as TLC does for state invariants);
// what a checker judges about a single path is judged on the first path
// that reached each state. The client history is in it, so every
// distinct history is judged by porcupine.

// fingerprinter keeps the encoding buffer between states.
type fingerprinter struct{ buf, proc []byte }

func (f *fingerprinter) of(w *world) uint64 { return f.hash(w, false) }

// fresh is of without the hashes kept with the processes: every process
// encoded again, for a test that a state did not change once its
// successors were made from it.
func (f *fingerprinter) fresh(w *world) uint64 { return f.hash(w, true) }

func (f *fingerprinter) hash(w *world, fresh bool) uint64 {
	b := f.buf[:0]
	s := &w.spent
	b = appendU(b, uint64(s.Drops), uint64(s.Dups), uint64(s.Crashes), uint64(s.Timers))
	// Each process's encoding is hashed once and kept with it: a state
	// shares the processes its step did not touch with its parent, and
	// their hashes with them.
	for _, r := range w.reps {
		switch {
		case fresh:
			f.proc = r.appendFingerprint(f.proc[:0])
			b = appendU(b, hash64(f.proc))
			continue
		case !r.fpOK:
			f.proc = r.appendFingerprint(f.proc[:0])
			r.fp, r.fpOK = hash64(f.proc), true
		}
		b = appendU(b, r.fp)
	}
	for _, c := range w.cls {
		switch {
		case fresh:
			f.proc = c.appendFingerprint(f.proc[:0])
			b = appendU(b, hash64(f.proc))
			continue
		case !c.fpOK:
			f.proc = c.appendFingerprint(f.proc[:0])
			c.fp, c.fpOK = hash64(f.proc), true
		}
		b = appendU(b, c.fp)
	}
	b = appendHistory(b, w.hist.Ops())
	b = appendU(b, uint64(len(w.expiries)), uint64(len(w.ended)), uint64(len(w.broken)))
	f.buf = b
	h := hash64(b)
	// The messages in flight are a multiset: the sum of their hashes does
	// not depend on the order they were sent in.
	var m uint64
	for _, p := range w.net {
		m += mix(hash64(p.data) ^ uint64(p.from)<<32 ^ uint64(p.to))
	}
	return mix(h ^ mix(m+uint64(len(w.net))))
}

func (r *replica) appendFingerprint(b []byte) []byte {
	b = appendU(b, r.src.s, uint64(r.boots), uint64(len(r.durable)))
	for i := range r.durable {
		b = paxos.AppendRecord(b, &r.durable[i])
	}
	b = appendU(b, uint64(len(r.pending)))
	for i := range r.pending {
		b = paxos.AppendRecord(b, &r.pending[i])
	}
	if r.node == nil {
		return appendU(b, 0)
	}
	b = appendU(b, 1)
	return r.node.AppendFingerprint(b)
}

func (c *client) appendFingerprint(b []byte) []byte {
	b = appendU(b, c.src.s, uint64(c.next), uint64(c.cur+1), b2u(c.began))
	return c.cl.AppendFingerprint(b)
}

// appendHistory encodes the client history with its times replaced by
// their ranks: porcupine sees only the order of calls and returns, so
// two paths that interleaved them alike have the same history.
func appendHistory(b []byte, ops []porcupine.Operation) []byte {
	var times []int64
	for _, op := range ops {
		times = append(times, op.Call, op.Return)
	}
	slices.Sort(times)
	times = slices.Compact(times)
	rank := func(t int64) uint64 {
		i, _ := slices.BinarySearch(times, t)
		return uint64(i)
	}
	b = appendU(b, uint64(len(ops)))
	for _, op := range ops {
		in := op.Input.(check.Input)
		b = appendU(b, uint64(op.ClientId), rank(op.Call), rank(op.Return), uint64(in.Client), uint64(in.Op))
		b = append(b, in.Name...)
		if out, ok := op.Output.(check.Output); ok {
			b = appendU(b, 1, uint64(out.Status), out.Token, uint64(out.Holder), b2u(out.Withdrawn), b2u(out.Unknown))
			b = append(b, out.Table...)
		} else {
			b = appendU(b, 0)
		}
	}
	return b
}

func appendU(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func b2u(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}

// hash64 is a fast 64-bit hash of b, eight bytes at a time: a fixed
// function (no per-process seed), so a search visits the same states in
// the same order on every run.
func hash64(b []byte) uint64 {
	h := uint64(len(b)) * 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = mix(h ^ binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	var tail [8]byte
	copy(tail[:], b)
	return mix(h ^ binary.LittleEndian.Uint64(tail[:]) ^ uint64(len(b))<<56)
}

// mix is a 64-bit finalizer (murmur3's fmix64 with a wider multiply).
func mix(x uint64) uint64 {
	hi, lo := bits.Mul64(x^x>>33, 0xff51afd7ed558ccd)
	x = hi ^ lo
	x ^= x >> 29
	hi, lo = bits.Mul64(x, 0xc4ceb9fe1a85ec53)
	return hi ^ lo ^ x>>32
}
