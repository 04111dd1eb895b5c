package simhost

import (
	"math"
	"math/rand/v2"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// Forger is an adversary on the client side of the network: every few
// tens of milliseconds it sends one replica a request in the name of a
// session it guesses (sessions are numbered 1, 2, 3, ... and status
// prints them), with a tag it cannot make: an unlock, a close, a lock or a
// trylock of a lock the workload uses. A group that checks tags refuses
// every one and counts it; one that does not lets a stranger release,
// take or end other clients' locks and sessions, which the checkers see.
type Forger struct {
	peers    []paxos.ID
	names    int // lock names "1".."names"
	sessions int // it guesses sessions 1..sessions
	rng      *rand.Rand
	ticks    int64
	next     int64
	tickNs   int64
}

// NewForger returns a forger against the group of peers whose workload
// uses lock names "1".."names" and opens up to sessions sessions.
func NewForger(peers []paxos.ID, names, sessions int, tickNs int64) *Forger {
	return &Forger{peers: peers, names: max(1, names), sessions: max(1, sessions), tickNs: tickNs}
}

func (f *Forger) Start(env sim.Env) {
	f.rng = env.Rand()
	f.ticks = env.Ticks()
	f.schedule(env)
}

func (f *Forger) schedule(env sim.Env) {
	f.next = f.ticks + max(1, (10_000_000+f.rng.Int64N(90_000_000))/f.tickNs)
	env.WakeAtTick(f.next)
}

func (f *Forger) Tick(env sim.Env) {
	f.ticks = env.Ticks()
	if f.ticks < f.next {
		env.WakeAtTick(f.next)
		return
	}
	ops := [...]lockmgr.Op{lockmgr.OpUnlock, lockmgr.OpUnlock, lockmgr.OpClose, lockmgr.OpLock, lockmgr.OpTryLock}
	c := lockmgr.Command{
		Client: lockmgr.ClientID(1 + f.rng.IntN(f.sessions)),
		Seq:    1 + f.rng.Uint64N(math.MaxUint32),
		Op:     ops[f.rng.IntN(len(ops))],
	}
	if c.Op.Named() {
		c.Name = string(rune('1' + f.rng.IntN(min(f.names, 9))))
	}
	for i := range c.Key {
		c.Key[i] = byte(f.rng.Uint32())
	}
	to := f.peers[f.rng.IntN(len(f.peers))]
	env.Send(sim.Addr(to), lockmgr.AppendRequest(nil, &lockmgr.Request{Command: c}))
	f.schedule(env)
}

// Receive drops the group's answers: a forger learns nothing from them.
func (f *Forger) Receive(env sim.Env, from sim.Addr, data []byte) {}
