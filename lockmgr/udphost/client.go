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
// by a real clock over one socket. During an operation the calling
// goroutine reads the socket and ticks the session itself (no hand-off on
// the hot path); between operations a timer wakes for the session's own
// timers (keepalives, and noticing a lost lease), drains what arrived,
// and sleeps again, so the lease lives between operations too. Do and
// NodeStatus may be called from one goroutine at a time.
type Client struct {
	cfg      *Config
	conn     *net.UDPConn
	auth     *auth
	replicas map[netip.AddrPort]paxos.ID
	tick     time.Duration
	lostFn   func(lockmgr.ClientID)
	rbuf     []byte

	mu     sync.Mutex // guards everything below: the caller and the idle timer share it
	sess   *lockmgr.Client
	start  time.Time // tick 0
	ticks  int64     // ticks run so far
	busy   bool      // an operation owns the socket; the idle timer stays off it
	idle   *time.Timer
	closed bool
	wbuf   []byte
	sent   func(frame []byte) // tests: sees every frame sent
}

// ClientOptions configures NewClient.
type ClientOptions struct {
	// Rand drives the session's random choices (retry jitter, the open
	// nonce and the session secret); nil seeds a ChaCha8 from crypto/rand.
	Rand *mrand.Rand
	// OnLeaseLost, if set, is called with the session whenever the client
	// loses one (its lease ran out, or the group expired it; closing it
	// is not losing it): its locks must be taken as gone. It runs with
	// the client's lock held, from the operation's goroutine or the idle
	// timer's: it must not call back into the Client (hand the news to a
	// channel instead).
	OnLeaseLost func(lockmgr.ClientID)
}

// NoAnswerError: an operation got no final answer in time, so its outcome
// is unknown (a Lock may still be granted until the client's next request).
type NoAnswerError struct {
	Op      lockmgr.Op
	Name    string
	Session lockmgr.ClientID // the session it was sent in (0: none had opened)
	Waited  time.Duration
	Heard   bool // some replica answered, just not finally (a redirect, a queue)
	Queued  bool // a replica said the Lock waits behind another holder
	// NoLeader: replicas answered that they know no leader (no quorum
	// can elect one, or an election is under way).
	NoLeader bool
	// Keyed: this client's config has a key. Replicas drop a request
	// whose MAC fails without a word, so a wrong key looks like a group
	// that is not running; the message says both.
	Keyed bool
	Cause error // the context's error
}

func (e *NoAnswerError) Error() string {
	switch {
	case !e.Heard && e.Keyed:
		return fmt.Sprintf("no answer from the cluster within %v (is it running? see paxgroup; and is the config's key the group's? "+
			"replicas drop packets with a wrong key without answering)", e.Waited.Round(time.Millisecond))
	case e.NoLeader && !e.Queued:
		return fmt.Sprintf("no final answer within %v: the replicas know no leader (no quorum up, or an election under way; outcome unknown)", e.Waited.Round(time.Millisecond))
	case e.Queued:
		return fmt.Sprintf("still queued behind another holder after %v; stopped waiting (outcome unknown)", e.Waited.Round(time.Millisecond))
	case e.Heard:
		return fmt.Sprintf("no final answer within %v (outcome unknown)", e.Waited.Round(time.Millisecond))
	}
	return fmt.Sprintf("no answer from the cluster within %v (is it running, and is this its config? see paxgroup)", e.Waited.Round(time.Millisecond))
}

func (e *NoAnswerError) Unwrap() error { return e.Cause }

