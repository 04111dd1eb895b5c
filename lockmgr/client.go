package lockmgr

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"paxlock/paxos"
)

// ClientConfig configures a client.
type ClientConfig struct {
	// ID names the client before it has a session: the nonce of its opens
	// is drawn from Rand, and ID is only for the host's own bookkeeping.
	ID       ClientID
	Replicas []paxos.ID // the group
	// TimeoutTicks: how long to wait for an answer before sending the same
	// request to the next replica; doubled on every retry (with jitter) up
	// to BackoffMaxTicks.
	TimeoutTicks    int
	BackoffMaxTicks int
	// WaitTicks: once a replica answered Queued, how often to remind the
	// group that the client still waits (in case that replica died).
	WaitTicks int
	// LeaseMs is the lease the client asks for when it opens a session
	// (the group clamps it to its bounds).
	LeaseMs uint64
	// TickNs is the length of the client's tick in ns: it turns the lease
	// into ticks of the client's clock.
	TickNs int64
	// DriftPermille bounds how much faster the leader's clock may run than
	// the client's: the client counts its lease as lease·(1−drift) from
	// the moment it sent the last keepalive the leader acknowledged.
	DriftPermille int
	// Rand draws retry jitter, the open nonce and the session's secret;
	// a host outside a simulation seeds it from crypto/rand.
	Rand *rand.Rand
	// Mark, if not nil, is told each time the client reaches a situation
	// Mark names (coverage marks, for a test harness).
	Mark func(Mark)
}

// DefaultClientConfig returns defaults; the caller sets Rand.
func DefaultClientConfig(id ClientID, replicas []paxos.ID) ClientConfig {
	return ClientConfig{ID: id, Replicas: replicas, TimeoutTicks: 40, BackoffMaxTicks: 160, WaitTicks: 400,
		LeaseMs: 10_000, TickNs: 1_000_000, DriftPermille: 50}
}

// Completion is the answer to the client's operation.
type Completion struct {
	Seq      uint64
	Op       Op
	Name     string
	Session  ClientID // the session the operation ran in
	Result   Result
	Locks    []LockStatus // OpStatus and OpRead only
	Counters []uint64     // OpStatus only
	// Slot and SinceLeader: see Reply (OpStatus and OpRead only).
	Slot        uint64
	SinceLeader int64
}

// ErrOutstanding: a client has one operation at a time.
var ErrOutstanding = errors.New("lockmgr: an operation is already outstanding")

// ErrNoSession: OpClose without a session open.
var ErrNoSession = errors.New("lockmgr: no session is open")

// ErrSessionOpen: OpOpen with a session open already.
var ErrSessionOpen = errors.New("lockmgr: a session is open already")

// Client is the sans-IO client: numbered requests, one outstanding, sent
// first to a random replica (as the seed's client did), then to the last
// leader a reply named; on a timeout the same request goes to the next
// replica with exponential backoff. Retries reuse the sequence number, so
// the at-most-once table applies them once.
//
// Every operation but OpStatus runs in a session. The client opens one
// before its first operation (and again after one ended), signs every
// request with the session's secret, and keeps the lease alive on its own
// timer: a keepalive to the leader every third of the lease, whether an
// operation is outstanding or not. The lease is held until
// lease·(1−drift) after the client sent the last keepalive the leader
// acknowledged (or the open): other requests do not renew it. After that
// the client reports it lost (LeaseLost), drops the session (the group
// expires it) and opens a new one for its next operation.
type Client struct {
	cfg      ClientConfig
	now      int64 // ticks
	nextSeq  uint64
	nextRead uint64 // reads are numbered apart, from ReadSeqBase
	leader   paxos.ID
	cur      *request
	out      []Packet

	// The session: id 0 while none is open.
	id         ClientID
	secret     Key
	mac        *mac     // keyed with secret
	leaseTicks int64    // the granted lease, in ticks
	heldUntil  int64    // the lease is held before this tick
	lost       ClientID // a session lost (expired, or its lease ran out), unreported; 0: none
	open       *request
	ka         keepalive
}

type keepalive struct {
	seq    uint64
	sentAt int64 // when the outstanding keepalive was sent; -1: none out
	due    int64 // when the next one is sent (or the outstanding one resent)
	target int
}

type request struct {
	req      Request
	target   int // index into cfg.Replicas
	attempts int
	elapsed  int
	timeout  int      // ticks until the timer fires
	backoff  int      // the current retry timeout
	hop      bool     // the timer sends to target without counting an attempt (see Receive)
	queued   bool     // answered Queued
	sentAt   int64    // the tick it was first sent
	started  bool     // false while it waits for the session to open
	leader   paxos.ID // the leader the client knew when it first sent it (coverage only)
}

