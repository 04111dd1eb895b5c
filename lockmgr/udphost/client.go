package udphost

import (
	"context"
	"crypto/rand" // real randomness on purpose: client ids must not collide across processes
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// Client is a lock-service client on UDP: a sans-IO lockmgr.Client session
// driven by a real clock over one socket. Its methods block the calling
// goroutine, which is the only one that drives the session; a Client is
// not safe for concurrent use (use one per goroutine).
type Client struct {
	cfg      *Config
	conn     *net.UDPConn
	auth     *auth
	replicas map[netip.AddrPort]paxos.ID
	sess     *lockmgr.Client
	rng      *mrand.Rand
	tick     time.Duration
	rbuf     []byte
	wbuf     []byte
}

// ClientOptions configures NewClient.
type ClientOptions struct {
	// ID is the session's client id; 0 draws a random one. Ids must never
	// be reused: the group's at-most-once table remembers them.
	ID lockmgr.ClientID
	// Rand drives the session's random choices; nil seeds one at random.
	Rand *mrand.Rand
}

// NoAnswerError: an operation got no final answer in time, so its outcome
// is unknown (a Lock may still be granted until the client's next request).
type NoAnswerError struct {
	Op     lockmgr.Op
	Name   string
	Waited time.Duration
	Heard  bool  // some replica answered, just not finally (a redirect, a queue)
	Queued bool  // a replica said the Lock waits behind another holder
	Cause  error // the context's error
}

func (e *NoAnswerError) Error() string {
	switch {
	case e.Queued:
		return fmt.Sprintf("still queued behind another holder after %v; stopped waiting (outcome unknown)", e.Waited.Round(time.Millisecond))
	case e.Heard:
		return fmt.Sprintf("no final answer within %v (outcome unknown)", e.Waited.Round(time.Millisecond))
	}
	return fmt.Sprintf("no answer from the cluster within %v (is it running? see paxgroup)", e.Waited.Round(time.Millisecond))
}

func (e *NoAnswerError) Unwrap() error { return e.Cause }

// NewClient opens a client socket for the group cfg describes.
func NewClient(cfg *Config, opt ClientOptions) (*Client, error) {
	c := &Client{cfg: cfg, auth: newAuth(cfg.key), replicas: map[netip.AddrPort]paxos.ID{},
		rng: opt.Rand, tick: cfg.Tick(), rbuf: make([]byte, readBufBytes)}
	if c.rng == nil {
		// A real client's retry jitter needs no replay; the simulator's
		// clients get their seeded source from sim instead.
		c.rng = mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
	}
	loopback := true
	for _, n := range cfg.Nodes {
		c.replicas[n.addr] = n.ID
		loopback = loopback && n.addr.Addr().IsLoopback()
	}
	var laddr *net.UDPAddr
	if loopback {
		// Stay on the loopback interface when the whole group is there.
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.Nodes[0].addr.Addr(), 0))
	}
	conn, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("udphost: client socket: %w", err)
	}
	_ = conn.SetReadBuffer(socketBufBytes)
	c.conn = conn
	if err := c.newSession(opt.ID); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// RandomClientID draws a fresh, non-zero client id from crypto/rand.
func RandomClientID() lockmgr.ClientID {
	var b [8]byte
	for {
		rand.Read(b[:])
		if id := lockmgr.ClientID(binary.LittleEndian.Uint64(b[:]) >> 1); id != 0 {
			return id // 63 bits: ids print as plain decimals
		}
	}
}

func (c *Client) newSession(id lockmgr.ClientID) error {
	if id == 0 {
		id = RandomClientID()
	}
	cc := lockmgr.DefaultClientConfig(id, c.cfg.Peers())
	cc.Rand = c.rng
	s, err := lockmgr.NewClient(cc)
	if err != nil {
		return fmt.Errorf("udphost: %w", err)
	}
	c.sess = s
	return nil
}

// ID is the session's client id. It changes after an answer of Stale
// (see Do).
func (c *Client) ID() lockmgr.ClientID { return c.sess.ID() }

