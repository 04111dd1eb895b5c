package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strings"

	"paxlock/scenarios"
)

// lineBytesMax bounds one JSON line -merge reads (a failure's detail can
// be long; nothing paxsim writes comes near this).
const lineBytesMax = 16 << 20

// problemsShown: how many missing ranges or disagreeing seeds -merge names
// before it only counts them.
const problemsShown = 10

// merge is -merge: it reads the -json lines of the shards of one sweep
// (-seeds, -start), in any order, from the files named or standard input,
// and prints the summary that one run of the whole sweep prints, with its
// failures. Lines that do not start with '{' are skipped, so a log holding
// a shard's standard error too (kubectl logs) can be read; the check that
// every seed of the sweep is there, once, catches whatever was lost.
//
// Exit status: 0 when every seed of the sweep is there and passed; 1 on a
// failure, a missing seed, or two lines of one seed that disagree; 2 on
// input that is not the shards of this sweep.
func merge(opt *options, stdout, stderr io.Writer) int {
	m := newMerger(opt.start, opt.seeds)
	if err := m.readAll(opt.mergeFiles, opt.stdin); err != nil {
		fmt.Fprintf(stderr, "paxsim: -merge: %v\n", err)
		return 2
	}
	slices.SortFunc(m.failed, func(a, b seedLine) int { return cmpSeed(a.Seed, b.Seed) })
	out := stdout
	if opt.json { // as in a sweep: JSON on standard output, the text beside it
		out = stderr
	}
	m.print(out)
	if opt.json {
		b, _ := json.Marshal(m.result())
		fmt.Fprintln(stdout, string(b))
	}
	if m.tot.failures > 0 || m.missing() > 0 || len(m.disagree) > 0 {
		return 1
	}
	return 0
}

// merger adds up seed lines as they come: each seed of the sweep is counted
// once, from its first line. Memory grows with the seeds seen (a map entry
// each), not with the lines' size.
type merger struct {
	start     uint64
	seeds     int
	tot       totals
	seen      map[uint64]seenSeed
	failed    []seedLine // in the order read; sorted for printing
	swarm     string     // of the first line: every line's must be the same
	swarmFrom seenSeed
	// Counts for the report.
	files                      []string
	lines, skipped, duplicates int
	disagree                   []string
}

// seenSeed is what a later line of the same seed is compared with: small,
// for a merge of millions of seeds.
type seenSeed struct {
	sum        uint64 // of the line's deterministic fields
	file, line uint32 // where it was read
}

func newMerger(start uint64, seeds int) *merger {
	return &merger{start: start, seeds: seeds, seen: map[uint64]seenSeed{}}
}

func (m *merger) readAll(files []string, stdin io.Reader) error {
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		if err := m.readFile(name, stdin); err != nil {
			return err
		}
	}
	return nil
}

