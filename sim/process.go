package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Process is a program hosted by the world. The world calls it on one
// goroutine, one callback at a time.
type Process interface {
	// Start runs at boot and after each restart, on a fresh instance;
	// env.Disk() then holds exactly what was durable.
	Start(env Env)
	// Receive handles a delivered packet. The process may keep data: the
	// world never reuses it.
	Receive(env Env, from Addr, data []byte)
	// Tick is the process's periodic tick.
	Tick(env Env)
}

// Env is what a process may do during a callback. An Env belongs to one
// incarnation: once its process crashes, its Send does nothing.
type Env interface {
	Self() Addr
	// Now is the world's virtual time in nanoseconds.
	Now() int64
	// Send hands data to the network; ownership passes to the world, and
	// the sender must not modify data afterwards. It may pass the same
	// slice to several Sends: receivers must treat it as read-only then.
	Send(to Addr, data []byte)
	Disk() *Disk
	// Rand is this incarnation's own stream, derived from (world seed,
	// address, incarnation).
	Rand() *rand.Rand
	// Ticks is how many ticks have been due to this incarnation so far,
	// the ones it slept through (WakeAtTick) included; a pause stops the
	// count. In a Tick callback it includes the tick being delivered.
	Ticks() int64
	// WakeAtTick asks for no Tick callback before tick number t of this
	// incarnation (as Ticks counts): the ticks before it are skipped, not
	// queued, which is what lets simulated time race through idle
	// stretches. A process that sleeps catches up on every callback by
	// comparing Ticks with the ticks it has run. The request lasts until
	// the next one; t at or below Ticks()+1 means every tick again. Asked
	// outside a Tick callback it can only bring the next callback closer.
	WakeAtTick(t int64)
}

// host is the world's side of one address: the process instance and
// everything that outlives it (disk, links, streams).
type host struct {
	w        *World
	addr     Addr
	idx      int32
	tickNs   int64
	factor   float64 // drift: tick period multiplier
	periodNs int64   // tickNs*factor, at least 1
	factory  func() Process

	inst    Process
	env     *env
	up      bool
	started bool   // Start has run in this incarnation
	paused  bool   // no ticks; arriving packets wait in held
	inc     uint32 // incarnation, bumped by every Start
	tickGen uint32 // bumped to cancel the pending tick

	// The tick schedule, counted lazily (settle): ticks have been due up
	// to now, the next one is due at nextTick. wakeTick is the tick the
	// process asked to be called at (WakeAtTick), pendingWake the tick
	// the queued callback is for; inTick is set during a Tick or Start
	// callback, whose end schedules the next callback anyway.
	ticks       int64
	nextTick    int64
	wakeTick    int64
	pendingWake int64
	inTick      bool

	disk *Disk
	net  *rand.PCG // this sender's network decisions
	tick *rand.PCG // tick phases and the drawn drift
	out  []link    // outgoing links, by destination index, grown lazily
	held []item    // packets that arrived while paused, in arrival order
}

func (w *World) newHost(addr Addr, tickNs int64, factory func() Process) *host {
	h := &host{
		w: w, addr: addr, idx: int32(len(w.hosts)), tickNs: tickNs, factor: 1,
		factory: factory, up: true,
		net:  newStream(w.seed, purposeNet, addr, 0),
		tick: newStream(w.seed, purposeTick, addr, 0),
	}
	h.disk = &Disk{files: map[string]*file{}, rnd: newStream(w.seed, purposeDisk, addr, 0), stats: &w.stats}
	if m := w.cfg.DriftMax; m > 0 {
		h.factor = 1 + (2*unitFloat(h.tick)-1)*m
	}
	h.periodNs = periodNs(tickNs, h.factor)
	return h
}

// unitFloat draws uniformly from [0,1) with 53 bits.
func unitFloat(r *rand.PCG) float64 { return float64(r.Uint64()>>11) / (1 << 53) }

func periodNs(tickNs int64, factor float64) int64 {
	p := math.Round(float64(tickNs) * factor)
	if p < 1 {
		return 1
	}
	if p > float64(delayLimitNs)*100 {
		return delayLimitNs * 100
	}
	return int64(p)
}

// boot runs a process's first Start, unless it crashed before its turn.
func (w *World) boot(it item) bool {
	h := w.hosts[it.to]
	if !h.up || h.started || h.inc != it.gen {
		return false
	}
	w.start(h, h.inst)
	w.stats.Starts++
	w.ev = Event{Kind: KindStart, Proc: h.addr}
	w.record(&w.ev)
	w.flush()
	return true
}

