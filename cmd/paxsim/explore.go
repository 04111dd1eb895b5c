package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"paxlock/scenarios/explore"
)

// paxsim -explore: an exhaustive search of one small configuration with
// scenarios/explore. It has a flag set of its own (run hands it every
// argument when -explore is among them), so the sweep's flags and these
// stay apart.
//
//	paxsim -explore -replicas 3 -clients 'lock:a,unlock:a;trylock:a' -timers 2 -depth 30
//	paxsim -explore -json -out DIR      the report as JSON; a violation's scenario file in DIR

// exploreRequested reports whether args ask for -explore.
func exploreRequested(args []string) bool {
	for _, a := range args {
		if a == "-explore" || a == "--explore" || a == "-explore=true" || a == "--explore=true" {
			return true
		}
	}
	return false
}

type exploreOptions struct {
	cfg     explore.Config
	json    bool
	out     string
	gcPct   int
	memMiB  int64
	quiet   bool
	clients string
}

func parseExploreFlags(args []string, stderr io.Writer) (_ *exploreOptions, err error) {
	fs := flag.NewFlagSet("paxsim -explore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &exploreOptions{}
	c := &o.cfg
	fs.Bool("explore", true, "search a small configuration exhaustively (this mode)")
	fs.IntVar(&c.Replicas, "replicas", 3, fmt.Sprintf("replicas, 1..%d", explore.ReplicasMax))
	fs.StringVar(&o.clients, "clients", "lock:a,unlock:a;lock:a,unlock:a",
		fmt.Sprintf("the clients' scripts, separated by ';' (1..%d clients, 1..%d operations each: lock:NAME, trylock:NAME, unlock:NAME, read, close)", explore.ClientsMax, explore.OpsMax))
	fs.IntVar(&c.Bounds.Depth, "depth", 40, "steps in a run, at most")
	fs.IntVar(&c.Bounds.Drops, "drops", 0, "messages lost, at most")
	fs.IntVar(&c.Bounds.Dups, "dups", 0, "messages duplicated, at most")
	fs.IntVar(&c.Bounds.Crashes, "crashes", 0, "replica crashes, at most (a crashed replica may restart at any step)")
	fs.IntVar(&c.Bounds.Timers, "timers", 2, "timer firings, all processes together, at most")
	tick := fs.Duration("tick", 10*time.Millisecond, "the length of a tick (timers are whole ticks of it)")
	fs.Uint64Var(&c.SnapshotSlots, "snapshot", 0, "replicas compact every N applied slots (0: never)")
	fs.BoolVar(&c.PruneDone, "prune-done", true, "do not search below states where every client is done")
	fs.IntVar(&c.MaxStates, "max-states", 0, "stop after this many unique states (0: no limit)")
	fs.DurationVar(&c.TimeLimit, "time", 0, "stop after this long (0: no limit)")
	fs.BoolVar(&o.json, "json", false, "print the report as one JSON object")
	fs.StringVar(&o.out, "out", "", "directory for a violation's scenario file")
	fs.IntVar(&o.gcPct, "gc", 400, "GOGC for the search (states are many small objects: a higher value trades memory for speed)")
	fs.Int64Var(&o.memMiB, "mem", 0, "soft limit on the heap, in MiB: past it the collector runs more often instead of growing the heap (0: three quarters of the machine's memory; -1: none)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line")
	order := fs.String("order", "dfs", "dfs: depth-first (memory is the visited table; a violation is then looked for again breadth-first, bounded at its depth, for the shortest path); bfs: breadth-first (memory grows with the widest level)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.Order, err = explore.ParseOrder(*order); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags only; see -explore -h)", fs.Arg(0))
	}
	c.TickNs = int64(*tick)
	for i, script := range strings.Split(o.clients, ";") {
		if strings.TrimSpace(script) == "" {
			continue
		}
		ops, err := explore.ParseOps(script)
		if err != nil {
			return nil, fmt.Errorf("-clients: client %d: %w", i+1, err)
		}
		c.Clients = append(c.Clients, ops)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if o.out != "" {
		if err := checkOutDir(o.out); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func runExplore(args []string, stdout, stderr io.Writer) int {
	o, err := parseExploreFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "paxsim: %v\n", err)
		return 2
	}
	debug.SetGCPercent(o.gcPct)
	// The search runs on one goroutine. With a second processor the
	// collector's idle-time workers mark on it, which costs more CPU than
	// it saves wall time (about 10% fewer states per CPU second, and no
	// faster): one processor, unless GOMAXPROCS says otherwise.
	if os.Getenv("GOMAXPROCS") == "" {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // as it was, after (tests run it in-process)
	}
	// The visited table is most of what a search keeps, and it holds no
	// pointers, so the collector's work does not grow with it; but its
	// size multiplies the heap GOGC lets grow between collections, most
	// of it states that lived for one step. A soft limit keeps the heap
	// near what the search keeps once the table is large.
	if limit := memLimit(o.memMiB); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	cfg := &o.cfg
	fmt.Fprintf(stderr, "paxsim -explore: %d replicas, clients %s; bounds %v; tick %v; prune-done=%v; order %v\n",
		cfg.Replicas, describeClients(cfg.Clients), cfg.Bounds, time.Duration(cfg.TickNs), cfg.PruneDone, cfg.Order)
	start, cpu0 := time.Now(), cpuTime()
	m := explore.Meter{
		Elapsed: func() time.Duration { return time.Since(start) },
		HeapBytes: func() uint64 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		},
		LiveBytes: func() uint64 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		},
	}
	last := start
	if !o.quiet {
		m.Progress = func(r explore.Report) {
			if time.Since(last) < time.Second {
				return
			}
			last = time.Now()
			fmt.Fprintf(stderr, "\r%d unique, %d generated, depth %d, %.0f states/s, %.0f B/state ",
				r.Unique, r.Generated, r.Depth, r.StatesPerSec, r.BytesPerState)
		}
	}
	rep, err := explore.Search(*cfg, m)
	if !o.quiet {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintf(stderr, "paxsim: %v\n", err)
		return 1
	}
	cpu := (cpuTime() - cpu0).Seconds()
	return exploreResult(o, rep, cpu, stdout, stderr)
}

