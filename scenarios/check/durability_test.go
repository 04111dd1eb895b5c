package check

import (
	"testing"

	"paxlock/paxos"
)

// ballots is a dense slot window; it must behave like the map it replaced.
func TestBallotsWindow(t *testing.T) {
	var w ballots
	ref := map[uint64]paxos.Ballot{}
	b := func(r uint64) paxos.Ballot { return paxos.Ballot{Round: r, Node: 1} }
	set := func(s uint64, v paxos.Ballot) { w.set(s, v); ref[s] = v }
	drop := func(s uint64) {
		w.dropBelow(s)
		for k := range ref {
			if k < s {
				delete(ref, k)
			}
		}
	}
	check := func() {
		t.Helper()
		for s := uint64(0); s < 60; s++ {
			got, ok := w.get(s)
			want, wok := ref[s]
			if ok != wok || got != want {
				t.Fatalf("slot %d: got %v,%v want %v,%v (window base %d len %d)", s, got, ok, want, wok, w.base, len(w.b))
			}
		}
	}
	set(10, b(1))
	set(12, b(2))
	check()
	set(7, b(3)) // below the window
	check()
	drop(11)
	check()
	set(5, b(4)) // below the new base
	check()
	drop(100)
	check()
	set(40, b(5))
	set(41, b(6))
	check()
}