// start begins a new incarnation on inst: fresh Env, Start, first tick. The
// first tick comes after a random phase in [1, period] so that processes
// added together do not tick in lockstep.
func (w *World) start(h *host, inst Process) {
	h.inc++
	h.tickGen++
	h.inst, h.started, h.paused = inst, true, false
	h.env = &env{h: h, inc: h.inc}
	phase := between(h.tick, 1, h.periodNs)
	h.ticks, h.wakeTick = 0, 0
	h.nextTick = w.nowNs + phase
	w.depth++
	h.inTick = true // a WakeAtTick in Start is scheduled just below
	inst.Start(h.env)
	h.inTick = false
	w.depth--
	w.scheduleWake(h)
}

// settle counts the ticks that have come due by now. Only a running
// process has ticks.
func (w *World) settle(h *host) {
	if !h.up || !h.started || h.paused || w.nowNs < h.nextTick {
		return
	}
	k := (w.nowNs-h.nextTick)/h.periodNs + 1
	h.ticks += k
	h.nextTick += k * h.periodNs
}

// scheduleWake queues the next Tick callback, for the tick the process
// asked for or the next one due, and cancels any queued before. The
// schedule must be settled.
func (w *World) scheduleWake(h *host) {
	h.tickGen++
	want := max(h.wakeTick, h.ticks+1)
	h.pendingWake = want
	if (want - h.ticks - 1) > (math.MaxInt64-h.nextTick)/h.periodNs {
		return // beyond the end of time: no callback until asked again
	}
	w.q.push(h.nextTick+(want-h.ticks-1)*h.periodNs, item{kind: itemTick, to: h.idx, gen: h.tickGen})
}

// tick runs a process's tick and schedules the next callback: one drifted
// period later, or at the tick the process asked for. A pause or crash
// bumps tickGen, which cancels the pending tick.
func (w *World) tick(it item) bool {
	h := w.hosts[it.to]
	if it.gen != h.tickGen || !h.up || h.paused {
		return false
	}
	w.settle(h)
	w.stats.Ticks++
	w.depth++
	h.inTick = true
	h.inst.Tick(h.env)
	h.inTick = false
	w.depth--
	if h.up && h.env != nil && it.gen == h.tickGen {
		w.scheduleWake(h)
	}
	w.ev = Event{Kind: KindTick, Proc: h.addr}
	w.record(&w.ev)
	w.flush()
	return true
}

// Invoke runs fn in the context of the process at a, as if it were one of
// its callbacks: fn gets the instance and its Env, so a harness action can
// hand a client an operation and let it send. It is not traced itself (the
// action that calls it is).
func (w *World) Invoke(a Addr, fn func(p Process, env Env)) error {
	if w.busy() {
		return errBusy
	}
	i := w.index(a)
	if i < 0 {
		return fmt.Errorf("sim: Invoke(%d): no such process", a)
	}
	if fn == nil {
		return fmt.Errorf("sim: Invoke(%d): fn is nil", a)
	}
	h := w.hosts[i]
	if !h.up || !h.started || h.paused {
		return fmt.Errorf("sim: Invoke(%d): %w", a, errNotRunning)
	}
	w.depth++
	fn(h.inst, h.env)
	w.depth--
	w.flush()
	return nil
}

var errNotRunning = errors.New("process is down, paused or not yet started")

// env implements Env for one incarnation of a host.
type env struct {
	h   *host
	inc uint32
	rnd *rand.Rand // created on first use: many processes never draw
}

func (e *env) Self() Addr  { return e.h.addr }
func (e *env) Now() int64  { return e.h.w.nowNs }
func (e *env) Disk() *Disk { return e.h.disk }

func (e *env) Rand() *rand.Rand {
	if e.rnd == nil {
		e.rnd = rand.New(newStream(e.h.w.seed, purposeProc, e.h.addr, e.inc))
	}
	return e.rnd
}

func (e *env) Ticks() int64 {
	h := e.h
	if e.inc != h.inc {
		return 0
	}
	h.w.settle(h)
	return h.ticks
}

func (e *env) WakeAtTick(t int64) {
	h := e.h
	if e.inc != h.inc || !h.up {
		return
	}
	h.wakeTick = t
	if h.inTick || !h.started || h.paused {
		return // the tick, start or resume that follows schedules it
	}
	h.w.settle(h)
	if max(t, h.ticks+1) < h.pendingWake {
		h.w.scheduleWake(h)
	}
}

func (e *env) Send(to Addr, data []byte) {
	h := e.h
	if e.inc != h.inc || !h.up {
		return // a crashed incarnation has no network
	}
	h.w.send(h, to, data)
}
