// Command paxsim runs the lock service in the deterministic simulator: it
// sweeps random seeds (in parallel across cores, each seed on one
// goroutine), replays one seed exactly, or runs a scenario file, and checks
// every history.
//
//	paxsim                     sweep the default number of seeds
//	paxsim -seeds 10000 -start 1
//	paxsim -seed 42 -v         replay one seed, with its history
//	paxsim -seed 42 -trace     ... and every simulator event
//	paxsim -json               one JSON object per seed
//	paxsim -out DIR            write artifacts for every failure
//	paxsim -shard 2/8          the third of 8 slices of the sweep
//	paxsim -merge FILE...      the summary of the -json lines of shards
//	paxsim -coverage           count coverage marks; print which the sweep reached
//	paxsim -explore ...        search a small configuration exhaustively (explore.go)
//
// The exit code is 0 when every seed passed, 1 on any failure, 2 on bad
// usage.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"paxlock/scenarios"
	"paxlock/sim"
	"paxlock/sim/cover"
)

type options struct {
	seeds    int
	start    uint64
	seed     seedFlag
	swarm    []string // the range flags given, repeated in every replay line
	verbose  bool
	trace    bool
	json     bool
	out      string
	scenario string
	rewrite  bool
	failfast bool
	parallel int
	ranges   scenarios.Ranges
	// -shard narrows start and seeds to the shard's slice; sweepStart and
	// sweepSeeds keep the whole sweep (equal to start and seeds without it).
	shard      shardFlag
	sweepStart uint64
	sweepSeeds int
	merge      bool
	mergeFiles []string
	stdin      io.Reader // what -merge reads without files
	coverage   bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if exploreRequested(args) {
		return runExplore(args, stdout, stderr)
	}
	opt, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "paxsim: %v\n", err)
		return 2
	}
	// Not in parseFlags, which only reads its arguments (the deploy tests
	// run it on the command lines of the workflow and the Job).
	if opt.out != "" {
		if err := checkOutDir(opt.out); err != nil {
			fmt.Fprintf(stderr, "paxsim: %v\n", err)
			return 2
		}
	}
	switch {
	case opt.scenario != "":
		return runScenarioFile(opt, stdout, stderr)
	case opt.seed.set:
		return replay(opt, stdout, stderr)
	case opt.merge:
		return merge(opt, stdout, stderr)
	}
	return sweep(opt, stdout, stderr)
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("paxsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opt := &options{ranges: scenarios.DefaultRanges(), stdin: os.Stdin}
	fs.IntVar(&opt.seeds, "seeds", 500, "number of seeds to sweep")
	fs.Uint64Var(&opt.start, "start", 1, "first seed of the sweep")
	fs.Var(&opt.seed, "seed", "replay this one seed")
	fs.BoolVar(&opt.verbose, "v", false, "with -seed: print the scenario and the history")
	fs.BoolVar(&opt.trace, "trace", false, "with -seed: print every simulator event")
	fs.BoolVar(&opt.json, "json", false, "print one JSON object per seed")
	fs.StringVar(&opt.out, "out", "", "directory for failure artifacts (trace, HTML history, scenario)")
	fs.StringVar(&opt.scenario, "scenario", "", "run this scenario file and print its transcript")
	fs.BoolVar(&opt.rewrite, "rewrite", false, "with -scenario: rewrite the file's expected output")
	fs.BoolVar(&opt.failfast, "failfast", false, "stop handing out seeds after the first failure (seeds already running finish)")
	fs.IntVar(&opt.parallel, "parallel", runtime.NumCPU(), "seeds run at once")
	fs.Var(&opt.shard, "shard", "run only the I-th of N disjoint slices of the sweep: I/N, I in 0..N-1")
	fs.BoolVar(&opt.coverage, "coverage", false, "count coverage marks and print which the run reached (marks never hit first); with -json, per seed")
	fs.BoolVar(&opt.merge, "merge", false, "read the -json lines of shards from the files named (or standard input) and print the summary of the whole sweep given by -seeds and -start")
	swarmFlags := registerSwarmFlags(fs, &opt.ranges)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if opt.merge {
		opt.mergeFiles = fs.Args()
	} else if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only, but for the files of -merge; see -h)", fs.Arg(0))
	}
	if err := checkModes(fs, opt); err != nil {
		return nil, err
	}
	// A replay line must regenerate the same scenario, so it repeats the
	// range flags the sweep was given (in the order the flag set lists them).
	fs.Visit(func(f *flag.Flag) {
		if swarmFlags[f.Name] {
			opt.swarm = append(opt.swarm, "-"+f.Name, f.Value.String())
		}
	})
	if err := opt.ranges.Validate(); err != nil {
		return nil, err
	}
	if opt.seeds < 1 {
		return nil, fmt.Errorf("-seeds %d: want at least 1", opt.seeds)
	}
	if err := checkRange(opt.start, opt.seeds); err != nil {
		return nil, err
	}
	if err := applyShard(opt); err != nil {
		return nil, err
	}
	if opt.parallel < 1 {
		return nil, fmt.Errorf("-parallel %d: want at least 1", opt.parallel)
	}
	return opt, nil
}

