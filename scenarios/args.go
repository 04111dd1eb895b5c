package scenarios

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"paxlock/lockmgr"
	"paxlock/sim"
)

// args reads one command's arguments. Each accessor names an argument the
// command takes and returns its value (or the default); done then reports
// the first problem: a missing or bad value, an argument given twice, or an
// argument the command does not take, which is how a typo is caught.
// Errors start with the command's name; the caller adds file and line.
type args struct {
	cmd      string
	list     []cmdArg
	replicas int // for checking replica and client numbers; 0 before cluster
	clients  int
	asked    []string // names asked for, in order, for error messages
	bareOK   bool     // bare words (no =) were asked for
	err      error
}

func newArgs(d *command, c *Cluster) *args {
	a := &args{cmd: d.Cmd, list: d.Args}
	if c != nil {
		a.replicas, a.clients = c.Replicas(), c.Clients()
	}
	return a
}

func (a *args) fail(format string, v ...any) {
	if a.err == nil {
		a.err = fmt.Errorf(a.cmd+": "+format, v...)
	}
}

// done reports the first problem with the arguments. An argument the
// command does not take comes first: a misspelt name is the likely cause
// of a "missing argument" too.
func (a *args) done() error {
	for _, arg := range a.list {
		if len(arg.Vals) == 0 && a.bareOK || slices.Contains(a.asked, arg.Key) {
			continue
		}
		if len(a.asked) == 0 {
			return fmt.Errorf("%s: unexpected argument %s (%s takes no arguments)", a.cmd, arg, a.cmd)
		}
		hint := ""
		if m := closest(arg.Key, a.asked); m != "" {
			hint = fmt.Sprintf("did you mean %s=? ", m)
		}
		return fmt.Errorf("%s: unknown argument %s (%s%s takes %s=)", a.cmd, arg, hint, a.cmd, strings.Join(a.asked, "=, "))
	}
	return a.err
}

// values returns the values of key; ok is false if it is absent.
func (a *args) values(key string) (vals []string, ok bool) {
	a.asked = append(a.asked, key)
	for _, arg := range a.list {
		if arg.Key != key {
			continue
		}
		if ok {
			a.fail("argument %s= given twice", key)
			return nil, false
		}
		if len(arg.Vals) == 0 {
			a.fail("argument %s needs a value (%s=...)", key, key)
			return nil, false
		}
		vals, ok = arg.Vals, true
	}
	return vals, ok
}

// value returns the single value of key; ok is false if it is absent.
func (a *args) value(key string) (string, bool) {
	vals, ok := a.values(key)
	if ok && len(vals) != 1 {
		a.fail("%s=(%s): want one value", key, strings.Join(vals, ", "))
		return "", false
	}
	if !ok {
		return "", false
	}
	return strings.TrimSpace(vals[0]), true
}

// bare returns the arguments without a value (partition's groups).
func (a *args) bare() []string {
	a.bareOK = true
	var out []string
	for _, arg := range a.list {
		if len(arg.Vals) == 0 {
			out = append(out, arg.Key)
		}
	}
	return out
}

func (a *args) missing(key, what string) { a.fail("missing argument %s= (%s)", key, what) }

// replica reads a required replica number.
func (a *args) replica(key string) sim.Addr {
	id, ok := a.optReplica(key)
	if !ok {
		a.missing(key, a.replicaRange())
	}
	return id
}

// optReplica reads an optional replica number.
func (a *args) optReplica(key string) (sim.Addr, bool) {
	v, ok := a.value(key)
	if !ok {
		return 0, false
	}
	return a.parseReplica(key, v), true
}

func (a *args) replicaRange() string {
	return "a replica: the cluster has " + span("", a.replicas)
}

func (a *args) parseReplica(key, v string) sim.Addr {
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		a.fail("%s=%s: want %s", key, v, a.replicaRange())
	case n < 1 || n > a.replicas:
		a.fail("unknown replica %d (cluster has %s)", n, span("", a.replicas))
	default:
		return sim.Addr(n)
	}
	return 0
}

// client reads a required client, written 2 or c2; it returns its index.
func (a *args) client(key string) int {
	v, ok := a.value(key)
	if !ok {
		a.missing(key, "a client: the cluster has "+span("c", a.clients))
		return 0
	}
	return a.parseClient(key, v)
}

func (a *args) parseClient(key, v string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "c"))
	switch {
	case err != nil:
		a.fail("%s=%s: want a client like c1 (the cluster has %s)", key, v, span("c", a.clients))
	case n < 1 || n > a.clients:
		a.fail("unknown client c%d (cluster has %s)", n, span("c", a.clients))
	default:
		return n - 1
	}
	return 0
}

// endpoint reads a required replica number or client (c1, c2, ...), as a
// simulator address.
func (a *args) endpoint(key string) sim.Addr {
	v, ok := a.value(key)
	if !ok {
		a.missing(key, "a replica 1..N or a client c1..cM")
		return 0
	}
	return a.parseEndpoint(key, v)
}

func (a *args) parseEndpoint(key, v string) sim.Addr {
	if strings.HasPrefix(v, "c") {
		return ClientAddrBase + sim.Addr(a.parseClient(key, v))
	}
	return a.parseReplica(key, v)
}

// span prints 1..n (or c1..cn) for messages.
func span(prefix string, n int) string {
	if n == 1 {
		return prefix + "1"
	}
	return fmt.Sprintf("%s1..%s%d", prefix, prefix, n)
}

