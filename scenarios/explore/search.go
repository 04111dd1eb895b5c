package explore

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
	"paxlock/scenarios/check"
)

// Report is what a search found and what it cost.
type Report struct {
	Bounds    Bounds `json:"-"`
	BoundsStr string `json:"bounds"`
	Order     string `json:"order"` // "dfs" or "bfs"
	// Generated counts every successor computed (a step taken from a
	// state); Unique the distinct states among them, the initial one
	// included.
	Generated int64 `json:"generated"`
	Unique    int64 `json:"unique"`
	Depth     int   `json:"depth"` // the deepest level reached
	// Exhausted: every state within the bounds was searched (a state at
	// the depth bound is judged, not expanded).
	Exhausted bool  `json:"exhausted"`
	Goals     int64 `json:"goals"` // states where every client is done
	// Levels counts the unique states first reached at each depth.
	Levels       []int64 `json:"levels"`
	Histories    int     `json:"histories"`
	Seconds      float64 `json:"seconds"`
	StatesPerSec float64 `json:"states_per_s"`
	// BytesPerState is the peak heap over the unique states: the visited
	// table plus the frontier's whole states, shared between them.
	BytesPerState float64 `json:"bytes_per_state"`
	// KeptBytesPerState is the live heap after a collection at the end,
	// over the unique states: what the search keeps per state (the
	// visited table, the histories judged), without the garbage GOGC lets
	// pile up between collections.
	KeptBytesPerState float64    `json:"kept_bytes_per_state"`
	Violation         *Violation `json:"violation,omitempty"`
}

// Violation is a state that failed a check, with the path to it found.
// Shortest: a breadth-first search found it, so no shorter path to a
// violation exists within the bounds (a depth-first search looks for it
// again breadth-first, within its limits: see dfs.go).
type Violation struct {
	Kind     string `json:"kind"`
	Detail   string `json:"detail"`
	Path     []Step `json:"-"`
	Steps    []string
	Shortest bool `json:"shortest"`
}

// parent is how a visited state was first reached (depth-first: in the
// fewest steps so far): the state it was reached from, the step, and the
// number of steps. The visited table packs it with the state's own
// fingerprint in 24 bytes (see table.go).
type parent struct {
	fp    uint64
	step  packedStep
	depth int32
}

// packedStep is a Step in stepBits (51) bits, so that the visited table
// keeps it and the depth in one word: the kind (3 bits), the two
// addresses (a link's ends, or the process and zero; 12 bits each) and
// the message's place on its link (24 bits). Addresses in a search are
// below clientAddrBase+ClientsMax and a link holds fewer messages than a
// run has steps (DepthMax), so they fit.
type packedStep uint64

func pack(st Step) packedStep {
	a, b := st.From, st.To
	if st.Kind != Deliver && st.Kind != Drop && st.Kind != Dup {
		a, b = st.Proc, 0
	}
	if a > 0xfff || b > 0xfff || st.N < 0 || st.N > 0xffffff || st.Kind > 7 {
		panic(fmt.Sprintf("explore: internal: step %v does not pack", st))
	}
	return packedStep(uint64(st.Kind)<<48 | uint64(a)<<36 | uint64(b)<<24 | uint64(st.N))
}

func (p packedStep) unpack() Step {
	st := Step{Kind: Kind(p >> 48)}
	a, b := lockmgr.Addr(p>>36&0xfff), lockmgr.Addr(p>>24&0xfff)
	if st.Kind == Deliver || st.Kind == Drop || st.Kind == Dup {
		st.From, st.To, st.N = a, b, int(p&0xffffff)
	} else {
		st.Proc = a
	}
	return st
}

type frontierState struct {
	w  *world
	fp uint64
}

// Meter is how a search is measured and watched from outside. The
// package reads no clock (the search itself is deterministic: the same
// configuration visits the same states in the same order); a binary
// passes its wall clock and heap size in, and they reach only the report
// and the time limit.
type Meter struct {
	Elapsed   func() time.Duration // wall time since the search began; nil: no rates, no time limit
	HeapBytes func() uint64        // the heap in use now; nil: no bytes per state
	LiveBytes func() uint64        // the live heap after a collection; nil: no kept bytes per state
	Progress  func(Report)         // called every progressEvery states generated; nil: none
}

// progressEvery is how often (in states generated) Progress is called and
// the limits and the heap are sampled.
const progressEvery = 1 << 12

// Search explores cfg, breadth-first or depth-first (cfg.Order), and
// reports.
func Search(cfg Config, m Meter) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	s := &searcher{cfg: &cfg, lin: map[uint64]bool{}, m: m}
	if cfg.Order == DepthFirst {
		return s.dfs()
	}
	return s.run()
}

type searcher struct {
	cfg     *Config
	visited table
	lin     map[uint64]bool // history fingerprint -> linearizable
	fpr     fingerprinter
	rep     Report
	m       Meter
	peak    uint64
	// nextSample: the Generated count at which limits, heap and progress
	// are next looked at.
	nextSample int64
	stepBufs   [][]Step          // depth-first: the steps of the state on the path at each depth
	reexpanded int64             // depth-first: states expanded again, reached in fewer steps
	fail       func(*world) bool // tests: a state that fails, besides the checks
	// verifyParents (tests): once a state's successors are made, encode
	// it again from scratch and fail if it changed; every copy-on-write
	// share (processes, state machines, checkers' inputs) must hold.
	verifyParents bool
}

// begin makes the initial state, records it as visited and judges it.
func (s *searcher) begin() (root *world, fp uint64, v *Violation, err error) {
	if root, err = newWorld(s.cfg); err != nil {
		return nil, 0, nil, err
	}
	fp = s.fpr.of(root)
	s.visited.put(fp, parent{fp: fp, depth: 0})
	s.rep.Unique = 1
	return root, fp, s.judge(root, -1), nil
}