// NewClient validates cfg and returns a client without a session.
func NewClient(cfg ClientConfig) (*Client, error) {
	switch {
	case len(cfg.Replicas) == 0:
		return nil, errors.New("lockmgr: ClientConfig.Replicas is empty")
	case cfg.TimeoutTicks <= 0 || cfg.BackoffMaxTicks < cfg.TimeoutTicks || cfg.WaitTicks <= 0:
		return nil, fmt.Errorf("lockmgr: ClientConfig: want 0 < TimeoutTicks <= BackoffMaxTicks and WaitTicks > 0")
	case cfg.LeaseMs == 0 || cfg.TickNs <= 0 || cfg.DriftPermille < 0 || cfg.DriftPermille >= 1000:
		return nil, fmt.Errorf("lockmgr: ClientConfig: want LeaseMs > 0, TickNs > 0 and 0 <= DriftPermille < 1000")
	case cfg.Rand == nil:
		return nil, errors.New("lockmgr: ClientConfig.Rand is nil: inject a seeded source")
	}
	return &Client{cfg: cfg, ka: keepalive{sentAt: -1}}, nil
}

// ID is the current session's id, 0 while none is open.
func (c *Client) ID() ClientID { return c.id }

// Busy reports whether an operation is outstanding.
func (c *Client) Busy() bool { return c.cur != nil }

// LeaseHeld reports whether the client holds a lease now: a session is open
// and lease·(1−drift) has not passed since the last acknowledged keepalive
// (or the open) was sent. Locks of the session are safe to use only while it holds (and
// even then only with their fencing token: a process may pause between
// asking and acting).
func (c *Client) LeaseHeld() bool { return c.id != 0 && c.now < c.heldUntil }

// LeaseLost reports, once, a session the client lost: its lease ran out,
// or the group answered that it had expired. Whatever locks it held must be
// taken as gone. A session the client closed itself is not lost.
func (c *Client) LeaseLost() (ClientID, bool) {
	c.expireLease()
	lost := c.lost
	c.lost = 0
	return lost, lost != 0
}

// Start begins an operation (a Callable op, or OpOpen to open a session
// and do nothing else). It returns the sequence number used: the next of
// the session's requests, the next read (from ReadSeqBase) for OpRead, or
// 0 for OpStatus, which is not logged and needs no session, and for
// OpOpen. Without a session, the client opens one first.
func (c *Client) Start(op Op, name string) (uint64, error) {
	if c.cur != nil {
		return 0, ErrOutstanding
	}
	if !op.Callable() && op != OpOpen {
		return 0, fmt.Errorf("lockmgr: %w %d", ErrUnknownOp, op)
	}
	c.expireLease()
	switch {
	case op == OpClose && c.id == 0:
		return 0, ErrNoSession
	case op == OpOpen && c.id != 0:
		return 0, ErrSessionOpen
	}
	if c.id == 0 && op != OpStatus && c.open == nil {
		c.nextSeq, c.nextRead = FirstSeq, ReadSeqBase
		nonce := ClientID(c.cfg.Rand.Uint64()) | NonceBit
		for i := range c.secret {
			c.secret[i] = byte(c.cfg.Rand.Uint32())
		}
		c.mac = newMAC(c.secret)
		c.open = c.newRequest(Command{Client: nonce, Seq: FirstSeq, Op: OpOpen, Arg: c.cfg.LeaseMs, Key: c.secret})
		c.begin(c.open)
	}
	q := Request{Command{Client: c.id, Op: op, Name: name}}
	switch {
	case op.Logged() && op.ReadOnly():
		q.Seq = c.nextRead
		c.nextRead++
	case op.Logged():
		q.Seq = c.nextSeq
		c.nextSeq++
	}
	if op == OpOpen {
		// Only the open itself: the operation completes when it does.
		q.Seq = 0
	}
	c.cur = c.newRequest(q.Command)
	if op == OpStatus || c.id != 0 {
		c.begin(c.cur)
	}
	return q.Seq, nil
}

func (c *Client) newRequest(cmd Command) *request {
	r := &request{req: Request{cmd}, timeout: c.cfg.TimeoutTicks, backoff: c.cfg.TimeoutTicks}
	r.target = c.cfg.Rand.IntN(len(c.cfg.Replicas))
	if i := c.indexOf(c.leader); i >= 0 {
		r.target = i
	}
	return r
}

