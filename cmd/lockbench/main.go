// Command lockbench drives a lock service group on UDP with lock+unlock
// pairs from many concurrent clients and reports throughput and latency.
//
//	lockbench -config config.json -clients 64 -duration 10s     a running group
//	lockbench -start 3 -clients 64 -duration 10s                a group it starts itself
//
// Each client is its own session (one socket, one goroutine, one request
// at a time) and loops: pick one of -locks lock names at random, Lock it,
// Unlock it. Fewer locks than clients means contention (waiters queue).
// A live line on standard error counts pairs as they finish; the last line
// on standard output is the summary, with pairs/s, p50, p99 and errors.
//
// With -start N the tool runs an N-replica group in this process, on free
// loopback ports, each replica with its own durable log (fsync on) in a
// temporary directory that is removed afterwards.
//
// Latencies go into a fixed-size log-linear histogram (quantiles within
// 0.8%), so a run of any length costs the same memory. -mem D samples the
// process's live heap and RSS every D and reports first, peak and last
// (with -start this is the replicas' memory too: the 10-minute flatness
// check of BENCHMARKS.md); -csv adds the row cmd/benchplot reads.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"paxlock/lockmgr"
	"paxlock/lockmgr/udphost"
)

type options struct {
	config   string
	start    int
	clients  int
	duration time.Duration
	locks    int
	timeout  time.Duration
	warmup   time.Duration
	quiet    bool
	cpuprof  string
	stats    bool
	memEvery time.Duration
	csv      bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lockbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.config, "config", "config.json", "the group to drive (ignored with -start)")
	fs.IntVar(&o.start, "start", 0, "start a group of this many replicas in-process instead (1..9)")
	fs.IntVar(&o.clients, "clients", 1, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure")
	fs.IntVar(&o.locks, "locks", 0, "distinct lock names (0: one per client, no contention)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "an operation without an answer after this counts as an error")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "run this long before measuring")
	fs.BoolVar(&o.quiet, "q", false, "no live progress line")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "write a CPU profile of the measured run (with -start it covers the replicas too)")
	fs.BoolVar(&o.stats, "stats", false, "with -start, print each replica's host and log counters on standard error at the end")
	fs.DurationVar(&o.memEvery, "mem", 0, "sample this process's memory this often (live Go heap after a forced GC, RSS) and report first, peak and last (0: off)")
	fs.BoolVar(&o.csv, "csv", false, "also print the figures as a CSV row (replicas,clients,pairs_per_s,p50_ms,p99_ms) for cmd/benchplot")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := o.validate(fs.NArg()); err != nil {
		fmt.Fprintf(stderr, "lockbench: %v\n", err)
		return 2
	}
	cfg, stop, err := group(&o)
	if err != nil {
		fmt.Fprintf(stderr, "lockbench: %v\n", err)
		return 1
	}
	defer stop()
	if o.cpuprof != "" {
		f, err := os.Create(o.cpuprof)
		if err != nil {
			fmt.Fprintf(stderr, "lockbench: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "lockbench: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench(&o, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "lockbench: %v\n", err)
		return 1
	}
	memReport(stdout, res.mem)
	if o.csv {
		fmt.Fprintln(stdout, res.csvRow(len(cfg.Peers())))
	}
	fmt.Fprintln(stdout, res.summary(&o, len(cfg.Peers())))
	if res.pairs == 0 {
		return 1
	}
	return 0
}

func (o *options) validate(extra int) error {
	switch {
	case extra > 0:
		return errors.New("unexpected arguments (flags only; see -h)")
	case o.start < 0 || o.start > 9:
		return fmt.Errorf("-start %d: want 1..9 replicas (or 0 to use -config)", o.start)
	case o.clients < 1 || o.clients > 4096:
		return fmt.Errorf("-clients %d: want 1..4096", o.clients)
	case o.duration <= 0:
		return fmt.Errorf("-duration %v: want > 0", o.duration)
	case o.locks < 0:
		return fmt.Errorf("-locks %d: want >= 0", o.locks)
	case o.timeout <= 0 || o.warmup < 0:
		return fmt.Errorf("-timeout %v, -warmup %v: want > 0 and >= 0", o.timeout, o.warmup)
	case o.memEvery < 0:
		return fmt.Errorf("-mem %v: want >= 0", o.memEvery)
	}
	if o.locks == 0 {
		o.locks = o.clients
	}
	return nil
}

// group loads the config, or starts a group in-process and returns its
// config and how to stop it.
func group(o *options) (*udphost.Config, func(), error) {
	if o.start == 0 {
		cfg, err := udphost.LoadConfig(o.config)
		return cfg, func() {}, err
	}
	dir, err := os.MkdirTemp("", "lockbench-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	cfg, err := loopbackConfig(o.start)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	var nodes []*udphost.Node
	stop := func() {
		for _, n := range nodes {
			if st, ok := n.Stats(); ok && o.stats {
				fmt.Fprintf(os.Stderr, "replica %d (%v): packets=%d reads=%d sent=%d writes=%d flushes=%d records=%d syncs=%d (mean %v) rewrites=%d\n",
					n.ID(), st.Role, st.Host.Packets, st.Host.Reads, st.Host.Sent, st.Host.Writes, st.Host.Flushes,
					st.Log.Records, st.Log.Syncs, st.Log.SyncTime/time.Duration(max(st.Log.Syncs, 1)), st.Log.Rewrites)
			}
			n.Close()
		}
		cleanup()
	}
	for _, id := range cfg.Peers() {
		n, err := udphost.StartNode(udphost.NodeOptions{Config: cfg, ID: id,
			DataDir: filepath.Join(dir, fmt.Sprintf("node%d", id))})
		if err != nil {
			stop()
			return nil, nil, err
		}
		nodes = append(nodes, n)
	}
	return cfg, stop, nil
}

// loopbackConfig describes n replicas on free loopback ports.
func loopbackConfig(n int) (*udphost.Config, error) {
	type node struct {
		ID   int    `json:"id"`
		Addr string `json:"addr"`
	}
	var nodes []node
	var conns []net.PacketConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 1; i <= n; i++ {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
		nodes = append(nodes, node{ID: i, Addr: c.LocalAddr().String()})
	}
	b, err := json.Marshal(map[string]any{"nodes": nodes})
	if err != nil {
		return nil, err
	}
	return udphost.ParseConfig("lockbench", b)
}

type result struct {
	clients int
	pairs   int64
	errors  int64
	elapsed time.Duration
	lat     hist
	mem     []memSample
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *result) summary(o *options, replicas int) string {
	q := func(p float64) string {
		if r.lat.n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3fms", ms(r.lat.quantile(p)))
	}
	rate := float64(r.pairs) / r.elapsed.Seconds()
	return fmt.Sprintf("lockbench: replicas=%d clients=%d locks=%d duration=%v pairs=%d pairs/s=%.1f p50=%s p99=%s p999=%s errors=%d",
		replicas, o.clients, o.locks, r.elapsed.Round(time.Millisecond), r.pairs, rate, q(0.50), q(0.99), q(0.999), r.errors)
}

// csvRow is the run as cmd/benchplot reads it.
func (r *result) csvRow(replicas int) string {
	return fmt.Sprintf("%d,%d,%.0f,%.3f,%.3f", replicas, r.clients, float64(r.pairs)/r.elapsed.Seconds(),
		ms(r.lat.quantile(0.5)), ms(r.lat.quantile(0.99)))
}

// bench runs the clients: warm up, then measure for the duration.
func bench(o *options, cfg *udphost.Config, stderr io.Writer) (*result, error) {
	clients := make([]*udphost.Client, o.clients)
	for i := range clients {
		c, err := udphost.NewClient(cfg, udphost.ClientOptions{})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		clients[i] = c
	}
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		pairs     atomic.Int64
		errs      atomic.Int64
		mu        sync.Mutex
		lat       hist
		wg        sync.WaitGroup
	)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 0x10cb))
			mine := new(hist) // fixed size: a long run costs no more memory
			for !stop.Load() {
				name := fmt.Sprint(rng.IntN(o.locks))
				t0 := time.Now()
				err := pair(c, name, o.timeout)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				pairs.Add(1)
				mine.add(time.Since(t0))
			}
			mu.Lock()
			lat.merge(mine)
			mu.Unlock()
		}()
	}
	time.Sleep(o.warmup)
	measuring.Store(true)
	start := time.Now()
	mem := progress(o, stderr, start, &pairs, &errs)
	stop.Store(true)
	elapsed := time.Since(start)
	wg.Wait()
	return &result{clients: o.clients, pairs: pairs.Load(), errors: errs.Load(), elapsed: elapsed, lat: lat, mem: mem}, nil
}

