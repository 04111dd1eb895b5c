package udphost

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/wal"
)

// Bounds of a node's host loop.
const (
	// InboxPackets: packets read but not yet delivered, at most; the reader
	// waits when the owner falls this far behind (the socket buffer then
	// absorbs, and past it the kernel drops).
	InboxPackets = 1024
	// BatchPacketsMax: packets delivered before one Flush, at most. More
	// packets per flush share one fsync; fewer keep replies prompt.
	BatchPacketsMax = 256
	// TickCatchupMax: ticks replayed at once after the loop stalled; a
	// longer stall just makes the node's clock run slow, which Paxos
	// tolerates (safety never depends on time).
	TickCatchupMax = 100
	// readBufBytes holds any UDP datagram, so an oversized one is seen
	// whole and counted rather than silently cut to size.
	readBufBytes = 1 << 16
	// socketBufBytes is asked of the kernel for each socket's buffers.
	socketBufBytes = 4 << 20
)

// NodeOptions configures StartNode.
type NodeOptions struct {
	Config  *Config
	ID      paxos.ID
	DataDir string // the durable log's directory (created if missing)
	// Rand drives the replica's random choices (election backoff); nil
	// seeds one at random. Determinism is the simulator's business.
	Rand *rand.Rand
}

// HostStats are what the host itself saw, beside the server's counters.
type HostStats struct {
	Packets    uint64 // datagrams read
	Flushes    uint64 // driver runs
	ReadErrors uint64 // socket read failures
	SendErrors uint64 // socket write failures
	Unroutable uint64 // replies to a client handle already forgotten
}

// Stats is a snapshot of a running node.
type Stats struct {
	Host     HostStats
	Log      wal.Stats
	Counters lockmgr.Counters
	Role     paxos.Role
	Leader   paxos.ID
	Commit   uint64
}

// Node is one replica of the lock service on UDP. Start it with StartNode,
// stop it with Close.
type Node struct {
	id       paxos.ID
	addr     netip.AddrPort
	conn     *net.UDPConn
	log      *wal.Log
	node     *lockmgr.Node
	tr       *transport
	addrs    *addrTable
	recovery wal.Recovery
	tick     time.Duration
	stats    HostStats

	in       chan inbound
	calls    chan func()
	stop     chan struct{} // closed by Close
	exiting  chan struct{} // closed by the owner when it stops
	done     chan struct{} // closed when everything is released
	once     sync.Once
	err      error // why the owner stopped on its own; read after done
	closeErr error
}

type dropReason uint8

const (
	dropNone dropReason = iota
	dropOversized
	dropUnauthenticated
	dropReadError
)

type inbound struct {
	from netip.AddrPort
	data []byte
	drop dropReason
}

// StartNode recovers replica opt.ID from its log in opt.DataDir, binds its
// configured address and starts serving. It fails if the log is corrupt
// (see wal.Open), the directory is in use, or the address is taken.
func StartNode(opt NodeOptions) (*Node, error) {
	cfg := opt.Config
	addr, ok := cfg.NodeAddr(opt.ID)
	if !ok {
		return nil, fmt.Errorf("udphost: replica id %d is not in the config (ids %v)", opt.ID, cfg.Peers())
	}
	log, recs, rec, err := wal.Open(opt.DataDir)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("udphost: replica %d: listen on %v: %w", opt.ID, addr, err)
	}
	_ = conn.SetReadBuffer(socketBufBytes) // best effort: the kernel caps it
	_ = conn.SetWriteBuffer(socketBufBytes)
	rng := opt.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	n := &Node{
		id: opt.ID, addr: addr, conn: conn, log: log, recovery: rec, tick: cfg.Tick(),
		addrs: newAddrTable(cfg, ClientsMax),
		in:    make(chan inbound, InboxPackets), calls: make(chan func()),
		stop: make(chan struct{}), exiting: make(chan struct{}), done: make(chan struct{}),
	}
	n.tr = &transport{conn: conn, addrs: n.addrs, auth: newAuth(cfg.key), stats: &n.stats}
	// NewNode may already send (a restarted replica resumes its timers),
	// so the socket is bound first; the goroutines start after, and from
	// then on only the owner touches n.node.
	n.node, err = lockmgr.NewNode(cfg.ServerConfig(opt.ID, rng), recs, log, n.tr)
	if err != nil {
		conn.Close()
		log.Close()
		return nil, fmt.Errorf("udphost: replica %d: restore from %s: %w", opt.ID, log.Path(), err)
	}
	readerDone := make(chan struct{})
	go n.read(newAuth(cfg.key), readerDone)
	go n.run(readerDone)
	return n, nil
}

// Addr is the address the node listens on.
func (n *Node) Addr() netip.AddrPort { return n.addr }

// ID is the node's replica id.
func (n *Node) ID() paxos.ID { return n.id }

// Recovery reports what the node found in its log at start.
func (n *Node) Recovery() wal.Recovery { return n.recovery }

