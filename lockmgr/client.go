package lockmgr

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"paxlock/paxos"
)

// ClientConfig configures a client session.
type ClientConfig struct {
	ID       ClientID   // unique per session; never reuse one
	Replicas []paxos.ID // the group
	// TimeoutTicks: how long to wait for an answer before sending the same
	// request to the next replica; doubled on every retry (with jitter) up
	// to BackoffMaxTicks.
	TimeoutTicks    int
	BackoffMaxTicks int
	// WaitTicks: once a replica answered Queued, how often to remind the
	// group that the client still waits (in case that replica died).
	WaitTicks int
	Rand      *rand.Rand
}

// DefaultClientConfig returns defaults; the caller sets Rand.
func DefaultClientConfig(id ClientID, replicas []paxos.ID) ClientConfig {
	return ClientConfig{ID: id, Replicas: replicas, TimeoutTicks: 40, BackoffMaxTicks: 160, WaitTicks: 400}
}

// Completion is the answer to the client's operation.
type Completion struct {
	Seq      uint64
	Op       Op
	Name     string
	Result   Result
	Locks    []LockStatus // OpStatus and OpRead only
	Counters []uint64     // OpStatus only
	// Slot and SinceLeader: see Reply (OpStatus and OpRead only).
	Slot        uint64
	SinceLeader int64
}

// ErrOutstanding: a client has one operation at a time.
var ErrOutstanding = errors.New("lockmgr: an operation is already outstanding")

// Client is the sans-IO client session: numbered requests, one outstanding,
// sent first to a random replica (as the seed's client did), then to the
// last leader a reply named; on a timeout the same request goes to the next
// replica with exponential backoff. Retries reuse the sequence number, so
// the at-most-once table applies them once.
type Client struct {
	cfg      ClientConfig
	nextSeq  uint64
	nextRead uint64 // reads are numbered apart, from ReadSeqBase
	leader   paxos.ID
	cur      *request
	out      []Packet
}

type request struct {
	req      Request
	target   int // index into cfg.Replicas
	attempts int
	elapsed  int
	timeout  int  // ticks until the timer fires
	backoff  int  // the current retry timeout
	hop      bool // the timer sends to target without counting an attempt (see Receive)
	queued   bool // answered Queued
}

// NewClient validates cfg and starts a session.
func NewClient(cfg ClientConfig) (*Client, error) {
	switch {
	case cfg.ID == 0:
		return nil, errors.New("lockmgr: ClientConfig.ID is 0: want a unique non-zero id")
	case len(cfg.Replicas) == 0:
		return nil, errors.New("lockmgr: ClientConfig.Replicas is empty")
	case cfg.TimeoutTicks <= 0 || cfg.BackoffMaxTicks < cfg.TimeoutTicks || cfg.WaitTicks <= 0:
		return nil, fmt.Errorf("lockmgr: ClientConfig: want 0 < TimeoutTicks <= BackoffMaxTicks and WaitTicks > 0")
	case cfg.Rand == nil:
		return nil, errors.New("lockmgr: ClientConfig.Rand is nil: inject a seeded source")
	}
	return &Client{cfg: cfg, nextSeq: FirstSeq, nextRead: ReadSeqBase}, nil
}

// ID is the session's client id.
func (c *Client) ID() ClientID { return c.cfg.ID }

// Busy reports whether an operation is outstanding.
func (c *Client) Busy() bool { return c.cur != nil }

// Start begins an operation (any op of the op table). It returns the
// sequence number used: the next of the client's requests, the next read
// (from ReadSeqBase) for OpRead, or 0 for OpStatus, which is not logged.
func (c *Client) Start(op Op, name string) (uint64, error) {
	if c.cur != nil {
		return 0, ErrOutstanding
	}
	if !op.Known() {
		return 0, fmt.Errorf("lockmgr: %w %d", ErrUnknownOp, op)
	}
	q := Request{Command{Client: c.cfg.ID, Op: op, Name: name}}
	switch {
	case op.Logged() && op.ReadOnly():
		q.Seq = c.nextRead
		c.nextRead++
	case op.Logged():
		q.Seq = c.nextSeq
		c.nextSeq++
	}
	c.cur = &request{req: q, timeout: c.cfg.TimeoutTicks, backoff: c.cfg.TimeoutTicks}
	c.cur.target = c.cfg.Rand.IntN(len(c.cfg.Replicas))
	if i := c.indexOf(c.leader); i >= 0 {
		c.cur.target = i
	}
	c.send()
	return q.Seq, nil
}