// checkModes refuses flags that the chosen mode would silently ignore:
// -shard slices a sweep, and -merge only reads finished results (their
// range flags included: -seeds and -start say which sweep to expect).
func checkModes(fs *flag.FlagSet, opt *options) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch {
		case err != nil:
		case opt.merge && f.Name != "merge" && f.Name != "seeds" && f.Name != "start" && f.Name != "json":
			err = fmt.Errorf("-merge reads finished results: -%s does not apply (only -seeds, -start and -json do)", f.Name)
		case opt.shard.set && (f.Name == "seed" || f.Name == "scenario"):
			err = fmt.Errorf("-shard slices a sweep: it does not go with -%s", f.Name)
		}
	})
	return err
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 9 {
			return nil, fmt.Errorf("%q is not a cluster size in 1..9", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// checkOutDir makes sure failure artifacts can be written before any seed
// runs, so a failure found an hour in is not lost to a typo.
func checkOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".paxsim-probe-*")
	if err != nil {
		return fmt.Errorf("-out %s: not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// seedLine is the -json form of one seed's result.
type seedLine struct {
	Seed      uint64 `json:"seed"`
	OK        bool   `json:"ok"`
	Kind      string `json:"failure,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Ops       int    `json:"ops"`
	OpsTotal  int    `json:"ops_total"`
	Events    uint64 `json:"events"`
	VirtualMs int64  `json:"virtual_ms"`
	WallMs    int64  `json:"wall_ms"`
	TraceHash string `json:"trace_hash"`
	// RecoveryMs: heal to an established leader (-1: none); MaxWaitMs: the
	// longest an operation waited after the heal.
	RecoveryMs float64 `json:"recovery_ms"`
	MaxWaitMs  float64 `json:"max_wait_ms"`
	Replay     string  `json:"replay,omitempty"`
	// The same figures unrounded, so that merging shards' lines (-merge)
	// gives exactly the totals one run prints.
	VirtualNs  int64 `json:"virtual_ns"`
	RecoveryNs int64 `json:"recovery_ns"`
	MaxWaitNs  int64 `json:"max_wait_ns"`
	WallUs     int64 `json:"wall_us"`
	// Swarm: the range flags the sweep was given, if any (-merge refuses
	// to add up seeds drawn from different ranges).
	Swarm string `json:"swarm,omitempty"`
	// Coverage (with -coverage): hits per coverage mark; a mark not
	// listed was not hit. Summing the maps of many seeds gives the sweep's.
	Coverage map[string]uint64 `json:"coverage,omitempty"`
}

// lineOf is one seed's result as a -json line. The summary is added up
// from these lines, in a sweep and in -merge alike, so the two cannot
// count differently.
func lineOf(opt *options, res *scenarios.Result, wall time.Duration) seedLine {
	line := seedLine{Seed: res.Seed, OK: res.OK, Kind: res.Kind, Detail: res.Detail, Ops: res.Ops,
		OpsTotal: res.OpsTotal, Events: res.Events, VirtualMs: res.VirtualNs / 1e6,
		WallMs: wall.Milliseconds(), TraceHash: fmt.Sprintf("%016x", res.TraceHash),
		RecoveryMs: ms(res.RecoveryNs), MaxWaitMs: ms(res.MaxWaitNs),
		VirtualNs: res.VirtualNs, RecoveryNs: res.RecoveryNs, MaxWaitNs: res.MaxWaitNs,
		WallUs: wall.Microseconds(), Swarm: strings.Join(opt.swarm, " ")}
	if !res.OK {
		line.Replay = replayCmd(opt, res.Seed)
	}
	if res.Coverage != nil {
		line.Coverage = scenarios.Coverage().Map(res.Coverage)
	}
	return line
}

// registerSwarmFlags registers the flags that shape Generate's draw, from
// one table, and returns their names (a replay line repeats them).
func registerSwarmFlags(fs *flag.FlagSet, r *scenarios.Ranges) map[string]bool {
	table := []struct {
		name, usage string
		i           *int
		f           *float64
	}{
		{"clients-min", "fewest clients", &r.ClientsMin, nil},
		{"clients-max", "most clients", &r.ClientsMax, nil},
		{"ops-min", "fewest operations per seed", &r.OpsMin, nil},
		{"ops-max", "most operations per seed", &r.OpsMax, nil},
		{"locks-min", "fewest lock names (contention)", &r.LocksMin, nil},
		{"locks-max", "most lock names", &r.LocksMax, nil},
		{"drop-max", "highest packet drop probability", nil, &r.DropMax},
		{"dup-max", "highest duplication probability", nil, &r.DupMax},
		{"corrupt-max", "highest corruption probability", nil, &r.CorruptMax},
		{"faults-max", "highest fault rate per simulated second", nil, &r.FaultsPerSecMax},
	}
	names := map[string]bool{"replicas": true}
	fs.Var((*sizesFlag)(&r.Replicas), "replicas", "cluster sizes to draw from (comma-separated, 1..9)")
	for _, f := range table {
		names[f.name] = true
		if f.i != nil {
			fs.IntVar(f.i, f.name, *f.i, f.usage)
		} else {
			fs.Float64Var(f.f, f.name, *f.f, f.usage)
		}
	}
	return names
}

// sizesFlag is -replicas: a comma-separated list of cluster sizes.
type sizesFlag []int

func (s *sizesFlag) String() string {
	var parts []string
	for _, n := range *s {
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, ",")
}

func (s *sizesFlag) Set(v string) error {
	sizes, err := parseSizes(v)
	if err == nil {
		*s = sizes
	}
	return err
}

// seedFlag is a uint64 flag that knows whether it was given.
type seedFlag struct {
	set bool
	v   uint64
}

func (f *seedFlag) String() string { return strconv.FormatUint(f.v, 10) }

func (f *seedFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want a seed 0..%d", uint64(math.MaxUint64))
	}
	f.set, f.v = true, v
	return nil
}

func replayCmd(opt *options, seed uint64) string {
	cmd := fmt.Sprintf("go run ./cmd/paxsim -seed %d -v", seed)
	if len(opt.swarm) > 0 {
		cmd += " " + strings.Join(opt.swarm, " ")
	}
	return cmd
}

// totals is what the summary says of a sweep. Every field is a sum or a
// maximum of the seeds' lines, so a sum of shards' totals is the whole
// sweep's, whatever order the seeds came in; a per-seed counter added to
// seedLine is summed here and merges the same way.
type totals struct {
	seeds, failures, ops int
	events               uint64
	virtualNs            int64
	// The worst liveness figures after the heal, and their seeds (the
	// lowest seed among equals, so the order seeds finish in cannot show).
	maxRecoveryNs, maxWaitNs     int64
	maxRecoverySeed, maxWaitSeed uint64
	// wallUs: the seeds' own wall times, summed (not the sweep's).
	wallUs int64
	// cov: the coverage marks' hits over the seeds; nil without
	// -coverage (a sweep) or without coverage in any line (-merge).
	cov *cover.Sweep
}

func (t *totals) add(l *seedLine) {
	t.seeds++
	t.ops += l.Ops
	t.events += l.Events
	t.virtualNs += l.VirtualNs
	t.wallUs += l.WallUs
	if !l.OK {
		t.failures++
	}
	if worse(l.RecoveryNs, l.Seed, t.maxRecoveryNs, t.maxRecoverySeed) {
		t.maxRecoveryNs, t.maxRecoverySeed = l.RecoveryNs, l.Seed
	}
	if worse(l.MaxWaitNs, l.Seed, t.maxWaitNs, t.maxWaitSeed) {
		t.maxWaitNs, t.maxWaitSeed = l.MaxWaitNs, l.Seed
	}
	if t.cov != nil {
		// Every seed counts as a run, one that hit nothing too (its line
		// has no coverage key). The names come from this binary's
		// registry (lineOf) or were checked by -merge, so FromMap cannot
		// fail here.
		c, _ := scenarios.Coverage().FromMap(l.Coverage)
		t.cov.Add(c)
	}
}

// worse: does figure v of seed s replace the maximum m of seed ms?
func worse(v int64, s uint64, m int64, ms uint64) bool {
	return v > m || v == m && v > 0 && s < ms
}

func sweep(opt *options, stdout, stderr io.Writer) int {
	start := time.Now()
	var next atomic.Uint64
	var stop atomic.Bool
	next.Store(opt.start)
	end := opt.start + uint64(opt.seeds)
	defer tuneGC()()
	var (
		mu  sync.Mutex
		tot totals
		wg  sync.WaitGroup
	)
	if opt.coverage {
		tot.cov = scenarios.Coverage().NewSweep()
	}
	progress := newProgress(stderr, opt.seeds, opt.json)
	for w := 0; w < opt.parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1) - 1
				if seed >= end || (opt.failfast && stop.Load()) {
					return
				}
				t0 := time.Now()
				res := scenarios.Run(scenarios.Generate(seed, opt.ranges), scenarios.Options{Coverage: opt.coverage})
				wall := time.Since(t0)
				if seed%determinismEvery == 0 && res.OK {
					checkDeterminism(&res, opt.ranges)
				}
				line := lineOf(opt, &res, wall)
				mu.Lock()
				tot.add(&line)
				if !res.OK {
					stop.Store(true)
				}
				report(opt, stdout, stderr, &res, &line)
				progress.update(tot)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	progress.done()
	wall := time.Since(start)
	summary(stderr, opt, tot, wall)
	if tot.failures > 0 {
		return 1
	}
	return 0
}

// determinismEvery: every this-many-th seed is run twice, and a different
// trace hash the second time is a failure (a map-order or wall-clock leak).
const determinismEvery = 10

func checkDeterminism(res *scenarios.Result, r scenarios.Ranges) {
	again := scenarios.Run(scenarios.Generate(res.Seed, r), scenarios.Options{})
	if again.TraceHash != res.TraceHash {
		res.OK, res.Kind = false, "determinism"
		res.Detail = fmt.Sprintf("same seed, trace hash %016x then %016x", res.TraceHash, again.TraceHash)
	}
}

// report prints one seed's outcome: a JSON line with -json, a failure
// block otherwise, and writes artifacts for a failure with -out.
func report(opt *options, stdout, stderr io.Writer, res *scenarios.Result, line *seedLine) {
	if opt.json {
		b, _ := json.Marshal(line)
		fmt.Fprintln(stdout, string(b))
	}
	if res.OK {
		return
	}
	fmt.Fprintf(stderr, "\rFAIL seed %d: %s\n    replay: %s\n", res.Seed, firstLine(res.Summary()), replayCmd(opt, res.Seed))
	if opt.out != "" {
		dir, err := writeArtifacts(opt.out, opt.ranges, res.Seed)
		if err != nil {
			slog.Error("writing artifacts", "seed", res.Seed, "err", err)
		} else {
			fmt.Fprintf(stderr, "    artifacts: %s\n", dir)
		}
	}
}

// ms is a duration in milliseconds, to 0.1 ms; negative stays -1.
func ms(ns int64) float64 {
	if ns < 0 {
		return -1
	}
	return float64(ns/100_000) / 10
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// summary prints what a sweep found, then how fast it ran. The first part
// is a function of the seeds alone: -merge prints it the same from the
// shards' lines.
func summary(w io.Writer, opt *options, t totals, wall time.Duration) {
	summaryCounts(w, opt.start, opt.start+uint64(t.seeds)-1, t)
	if opt.shard.set {
		fmt.Fprintf(w, "  shard       %s of the sweep of %d seeds (%d..%d)\n",
			opt.shard.String(), opt.sweepSeeds, opt.sweepStart, opt.sweepStart+uint64(opt.sweepSeeds)-1)
	}
	ratio := float64(t.virtualNs) / float64(wall.Nanoseconds())
	fmt.Fprintf(w, "  wall        %.2f s on %d workers\n", wall.Seconds(), opt.parallel)
	fmt.Fprintf(w, "  sim/wall    %.0fx\n", ratio)
	fmt.Fprintf(w, "  seeds/s     %.1f\n", float64(t.seeds)/wall.Seconds())
	fmt.Fprintf(w, "  events/s    %.0f\n", float64(t.events)/wall.Seconds())
	if t.cov != nil {
		scenarios.Coverage().WriteTable(w, t.cov)
	}
}

// summaryCounts is the part of the summary that depends on the seeds only.
func summaryCounts(w io.Writer, first, last uint64, t totals) {
	fmt.Fprintf(w, "paxsim: %d seeds (%d..%d), %d failures\n", t.seeds, first, last, t.failures)
	fmt.Fprintf(w, "  operations  %d\n", t.ops)
	fmt.Fprintf(w, "  events      %d\n", t.events)
	fmt.Fprintf(w, "  simulated   %.1f s\n", float64(t.virtualNs)/1e9)
	fmt.Fprintf(w, "  recovery    at most %.1f ms after the heal (seed %d; bound %d election timeouts)\n",
		float64(t.maxRecoveryNs)/1e6, t.maxRecoverySeed, scenarios.RecoveryElections)
	fmt.Fprintf(w, "  max wait    %.1f ms after the heal (seed %d; bound %d election timeouts)\n",
		float64(t.maxWaitNs)/1e6, t.maxWaitSeed, scenarios.WaitElections)
}

// progress rewrites one status line on a terminal-like stream.
type progress struct {
	w     io.Writer
	total int
	last  time.Time
	quiet bool
}

// newProgress writes a live line only to a terminal: in a log or a pipe
// the summary says it all.
func newProgress(w io.Writer, total int, quiet bool) *progress {
	if f, ok := w.(*os.File); !ok || !isTerminal(f) {
		quiet = true
	}
	return &progress{w: w, total: total, quiet: quiet}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(t totals) {
	if p.quiet || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r%d/%d seeds, %d failures, %d ops, %.1f s simulated ", t.seeds, p.total, t.failures, t.ops, float64(t.virtualNs)/1e9)
}

func (p *progress) done() {
	if !p.quiet && !p.last.IsZero() {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// replay runs one seed, optionally printing its scenario, history and
// every event, and writes artifacts with -out.
func replay(opt *options, stdout, stderr io.Writer) int {
	seed := opt.seed.v
	scn := scenarios.Generate(seed, opt.ranges)
	o := scenarios.Options{KeepTrace: opt.trace, Coverage: opt.coverage}
	if opt.verbose {
		fmt.Fprint(stdout, describeScenario(&scn))
	}
	if opt.trace {
		o.OnEvent = func(ev *sim.Event) { fmt.Fprintln(stdout, ev.String()) }
	}
	t0 := time.Now()
	res := scenarios.Run(scn, o)
	wall := time.Since(t0)
	if opt.verbose {
		fmt.Fprint(stdout, describeHistory(&res))
	}
	if opt.json {
		line := lineOf(opt, &res, wall)
		report(opt, stdout, stderr, &res, &line)
	} else {
		fmt.Fprintf(stdout, "seed %d: %s\n  ops %d/%d, events %d, virtual %.3f ms, wall %v, trace_hash %016x\n",
			seed, res.Summary(), res.Ops, res.OpsTotal, res.Events, float64(res.VirtualNs)/1e6, wall.Round(time.Microsecond), res.TraceHash)
		if res.Coverage != nil {
			one := scenarios.Coverage().NewSweep()
			one.Add(res.Coverage)
			scenarios.Coverage().WriteTable(stdout, one)
		}
		if !res.OK && opt.out != "" {
			if dir, err := writeArtifacts(opt.out, opt.ranges, seed); err != nil {
				fmt.Fprintf(stderr, "paxsim: artifacts: %v\n", err)
			} else {
				fmt.Fprintf(stdout, "  artifacts: %s\n", dir)
			}
		}
	}
	if !res.OK {
		return 1
	}
	return 0
}

func runScenarioFile(opt *options, stdout, stderr io.Writer) int {
	out, err := scenarios.RunFile(opt.scenario, opt.rewrite)
	fmt.Fprint(stdout, out)
	if err != nil {
		fmt.Fprintf(stderr, "paxsim: %v\n", err)
		return 1
	}
	return 0
}

func describeScenario(s *scenarios.Scenario) string {
	var b strings.Builder
	n := s.Sim.Net
	fmt.Fprintf(&b, "scenario seed=%d replicas=%d clients=%d ops=%d faults=%d\n", s.Seed, s.Replicas, len(s.Clients), s.Ops(), len(s.Faults))
	fmt.Fprintf(&b, "  net drop=%.3f dup=%.3f corrupt=%.4f latency=%d..%dns tail=%.3f/%dns reorder=%.3f\n",
		n.DropProb, n.DupProb, n.CorruptProb, n.LatencyMinNs, n.LatencyMaxNs, n.TailProb, n.TailMaxNs, n.ReorderProb)
	for _, f := range s.Faults {
		fmt.Fprintf(&b, "  fault %s\n", f)
	}
	return b.String()
}

func describeHistory(res *scenarios.Result) string {
	var b strings.Builder
	for _, op := range res.History {
		fmt.Fprintf(&b, "  %10.3fms..%10.3fms  %v -> %v\n", float64(op.Call)/1e6, float64(op.Return)/1e6, op.Input, op.Output)
	}
	return b.String()
}

// writeArtifacts replays the failing seed with the trace kept and writes
// the trace, porcupine's annotated HTML view and the scenario.
func writeArtifacts(root string, r scenarios.Ranges, seed uint64) (string, error) {
	scn := scenarios.Generate(seed, r)
	res := scenarios.Run(scn, scenarios.Options{KeepTrace: true})
	dir := filepath.Join(root, fmt.Sprintf("seed-%d", seed))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, scenarios.WriteArtifacts(dir, &scn, &res)
}