// Done is closed once the node has stopped and released its socket and log.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err, once Done is closed, is why the node stopped on its own (a storage
// failure: a replica that cannot make its promises durable must stop), or
// nil if it was closed.
func (n *Node) Err() error {
	select {
	case <-n.done:
		return n.err
	default:
		return nil
	}
}

// Close stops the node and waits until its socket and log are released.
// Everything acknowledged was synced already; Close syncs the rest.
func (n *Node) Close() error {
	n.once.Do(func() { close(n.stop) })
	<-n.done
	return n.closeErr
}

// Inspect runs f in the goroutine that owns the node, between two driver
// runs, and reports whether it ran (false once the node stopped). Whatever
// f delivers is flushed right after it.
func (n *Node) Inspect(f func(*lockmgr.Node)) bool {
	ran := make(chan struct{})
	select {
	case n.calls <- func() { f(n.node); close(ran) }:
		<-ran
		return true
	case <-n.exiting:
		return false
	}
}

// Stats reports the node's counters, role and log statistics.
func (n *Node) Stats() (Stats, bool) {
	var st Stats
	ok := n.Inspect(func(ln *lockmgr.Node) {
		rep := ln.Server().Replica()
		st = Stats{Host: n.stats, Log: n.log.Stats(), Counters: ln.Server().Counters(),
			Role: rep.Role(), Leader: rep.Leader(), Commit: rep.Commit()}
	})
	return st, ok
}

// run is the owner goroutine: the only one that touches the lockmgr.Node,
// the address table and the log.
func (n *Node) run(readerDone <-chan struct{}) {
	defer n.teardown(readerDone)
	t := time.NewTicker(n.tick)
	defer t.Stop()
	start := time.Now()
	var ticks int64
	for {
		select {
		case p := <-n.in:
			n.deliver(p)
			n.drain()
		case now := <-t.C:
			ticks = n.elapse(int64(now.Sub(start)/n.tick), ticks)
		case f := <-n.calls:
			f()
		case <-n.stop:
			return
		}
		n.node.Flush()
		n.stats.Flushes++
		if err := n.node.Err(); err != nil {
			n.err = fmt.Errorf("udphost: replica %d stopped: %w", n.id, err)
			return
		}
	}
}

// drain delivers the packets already waiting, up to BatchPacketsMax, so
// that one Flush (one fsync) covers them all.
func (n *Node) drain() {
	for range BatchPacketsMax - 1 {
		select {
		case p := <-n.in:
			n.deliver(p)
		default:
			return
		}
	}
}

func (n *Node) deliver(p inbound) {
	n.stats.Packets++
	switch p.drop {
	case dropOversized:
		n.node.Server().AddCounters(lockmgr.Counters{Oversized: 1})
	case dropUnauthenticated:
		n.node.Server().AddCounters(lockmgr.Counters{Unauthenticated: 1})
	case dropReadError:
		n.stats.ReadErrors++
	default:
		n.node.Deliver(n.addrs.from(p.from), p.data)
	}
}

// elapse advances the node's clock to due ticks since start, replaying at
// most TickCatchupMax ticks (see there).
func (n *Node) elapse(due, done int64) int64 {
	if due-done > TickCatchupMax {
		done = due - TickCatchupMax
	}
	for ; done < due; done++ {
		n.node.Elapse()
	}
	return done
}

func (n *Node) teardown(readerDone <-chan struct{}) {
	close(n.exiting)
	n.conn.Close() // wakes the reader
	<-readerDone
	n.closeErr = n.log.Close()
	if n.err != nil && n.closeErr == nil {
		n.closeErr = n.err
	}
	close(n.done)
}

// read is the reader goroutine: it reads datagrams, checks their size and
// MAC (with its own auth, the hash state being per goroutine) and hands
// them to the owner. It never touches the node.
func (n *Node) read(a *auth, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, readBufBytes)
	maxBytes := paxos.MaxPacketBytes
	if a.mac != nil {
		maxBytes += MACBytes
	}
	for {
		k, from, err := n.conn.ReadFromUDPAddrPort(buf)
		var p inbound
		switch {
		case errors.Is(err, net.ErrClosed):
			return
		case err != nil:
			p.drop = dropReadError
			time.Sleep(time.Millisecond) // do not spin on a persistent error
		case k > maxBytes:
			p.drop = dropOversized
		default:
			frame, ok := a.open(buf[:k])
			if !ok {
				p.drop = dropUnauthenticated
				break
			}
			p.from, p.data = from, append([]byte(nil), frame...)
		}
		select {
		case n.in <- p:
		case <-n.exiting:
			return
		}
	}
}

// transport sends the node's packets; it runs in the owner goroutine.
type transport struct {
	conn  *net.UDPConn
	addrs *addrTable
	auth  *auth
	buf   []byte
	stats *HostStats
}

func (t *transport) Send(to lockmgr.Addr, pkt []byte) {
	ap, ok := t.addrs.to(to)
	if !ok {
		t.stats.Unroutable++
		return
	}
	t.buf = t.auth.seal(t.buf[:0], pkt)
	if _, err := t.conn.WriteToUDPAddrPort(t.buf, ap); err != nil {
		t.stats.SendErrors++
	}
}