// begin signs r for the open session and sends it.
func (c *Client) begin(r *request) {
	r.started = true
	if r.req.Op.Session() {
		r.req.Client = c.id
		r.req.Key = c.mac.tag(r.req.Command)
	}
	r.sentAt = c.now
	r.leader = c.leader
	c.send(r)
}

// Outstanding is the session the outstanding operation was sent in, once
// it was (0 before, and for OpStatus).
func (c *Client) Outstanding() ClientID {
	if c.cur == nil || !c.cur.started || !c.cur.req.Op.Session() {
		return 0
	}
	return c.cur.req.Client
}

// Queued reports whether a replica has answered the outstanding operation
// Queued: it is a Lock waiting behind another holder. A host reads it to
// say why an operation it gave up on got no final answer; it is false once
// the operation completes or is abandoned.
func (c *Client) Queued() bool { return c.cur != nil && c.cur.queued }

// Abandon stops waiting for the outstanding operation; its outcome is then
// unknown. The next operation gets a new sequence number, which also
// cancels a Lock still queued in the group. An open under way goes on.
func (c *Client) Abandon() { c.cur = nil }

// Outbox returns the packets to send and empties it.
func (c *Client) Outbox() []Packet {
	out := c.out
	c.out = nil
	return out
}

// expireLease drops the session once its lease ran out.
func (c *Client) expireLease() {
	if c.id != 0 && c.now >= c.heldUntil {
		markWith(c.cfg.Mark, MarkClientLeaseLost)
		c.endSession(true)
	}
}

// endSession forgets the session; lost says it was lost rather than
// closed by the client.
func (c *Client) endSession(lost bool) {
	if lost {
		c.lost = c.id
	}
	c.id = 0
	c.ka = keepalive{sentAt: -1}
}

// renew extends the lease to lease·(1−drift) after sentAt.
func (c *Client) renew(sentAt int64) {
	held := c.leaseTicks - c.leaseTicks*int64(c.cfg.DriftPermille)/1000
	c.heldUntil = max(c.heldUntil, sentAt+held)
}

// tickKeepalive sends the next keepalive when due, or resends one that
// got no answer to the next replica.
func (c *Client) tickKeepalive() {
	k := &c.ka
	if c.id == 0 || c.now < k.due {
		return
	}
	if k.sentAt >= 0 {
		k.target = c.retryTarget(k.target)
	} else if i := c.indexOf(c.leader); i >= 0 {
		k.target = i
	}
	c.sendKeepalive()
}

func (c *Client) sendKeepalive() {
	k := &c.ka
	k.seq++
	k.sentAt, k.due = c.now, c.now+int64(c.cfg.TimeoutTicks)
	cmd := Command{Client: c.id, Seq: k.seq, Op: OpKeepAlive}
	cmd.Key = c.mac.tag(cmd)
	c.out = append(c.out, Packet{To: Addr(c.cfg.Replicas[k.target]), Data: AppendRequest(nil, &Request{cmd})})
}

// Tick advances the client's timer; on a timeout the request goes again to
// the next replica.
func (c *Client) Tick() {
	c.now++
	c.expireLease()
	c.tickKeepalive()
	if c.open != nil {
		c.tickRequest(c.open)
	}
	if c.cur != nil && c.cur.started {
		c.tickRequest(c.cur)
	}
}

func (c *Client) tickRequest(r *request) {
	r.elapsed++
	if r.elapsed < r.timeout {
		return
	}
	if r.hop {
		// A replica without a leader sent us on; the pause is over.
		r.hop = false
		c.send(r)
		r.timeout = r.backoff
		return
	}
	r.attempts++
	r.target = c.retryTarget(r.target)
	markWith(c.cfg.Mark, MarkClientRetry)
	backoff := min(c.cfg.TimeoutTicks<<min(r.attempts, 16), c.cfg.BackoffMaxTicks)
	r.backoff = backoff/2 + c.cfg.Rand.IntN(backoff/2+1)
	c.send(r)
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
	next := int64(math.MaxInt32)
	for _, r := range []*request{c.open, c.cur} {
		if r != nil && r.started {
			next = min(next, int64(max(1, r.timeout-r.elapsed)))
		}
	}
	if c.id != 0 {
		next = min(next, max(1, c.ka.due-c.now), max(1, c.heldUntil-c.now))
	}
	return int(next)
}