func (s *searcher) run() (Report, error) {
	root, rootFP, v, err := s.begin()
	if err != nil {
		return Report{}, err
	}
	s.rep.Levels = []int64{1}
	if v != nil {
		return s.finish(v, rootFP), nil
	}
	frontier := []frontierState{{root, rootFP}}
	var steps []Step
	for depth := 0; len(frontier) > 0; depth++ {
		s.rep.Depth = depth
		if depth == s.cfg.Bounds.Depth {
			s.rep.Exhausted = true
			break
		}
		var next []frontierState
		for fi, f := range frontier {
			frontier[fi].w = nil // let it go once expanded
			if s.cfg.PruneDone && f.w.allDone() {
				continue
			}
			steps = f.w.steps(steps[:0])
			for _, st := range steps {
				c := f.w.clone()
				if err := c.apply(st); err != nil {
					return s.rep, fmt.Errorf("explore: internal: step %v offered but not enabled: %w", st, err)
				}
				s.rep.Generated++
				fp := s.fpr.of(c)
				cell, seen := s.visited.ref(fp)
				if seen {
					continue
				}
				cell.set(parent{fp: f.fp, step: pack(st), depth: int32(depth + 1)})
				s.rep.Unique++
				if len(s.rep.Levels) <= depth+1 {
					s.rep.Levels = append(s.rep.Levels, 0)
				}
				s.rep.Levels[depth+1]++
				if v := s.judge(c, f.w.hist.Completed()); v != nil {
					return s.finish(v, fp), nil
				}
				next = append(next, frontierState{c, fp})
			}
			if s.rep.Generated >= s.nextSample {
				s.nextSample = s.rep.Generated + progressEvery
				if s.stop() {
					return s.finish(nil, 0), nil
				}
				if s.m.Progress != nil {
					s.m.Progress(s.snapshot())
				}
			}
		}
		frontier = next
		if len(frontier) == 0 {
			s.rep.Exhausted = true
		}
	}
	return s.finish(nil, 0), nil
}

// stop reports whether a limit of the configuration ran out, sampling
// the heap as it goes.
func (s *searcher) stop() bool {
	if s.m.HeapBytes != nil {
		s.peak = max(s.peak, s.m.HeapBytes())
	}
	return s.cfg.MaxStates > 0 && s.rep.Unique >= int64(s.cfg.MaxStates) ||
		s.cfg.TimeLimit > 0 && s.m.Elapsed != nil && s.m.Elapsed() >= s.cfg.TimeLimit
}

// judge runs every check on w, which a step just produced from a state
// whose history had answered answeredBefore operations.
func (s *searcher) judge(w *world, answeredBefore int) *Violation {
	if w.allDone() {
		s.rep.Goals++
	}
	if s.fail != nil && s.fail(w) {
		return &Violation{Kind: "test", Detail: "the test's condition holds"}
	}
	if w.broken != "" {
		kind, detail, _ := strings.Cut(w.broken, ": ")
		return &Violation{Kind: kind, Detail: detail}
	}
	if f := w.chk.Err(); f != nil {
		return &Violation{Kind: f.Kind, Detail: f.Detail}
	}
	if w.hist.Completed() == answeredBefore {
		return nil // porcupine judged this history's every prefix already
	}
	ops := w.hist.ForCheck(w.now())
	key := hash64(appendHistory(nil, ops))
	ok, seen := s.lin[key]
	if !seen {
		res, _ := check.Linearizable(ops, 10*time.Second)
		ok = res == porcupine.Ok
		s.lin[key] = ok
		s.rep.Histories = len(s.lin)
		if res == porcupine.Unknown {
			return &Violation{Kind: check.FailCheckTimeout, Detail: "porcupine gave no verdict within 10s"}
		}
	}
	if !ok {
		return &Violation{Kind: check.FailLinearizability, Detail: "the lock history is not linearizable"}
	}
	return nil
}

// finish completes the report; v, if not nil, is the violation found at
// the state fp, whose path is rebuilt from the parents.
func (s *searcher) finish(v *Violation, fp uint64) Report {
	if s.m.LiveBytes != nil {
		s.rep.KeptBytesPerState = float64(s.m.LiveBytes()) / float64(max(s.rep.Unique, 1))
	}
	if v != nil {
		s.rep.Exhausted = false
		s.pathTo(v, fp)
		v.Shortest = s.cfg.Order == BreadthFirst
		s.rep.Violation = v
	}
	return s.snapshot()
}

// pathTo rebuilds the path to state fp from the parents into v.
func (s *searcher) pathTo(v *Violation, fp uint64) {
	v.Path, v.Steps = nil, nil
	for {
		p, _ := s.visited.get(fp)
		if p.depth == 0 {
			break
		}
		v.Path = append(v.Path, p.step.unpack())
		fp = p.fp
	}
	slices.Reverse(v.Path)
	for _, st := range v.Path {
		v.Steps = append(v.Steps, st.String())
	}
}

func (s *searcher) snapshot() Report {
	r := s.rep
	r.Bounds, r.BoundsStr, r.Order = s.cfg.Bounds, s.cfg.Bounds.String(), s.cfg.Order.String()
	if s.m.Elapsed != nil {
		r.Seconds = s.m.Elapsed().Seconds()
	}
	if r.Seconds > 0 {
		r.StatesPerSec = float64(r.Unique) / r.Seconds
	}
	if s.m.HeapBytes != nil {
		r.BytesPerState = float64(max(s.peak, s.m.HeapBytes())) / float64(max(r.Unique, 1))
	}
	return r
}