// pair locks and unlocks name; an answer other than granted and released
// is an error (no other client can hold the lock once it is granted to
// this one, so released is the only right answer).
func pair(c *udphost.Client, name string, timeout time.Duration) error {
	for _, op := range []lockmgr.Op{lockmgr.OpLock, lockmgr.OpUnlock} {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		comp, err := c.Do(ctx, op, name)
		cancel()
		if err != nil {
			return err
		}
		want := lockmgr.Granted
		if op == lockmgr.OpUnlock {
			want = lockmgr.Released
		}
		if comp.Result.Status != want {
			return fmt.Errorf("%v %q: %v", op, name, comp.Result.Status)
		}
	}
	return nil
}

// progress prints a live line once a second until the duration is over,
// and with -mem samples memory (printing each sample on its own line).
func progress(o *options, w io.Writer, start time.Time, pairs, errs *atomic.Int64) []memSample {
	end := start.Add(o.duration)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var mem []memSample
	var memTick <-chan time.Time
	if o.memEvery > 0 {
		mt := time.NewTicker(o.memEvery)
		defer mt.Stop()
		memTick = mt.C
		mem = append(mem, sampleMem(0))
	}
	for {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		select {
		case <-t.C:
		case <-memTick:
			s := sampleMem(time.Since(start))
			mem = append(mem, s)
			if !o.quiet {
				fmt.Fprintf(w, "\r\033[K%v\n", s)
			}
			continue
		case <-time.After(left):
		}
		if !o.quiet {
			el := time.Since(start).Seconds()
			fmt.Fprintf(w, "\r%5.1fs  %d pairs  %.0f pairs/s  %d errors ", el, pairs.Load(), float64(pairs.Load())/el, errs.Load())
		}
	}
	if o.memEvery > 0 {
		mem = append(mem, sampleMem(time.Since(start)))
	}
	if !o.quiet {
		fmt.Fprint(w, "\r\033[K")
	}
	return mem
}
