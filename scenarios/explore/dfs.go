package explore

import "fmt"

// Depth-first search. Breadth-first keeps every state of the next level
// whole until it is expanded, and the levels of a Multi-Paxos run grow
// two- to threefold per step, so its memory is most of the states it
// visits (12-17 KB each with three replicas); depth-first keeps only the
// states on the path it is on, so its memory is the visited table.
//
// It visits the same states. The visited table records, for every state,
// the fewest steps it was reached in so far; a state reached again in
// fewer steps than recorded is expanded again (its subtree may then reach
// states the depth bound cut off before), and one reached in as many or
// more is not. So every state within the bound is reached, and each
// state's recorded depth ends as its shortest distance from the initial
// state: by induction along a shortest path, each state on it is in turn
// reached and expanded at its own distance. The levels and the depth are
// counted from the table once the search ends, so they equal
// breadth-first's. Only Generated differs (re-expansions are counted).
//
// A path found depth-first is not the shortest, so when a state fails a
// check, the search is run again breadth-first, bounded at that state's
// depth and within what is left of the time limit, and its counterexample
// is reported if it finds one (it judges the same states; a checker that
// judges a path could in principle pass every path breadth-first takes,
// and then the depth-first path stands, as it does if the time or
// shortestStatesMax runs out; the violation says whether its path is the
// shortest).

// dfs walks the space depth-first from the initial state; the caller
// has set up s as run does.
func (s *searcher) dfs() (Report, error) {
	root, rootFP, v, err := s.begin()
	if err != nil {
		return Report{}, err
	}
	if v != nil {
		return s.finishDFS(v, rootFP)
	}
	v, vfp, stopped, err := s.expand(root, rootFP, 0)
	if err != nil {
		return s.rep, err
	}
	s.rep.Exhausted = v == nil && !stopped
	return s.finishDFS(v, vfp)
}

// expand searches below w, reached in depth steps; it returns the first
// violation found (and its state's fingerprint), or whether a limit
// stopped the search.
func (s *searcher) expand(w *world, fp uint64, depth int) (*Violation, uint64, bool, error) {
	if depth >= s.cfg.Bounds.Depth || s.cfg.PruneDone && w.allDone() {
		return nil, 0, false, nil
	}
	for len(s.stepBufs) <= depth {
		s.stepBufs = append(s.stepBufs, nil)
	}
	steps := w.steps(s.stepBufs[depth][:0])
	s.stepBufs[depth] = steps
	for _, st := range steps {
		c := w.clone()
		if err := c.apply(st); err != nil {
			return nil, 0, false, fmt.Errorf("explore: internal: step %v offered but not enabled: %w", st, err)
		}
		s.rep.Generated++
		cfp := s.fpr.of(c)
		d := int32(depth + 1)
		if cell, seen := s.visited.ref(cfp); seen {
			if cell.depth() <= d {
				continue
			}
			// Reached in fewer steps than before: a shorter path, and
			// its subtree may go past where the bound stopped it.
			cell.set(parent{fp: fp, step: pack(st), depth: d})
			s.reexpanded++
		} else {
			cell.set(parent{fp: fp, step: pack(st), depth: d})
			s.rep.Unique++
			s.rep.Depth = max(s.rep.Depth, depth+1)
			if v := s.judge(c, w.hist.Completed()); v != nil {
				return v, cfp, false, nil
			}
		}
		if s.rep.Generated >= s.nextSample {
			s.nextSample = s.rep.Generated + progressEvery
			if s.stop() {
				return nil, 0, true, nil
			}
			if s.m.Progress != nil {
				s.m.Progress(s.snapshot())
			}
		}
		if v, vfp, stopped, err := s.expand(c, cfp, depth+1); v != nil || stopped || err != nil {
			return v, vfp, stopped, err
		}
	}
	if s.verifyParents && s.fpr.fresh(w) != fp {
		return nil, 0, false, fmt.Errorf("explore: internal: a state changed while its successors were made from it (a copy shares what it writes)")
	}
	// The steps are reused by the next state expanded at this depth, and
	// the ones below by its children.
	return nil, 0, false, nil
}

// shortestStatesMax bounds the breadth-first search for a shorter path:
// it holds whole states (about 15 KB each with three replicas), and a
// search without a time limit must not run out of memory looking for a
// shorter path to a violation it already has.
const shortestStatesMax = 300_000

// finishDFS counts the levels from the visited table and, if a state
// failed a check, looks for a shorter path to a violation breadth-first.
func (s *searcher) finishDFS(v *Violation, fp uint64) (Report, error) {
	s.rep.Levels, s.rep.Depth = nil, 0
	for _, p := range s.visited.all() {
		for len(s.rep.Levels) <= int(p.depth) {
			s.rep.Levels = append(s.rep.Levels, 0)
		}
		s.rep.Levels[p.depth]++
		s.rep.Depth = max(s.rep.Depth, int(p.depth))
	}
	if v == nil {
		return s.finish(nil, 0), nil
	}
	rep := s.finish(v, fp)
	bcfg := *s.cfg
	bcfg.Order, bcfg.Bounds.Depth = BreadthFirst, len(rep.Violation.Path)
	if bcfg.MaxStates == 0 || bcfg.MaxStates > shortestStatesMax {
		bcfg.MaxStates = shortestStatesMax
	}
	// The same meter: its clock runs from the depth-first search's start,
	// so the time limit bounds both together.
	b := &searcher{cfg: &bcfg, lin: s.lin, fail: s.fail,
		m: Meter{Elapsed: s.m.Elapsed}}
	short, err := b.run()
	if err != nil {
		return rep, err
	}
	if short.Violation != nil && len(short.Violation.Path) <= len(rep.Violation.Path) {
		rep.Violation = short.Violation
	}
	return rep, nil
}