// exploreResult prints the report and writes a violation's scenario file.
func exploreResult(o *exploreOptions, rep explore.Report, cpu float64, stdout, stderr io.Writer) int {
	var scenario, file string
	if v := rep.Violation; v != nil {
		var err error
		if scenario, err = explore.Export(o.cfg, v); err != nil {
			fmt.Fprintf(stderr, "paxsim: export: %v\n", err)
			return 1
		}
		if o.out != "" {
			file = filepath.Join(o.out, "explore-violation.txt")
			if err := os.WriteFile(file, []byte(scenario), 0o644); err != nil {
				fmt.Fprintf(stderr, "paxsim: %v\n", err)
				return 1
			}
		}
	}
	if o.json {
		out := struct {
			explore.Report
			Replicas   int     `json:"replicas"`
			Clients    string  `json:"clients"`
			CPUSeconds float64 `json:"cpu_seconds"`
			PerCPUSec  float64 `json:"states_per_cpu_s"`
			Scenario   string  `json:"scenario,omitempty"`
		}{rep, o.cfg.Replicas, describeClients(o.cfg.Clients), cpu, float64(rep.Unique) / max(cpu, 1e-9), file}
		b, _ := json.Marshal(out)
		fmt.Fprintln(stdout, string(b))
	} else {
		printExploreReport(stdout, &o.cfg, rep, cpu)
	}
	if v := rep.Violation; v != nil {
		how := "the shortest within the bounds"
		if !v.Shortest {
			how = "found depth-first; the breadth-first search for a shorter one ran out of time or of its 300,000 states"
		}
		fmt.Fprintf(stderr, "VIOLATION %s: %s\n    schedule: %d steps (%s)\n", v.Kind, v.Detail, len(v.Path), how)
		if file != "" {
			fmt.Fprintf(stderr, "    replay: go run ./cmd/paxsim -scenario %s\n", file)
		} else if !o.json {
			fmt.Fprintf(stdout, "\n%s", scenario)
		}
		return 1
	}
	return 0
}

func printExploreReport(w io.Writer, cfg *explore.Config, r explore.Report, cpu float64) {
	verdict := "no violation"
	if r.Violation != nil {
		verdict = "VIOLATION " + r.Violation.Kind
	}
	exhausted := "yes: every state within the bounds was searched"
	if !r.Exhausted {
		exhausted = "no (stopped early)"
	}
	fmt.Fprintf(w, "paxsim -explore: %s\n", verdict)
	fmt.Fprintf(w, "  config      %d replicas; clients %s; tick %v\n", cfg.Replicas, describeClients(cfg.Clients), time.Duration(cfg.TickNs))
	fmt.Fprintf(w, "  bounds      %v; prune-done=%v; order %s\n", r.Bounds, cfg.PruneDone, r.Order)
	fmt.Fprintf(w, "  exhausted   %s\n", exhausted)
	fmt.Fprintf(w, "  generated   %d\n", r.Generated)
	fmt.Fprintf(w, "  unique      %d\n", r.Unique)
	fmt.Fprintf(w, "  depth       %d\n", r.Depth)
	fmt.Fprintf(w, "  goals       %d states where every client is done; %d distinct histories judged\n", r.Goals, r.Histories)
	fmt.Fprintf(w, "  time        %.2f s wall, %.2f s cpu\n", r.Seconds, cpu)
	fmt.Fprintf(w, "  states/s    %.0f (wall), %.0f (per cpu second)\n", r.StatesPerSec, float64(r.Unique)/max(cpu, 1e-9))
	fmt.Fprintf(w, "  bytes/state %.0f kept (live heap at the end / unique states), %.0f at the peak (peak heap / unique states)\n",
		r.KeptBytesPerState, r.BytesPerState)
}

func describeClients(cs [][]explore.Op) string {
	parts := make([]string, len(cs))
	for i, ops := range cs {
		parts[i] = explore.FormatOps(ops)
	}
	return strings.Join(parts, ";")
}

// memLimit is the heap limit -mem asks for, in bytes (0: none).
func memLimit(mib int64) int64 {
	switch {
	case mib > 0:
		return mib << 20
	case mib < 0:
		return 0
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0 // not Linux: no default limit
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil && kb > 0 {
			return kb << 10 / 4 * 3
		}
	}
	return 0
}

// cpuTime is the process's user+system time: on a machine shared with
// other jobs it measures the search's own work, which wall time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
