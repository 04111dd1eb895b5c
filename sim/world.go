package sim

import (
	"errors"
	"fmt"
	"slices"
)

// Addr is a process address. The world attaches no meaning to it; the
// project uses 1..N for replicas and 1000+ for clients.
type Addr uint32

// smallAddrMax bounds the addresses looked up through a slice rather than a
// map, which keeps the per-packet lookup cheap for the usual small numbers.
const smallAddrMax = 4096

// World is the simulated world. It is not safe for concurrent use; it is
// meant to be driven by one goroutine.
type World struct {
	seed uint64
	cfg  Config
	net  NetConfig // cfg.Net, normalized; changed by SetNet
	nc   netChances

	nowNs int64
	q     queue
	acts  []actRec
	free  []int32 // free slots of acts

	hosts []*host // in the order they were added
	small []int32 // addr -> index+1, for addr < smallAddrMax
	big   map[Addr]int32

	hash      uint64
	stats     Stats
	trace     []Event
	observers []func(ev *Event)

	// ev is the scratch event handed to observers, so that recording an
	// event does not allocate.
	ev Event
	// depth > 0 while a process callback runs; events produced meanwhile
	// (packet drops at send) are deferred until the callback's own event
	// has been recorded, so observers only ever see a quiescent world.
	depth    int
	deferred []Event
	// observing is set while observers run. World methods that change state
	// are refused from callbacks and observers (schedule them with At), so
	// that no state changes underneath an event in progress.
	observing bool
}

type actRec struct {
	fn    func()
	label string
}

// NewWorld returns an empty world at time 0 whose every random choice
// derives from seed.
func NewWorld(seed uint64, cfg Config) (*World, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &World{seed: seed, cfg: cfg, hash: hashOffset, big: map[Addr]int32{}}
	w.setNet(cfg.Net)
	return w, nil
}

// Now is the virtual time in nanoseconds.
func (w *World) Now() int64 { return w.nowNs }

// Seed is the seed the world was created with.
func (w *World) Seed() uint64 { return w.seed }

// Step runs exactly one event and reports whether there was one. Cancelled
// events (ticks of a crashed process) and internal re-queuing (a packet
// waiting for a clog) are skipped silently and do not count as the event.
func (w *World) Step() bool {
	for w.q.len() > 0 {
		if w.runNext() {
			return true
		}
	}
	return false
}

// RunUntil runs every event scheduled at or before t, then sets the clock
// to t (the clock never goes backwards).
func (w *World) RunUntil(t int64) {
	for {
		k, ok := w.q.peek()
		if !ok || k.at > t {
			break
		}
		w.runNext()
	}
	if t > w.nowNs {
		w.nowNs = t
	}
}

// RunFor runs the world for d nanoseconds of virtual time.
func (w *World) RunFor(d int64) {
	if d <= 0 {
		return
	}
	t := w.nowNs + d
	if t < w.nowNs { // overflow: run to the end of time
		t = int64(^uint64(0) >> 1)
	}
	w.RunUntil(t)
}

// runNext pops one queued item and runs it; it reports whether the item
// was a visible event (one that is traced).
func (w *World) runNext() bool {
	at, it := w.q.pop()
	w.nowNs = at
	switch it.kind {
	case itemDeliver:
		return w.deliver(it)
	case itemTick:
		return w.tick(it)
	case itemBoot:
		return w.boot(it)
	case itemAction:
		return w.action(it)
	}
	return false
}

// At schedules fn to run at virtual time t (or now, if t has passed), traced
// as an "action" event. Use it for client operations and faults.
func (w *World) At(t int64, fn func()) { w.AtLabel(t, "", fn) }

// AtLabel is At with a label that the trace shows, e.g. "lock 7 c2".
// Scheduling is allowed from observers and actions; a nil fn is ignored.
func (w *World) AtLabel(t int64, label string, fn func()) {
	if fn == nil {
		w.stats.Ignored++
		return
	}
	if t < w.nowNs {
		t = w.nowNs
	}
	var i int32
	if n := len(w.free); n > 0 {
		i = w.free[n-1]
		w.free = w.free[:n-1]
		w.acts[i] = actRec{fn: fn, label: label}
	} else {
		i = int32(len(w.acts))
		w.acts = append(w.acts, actRec{fn: fn, label: label})
	}
	w.q.push(t, item{kind: itemAction, act: i})
}

// action runs a harness action. Its event is recorded before fn runs, so
// that the faults fn causes follow it in the trace.
func (w *World) action(it item) bool {
	a := w.acts[it.act]
	w.acts[it.act] = actRec{}
	w.free = append(w.free, it.act)
	w.stats.Actions++
	w.ev = Event{Kind: KindAction, Label: a.label}
	w.record(&w.ev)
	a.fn()
	return true
}

