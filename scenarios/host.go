package scenarios

import (
	"fmt"
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

// replicaProc hosts one lock server replica.
type replicaProc struct {
	run  *runner
	id   paxos.ID
	node *lockmgr.Node
	tr   simTransport
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
}

func (p *replicaProc) Receive(env sim.Env, from sim.Addr, data []byte) {
	if p.node == nil {
		return
	}
	p.tr.env = env
	if p.run.scn.GroupCommit {
		p.node.Deliver(lockmgr.Addr(from), data) // driven at the next tick
		return
	}
	p.node.Receive(lockmgr.Addr(from), data)
}

func (p *replicaProc) Tick(env sim.Env) {
	if p.node != nil {
		p.tr.env = env
		p.node.Tick()
	}
}

// clientProc runs one client's script and records its history.
type clientProc struct {
	run        *runner
	idx        int
	cl         *lockmgr.Client
	queue      []OpSpec // operations still to issue, in order
	cur        int      // history index of the outstanding op, -1 if none
	thinkUntil int64    // do not start the next op before this
	rng        *rand.Rand
}

func (p *clientProc) Start(env sim.Env) {
	p.rng = env.Rand()
	cl, err := lockmgr.NewClient(p.run.clientConfig(lockmgr.ClientID(p.idx+1), p.rng))
	if err != nil {
		p.run.fail("config", err.Error())
		return
	}
	p.cl, p.cur = cl, -1
}

func (p *clientProc) Tick(env sim.Env) {
	if p.cl == nil {
		return
	}
	p.cl.Tick()
	if !p.cl.Busy() && len(p.queue) > 0 && env.Now() >= p.thinkUntil {
		op := p.queue[0]
		p.queue = p.queue[1:]
		if _, err := p.cl.Start(op.Op, op.Name); err != nil {
			p.run.fail("client", err.Error())
			return
		}
		p.cur = p.run.hist.call(p.idx, env.Now(), op)
	}
	p.flush(env)
}

func (p *clientProc) Receive(env sim.Env, from sim.Addr, data []byte) {
	if p.cl == nil {
		return
	}
	c, ok := p.cl.Receive(data)
	if ok && p.cur >= 0 {
		p.run.hist.ret(p.cur, env.Now(), c.Result)
		p.run.completed(p.idx, p.cur)
		p.cur = -1
		if p.run.scn.ThinkNs > 0 {
			p.thinkUntil = env.Now() + p.rng.Int64N(p.run.scn.ThinkNs)
		}
	}
	p.flush(env)
}

func (p *clientProc) flush(env sim.Env) {
	for _, pkt := range p.cl.Outbox() {
		env.Send(sim.Addr(pkt.To), pkt.Data)
	}
}

// done reports whether the client has nothing left to do.
func (p *clientProc) done() bool {
	return p.cl != nil && len(p.queue) == 0 && !p.cl.Busy()
}