// NewClient opens a client socket for the group cfg describes. It opens
// no session yet: the first operation does.
func NewClient(cfg *Config, opt ClientOptions) (*Client, error) {
	c := &Client{cfg: cfg, auth: newAuth(cfg), replicas: map[netip.AddrPort]paxos.ID{},
		tick: cfg.Tick(), lostFn: opt.OnLeaseLost, rbuf: make([]byte, readBufBytes)}
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
	c.start = time.Now() // real time, on purpose: see Do
	c.idle = time.AfterFunc(time.Hour, c.onIdle)
	c.mu.Lock()
	c.armLocked()
	c.mu.Unlock()
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

// Close stops the idle timer and releases the socket. It does not end
// the session (see CloseSession): the group expires it after its lease.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.idle.Stop()
	return c.conn.Close()
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
	if err := c.acquire(); err != nil {
		return lockmgr.Completion{}, err
	}
	defer c.release()
	if err := ctx.Err(); err != nil {
		return lockmgr.Completion{}, &NoAnswerError{Op: op, Name: name, Keyed: c.cfg.Keyed(), Cause: err}
	}
	// A cancelled context ends the wait at once, not at the next timer:
	// a read deadline of now (real time on purpose: a socket deadline).
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetReadDeadline(time.Now()) })
	defer stop()
	c.mu.Lock()
	c.elapseLocked()
	_, err := c.sess.Start(op, name)
	c.flushLocked()
	c.mu.Unlock()
	if err != nil {
		return lockmgr.Completion{}, fmt.Errorf("udphost: %w", err)
	}
	// The wall clock on purpose: this is the real-network host, which
	// turns real time into the sans-IO session's ticks (the simulator
	// drives the same session from its virtual clock, in lockmgr/simhost).
	start := time.Now()
	heard, noLeader := false, false
	for {
		if err := ctx.Err(); err != nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			e := &NoAnswerError{Op: op, Name: name, Session: c.sess.Outstanding(), Waited: waited(ctx, start),
				Heard: heard, Queued: c.sess.Queued(), NoLeader: noLeader, Keyed: c.cfg.Keyed(), Cause: err}
			c.sess.Abandon()
			return lockmgr.Completion{}, e
		}
		frame, _, ok, err := c.read(ctx, c.nextTimer())
		if err != nil {
			c.mu.Lock()
			c.sess.Abandon()
			c.mu.Unlock()
			return lockmgr.Completion{}, err
		}
		if ok && !noLeader {
			if p, isReply := reply(frame); isReply && p.Status == lockmgr.Redirect && p.Leader == 0 {
				noLeader = true
			}
		}
		c.mu.Lock()
		c.elapseLocked()
		var comp lockmgr.Completion
		done := false
		if ok {
			heard = true
			comp, done = c.sess.Receive(frame) // the session alone decodes it, and notes a Queued answer
			c.flushLocked()
			c.reportLost()
		}
		c.mu.Unlock()
		if done {
			return comp, nil
		}
	}
}

// acquire gives the calling operation the socket, keeping the idle timer
// off it until release.
func (c *Client) acquire() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return errors.New("udphost: client closed")
	case c.busy:
		return fmt.Errorf("udphost: %w (Do and NodeStatus take one call at a time)", lockmgr.ErrOutstanding)
	}
	c.busy = true
	return nil
}

func (c *Client) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = false
	c.armLocked()
}

// nextTimer is when the session's next timer fires.
func (c *Client) nextTimer() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start.Add(time.Duration(c.ticks+int64(min(c.sess.TicksToTimer(), 1<<20))) * c.tick)
}

// armLocked sets the idle timer for the session's next timer.
func (c *Client) armLocked() {
	if c.closed || c.busy {
		return
	}
	next := c.ticks + int64(min(c.sess.TicksToTimer(), 1<<20))
	c.idle.Reset(time.Until(c.start.Add(time.Duration(next) * c.tick)))
}

// onIdle runs between operations when a session timer is due: it takes
// what arrived (keepalive answers), ticks the session up to now (which
// sends the keepalives due and notices a lost lease), and sleeps again.
func (c *Client) onIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.busy {
		return
	}
	c.drainLocked()
	c.elapseLocked()
	c.armLocked()
}