// OnEvent registers an observer, called after every event with the world
// quiescent (no callback in progress). Observers may read the world and
// schedule with At; calls that change state are ignored while they run.
func (w *World) OnEvent(fn func(ev *Event)) {
	if fn != nil {
		w.observers = append(w.observers, fn)
	}
}

// emit records ev now, or after the running callback's own event.
func (w *World) emit(ev *Event) {
	if w.depth > 0 {
		w.deferred = append(w.deferred, *ev)
		return
	}
	w.record(ev)
}

// record numbers, hashes, retains and publishes one event.
func (w *World) record(ev *Event) {
	w.stats.Events++
	ev.Seq = w.stats.Events
	ev.TimeNs = w.nowNs
	w.hash = hashEvent(w.hash, ev, w.cfg.TraceHashPayload)
	if w.cfg.TraceKeep {
		w.trace = append(w.trace, *ev)
	}
	if len(w.observers) == 0 {
		return
	}
	w.observing = true
	for _, fn := range w.observers {
		fn(ev)
	}
	w.observing = false
}

// flush records the events deferred during a callback.
func (w *World) flush() {
	for i := range w.deferred {
		w.record(&w.deferred[i])
	}
	clear(w.deferred) // drop payload references
	w.deferred = w.deferred[:0]
}

// busy reports whether a state-changing call must be refused now.
func (w *World) busy() bool { return w.depth > 0 || w.observing }

// errBusy is returned by calls refused for being made from a callback or an
// observer.
var errBusy = errors.New("sim: called from inside a process callback or an observer; schedule it with At")

// TraceHash is the running hash over every event so far.
func (w *World) TraceHash() uint64 { return w.hash }

// Trace returns the retained events (Config.TraceKeep), oldest first. The
// slice is the world's own: do not modify it.
func (w *World) Trace() []Event { return w.trace }

// Stats returns the counters so far.
func (w *World) Stats() Stats { return w.stats }

// Addrs returns every process address, sorted.
func (w *World) Addrs() []Addr {
	as := make([]Addr, len(w.hosts))
	for i, h := range w.hosts {
		as[i] = h.addr
	}
	slices.Sort(as)
	return as
}

// index returns the process index of a, or -1.
func (w *World) index(a Addr) int32 {
	if a < smallAddrMax {
		if int(a) < len(w.small) {
			return w.small[a] - 1
		}
		return -1
	}
	if i, ok := w.big[a]; ok {
		return i
	}
	return -1
}

// host returns the process at a, or nil (counting the call as ignored) if
// there is none or if state may not change now.
func (w *World) host(a Addr) *host {
	i := w.index(a)
	if i < 0 || w.busy() {
		w.stats.Ignored++
		return nil
	}
	return w.hosts[i]
}

func (w *World) setIndex(a Addr, i int32) {
	if a >= smallAddrMax {
		w.big[a] = i
		return
	}
	if int(a) >= len(w.small) {
		w.small = append(w.small, make([]int32, int(a)+1-len(w.small))...)
	}
	w.small[a] = i + 1
}

// AddProcess hosts a process at addr whose tick period is tickNs (times its
// drift). factory builds the instance now and after every restart. The
// process is up at once; its Start runs as the next event at the current
// time, so that every process added before the world runs is addressable
// when the first Start sends.
func (w *World) AddProcess(addr Addr, tickNs int64, factory func() Process) error {
	if w.busy() {
		return errBusy
	}
	if w.index(addr) >= 0 {
		return fmt.Errorf("sim: AddProcess(%d): address already in use", addr)
	}
	if tickNs <= 0 || tickNs > delayLimitNs {
		return fmt.Errorf("sim: AddProcess(%d): tickNs = %d: want a period in [1,%d] ns", addr, tickNs, delayLimitNs)
	}
	if factory == nil {
		return fmt.Errorf("sim: AddProcess(%d): factory is nil", addr)
	}
	inst := factory()
	if inst == nil {
		return fmt.Errorf("sim: AddProcess(%d): factory returned nil", addr)
	}
	h := w.newHost(addr, tickNs, factory)
	h.inst = inst
	w.setIndex(addr, h.idx)
	w.hosts = append(w.hosts, h)
	w.q.push(w.nowNs, item{kind: itemBoot, to: h.idx, gen: h.inc})
	return nil
}

// Disk returns the disk of the process at a (nil if none), for a harness
// that seeds or inspects it.
func (w *World) Disk(a Addr) *Disk {
	if i := w.index(a); i >= 0 {
		return w.hosts[i].disk
	}
	return nil
}

// Instance returns the running instance at a, or nil if a is down or
// unknown; checkers use it to inspect process state.
func (w *World) Instance(a Addr) Process {
	if i := w.index(a); i >= 0 && w.hosts[i].up {
		return w.hosts[i].inst
	}
	return nil
}