func (m *merger) readFile(name string, stdin io.Reader) error {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	} else {
		name = "standard input"
		if f, ok := r.(*os.File); ok && isTerminal(f) {
			return errNoInput
		}
	}
	m.files = append(m.files, name)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), lineBytesMax)
	for n := uint32(1); sc.Scan(); n++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] != '{' {
			m.skipped++
			continue
		}
		if err := m.add(text, seenSeed{file: uint32(len(m.files) - 1), line: n}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// lineIn reads a seed line in one pass. Its pointers shadow the fields of
// seedLine a line must hold to be merged exactly, so that a missing one
// shows (a line of an older paxsim lacks the unrounded figures).
type lineIn struct {
	seedLine
	Seed       *uint64 `json:"seed"`
	OK         *bool   `json:"ok"`
	Ops        *int    `json:"ops"`
	Events     *uint64 `json:"events"`
	TraceHash  *string `json:"trace_hash"`
	VirtualNs  *int64  `json:"virtual_ns"`
	RecoveryNs *int64  `json:"recovery_ns"`
	MaxWaitNs  *int64  `json:"max_wait_ns"`
}

// decode is the line's seedLine, or the first required key it lacks.
func (in *lineIn) decode() (seedLine, string) {
	l := in.seedLine
	for _, f := range []struct {
		key string
		ok  bool
	}{
		{"seed", in.Seed != nil}, {"ok", in.OK != nil}, {"ops", in.Ops != nil}, {"events", in.Events != nil},
		{"trace_hash", in.TraceHash != nil}, {"virtual_ns", in.VirtualNs != nil},
		{"recovery_ns", in.RecoveryNs != nil}, {"max_wait_ns", in.MaxWaitNs != nil},
	} {
		if !f.ok {
			return l, f.key
		}
	}
	l.Seed, l.OK, l.Ops, l.Events, l.TraceHash = *in.Seed, *in.OK, *in.Ops, *in.Events, *in.TraceHash
	l.VirtualNs, l.RecoveryNs, l.MaxWaitNs = *in.VirtualNs, *in.RecoveryNs, *in.MaxWaitNs
	return l, ""
}

func (m *merger) where(at seenSeed) string { return fmt.Sprintf("%s:%d", m.files[at.file], at.line) }

func (m *merger) add(text []byte, at seenSeed) error {
	var in lineIn
	if err := json.Unmarshal(text, &in); err != nil {
		if errors.As(err, new(*json.SyntaxError)) {
			return fmt.Errorf("%s: not JSON: %v", m.where(at), err)
		}
		return fmt.Errorf("%s: not a paxsim -json seed line: %v", m.where(at), err)
	}
	l, missing := in.decode()
	if missing != "" {
		return fmt.Errorf("%s: not a paxsim -json seed line: no %q (written by an older paxsim?)", m.where(at), missing)
	}
	if m.lines == 0 {
		m.swarm, m.swarmFrom = l.Swarm, at
	} else if l.Swarm != m.swarm {
		return fmt.Errorf("%s: seed %d was drawn with range flags %q, the line at %s with %q: shards of different sweeps",
			m.where(at), l.Seed, l.Swarm, m.where(m.swarmFrom), m.swarm)
	}
	last := m.start + uint64(m.seeds) - 1
	if l.Seed < m.start || l.Seed > last {
		return fmt.Errorf("%s: seed %d is outside the sweep %d..%d: give -merge the -seeds and -start the shards were given",
			m.where(at), l.Seed, m.start, last)
	}
	m.lines++
	at.sum = deterministicSum(l)
	if prev, ok := m.seen[l.Seed]; ok {
		if prev.sum == at.sum {
			m.duplicates++ // a shard read twice, or a retried one: counted once
		} else {
			m.disagree = append(m.disagree, fmt.Sprintf("seed %d: the lines at %s and %s (trace hash %s) differ: the same seed ran differently (non-determinism, or shards built from different code)",
				l.Seed, m.where(prev), m.where(at), l.TraceHash))
		}
		return nil
	}
	m.seen[l.Seed] = at
	if l.Coverage != nil {
		if _, err := scenarios.Coverage().FromMap(l.Coverage); err != nil {
			return fmt.Errorf("%s: seed %d: %v (a line from another version of paxsim?)", m.where(at), l.Seed, err)
		}
		if m.tot.cov == nil {
			// The shards ran with -coverage: the seeds read before this
			// one hit no mark, and count as runs all the same.
			m.tot.cov = scenarios.Coverage().NewSweep()
			m.tot.cov.Runs = m.tot.seeds
		}
	}
	m.tot.add(&l)
	if !l.OK {
		m.failed = append(m.failed, l)
	}
	return nil
}

// deterministicSum hashes what a seed's line says, less how long it took:
// two runs of one seed must agree on all of it.
func deterministicSum(l seedLine) uint64 {
	l.WallMs, l.WallUs = 0, 0
	b, _ := json.Marshal(l)
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

func (m *merger) missing() int { return m.seeds - len(m.seen) }

// gaps lists the runs of seeds of the sweep that no line gave, as "a..b".
func (m *merger) gaps() []string {
	got := make([]uint64, 0, len(m.seen))
	for s := range m.seen {
		got = append(got, s)
	}
	slices.Sort(got)
	var out []string
	next := m.start
	span := func(a, b uint64) {
		if a == b {
			out = append(out, fmt.Sprint(a))
		} else {
			out = append(out, fmt.Sprintf("%d..%d", a, b))
		}
	}
	for _, s := range got {
		if s > next {
			span(next, s-1)
		}
		next = s + 1
	}
	if last := m.start + uint64(m.seeds) - 1; len(got) == 0 || got[len(got)-1] < last {
		span(next, last)
	}
	return out
}

// print writes the failures (in seed order, once sorted), the summary a single run of the
// sweep prints (its seed-determined part), and what the merge found wrong.
func (m *merger) print(w io.Writer) {
	for _, l := range m.failed {
		fmt.Fprintf(w, "FAIL seed %d: %s: %s\n    replay: %s\n", l.Seed, l.Kind, firstLine(l.Detail), l.Replay)
	}
	summaryCounts(w, m.start, m.start+uint64(m.seeds)-1, m.tot)
	perSeed := 0.0
	if m.tot.seeds > 0 {
		perSeed = float64(m.tot.wallUs) / 1e3 / float64(m.tot.seeds)
	}
	fmt.Fprintf(w, "  seed time   %.2f s, the seeds' own wall times summed (%.2f ms a seed)\n", float64(m.tot.wallUs)/1e6, perSeed)
	fmt.Fprintf(w, "  merged      %d lines from %d inputs (%d duplicates counted once, %d other lines skipped)\n",
		m.lines, len(m.files), m.duplicates, m.skipped)
	if n := m.missing(); n > 0 {
		g := m.gaps()
		more := ""
		if len(g) > problemsShown {
			more = fmt.Sprintf(" and %d more runs", len(g)-problemsShown)
			g = g[:problemsShown]
		}
		fmt.Fprintf(w, "INCOMPLETE: %d of %d seeds have no line: %s%s (a shard that did not finish, or output lost)\n",
			n, m.seeds, strings.Join(g, ", "), more)
	}
	for i, d := range m.disagree {
		if i == problemsShown {
			fmt.Fprintf(w, "DISAGREE: %d more\n", len(m.disagree)-problemsShown)
			break
		}
		fmt.Fprintf(w, "DISAGREE %s\n", d)
	}
	if m.tot.cov != nil {
		scenarios.Coverage().WriteTable(w, m.tot.cov)
	}
}

func cmpSeed(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// mergedSummary is -merge -json: the summary as one JSON object. Every
// figure is a sum or a maximum over seeds, so a later counter of seedLine
// (say, coverage marks hit) merges by summing into a field here.
type mergedSummary struct {
	Start           uint64   `json:"start"`
	Seeds           int      `json:"seeds"`
	Ran             int      `json:"ran"`
	Failures        int      `json:"failures"`
	FailedSeeds     []uint64 `json:"failed_seeds"`
	Ops             int      `json:"ops"`
	Events          uint64   `json:"events"`
	VirtualNs       int64    `json:"virtual_ns"`
	MaxRecoveryNs   int64    `json:"max_recovery_ns"`
	MaxRecoverySeed uint64   `json:"max_recovery_seed"`
	MaxWaitNs       int64    `json:"max_wait_ns"`
	MaxWaitSeed     uint64   `json:"max_wait_seed"`
	SeedWallUs      int64    `json:"seed_wall_us"`
	Missing         int      `json:"missing"`
	Duplicates      int      `json:"duplicates"`
	Disagreements   int      `json:"disagreements"`
	Complete        bool     `json:"complete"`
	Swarm           string   `json:"swarm,omitempty"`
	// Coverage: hits per coverage mark over the seeds, if the shards ran
	// with -coverage; CoverageSeeds: how many seeds hit each.
	Coverage      map[string]uint64 `json:"coverage,omitempty"`
	CoverageSeeds map[string]uint64 `json:"coverage_seeds,omitempty"`
}

func (m *merger) result() mergedSummary {
	t := m.tot
	failed := []uint64{}
	for _, l := range m.failed {
		failed = append(failed, l.Seed)
	}
	s := mergedSummary{Start: m.start, Seeds: m.seeds, Ran: t.seeds, Failures: t.failures, FailedSeeds: failed,
		Ops: t.ops, Events: t.events, VirtualNs: t.virtualNs,
		MaxRecoveryNs: t.maxRecoveryNs, MaxRecoverySeed: t.maxRecoverySeed,
		MaxWaitNs: t.maxWaitNs, MaxWaitSeed: t.maxWaitSeed, SeedWallUs: t.wallUs,
		Missing: m.missing(), Duplicates: m.duplicates, Disagreements: len(m.disagree),
		Complete: m.missing() == 0 && len(m.disagree) == 0, Swarm: m.swarm}
	if t.cov != nil {
		s.Coverage = scenarios.Coverage().Map(t.cov.Hits)
		s.CoverageSeeds = scenarios.Coverage().Map(t.cov.Seen)
	}
	return s
}

// errNoInput is returned for standard input that is a terminal: -merge
// with no files would otherwise wait silently for typing.
var errNoInput = errors.New("no files named and standard input is a terminal: name the shards' -json files, or pipe them in")
