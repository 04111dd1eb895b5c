package simhost

import (
	"fmt"
	"math"
	"math/rand/v2"

	"paxlock/lockmgr"
	"paxlock/sim"
)

// Op is one operation of a client's queue.
type Op struct {
	Op   lockmgr.Op
	Name string
}

// Client runs one client session over a queue of operations, one at a
// time, and reports each operation's call and answer. A client never
// crashes: the same Client serves the whole run. It sleeps like Replica.
type Client struct {
	cfg        *Config
	idx        int // 0-based; the session's client id is idx+1
	rec        Recorder
	cl         *lockmgr.Client
	queue      []Op   // operations still to issue, in order
	cur        int    // handle of the outstanding operation, -1 if none
	queued     bool   // the outstanding operation was answered Queued (reported once)
	began      bool   // the outstanding operation's session was reported
	queuedAt   int64  // the tick it was
	seq        uint64 // the outstanding operation's sequence number
	thinkUntil int64
	rng        *rand.Rand
	ticks      int64
	wake       int64
}

// NewClient returns client idx (0-based) with its queue of operations.
func NewClient(cfg *Config, idx int, ops []Op, rec Recorder) *Client {
	return &Client{cfg: cfg, idx: idx, rec: rec, cur: -1, queue: ops}
}

// Enqueue adds an operation after those already queued. The client picks
// it up at its next tick; call Wake from an action to make sure a sleeping
// client has one soon.
func (p *Client) Enqueue(op Op) { p.queue = append(p.queue, op) }

// Wake is for a harness action that just queued work: it brings the
// sleeping client's next tick forward.
func (p *Client) Wake(env sim.Env) {
	if p.cl != nil {
		p.catchUp(env)
		p.sleep(env)
	}
}

// Done reports whether the client has nothing left to do.
func (p *Client) Done() bool { return p.cl != nil && len(p.queue) == 0 && !p.cl.Busy() }

// Queued is the number of operations not yet started.
func (p *Client) Queued() int { return len(p.queue) }

// Outstanding is the handle of the operation waiting for its answer, or -1.
func (p *Client) Outstanding() int { return p.cur }

func (p *Client) Start(env sim.Env) {
	p.rng = env.Rand()
	cl, err := lockmgr.NewClient(p.cfg.Client(lockmgr.ClientID(p.idx+1), p.rng))
	if err != nil {
		p.rec.Broken(BrokenConfig, err.Error())
		return
	}
	p.cl, p.cur, p.ticks = cl, -1, 0
	p.sleep(env)
}

func (p *Client) Tick(env sim.Env) {
	if p.cl == nil {
		env.WakeAtTick(math.MaxInt64)
		return
	}
	p.catchUp(env)
	if p.cur >= 0 && p.queued && p.cfg.PatienceNs > 0 && p.ticks >= p.queuedAt+p.patienceTicks() {
		// Out of patience: stop waiting (the next request withdraws the
		// wait in the group) and go on with the script.
		p.cl.Abandon()
		p.rec.Abandoned(p.idx, p.cur, p.seq, env.Now())
		p.cur, p.queued = -1, false
	}
	if !p.cl.Busy() && len(p.queue) > 0 && p.ticks >= p.thinkUntil {
		op := p.queue[0]
		p.queue = p.queue[1:]
		seq, err := p.cl.Start(op.Op, op.Name)
		if err != nil {
			p.rec.Broken(BrokenClient, err.Error())
			return
		}
		p.seq = seq
		p.cur = p.rec.Invoked(p.idx, env.Now(), op.Op, op.Name)
		p.began = false
		p.reportSession()
	}
	p.flush(env)
	p.sleep(env)
}

// catchUp runs the client's ticks that came due since the last callback;
// only the last may do anything (see Replica).
func (p *Client) catchUp(env sim.Env) {
	for due := env.Ticks(); p.ticks < due; {
		p.ticks++
		p.cl.Tick()
		if out := p.cl.Outbox(); len(out) > 0 {
			if p.ticks < p.wake {
				p.rec.Broken(BrokenTimer, fmt.Sprintf("client %d: a timer fired at tick %d, before tick %d it asked to wake at", p.idx+1, p.ticks, p.wake))
			}
			p.send(env, out) // as a tick callback would have
		}
	}
}

// sleep asks to be woken at the client's timer or when its think time is
// over, whichever comes first.
func (p *Client) sleep(env sim.Env) {
	p.wake = p.ticks + int64(p.cl.TicksToTimer())
	if !p.cl.Busy() && len(p.queue) > 0 {
		p.wake = min(p.wake, max(p.ticks+1, p.thinkUntil))
	}
	if p.cur >= 0 && p.queued && p.cfg.PatienceNs > 0 {
		p.wake = min(p.wake, max(p.ticks+1, p.queuedAt+p.patienceTicks()))
	}
	env.WakeAtTick(p.wake)
}

func (p *Client) Receive(env sim.Env, from sim.Addr, data []byte) {
	if p.cl == nil {
		return
	}
	p.catchUp(env)
	c, ok := p.cl.Receive(data)
	p.reportSession()
	if !ok && p.cur >= 0 && !p.queued && p.cl.Queued() {
		p.queued, p.queuedAt = true, p.ticks
		p.rec.Queued(p.idx, p.cur, env.Now())
	}
	if ok && p.cur >= 0 {
		p.queued = false
		h := p.cur
		p.cur = -1
		p.rec.Returned(p.idx, h, env.Now(), c)
		if think := p.cfg.ThinkNs; think > 0 {
			// Think time is kept in ticks: the client is woken on its
			// tick schedule, and starts no sooner than this one.
			p.thinkUntil = p.ticks + 1 + p.rng.Int64N(think)/p.cfg.ClientTick()
		}
	}
	p.flush(env)
	p.sleep(env)
}

// reportSession reports the outstanding operation's session once it was
// sent in one.
func (p *Client) reportSession() {
	if p.cur >= 0 && !p.began {
		if s := p.cl.Outstanding(); s != 0 {
			p.began = true
			p.rec.Began(p.idx, p.cur, s)
		}
	}
}

func (p *Client) patienceTicks() int64 { return max(1, p.cfg.PatienceNs/p.cfg.ClientTick()) }

func (p *Client) flush(env sim.Env) { p.send(env, p.cl.Outbox()) }

func (p *Client) send(env sim.Env, out []lockmgr.Packet) {
	for _, pkt := range out {
		env.Send(sim.Addr(pkt.To), pkt.Data)
	}
}
