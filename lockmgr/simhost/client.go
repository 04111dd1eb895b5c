package simhost

import (
	"fmt"
	"math"
	"math/rand/v2"

	"paxlock/lockmgr"
	"paxlock/paxos"
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
	idx        int // 0-based (it names the client; the group numbers its sessions)
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
	wr         *writing // writes to the fenced resource under way
	writeN     uint64
}

// writing is a grant's writes to the fenced resource.
type writing struct {
	w        Write
	left     int   // writes still to make
	sendAt   int64 // the tick the next write goes out (after the work); -1: out
	resendAt int64 // while out: when to send it again without an ack
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
func (p *Client) Done() bool {
	return p.cl != nil && len(p.queue) == 0 && !p.cl.Busy() && p.wr == nil
}

// Queued is the number of operations not yet started.
func (p *Client) Queued() int { return len(p.queue) }

// Writing reports whether the client is writing to the fenced resource
// under a lock it was granted.
func (p *Client) Writing() bool { return p.wr != nil }

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
	if p.wr != nil {
		p.tickWrite(env)
	}
	if !p.cl.Busy() && p.wr == nil && len(p.queue) > 0 && p.ticks >= p.thinkUntil {
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
	if wr := p.wr; wr != nil && wr.sendAt >= 0 {
		p.wake = min(p.wake, max(p.ticks+1, wr.sendAt))
	} else if wr != nil {
		p.wake = min(p.wake, max(p.ticks+1, wr.resendAt))
	}
	env.WakeAtTick(p.wake)
}

func (p *Client) Receive(env sim.Env, from sim.Addr, data []byte) {
	if p.cl == nil {
		return
	}
	p.catchUp(env)
	if from == p.cfg.StorageAddr {
		p.writeAcked(data)
		p.flush(env)
		p.sleep(env)
		return
	}
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
		if (c.Op == lockmgr.OpLock || c.Op == lockmgr.OpTryLock) && c.Result.Status == lockmgr.Granted && p.cfg.Writes > 0 {
			p.wr = &writing{w: Write{Resource: c.Name, Session: c.Session, Token: c.Result.Token, Fenced: true}, left: p.cfg.Writes}
			p.nextWrite()
		}
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

// mayWrite is the check before each write (and each resend): the lease
// still holds, in the session the lock was granted in. Past it, the
// client gives the writes up: the lock may be someone else's now.
func (p *Client) mayWrite(wr *writing) bool {
	return p.cl.LeaseHeld() && p.cl.ID() == wr.w.Session
}

// nextWrite schedules the grant's next write after some work, if the
// client may still write; else it gives the writes up.
func (p *Client) nextWrite() {
	wr := p.wr
	if wr.left == 0 || !p.mayWrite(wr) {
		p.wr = nil
		return
	}
	work := int64(0)
	if p.cfg.WorkNs > 0 {
		work = p.rng.Int64N(p.cfg.WorkNs) / p.cfg.ClientTick()
	}
	wr.sendAt = p.ticks + 1 + work
}

// tickWrite sends the write due after its work (without checking again:
// the work may have run into a pause), or sends it again if no ack came,
// checking first.
func (p *Client) tickWrite(env sim.Env) {
	wr := p.wr
	switch {
	case wr.sendAt >= 0 && p.ticks >= wr.sendAt:
		p.writeN++
		wr.w.N = p.writeN
	case wr.sendAt < 0 && p.ticks >= wr.resendAt:
		if !p.mayWrite(wr) {
			p.wr = nil
			return
		}
	default:
		return
	}
	wr.sendAt, wr.resendAt = -1, p.ticks+int64(ticks(clientWaitNs, p.cfg.ClientTick()))
	env.Send(p.cfg.StorageAddr, appendWrite(nil, &wr.w))
}

// writeAcked takes the storage's answer: on to the next write, or, if
// the storage refused (a newer token wrote), the lock is gone.
func (p *Client) writeAcked(data []byte) {
	kind, body, err := paxos.ParseFrame(data)
	if err != nil || kind != KindWriteAck || p.wr == nil {
		return
	}
	a, ok := decodeWriteAck(body)
	if !ok || a.N != p.wr.w.N || p.wr.sendAt >= 0 {
		return
	}
	if !a.Accepted {
		p.wr = nil
		return
	}
	p.wr.left--
	p.nextWrite()
}
