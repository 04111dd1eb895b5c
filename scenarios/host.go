package scenarios

import (
	"fmt"
	"math"
	"math/rand/v2"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// The simulator host: a lockmgr.Node as a sim.Process, with the simulated
// disk as its Storage and the simulated network as its Transport. The
// driver loop itself is lockmgr's; only the environment is plugged in here.

const walFile = "wal"

// simStorage keeps the durable log in one file of the simulated disk, in
// the same record format the UDP host writes.
type simStorage struct {
	disk   *sim.Disk
	buf    []byte
	shadow *durable
}

func (s *simStorage) Append(recs []paxos.Record) error {
	s.shadow.append(recs)
	s.buf = s.buf[:0]
	for i := range recs {
		s.buf = paxos.AppendRecord(s.buf, &recs[i])
	}
	s.disk.Append(walFile, s.buf) // the disk copies
	return nil
}

func (s *simStorage) Rewrite(recs []paxos.Record) error {
	var b []byte
	for i := range recs {
		b = paxos.AppendRecord(b, &recs[i])
	}
	s.disk.Replace(walFile, b)
	s.shadow.rewrite(recs)
	return nil
}

func (s *simStorage) Sync() error {
	s.disk.Sync(walFile)
	s.shadow.sync()
	return nil
}

// simTransport sends through the process's environment of the moment.
type simTransport struct{ env sim.Env }

func (t *simTransport) Send(to lockmgr.Addr, pkt []byte) { t.env.Send(sim.Addr(to), pkt) }

// replicaProc hosts one lock server replica. It sleeps between timers
// (sim.Env.WakeAtTick): the world calls it only at the tick its node's next
// timer fires or when a packet arrives, and it runs the ticks it slept
// through then, all at once, before anything else. Those ticks only count
// down, so the node sees the same inputs in the same order as if it had
// been ticked every period; catchUp checks that no timer fired before the
// tick it asked to wake at.
type replicaProc struct {
	run   *runner
	id    paxos.ID
	node  *lockmgr.Node
	tr    simTransport
	ticks int64 // ticks this incarnation has run
	wake  int64 // the tick it asked to be woken at
}

// catchUp runs the ticks that came due since the last callback.
func (p *replicaProc) catchUp(env sim.Env) {
	for due := env.Ticks(); p.ticks < due; {
		p.ticks++
		p.node.Elapse()
		if p.node.Pending() {
			if p.ticks < p.wake {
				p.run.fail(FailTimer, fmt.Sprintf("replica %d: a timer fired at tick %d, before tick %d it asked to wake at (TicksToTimer is wrong)", p.id, p.ticks, p.wake))
			}
			p.node.Flush() // as a tick callback would have
		}
	}
}

// sleep asks to be woken at the node's next timer, or at the next tick if
// a packet was delivered and waits there to be driven (group commit). It is
// not asked whether the node has work (Pending): that would make the
// replica batch at delivery time what it batches at the tick.
func (p *replicaProc) sleep(env sim.Env, undriven bool) {
	p.wake = p.ticks + int64(p.node.TicksToTimer())
	if undriven {
		p.wake = p.ticks + 1
	}
	env.WakeAtTick(p.wake)
}

func (p *replicaProc) Start(env sim.Env) {
	p.tr.env = env
	raw := env.Disk().Read(walFile)
	recs, valid, err := lockmgr.ParseLog(raw)
	if err != nil {
		p.run.fail("storage", fmt.Sprintf("replica %d cannot read its log after restart: %v", p.id, err))
		return
	}
	if valid < len(raw) {
		// A torn tail from the crash: cut it off before appending again.
		env.Disk().Replace(walFile, raw[:valid])
	}
	cfg := p.run.serverConfig(p.id, env.Rand())
	store := &simStorage{disk: env.Disk(), shadow: newDurable(recs)}
	node, err := lockmgr.NewNode(cfg, recs, store, &p.tr)
	if err != nil {
		p.run.fail("storage", fmt.Sprintf("replica %d restart: %v", p.id, err))
		return
	}
	fence := p.run.fencing.observer(p.id)
	srv := node.Server()
	if err := store.shadow.restored(p.id, srv.Replica()); err != nil {
		p.run.fail(FailDurability, err.Error())
	}
	srv.OnSend = func(m *paxos.Message) {
		if err := store.shadow.vouch(p.id, srv.Replica(), m); err != nil {
			p.run.fail(FailDurability, err.Error())
		}
	}
	p.run.fencing.reset(p.id, srv.StateMachine())
	srv.OnRestore = func() { p.run.fencing.reset(p.id, srv.StateMachine()) }
	srv.OnApply = func(slot uint64, c lockmgr.Command, res lockmgr.Result, grants []lockmgr.Grant) {
		fence(slot, c, res, grants)
		if p.run.onApply != nil {
			p.run.onApply(p.id, slot, c, res, grants)
		}
	}
	p.node = node
	p.run.replicas[p.id-1] = p
	p.sleep(env, false)
}

func (p *replicaProc) Receive(env sim.Env, from sim.Addr, data []byte) {
	if p.node == nil {
		return
	}
	p.tr.env = env
	p.catchUp(env)
	if p.run.scn.GroupCommit {
		p.node.Deliver(lockmgr.Addr(from), data) // driven at the next tick
	} else {
		p.node.Receive(lockmgr.Addr(from), data)
	}
	p.sleep(env, p.run.scn.GroupCommit)
}

func (p *replicaProc) Tick(env sim.Env) {
	if p.node == nil {
		env.WakeAtTick(math.MaxInt64) // nothing to run
		return
	}
	p.tr.env = env
	p.catchUp(env)
	p.node.Flush() // packets delivered since the last tick, in group commit
	p.sleep(env, false)
}

// clientProc runs one client's script and records its history.
type clientProc struct {
	run        *runner
	idx        int
	cl         *lockmgr.Client
	queue      []OpSpec // operations still to issue, in order
	cur        int      // history index of the outstanding op, -1 if none
	thinkUntil int64    // do not start the next op before this tick
	rng        *rand.Rand
	ticks      int64 // ticks this incarnation has run; it sleeps like replicaProc
	wake       int64
}

func (p *clientProc) Start(env sim.Env) {
	p.rng = env.Rand()
	cl, err := lockmgr.NewClient(p.run.clientConfig(lockmgr.ClientID(p.idx+1), p.rng))
	if err != nil {
		p.run.fail("config", err.Error())
		return
	}
	p.cl, p.cur, p.ticks = cl, -1, 0
	p.sleep(env)
}

func (p *clientProc) Tick(env sim.Env) {
	if p.cl == nil {
		env.WakeAtTick(math.MaxInt64)
		return
	}
	p.catchUp(env)
	if !p.cl.Busy() && len(p.queue) > 0 && p.ticks >= p.thinkUntil {
		op := p.queue[0]
		p.queue = p.queue[1:]
		if _, err := p.cl.Start(op.Op, op.Name); err != nil {
			p.run.fail("client", err.Error())
			return
		}
		p.cur = p.run.hist.call(p.idx, env.Now(), op)
	}
	p.flush(env)
	p.sleep(env)
}

// catchUp runs the client's ticks that came due since the last callback;
// only the last may do anything (see replicaProc).
func (p *clientProc) catchUp(env sim.Env) {
	for due := env.Ticks(); p.ticks < due; {
		p.ticks++
		p.cl.Tick()
		if out := p.cl.Outbox(); len(out) > 0 {
			if p.ticks < p.wake {
				p.run.fail(FailTimer, fmt.Sprintf("client %d: a timer fired at tick %d, before tick %d it asked to wake at", p.idx+1, p.ticks, p.wake))
			}
			p.send(env, out) // as a tick callback would have
		}
	}
}

// sleep asks to be woken at the client's timer or when its think time is
// over, whichever comes first.
func (p *clientProc) sleep(env sim.Env) {
	p.wake = p.ticks + int64(p.cl.TicksToTimer())
	if !p.cl.Busy() && len(p.queue) > 0 {
		p.wake = min(p.wake, max(p.ticks+1, p.thinkUntil))
	}
	env.WakeAtTick(p.wake)
}

func (p *clientProc) Receive(env sim.Env, from sim.Addr, data []byte) {
	if p.cl == nil {
		return
	}
	p.catchUp(env)
	c, ok := p.cl.Receive(data)
	if ok && p.cur >= 0 {
		p.run.hist.ret(p.cur, env.Now(), c.Result)
		p.run.completed(p.idx, p.cur)
		p.cur = -1
		if think := p.run.scn.ThinkNs; think > 0 {
			// Think time is kept in ticks: the client is woken on its
			// tick schedule, and starts no sooner than this one.
			p.thinkUntil = p.ticks + 1 + p.rng.Int64N(think)/p.run.clientTickNs()
		}
	}
	p.flush(env)
	p.sleep(env)
}

func (p *clientProc) flush(env sim.Env) { p.send(env, p.cl.Outbox()) }

func (p *clientProc) send(env sim.Env, out []lockmgr.Packet) {
	for _, pkt := range out {
		env.Send(sim.Addr(pkt.To), pkt.Data)
	}
}

// done reports whether the client has nothing left to do.
func (p *clientProc) done() bool {
	return p.cl != nil && len(p.queue) == 0 && !p.cl.Busy()
}
