package udphost

import (
	"context"
	"crypto/rand" // real randomness on purpose: session secrets must be unguessable
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// Client is a lock-service client on UDP: a sans-IO lockmgr.Client driven
// by a real clock over one socket. A goroutine of its own reads the socket
// and ticks the session, so the lease is kept alive between operations as
// well as during them; Do hands it one operation at a time and waits for
// the answer. Do and NodeStatus may be called from one goroutine at a time.
type Client struct {
	cfg      *Config
	conn     *net.UDPConn
	auth     *auth
	replicas map[netip.AddrPort]paxos.ID
	tick     time.Duration
	lostFn   func(lockmgr.ClientID)

	mu         sync.Mutex // guards sess, waiter, heard and wbuf: the loop and Do share them
	sess       *lockmgr.Client
	waiter     chan lockmgr.Completion // the operation in flight's answer; nil: none
	heard      bool                    // a reply to the operation in flight came
	status     chan lockmgr.Reply      // NodeStatus's answer; nil: none asked
	statusFrom paxos.ID                // the replica NodeStatus asked
	wbuf       []byte
	sent       func(frame []byte) // tests: sees every frame sent

	stop chan struct{}
	done chan struct{}
	err  error // the socket error that stopped the loop
}

// ClientOptions configures NewClient.
type ClientOptions struct {
	// Rand drives the session's random choices (retry jitter, the open
	// nonce and the session secret); nil seeds a ChaCha8 from crypto/rand.
	Rand *mrand.Rand
	// OnLeaseLost, if set, is called (on the client's own goroutine) with
	// the session whenever a session's lease is lost or the session ended:
	// its locks must be taken as gone.
	OnLeaseLost func(lockmgr.ClientID)
}

// NoAnswerError: an operation got no final answer in time, so its outcome
// is unknown (a Lock may still be granted until the client's next request).
type NoAnswerError struct {
	Op      lockmgr.Op
	Name    string
	Session lockmgr.ClientID // the session it was sent in (0: none had opened)
	Waited  time.Duration
	Heard   bool  // some replica answered, just not finally (a redirect, a queue)
	Queued  bool  // a replica said the Lock waits behind another holder
	Cause   error // the context's error
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

// NewClient opens a client socket for the group cfg describes and starts
// its goroutine. It opens no session yet: the first operation does.
func NewClient(cfg *Config, opt ClientOptions) (*Client, error) {
	c := &Client{cfg: cfg, auth: newAuth(cfg.key), replicas: map[netip.AddrPort]paxos.ID{},
		tick: cfg.Tick(), lostFn: opt.OnLeaseLost, stop: make(chan struct{}), done: make(chan struct{})}
	rng := opt.Rand
	if rng == nil {
		// The session secret comes from this source: seed it from the
		// operating system's randomness (the simulator's clients get a
		// seeded source from sim instead).
		var seed [32]byte
		rand.Read(seed[:])
		rng = mrand.New(mrand.NewChaCha8(seed))
	}
	loopback := true
	for _, n := range cfg.Nodes {
		c.replicas[n.addr] = n.ID
		loopback = loopback && n.addr.Addr().IsLoopback()
	}
	cc := cfg.ClientConfig()
	cc.ID = RandomClientID()
	cc.Rand = rng
	s, err := lockmgr.NewClient(cc)
	if err != nil {
		return nil, fmt.Errorf("udphost: %w", err)
	}
	c.sess = s
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
	go c.loop()
	return c, nil
}

// RandomClientID draws a fresh, non-zero id from crypto/rand, for a
// client's own bookkeeping (sessions are numbered by the group).
func RandomClientID() lockmgr.ClientID {
	var b [8]byte
	for {
		rand.Read(b[:])
		if id := lockmgr.ClientID(binary.LittleEndian.Uint64(b[:]) >> 1); id != 0 {
			return id // 63 bits: ids print as plain decimals
		}
	}
}

// ID is the current session's id, 0 while none is open.
func (c *Client) ID() lockmgr.ClientID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.ID()
}

// LeaseHeld reports whether the client holds a lease now (see
// lockmgr.Client.LeaseHeld).
func (c *Client) LeaseHeld() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess.LeaseHeld()
}