// Queued reports whether a replica has answered the outstanding operation
// Queued: it is a Lock waiting behind another holder. A host reads it to
// say why an operation it gave up on got no final answer; it is false once
// the operation completes or is abandoned.
func (c *Client) Queued() bool { return c.cur != nil && c.cur.queued }

// Abandon stops waiting for the outstanding operation; its outcome is then
// unknown. The next operation gets a new sequence number, which also
// cancels a Lock still queued in the group.
func (c *Client) Abandon() { c.cur = nil }

// Outbox returns the packets to send and empties it.
func (c *Client) Outbox() []Packet {
	out := c.out
	c.out = nil
	return out
}

// Tick advances the client's timer; on a timeout the request goes again to
// the next replica.
func (c *Client) Tick() {
	r := c.cur
	if r == nil {
		return
	}
	r.elapsed++
	if r.elapsed < r.timeout {
		return
	}
	if r.hop {
		// A replica without a leader sent us on; the pause is over.
		r.hop = false
		c.send()
		r.timeout = r.backoff
		return
	}
	r.attempts++
	r.target = c.retryTarget(r.target)
	backoff := min(c.cfg.TimeoutTicks<<min(r.attempts, 16), c.cfg.BackoffMaxTicks)
	r.backoff = backoff/2 + c.cfg.Rand.IntN(backoff/2+1)
	c.send()
	r.timeout = r.backoff
}

// retryTarget is where a request goes after no answer came from target:
// to the leader last heard of, if that was not target; else on to the
// next replica, forgetting a leader that did not answer.
func (c *Client) retryTarget(target int) int {
	if i := c.indexOf(c.leader); i >= 0 && i != target {
		return i
	}
	if c.indexOf(c.leader) == target {
		c.leader = 0
	}
	return (target + 1) % len(c.cfg.Replicas)
}

// TicksToTimer is how many Ticks from now the client's timer fires (a
// resend or a waiting Lock's reminder); the Ticks before it do nothing.
// With no operation outstanding there is no timer: math.MaxInt32.
func (c *Client) TicksToTimer() int {
	if c.cur == nil {
		return math.MaxInt32
	}
	return max(1, c.cur.timeout-c.cur.elapsed)
}

// Receive takes one packet addressed to the client and reports the
// operation's completion, if this packet completes it.
func (c *Client) Receive(pkt []byte) (Completion, bool) {
	kind, body, err := paxos.ParseFrame(pkt)
	if err != nil || kind != KindReply || c.cur == nil {
		return Completion{}, false
	}
	p, err := DecodeReply(body)
	r := c.cur
	if err != nil || p.Client != c.cfg.ID || p.Seq != r.req.Seq {
		return Completion{}, false
	}
	if p.Leader != 0 {
		c.leader = p.Leader
	}
	switch p.Status {
	case Redirect:
		if i := c.indexOf(p.Leader); i >= 0 && i != r.target {
			r.target = i
			c.send()
			return Completion{}, false
		}
		// The replica knows no leader (or names itself but cannot take
		// the request): try the next one after a short pause, rather
		// than wait out the whole timeout on a replica that cannot help.
		if !r.hop {
			r.hop = true
			r.target = (r.target + 1) % len(c.cfg.Replicas)
			r.elapsed, r.timeout = 0, max(1, c.cfg.TimeoutTicks/4)
		}
		return Completion{}, false
	case Queued:
		r.elapsed, r.timeout, r.attempts, r.hop = 0, c.cfg.WaitTicks, 0, false
		r.queued = true
		return Completion{}, false
	case Report:
		if !r.req.Op.ReadOnly() {
			return Completion{}, false
		}
	}
	c.cur = nil
	return Completion{Seq: p.Seq, Op: r.req.Op, Name: r.req.Name, Locks: p.Locks, Counters: p.Counters,
		Slot: p.Slot, SinceLeader: p.SinceLeader,
		Result: Result{Status: p.Status, Token: p.Token, Holder: p.Holder}}, true
}

func (c *Client) send() {
	r := c.cur
	to := c.cfg.Replicas[r.target]
	r.elapsed = 0
	c.out = append(c.out, Packet{To: Addr(to), Data: AppendRequest(nil, &r.req)})
}

func (c *Client) indexOf(id paxos.ID) int {
	for i, p := range c.cfg.Replicas {
		if p == id && id != 0 {
			return i
		}
	}
	return -1
}
