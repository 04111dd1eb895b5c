package simhost

import (
	"fmt"
	"math"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// walFile is the durable log's name on the simulated disk.
const walFile = "wal"

// LogFile is the name of a simulated replica's log on its disk.
const LogFile = walFile

// RebuildFile marks a disk whose replica rebuilds after a disk loss, as
// udphost.RebuildFile does on a real one: the replica starts with
// lockmgr.ServerConfig.Rejoin while it is there.
const RebuildFile = "REBUILDING"

// PrepareRejoin does to a lost disk what paxosd -rejoin does to a data
// directory whose log is gone: it writes the rebuild mark, durably, on
// the empty disk. The replica's next start rebuilds.
func PrepareRejoin(d *sim.Disk) {
	d.Remove(walFile)
	d.Replace(RebuildFile, []byte("rebuilding"))
}

// storage keeps the durable log in one file of the simulated disk, in the
// same record format the UDP host writes, and reports every write.
type storage struct {
	id   paxos.ID
	disk *sim.Disk
	buf  []byte
	rec  Recorder
}

// Rebuilt implements lockmgr.RebuildStorage: the mark goes.
func (s *storage) Rebuilt() error {
	if s.disk.Size(RebuildFile) >= 0 {
		s.disk.Remove(RebuildFile)
		s.rec.Rebuilt(s.id)
	}
	return nil
}

func (s *storage) Append(recs []paxos.Record) error {
	s.rec.Appended(s.id, recs)
	s.buf = s.buf[:0]
	for i := range recs {
		s.buf = paxos.AppendRecord(s.buf, &recs[i])
	}
	s.disk.Append(walFile, s.buf) // the disk copies
	return nil
}

func (s *storage) Rewrite(recs []paxos.Record) error {
	var b []byte
	for i := range recs {
		b = paxos.AppendRecord(b, &recs[i])
	}
	s.disk.Replace(walFile, b)
	s.rec.Rewrote(s.id, recs)
	return nil
}

func (s *storage) Sync() error {
	s.disk.Sync(walFile)
	s.rec.Synced(s.id)
	return nil
}

// transport sends through the process's environment of the moment.
type transport struct{ env sim.Env }

func (t *transport) Send(to lockmgr.Addr, pkt []byte) { t.env.Send(sim.Addr(to), pkt) }

// observer forwards the server's events to the recorder, with the id,
// and reports the state hash every hashEvery applied slots.
type observer struct {
	id        paxos.ID
	rec       Recorder
	hashEvery uint64
}

func (o observer) Sent(m *paxos.Message) { o.rec.Sent(o.id, m) }
func (o observer) Restored(slot uint64)  { o.rec.Restored(o.id, slot) }
func (o observer) Proposed(c lockmgr.Command) {
	o.rec.Proposed(o.id, c)
}
func (o observer) KeptAlive(s lockmgr.ClientID, b paxos.Ballot) { o.rec.KeptAlive(o.id, s, b) }
func (o observer) Applied(slot uint64, c lockmgr.Command, r lockmgr.Result, g []lockmgr.Grant) {
	o.rec.Applied(o.id, slot, c, r, g)
}

func (o observer) Committed(e paxos.Entry, sm *lockmgr.StateMachine) {
	if o.hashEvery > 0 && e.Slot > 0 && e.Slot%o.hashEvery == 0 {
		o.rec.StateHash(o.id, e.Slot, sm.Hash())
	}
	o.rec.Committed(o.id, e)
}

// Replica hosts one lock server replica; one Replica is one incarnation
// (a restart builds a new one from the disk). It sleeps between timers
// (sim.Env.WakeAtTick): the world calls it only at the tick its node's
// next timer fires or when a packet arrives, and it runs the ticks it
// slept through then, all at once, before anything else. Those ticks only
// count down, so the node sees the same inputs in the same order as if it
// had been ticked every period; catchUp reports a broken promise if a
// timer fired before the tick it asked to wake at.
type Replica struct {
	cfg   *Config
	id    paxos.ID
	rec   Recorder
	node  *lockmgr.Node
	tr    transport
	ticks int64 // ticks this incarnation has run
	wake  int64 // the tick it asked to be woken at
}

// NewReplica returns the factory of replica id's incarnations.
func NewReplica(cfg *Config, id paxos.ID, rec Recorder) func() sim.Process {
	return func() sim.Process { return &Replica{cfg: cfg, id: id, rec: rec} }
}

// Server is the incarnation's lock server, for inspection; nil if it
// failed to start.
func (p *Replica) Server() *lockmgr.Server {
	if p.node == nil {
		return nil
	}
	return p.node.Server()
}

// catchUp runs the ticks that came due since the last callback.
func (p *Replica) catchUp(env sim.Env) {
	for due := env.Ticks(); p.ticks < due; {
		p.ticks++
		p.node.Elapse()
		if p.node.Pending() {
			if p.ticks < p.wake {
				p.rec.Broken(BrokenTimer, fmt.Sprintf("replica %d: a timer fired at tick %d, before tick %d it asked to wake at (TicksToTimer is wrong)", p.id, p.ticks, p.wake))
			}
			p.node.Flush() // as a tick callback would have
		}
	}
}

// sleep asks to be woken at the node's next timer, or at the next tick if
// a packet was delivered and waits there to be driven (group commit). It is
// not asked whether the node has work (Pending): that would make the
// replica batch at delivery time what it batches at the tick.
func (p *Replica) sleep(env sim.Env, undriven bool) {
	p.wake = p.ticks + int64(p.node.TicksToTimer())
	if undriven {
		p.wake = p.ticks + 1
	}
	env.WakeAtTick(p.wake)
}

func (p *Replica) Start(env sim.Env) {
	p.tr.env = env
	raw := env.Disk().Read(walFile)
	recs, valid, err := paxos.ParseLog(raw)
	if err != nil {
		p.rec.Broken(BrokenStorage, fmt.Sprintf("replica %d cannot read its log after restart: %v", p.id, err))
		return
	}
	if valid < len(raw) {
		// A torn tail from the crash: cut it off before appending again.
		p.cfg.Marks.host(MarkTornTail)
		env.Disk().Replace(walFile, raw[:valid])
	}
	p.rec.Booted(p.id, recs)
	store := &storage{id: p.id, disk: env.Disk(), rec: p.rec}
	scfg := p.cfg.Server(p.id, env.Rand())
	scfg.Rejoin = env.Disk().Size(RebuildFile) >= 0
	node, err := lockmgr.NewNode(scfg, recs, store, &p.tr, observer{id: p.id, rec: p.rec, hashEvery: p.cfg.HashEvery})
	if err != nil {
		p.rec.Broken(BrokenStorage, fmt.Sprintf("replica %d restart: %v", p.id, err))
		return
	}
	p.node = node
	p.sleep(env, false)
}

func (p *Replica) Receive(env sim.Env, from sim.Addr, data []byte) {
	if p.node == nil {
		return
	}
	p.tr.env = env
	p.catchUp(env)
	if p.cfg.GroupCommit {
		p.node.Deliver(lockmgr.Addr(from), data) // driven at the next tick
	} else {
		p.node.Receive(lockmgr.Addr(from), data)
	}
	p.sleep(env, p.cfg.GroupCommit)
}

func (p *Replica) Tick(env sim.Env) {
	if p.node == nil {
		env.WakeAtTick(math.MaxInt64) // nothing to run
		return
	}
	p.tr.env = env
	p.catchUp(env)
	p.node.Flush() // packets delivered since the last tick, in group commit
	p.sleep(env, false)
}