// LocalAddr is the client socket's address.
func (c *Client) LocalAddr() netip.AddrPort { return c.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Close stops the client's goroutine and releases the socket. It does not
// end the session (see CloseSession): the group expires it after its
// lease.
func (c *Client) Close() error {
	select {
	case <-c.stop:
		return nil
	default:
	}
	close(c.stop)
	err := c.conn.Close()
	<-c.done
	return err
}

// OpenSession opens a session now, if none is open, rather than with the
// first operation.
func (c *Client) OpenSession(ctx context.Context) (lockmgr.ClientID, error) {
	if id := c.ID(); id != 0 {
		return id, nil
	}
	comp, err := c.Do(ctx, lockmgr.OpOpen, "")
	if err != nil {
		return 0, err
	}
	if comp.Result.Status != lockmgr.Opened {
		return 0, fmt.Errorf("udphost: open: %v", comp.Result)
	}
	return comp.Session, nil
}

// CloseSession ends the session, if one is open: its locks are released
// and its waits withdrawn at once, rather than after the lease.
func (c *Client) CloseSession(ctx context.Context) error {
	if c.ID() == 0 {
		return nil
	}
	comp, err := c.Do(ctx, lockmgr.OpClose, "")
	if err != nil {
		return err
	}
	if s := comp.Result.Status; s != lockmgr.Ended && s != lockmgr.SessionExpired {
		return fmt.Errorf("udphost: close: %v", comp.Result)
	}
	return nil
}

// Do runs one operation (any op lockmgr.Op.Callable allows) until its
// final answer or until ctx is done; then it returns a *NoAnswerError and
// the outcome is unknown. A blocking Lock waits while it is queued. The
// first operation opens a session, and so does the first after a session
// ended (an answer of SessionExpired says so: the locks it held are gone).
func (c *Client) Do(ctx context.Context, op lockmgr.Op, name string) (lockmgr.Completion, error) {
	if op.Named() && !lockmgr.ValidName(name) {
		// The group drops a request it cannot decode, so do not wait for it.
		return lockmgr.Completion{}, fmt.Errorf("udphost: lock name of %d bytes: want 1 to %d", len(name), lockmgr.NameBytesMax)
	}
	ch := make(chan lockmgr.Completion, 1)
	c.mu.Lock()
	if _, err := c.sess.Start(op, name); err != nil {
		c.mu.Unlock()
		return lockmgr.Completion{}, fmt.Errorf("udphost: %w", err)
	}
	c.waiter, c.heard = ch, false
	c.flushLocked()
	c.mu.Unlock()
	// The wall clock on purpose: this is the real-network host (the
	// simulator drives the same session from its virtual clock).
	start := time.Now()
	select {
	case comp := <-ch:
		return comp, nil
	case <-c.done:
		c.abandon()
		if c.err != nil {
			return lockmgr.Completion{}, c.err
		}
		return lockmgr.Completion{}, errors.New("udphost: client closed")
	case <-ctx.Done():
		c.mu.Lock()
		defer c.mu.Unlock()
		select {
		case comp := <-ch: // answered just as the context ended
			c.waiter = nil
			return comp, nil
		default:
		}
		e := &NoAnswerError{Op: op, Name: name, Session: c.sess.Outstanding(), Waited: waited(ctx, start),
			Heard: c.heard, Queued: c.sess.Queued(), Cause: ctx.Err()}
		c.sess.Abandon()
		c.waiter = nil
		return lockmgr.Completion{}, e
	}
}

func (c *Client) abandon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess.Abandon()
	c.waiter = nil
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

// loop is the client's goroutine: it reads the socket, with the next tick
// as the read deadline, hands each reply to the session, ticks it on
// time, and reports completions to Do and lost leases to OnLeaseLost.
func (c *Client) loop() {
	defer close(c.done)
	rbuf := make([]byte, readBufBytes)
	next := time.Now().Add(c.tick) // real time, on purpose: see Do
	for {
		if err := c.conn.SetReadDeadline(next); err != nil {
			c.fail(err)
			return
		}
		k, src, err := c.conn.ReadFromUDPAddrPort(rbuf)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
		case err != nil:
			c.fail(err)
			return
		default:
			c.receive(rbuf[:k], src)
		}
		if now := time.Now(); !now.Before(next) {
			next = c.elapse(now, next)
		}
	}
}