// Receive takes one packet addressed to the client and reports the
// operation's completion, if this packet completes it.
func (c *Client) Receive(pkt []byte) (Completion, bool) {
	kind, body, err := paxos.ParseFrame(pkt)
	if err != nil || kind != KindReply {
		return Completion{}, false
	}
	p, err := DecodeReply(body)
	if err != nil {
		return Completion{}, false
	}
	switch {
	case p.Seq >= KeepAliveSeqBase && p.Seq < ReadSeqBase:
		if c.id != 0 && p.Client == c.id && p.Seq == c.ka.seq && c.ka.sentAt >= 0 {
			c.keepaliveReply(&p)
		}
		return Completion{}, false
	case c.open != nil && p.Client == c.open.req.Client && p.Seq == c.open.req.Seq:
		return c.openReply(&p)
	case c.cur == nil || !c.cur.started || p.Client != c.cur.req.Client || p.Seq != c.cur.req.Seq:
		return Completion{}, false
	}
	r := c.cur
	if !c.answer(r, &p) {
		return Completion{}, false
	}
	c.cur = nil
	switch {
	case p.Status == SessionExpired && r.req.Client == c.id:
		markWith(c.cfg.Mark, MarkClientSessionLost)
		c.endSession(r.req.Op != OpClose)
	case r.req.Op == OpClose && p.Status == Ended && r.req.Client == c.id:
		c.endSession(false)
	}
	return Completion{Seq: p.Seq, Op: r.req.Op, Name: r.req.Name, Session: r.req.Client, Locks: p.Locks,
		Counters: p.Counters, Slot: p.Slot, SinceLeader: p.SinceLeader,
		Result: Result{Status: p.Status, Token: p.Token, Holder: p.Holder}}, true
}

// answer follows a reply to r and reports whether it is r's final answer.
func (c *Client) answer(r *request, p *Reply) bool {
	if p.Leader != 0 {
		c.leader = p.Leader
	}
	switch p.Status {
	case Redirect:
		if i := c.indexOf(p.Leader); i >= 0 && i != r.target {
			r.target = i
			c.send(r)
			return false
		}
		// The replica knows no leader (or names itself but cannot take
		// the request): try the next one after a short pause, rather
		// than wait out the whole timeout on a replica that cannot help.
		if !r.hop {
			r.hop = true
			r.target = (r.target + 1) % len(c.cfg.Replicas)
			r.elapsed, r.timeout = 0, max(1, c.cfg.TimeoutTicks/4)
		}
		return false
	case Queued:
		r.elapsed, r.timeout, r.attempts, r.hop = 0, c.cfg.WaitTicks, 0, false
		r.queued = true
		return false
	case Report:
		return r.req.Op.ReadOnly()
	}
	if r.attempts > 0 && p.Leader != 0 && p.Leader != r.leader {
		markWith(c.cfg.Mark, MarkRetryNewLeader)
	}
	return true
}

// openReply takes the answer to the open under way: the session starts
// and the operation that waited for it goes out; a refusal ends the
// operation instead.
func (c *Client) openReply(p *Reply) (Completion, bool) {
	r := c.open
	if !c.answer(r, p) {
		return Completion{}, false
	}
	c.open = nil
	if p.Status == Opened && p.Holder != 0 && p.Holder&NonceBit == 0 {
		c.id = p.Holder
		c.leaseTicks = int64(min(p.Token, math.MaxInt64/2/1_000_000)) * 1_000_000 / c.cfg.TickNs
		c.heldUntil = 0
		c.renew(r.sentAt)
		c.ka = keepalive{seq: KeepAliveSeqBase, sentAt: -1, due: c.now + max(1, c.leaseTicks/3), target: r.target}
		switch {
		case c.cur != nil && !c.cur.started && c.cur.req.Op == OpOpen:
			c.cur = nil
			return Completion{Op: OpOpen, Session: c.id, Result: Result{Status: Opened, Holder: c.id, Token: p.Token}}, true
		case c.cur != nil && !c.cur.started:
			c.begin(c.cur)
		}
		return Completion{}, false
	}
	if c.cur == nil || c.cur.started {
		return Completion{}, false
	}
	q := c.cur
	c.cur = nil
	return Completion{Seq: q.req.Seq, Op: q.req.Op, Name: q.req.Name, Result: Result{Status: p.Status}}, true
}

// keepaliveReply takes the answer to the outstanding keepalive.
func (c *Client) keepaliveReply(p *Reply) {
	k := &c.ka
	switch p.Status {
	case Alive:
		c.leader = p.Leader
		c.renew(k.sentAt)
		k.sentAt, k.due = -1, c.now+max(1, c.leaseTicks/3)
	case Redirect:
		if i := c.indexOf(p.Leader); i >= 0 && i != k.target {
			k.target = i
			c.sendKeepalive()
		}
	case SessionExpired:
		markWith(c.cfg.Mark, MarkClientSessionLost)
		c.endSession(true)
	}
}

func (c *Client) send(r *request) {
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
