package scenarios

import (
	"fmt"
	"runtime/debug"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
	"paxlock/lockmgr/simhost"
	"paxlock/paxos"
	"paxlock/scenarios/check"
	"paxlock/sim"
)

// Cluster is a scenario driven step by step instead of by a timeline: the
// caller starts client operations, injects faults through World, runs
// virtual time and reads what completed. Scenario files and targeted tests
// use it; it runs the same hosts and checkers as Run.
type Cluster struct {
	r *runner
}

// NewCluster boots replicas and clients (with empty scripts) for scn, whose
// Faults and Clients' Ops are ignored except for the number of clients.
func NewCluster(scn Scenario) (*Cluster, error) {
	scn.Faults = nil
	for i := range scn.Clients {
		scn.Clients[i].Ops = nil
	}
	if err := scn.Validate(); err != nil {
		return nil, err
	}
	r := newRunner(&scn, Options{})
	if err := r.setup(); err != nil {
		return nil, err
	}
	return &Cluster{r: r}, nil
}

// World is the simulator, for faults and time.
func (c *Cluster) World() *sim.World { return c.r.w }

// Start queues an operation at client i (0-based); it is sent at the
// client's next tick, after any operation already queued there.
func (c *Cluster) Start(i int, op lockmgr.Op, name string) error {
	if i < 0 || i >= len(c.r.clients) {
		return fmt.Errorf("no client %d (have %d)", i+1, len(c.r.clients))
	}
	p := c.r.clients[i]
	p.Enqueue(simhost.Op{Op: op, Name: name})
	// The client may be asleep with nothing to do: wake it at its next
	// tick. (A client that is not running yet starts its queue anyway.)
	_ = c.r.w.Invoke(ClientAddrBase+sim.Addr(i), func(_ sim.Process, env sim.Env) { p.Wake(env) })
	return nil
}

// RunFor advances virtual time by d, stopping early on a checker failure.
func (c *Cluster) RunFor(d int64) error {
	end := c.r.w.Now() + d
	for c.r.kind == "" && c.r.w.Now() < end {
		c.r.w.RunUntil(min(c.r.w.Now()+chunkNs, end))
	}
	return c.Err()
}

// RunUntilIdle runs until no client has work left, or limit passes.
func (c *Cluster) RunUntilIdle(limit int64) (bool, error) {
	end := c.r.w.Now() + limit
	for c.r.kind == "" && !c.r.allDone() && c.r.w.Now() < end {
		c.r.w.RunUntil(min(c.r.w.Now()+1_000_000, end))
	}
	return c.r.allDone(), c.Err()
}

// Idle reports whether every client has answered all its operations.
func (c *Cluster) Idle() bool { return c.r.allDone() }

// Err is the first checker failure so far (agreement, fencing, panics are
// recovered by the caller).
func (c *Cluster) Err() error {
	if c.r.kind != "" {
		return fmt.Errorf("%s: %s", c.r.kind, c.r.detail)
	}
	return nil
}

// Done returns the operations completed since the last call, in order.
func (c *Cluster) Done() []porcupine.Operation {
	var out []porcupine.Operation
	for _, h := range c.r.done {
		out = append(out, c.r.hist.Op(h))
	}
	c.r.done = nil
	return out
}

// History is every operation so far; pending ones are open (Return < 0).
func (c *Cluster) History() []porcupine.Operation { return c.r.hist.Ops() }

// Server returns replica id's server, or nil while it is down.
func (c *Cluster) Server(id paxos.ID) *lockmgr.Server {
	if id < 1 || int(id) > c.r.scn.Replicas {
		return nil
	}
	return c.r.server(id)
}

// OnApply sets a hook that sees every command every replica applies.
func (c *Cluster) OnApply(fn func(id paxos.ID, slot uint64, cmd lockmgr.Command, res lockmgr.Result, grants []lockmgr.Grant)) {
	c.r.onApply = fn
}

// OnRebuilt calls fn when a replica that lost its disk votes again.
func (c *Cluster) OnRebuilt(fn func(id paxos.ID)) { c.r.onRebuilt = fn }

// OnWrite calls fn for every write the fenced resource accepts or refuses.
func (c *Cluster) OnWrite(fn func(nowNs int64, w simhost.Write, accepted bool)) { c.r.onWrite = fn }

// Check runs the checkers over the history so far: linearizability (open
// operations count as unknown outcomes) and state hashes.
func (c *Cluster) Check() error {
	if err := c.Err(); err != nil {
		return err
	}
	c.r.checkStateHashes()
	if err := c.Err(); err != nil {
		return err
	}
	verdict, _ := check.Linearizable(c.r.hist.ForCheck(c.r.w.Now()), c.r.checkTimeout())
	switch verdict {
	case porcupine.Ok:
		return nil
	case porcupine.Illegal:
		return fmt.Errorf("%s: the lock history is not linearizable", FailLinearizability)
	}
	return fmt.Errorf("%s: porcupine gave no verdict", FailCheckTimeout)
}

// Figures are what a run measured so far, for a scenario's assertions.
type Figures struct {
	MaxWaitNs int64  // the longest an operation waited (queued time aside), faults included
	Elections int    // leaders established (once per ballot)
	Messages  uint64 // replica messages sent
	Completed int    // client operations answered
	LogBytes  int    // the largest replica log on disk
}

// Figures measures the run so far.
func (c *Cluster) Figures() Figures {
	f := Figures{Elections: c.r.live.Elections(), Messages: c.r.msgs, Completed: c.r.hist.Completed()}
	f.MaxWaitNs, _ = c.r.live.MaxWaitAnyNs(c.r.w.Now())
	for _, id := range c.r.peers {
		if d := c.r.w.Disk(sim.Addr(id)); d != nil {
			f.LogBytes = max(f.LogBytes, d.Size(simhost.LogFile))
		}
	}
	return f
}

// Replicas is the number of replicas, numbered 1..Replicas.
func (c *Cluster) Replicas() int { return c.r.scn.Replicas }

// Clients is the number of clients; client i (0-based) has the simulator
// address ClientAddrBase+i and the client id i+1.
func (c *Cluster) Clients() int { return len(c.r.clients) }

// TickNs is the replicas' and clients' tick period.
func (c *Cluster) TickNs() int64 { return c.r.scn.TickNs }

// Observe sets fn to see every event, after the checkers have seen it (one
// observer at a time; nil removes it). It may read the cluster, but must
// not change the world (see sim.World.OnEvent).
func (c *Cluster) Observe(fn func(*sim.Event)) { c.r.opt.OnEvent = fn }

// Guard runs fn and turns a panic in it (an assertion that fired in a
// replica, say) into a checker failure of kind FailPanic, as Run does. The
// world is not usable after such a panic; Err reports it.
func (c *Cluster) Guard(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			c.r.fail(FailPanic, fmt.Sprintf("%v\n%s", p, firstFrames(debug.Stack())))
		}
	}()
	fn()
}