func (c *Client) fail(err error) {
	select {
	case <-c.stop: // closed on purpose
	default:
		c.err = fmt.Errorf("udphost: client: %w", err)
	}
}

// receive takes one datagram: an authenticated reply from a replica goes
// to NodeStatus if it asked, else to the session.
func (c *Client) receive(pkt []byte, src netip.AddrPort) {
	from, known := c.replicas[netip.AddrPortFrom(src.Addr().Unmap(), src.Port())]
	if !known {
		return
	}
	frame, ok := c.auth.open(pkt)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != nil && from == c.statusFrom {
		if p, ok := statusReply(frame); ok {
			select {
			case c.status <- p:
			default:
			}
			return
		}
	}
	comp, done := c.sess.Receive(frame) // the session alone decodes it
	if c.waiter != nil {
		c.heard = true
	}
	c.flushLocked()
	c.reportLost()
	if done && c.waiter != nil {
		c.waiter <- comp
		c.waiter = nil
	}
}

// statusReply decodes an OpStatus answer (Seq 0, Report).
func statusReply(frame []byte) (lockmgr.Reply, bool) {
	kind, body, err := paxos.ParseFrame(frame)
	if err != nil || kind != lockmgr.KindReply {
		return lockmgr.Reply{}, false
	}
	p, err := lockmgr.DecodeReply(body)
	return p, err == nil && p.Status == lockmgr.Report && p.Seq == 0
}

// elapse ticks the session for every tick period that has passed.
func (c *Client) elapse(now, next time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; !now.Before(next); i++ {
		if i < TickCatchupMax {
			c.sess.Tick()
		}
		next = next.Add(c.tick)
	}
	c.flushLocked()
	c.reportLost()
	return next
}

// reportLost tells OnLeaseLost about a session whose lease ran out.
func (c *Client) reportLost() {
	if c.sess.LeaseLost() && c.lostFn != nil {
		c.lostFn(c.sess.ID())
	}
}

func (c *Client) flushLocked() {
	for _, p := range c.sess.Outbox() {
		c.send(paxos.ID(p.To), p.Data)
	}
}

func (c *Client) send(to paxos.ID, frame []byte) {
	ap, ok := c.cfg.NodeAddr(to)
	if !ok {
		return
	}
	if c.sent != nil {
		c.sent(frame)
	}
	c.wbuf = c.auth.seal(c.wbuf[:0], frame)
	_, _ = c.conn.WriteToUDPAddrPort(c.wbuf, ap) // delivery is not promised; retries cover it
}

// statusResendEvery paces NodeStatus's repeats of its request.
const statusResendEvery = 100 * time.Millisecond

// NodeStatus asks replica id alone for its report: its lock table, the
// leader it knows and its drop counters (named by lockmgr.CounterNames).
// It needs no session and does not disturb the one there is.
func (c *Client) NodeStatus(ctx context.Context, id paxos.ID) (lockmgr.Reply, error) {
	if _, ok := c.cfg.NodeAddr(id); !ok {
		return lockmgr.Reply{}, fmt.Errorf("udphost: replica id %d is not in the config", id)
	}
	ch := make(chan lockmgr.Reply, 1)
	c.mu.Lock()
	c.status, c.statusFrom = ch, id
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.status = nil
		c.mu.Unlock()
	}()
	req := lockmgr.AppendRequest(nil, &lockmgr.Request{Command: lockmgr.Command{Op: lockmgr.OpStatus}})
	start := time.Now() // real time, on purpose: see Do
	resend := time.NewTicker(statusResendEvery)
	defer resend.Stop()
	for {
		c.mu.Lock()
		c.send(id, req)
		c.mu.Unlock()
		select {
		case p := <-ch:
			return p, nil
		case <-resend.C:
		case <-c.done:
			return lockmgr.Reply{}, errors.New("udphost: client closed")
		case <-ctx.Done():
			return lockmgr.Reply{}, &NoAnswerError{Op: lockmgr.OpStatus, Waited: waited(ctx, start), Cause: ctx.Err()}
		}
	}
}
