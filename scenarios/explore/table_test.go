package explore

import (
	"math/rand/v2"
	"testing"
)

// TestTableAgreesWithAMap drives the visited table and a Go map with the
// same operations: inserts (through growth), overwrites, lookups of
// present and absent fingerprints (zero among them, and fingerprints
// that share a home cell), and checks every answer and, at the end, the
// whole contents by iteration.
func TestTableAgreesWithAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var tb table
	ref := map[uint64]parent{}
	// Few distinct low bits: many fingerprints share home cells, so
	// probing wraps and runs long.
	fps := []uint64{0, 1, 1 << 40, 2 << 40, 3 << 40, ^uint64(0)}
	for range 20000 {
		fps = append(fps, rng.Uint64())
	}
	for i := range 60000 {
		fp := fps[rng.IntN(len(fps))]
		switch rng.IntN(3) {
		case 0, 1:
			p := parent{fp: rng.Uint64(), step: pack(Step{Kind: Kind(rng.IntN(7)), From: 1000 + 2, To: 5, N: rng.IntN(1 << 24)}),
				depth: int32(rng.IntN(DepthMax + 1))}
			c, found := tb.ref(fp)
			if _, want := ref[fp]; found != want {
				t.Fatalf("op %d: ref(%#x) found=%v, the map says %v", i, fp, found, want)
			}
			c.set(p)
			ref[fp] = p
		case 2:
			got, ok := tb.get(fp)
			want, wantOK := ref[fp]
			if ok != wantOK || got != want {
				t.Fatalf("op %d: get(%#x) = %+v, %v; the map says %+v, %v", i, fp, got, ok, want, wantOK)
			}
		}
		if tb.len() != len(ref) {
			t.Fatalf("op %d: len %d, the map has %d", i, tb.len(), len(ref))
		}
	}
	seen := map[uint64]bool{}
	for fp, p := range tb.all() {
		if seen[fp] {
			t.Fatalf("all yields %#x twice", fp)
		}
		seen[fp] = true
		if want, ok := ref[fp]; !ok || want != p {
			t.Fatalf("all yields %#x: %+v; the map says %+v, %v", fp, p, want, ok)
		}
	}
	if len(seen) != len(ref) {
		t.Fatalf("all yields %d fingerprints, the map has %d", len(seen), len(ref))
	}
}

func TestTableRefusesWhatDoesNotPack(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a depth past the packed field was kept")
		}
	}()
	var tb table
	tb.put(5, parent{depth: 1 << (64 - stepBits)})
}