// drainLocked hands the session every datagram already waiting, without
// blocking.
func (c *Client) drainLocked() {
	// A deadline of now (real time on purpose): read only what is there.
	if err := c.conn.SetReadDeadline(time.Now()); err != nil {
		return
	}
	for {
		k, src, err := c.conn.ReadFromUDPAddrPort(c.rbuf)
		if err != nil {
			return
		}
		if _, known := c.replicas[netip.AddrPortFrom(src.Addr().Unmap(), src.Port())]; !known {
			continue
		}
		if frame, st := c.auth.open(c.rbuf[:k]); st == openOK {
			c.sess.Receive(frame)
			c.flushLocked()
			c.reportLost()
		}
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
// for packets from strangers or without a valid MAC (from is then the
// replica whose address it came from, 0 for a stranger or a timeout).
func (c *Client) read(ctx context.Context, until time.Time) (frame []byte, from paxos.ID, ok bool, err error) {
	if d, has := ctx.Deadline(); has && d.Before(until) {
		until = d
	}
	if err := c.conn.SetReadDeadline(until); err != nil {
		return nil, 0, false, fmt.Errorf("udphost: client: %w", err)
	}
	if ctx.Err() != nil {
		// Cancelled between the caller's check and the deadline just
		// set, which replaced the one the cancellation set.
		return nil, 0, false, nil
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
	frame, st := c.auth.open(c.rbuf[:k])
	return frame, from, st == openOK, nil
}

// elapseLocked ticks the session for every tick period that has passed.
func (c *Client) elapseLocked() {
	due := int64(time.Since(c.start) / c.tick) // real time, on purpose: see Do
	if due <= c.ticks {
		return
	}
	for ; c.ticks < due; c.ticks++ {
		c.sess.Tick()
	}
	c.flushLocked()
	c.reportLost()
}

// reportLost tells OnLeaseLost about a session the client lost.
func (c *Client) reportLost() {
	if s, lost := c.sess.LeaseLost(); lost && c.lostFn != nil {
		c.lostFn(s)
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
// It needs no session; other answers that arrive meanwhile go to the
// session.
func (c *Client) NodeStatus(ctx context.Context, id paxos.ID) (lockmgr.Reply, error) {
	if _, ok := c.cfg.NodeAddr(id); !ok {
		return lockmgr.Reply{}, fmt.Errorf("udphost: replica id %d is not in the config", id)
	}
	if err := c.acquire(); err != nil {
		return lockmgr.Reply{}, err
	}
	defer c.release()
	req := lockmgr.AppendRequest(nil, &lockmgr.Request{Command: lockmgr.Command{Op: lockmgr.OpStatus}})
	start := time.Now() // real time, on purpose: see Do
	resend := time.Time{}
	for {
		if err := ctx.Err(); err != nil {
			return lockmgr.Reply{}, &NoAnswerError{Op: lockmgr.OpStatus, Waited: waited(ctx, start), Cause: err}
		}
		if now := time.Now(); !now.Before(resend) { // real time, on purpose: see Do
			c.mu.Lock()
			c.send(id, req)
			c.mu.Unlock()
			resend = now.Add(statusResendEvery)
		}
		until := c.nextTimer()
		if resend.Before(until) {
			until = resend
		}
		frame, from, ok, err := c.read(ctx, until)
		if err != nil {
			return lockmgr.Reply{}, err
		}
		c.mu.Lock()
		c.elapseLocked()
		if ok && from == id {
			if p, isStatus := statusReply(frame); isStatus {
				c.mu.Unlock()
				return p, nil
			}
		}
		if ok {
			c.sess.Receive(frame)
			c.flushLocked()
			c.reportLost()
		}
		c.mu.Unlock()
	}
}

// statusReply decodes an OpStatus answer (Seq 0, Report).
func statusReply(frame []byte) (lockmgr.Reply, bool) {
	p, ok := reply(frame)
	return p, ok && p.Status == lockmgr.Report && p.Seq == 0
}

// reply decodes a reply frame.
func reply(frame []byte) (lockmgr.Reply, bool) {
	kind, body, err := paxos.ParseFrame(frame)
	if err != nil || kind != lockmgr.KindReply {
		return lockmgr.Reply{}, false
	}
	p, err := lockmgr.DecodeReply(body)
	return p, err == nil
}
