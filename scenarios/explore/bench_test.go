package explore

import "testing"

// The cost of making one successor state, two ways: copying the parent
// and taking one step (what Search does), or re-executing the parent's
// whole path from the initial state and then taking the step. The parent
// is a state at depth 14 of a 3-replica search.
//
//	go test ./scenarios/explore -run '^$' -bench 'Successor' -benchtime 2000x

func depth14Path(b *testing.B) (*Config, []Step) {
	cfg := &Config{Replicas: 3, Clients: [][]Op{{trylockA}}, Bounds: Bounds{Depth: 14, Timers: 1}, TickNs: 10_000_000}
	s := &searcher{cfg: cfg, lin: map[uint64]bool{}}
	if _, err := s.run(); err != nil {
		b.Fatal(err)
	}
	best := uint64(0)
	for fp, p := range s.visited.all() { // the deepest state with the smallest fingerprint: the same one every run
		if p.depth == 14 && (best == 0 || fp < best) {
			best = fp
		}
	}
	v := &Violation{}
	s.pathTo(v, best)
	return cfg, v.Path
}

func replayPath(b *testing.B, cfg *Config, path []Step) *world {
	w, err := newWorld(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range path {
		if err := w.apply(st); err != nil {
			b.Fatal(err)
		}
	}
	return w
}

func BenchmarkSuccessorByCopy(b *testing.B) {
	cfg, path := depth14Path(b)
	cfg.Bounds.Depth = 100
	parent := replayPath(b, cfg, path[:len(path)-1])
	last := path[len(path)-1]
	var f fingerprinter
	f.of(parent)
	b.ResetTimer()
	for range b.N {
		c := parent.clone()
		if err := c.apply(last); err != nil {
			b.Fatal(err)
		}
		f.of(c)
	}
}

func BenchmarkSuccessorByReexecution(b *testing.B) {
	cfg, path := depth14Path(b)
	cfg.Bounds.Depth = 100
	var f fingerprinter
	b.ResetTimer()
	for range b.N {
		f.of(replayPath(b, cfg, path))
	}
}