// lockName reads a required lock name.
func (a *args) lockName(key string) string {
	v, ok := a.value(key)
	switch {
	case !ok:
		a.missing(key, "a lock name")
	case !lockmgr.ValidName(v):
		a.fail("%s=%q: want a lock name of 1..%d bytes", key, v, lockmgr.NameBytesMax)
	}
	return v
}

// durationMaxNs bounds every duration a file gives: a day of virtual time.
const durationMaxNs = int64(24 * time.Hour)

// dur reads an optional duration like 100ms or 2s.
func (a *args) dur(key string, def int64) int64 {
	v, ok := a.value(key)
	if !ok {
		return def
	}
	return a.parseDur(key, v)
}

// reqDur reads a required duration.
func (a *args) reqDur(key string) int64 {
	v, ok := a.value(key)
	if !ok {
		a.missing(key, "a duration like 100ms or 2s")
		return 0
	}
	return a.parseDur(key, v)
}

func (a *args) parseDur(key, v string) int64 {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		a.fail("%s=%s: want a duration like 100ms or 2s", key, v)
	case d < 0 || int64(d) > durationMaxNs:
		a.fail("%s=%s: want a duration in [0, 24h]", key, v)
	default:
		return int64(d)
	}
	return 0
}

// prob reads an optional probability.
func (a *args) prob(key string, def float64) float64 {
	v, ok := a.value(key)
	if !ok {
		return def
	}
	return a.parseProb(key, v)
}

func (a *args) parseProb(key, v string) float64 {
	p, err := strconv.ParseFloat(v, 64)
	if err != nil || !(p >= 0 && p <= 1) {
		a.fail("%s=%s: want a probability in [0,1]", key, v)
		return 0
	}
	return p
}

// factor reads a clock-rate factor (1 is a true clock, 2 ticks half as
// often); required unless def > 0.
func (a *args) factor(key string, def float64) float64 {
	v, ok := a.value(key)
	if !ok {
		if def <= 0 {
			a.missing(key, "a tick-period factor like 0.5 or 2")
		}
		return def
	}
	return a.parseFactor(key, v)
}

func (a *args) parseFactor(key, v string) float64 {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0 && f <= 100) || math.IsInf(f, 0) {
		a.fail("%s=%s: want a tick-period factor in (0, 100]", key, v)
		return 1
	}
	return f
}

// num reads an optional integer in [lo, hi].
func (a *args) num(key string, def, lo, hi int) int {
	v, ok := a.value(key)
	if !ok {
		return def
	}
	return a.parseNum(key, v, def, lo, hi)
}

// reqNum reads a required integer in [lo, hi].
func (a *args) reqNum(key, what string, lo, hi int) int {
	v, ok := a.value(key)
	if !ok {
		a.missing(key, what)
		return lo
	}
	return a.parseNum(key, v, lo, lo, hi)
}

func (a *args) parseNum(key, v string, def, lo, hi int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		a.fail("%s=%s: want a whole number in [%d, %d]", key, v, lo, hi)
		return def
	}
	return n
}

// boolean reads an optional true/false.
func (a *args) boolean(key string, def bool) bool {
	v, ok := a.value(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		a.fail("%s=%s: want true or false", key, v)
		return def
	}
	return b
}

// pair reads an optional pair of values, as key=(x, y).
func (a *args) pair(key, what string) (x, y string, ok bool) {
	vals, ok := a.values(key)
	if !ok {
		return "", "", false
	}
	if len(vals) != 2 {
		a.fail("%s=(%s): want %s=(%s)", key, strings.Join(vals, ", "), key, what)
		return "", "", false
	}
	return strings.TrimSpace(vals[0]), strings.TrimSpace(vals[1]), true
}

// netKnobs reads the network knobs cluster and net share into n, leaving
// the knobs not given as they are.
func (a *args) netKnobs(n *sim.NetConfig) {
	n.DropProb = a.prob("drop", n.DropProb)
	n.DupProb = a.prob("dup", n.DupProb)
	n.CorruptProb = a.prob("corrupt", n.CorruptProb)
	if lo, hi, ok := a.pair("latency", "min, max"); ok {
		n.LatencyMinNs, n.LatencyMaxNs = a.parseDur("latency", lo), a.parseDur("latency", hi)
		if n.LatencyMinNs > n.LatencyMaxNs {
			a.fail("latency=(%s, %s): want min <= max", lo, hi)
		}
	}
	if p, d, ok := a.pair("tail", "probability, max latency"); ok {
		n.TailProb, n.TailMaxNs = a.parseProb("tail", p), a.parseDur("tail", d)
	}
	if p, d, ok := a.pair("reorder", "probability, max extra delay"); ok {
		n.ReorderProb, n.ReorderJitterNs = a.parseProb("reorder", p), a.parseDur("reorder", d)
	}
	n.InflightPerLinkMax = a.num("inflight", n.InflightPerLinkMax, 0, 1<<20)
	if n.TailProb > 0 && n.TailMaxNs < n.LatencyMaxNs {
		a.fail("tail=(%g, %s): want the tail's max latency at least the latency's max %s",
			n.TailProb, fmtDur(n.TailMaxNs), fmtDur(n.LatencyMaxNs))
	}
}

// fmtDur prints a duration exactly, in the form durations are written in
// (3s, 1.5ms, 12.345us), so that it parses back to the same nanoseconds.
func fmtDur(ns int64) string {
	if ns%1e9 == 0 {
		return fmt.Sprintf("%ds", ns/1e9)
	}
	return strings.Replace(time.Duration(ns).String(), "µs", "us", 1)
}