// LocalAddr is the client socket's address.
func (c *Client) LocalAddr() netip.AddrPort { return c.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Close releases the socket.
func (c *Client) Close() error { return c.conn.Close() }

// Do runs one operation (lockmgr.OpLock, OpTryLock, OpUnlock or OpStatus)
// until its final answer or until ctx is done; then it returns a
// *NoAnswerError and the outcome is unknown. A blocking Lock waits while
// it is queued. If the group answers Stale (it cannot tell what became of
// the request), the outcome is unknown as well, and the client continues
// under a fresh id, as the at-most-once rules ask.
func (c *Client) Do(ctx context.Context, op lockmgr.Op, name string) (lockmgr.Completion, error) {
	if op != lockmgr.OpStatus && !lockmgr.ValidName(name) {
		// The group drops a request it cannot decode, so do not wait for it.
		return lockmgr.Completion{}, fmt.Errorf("udphost: lock name of %d bytes: want 1 to %d", len(name), lockmgr.NameBytesMax)
	}
	if _, err := c.sess.Start(op, name); err != nil {
		return lockmgr.Completion{}, fmt.Errorf("udphost: %w", err)
	}
	c.flush()
	// The wall clock on purpose: this is the real-network host, which
	// turns real time into the sans-IO session's ticks (the simulator
	// drives the same session from its virtual clock, in lockmgr/simhost).
	start := time.Now()
	next := start.Add(c.tick)
	heard := false
	for {
		if err := ctx.Err(); err != nil {
			queued := c.sess.Queued()
			c.sess.Abandon()
			return lockmgr.Completion{}, &NoAnswerError{Op: op, Name: name, Waited: waited(ctx, start),
				Heard: heard, Queued: queued, Cause: err}
		}
		frame, _, ok, err := c.read(ctx, next)
		if err != nil {
			c.sess.Abandon()
			return lockmgr.Completion{}, err
		}
		if !time.Now().Before(next) { // the real clock, on purpose (see above)
			next = c.elapse(next)
		}
		if !ok {
			continue
		}
		heard = true
		comp, done := c.sess.Receive(frame) // the session alone decodes it, and notes a Queued answer
		c.flush()
		if !done {
			continue
		}
		if comp.Result.Status == lockmgr.Stale {
			if err := c.newSession(0); err != nil {
				return comp, err
			}
		}
		return comp, nil
	}
}

// waited is how long an operation that ran out of time waited: the
// context's budget when it hit its deadline, which reads better than the
// few microseconds more that actually passed.
func waited(ctx context.Context, start time.Time) time.Duration {
	if d, ok := ctx.Deadline(); ok && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return d.Sub(start).Round(time.Millisecond)
	}
	return time.Since(start)
}

// read waits for one authenticated packet from a replica until the given
// time or ctx's deadline, whichever is first; ok is false on a timeout and
// for packets from strangers or without a valid MAC.
func (c *Client) read(ctx context.Context, until time.Time) (frame []byte, from paxos.ID, ok bool, err error) {
	if d, has := ctx.Deadline(); has && d.Before(until) {
		until = d
	}
	if err := c.conn.SetReadDeadline(until); err != nil {
		return nil, 0, false, fmt.Errorf("udphost: client: %w", err)
	}
	k, src, err := c.conn.ReadFromUDPAddrPort(c.rbuf)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, 0, false, nil
	case err != nil:
		return nil, 0, false, fmt.Errorf("udphost: client: %w", err)
	}
	from, known := c.replicas[netip.AddrPortFrom(src.Addr().Unmap(), src.Port())]
	if !known {
		return nil, 0, false, nil
	}
	frame, ok = c.auth.open(c.rbuf[:k])
	return frame, from, ok, nil
}

// elapse ticks the session for every tick period that has passed.
func (c *Client) elapse(next time.Time) time.Time {
	now := time.Now() // real time, on purpose: see Do
	for i := 0; !now.Before(next); i++ {
		if i < TickCatchupMax {
			c.sess.Tick()
		}
		next = next.Add(c.tick)
	}
	c.flush()
	return next
}

func (c *Client) flush() {
	for _, p := range c.sess.Outbox() {
		c.send(paxos.ID(p.To), p.Data)
	}
}

func (c *Client) send(to paxos.ID, frame []byte) {
	ap, ok := c.cfg.NodeAddr(to)
	if !ok {
		return
	}
	c.wbuf = c.auth.seal(c.wbuf[:0], frame)
	_, _ = c.conn.WriteToUDPAddrPort(c.wbuf, ap) // delivery is not promised; retries cover it
}

// statusResendEvery paces NodeStatus's repeats of its request.
const statusResendEvery = 100 * time.Millisecond

// NodeStatus asks replica id alone for its report: its lock table, the
// leader it knows and its drop counters (named by lockmgr.CounterNames).
// It does not disturb the session and must not run during Do.
func (c *Client) NodeStatus(ctx context.Context, id paxos.ID) (lockmgr.Reply, error) {
	if _, ok := c.cfg.NodeAddr(id); !ok {
		return lockmgr.Reply{}, fmt.Errorf("udphost: replica id %d is not in the config", id)
	}
	req := lockmgr.AppendRequest(nil, &lockmgr.Request{Command: lockmgr.Command{Client: c.sess.ID(), Op: lockmgr.OpStatus}})
	start := time.Now() // real time, on purpose: see Do
	resend := time.Time{}
	for {
		if err := ctx.Err(); err != nil {
			return lockmgr.Reply{}, &NoAnswerError{Op: lockmgr.OpStatus, Waited: waited(ctx, start), Cause: err}
		}
		if now := time.Now(); !now.Before(resend) {
			c.send(id, req)
			resend = now.Add(statusResendEvery)
		}
		frame, from, ok, err := c.read(ctx, resend)
		if err != nil {
			return lockmgr.Reply{}, err
		}
		if !ok || from != id {
			continue
		}
		kind, body, err := paxos.ParseFrame(frame)
		if err != nil || kind != lockmgr.KindReply {
			continue
		}
		p, err := lockmgr.DecodeReply(body)
		if err == nil && p.Status == lockmgr.Report && p.Client == c.sess.ID() && p.Seq == 0 {
			return p, nil
		}
	}
}
