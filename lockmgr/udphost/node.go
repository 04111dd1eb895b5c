package udphost

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/paxos/wal"
)

// Bounds of a node's host loop.
const (
	// BatchPacketsMax: packets delivered before one Flush, at most. More
	// packets per flush share one fsync; fewer keep replies prompt.
	BatchPacketsMax = 256
	// readBatch: datagrams taken from the socket per system call
	// (recvmmsg), at most.
	readBatch = 32
	// TickCatchupMax: ticks replayed at once after the loop stalled; a
	// longer stall just makes the node's clock run slow, which Paxos
	// tolerates (safety never depends on time).
	TickCatchupMax = 100
	// readBufBytes holds any UDP datagram, so an oversized one is seen
	// whole and counted rather than silently cut to size (the client's
	// buffer; a node's are one byte above the largest packet it takes).
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
	// OnTable, if set, gets the replica's lock table, as the seed printed
	// it (`Current Locks: {...}`), whenever it changed: at most once per
	// TableEvery, the latest state after a burst. It runs on the node's
	// goroutine and must not call back into the Node.
	OnTable func(table string)
	// Rejoin brings back a node that lost its log (paxosd -rejoin): what
	// is left of the log is set aside, and the replica rebuilds as a
	// non-voting member until it may vote again (see RebuildFile).
	Rejoin bool
}

// TableEvery rate-limits OnTable.
const TableEvery = 200 * time.Millisecond

// tableLocksMax caps the locks OnTable lists; the rest are counted.
const tableLocksMax = 50

// HostStats are what the host itself saw, beside the server's counters.
type HostStats struct {
	Packets    uint64 // datagrams read
	Reads      uint64 // system calls that read them (recvmmsg)
	Sent       uint64 // datagrams sent
	Writes     uint64 // system calls that sent them (sendmmsg)
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
	// Rebuilding: the replica is rebuilding after a disk loss and votes
	// in no quorum yet.
	Rebuilding bool
}

// Node is one replica of the lock service on UDP. Start it with StartNode,
// stop it with Close.
type Node struct {
	id       paxos.ID
	addr     netip.AddrPort
	conn     *net.UDPConn
	log      *wal.Log
	node     *lockmgr.Node
	bc       batchConn
	tr       *transport
	auth     *auth
	addrs    *addrTable
	recovery wal.Recovery
	tick     time.Duration
	onTable  func(string)
	table    tableWatch
	stats    HostStats
	rd       []ipv4.Message // the read batch; its buffers are reused

	calls    chan func()
	stop     chan struct{} // closed by Close
	exiting  chan struct{} // closed by the owner when it stops
	done     chan struct{} // closed when everything is released
	once     sync.Once
	err      error // why the owner stopped on its own; read after done
	closeErr error
}

// batchConn reads and writes many datagrams per system call (recvmmsg,
// sendmmsg on Linux; one at a time elsewhere). ipv4.PacketConn and
// ipv6.PacketConn both are one.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchConn(conn *net.UDPConn, addr netip.AddrPort) batchConn {
	if addr.Addr().Unmap().Is4() {
		return ipv4.NewPacketConn(conn)
	}
	return ipv6.NewPacketConn(conn)
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
	if opt.Rejoin && len(cfg.Nodes) < 3 {
		return nil, fmt.Errorf("udphost: -rejoin: a group of %d cannot rebuild a node (a rebuild needs a majority of the group "+
			"up besides the rebuilding node, so three nodes or more): restore %s from a backup instead", len(cfg.Nodes), opt.DataDir)
	}
	if opt.Rejoin {
		// Before anything is set aside: the directory must be this
		// node's, of this group, if it says whose it is.
		if _, err := checkIdentity(opt.DataDir, cfg, opt.ID, 1, true); err != nil {
			return nil, err
		}
	}
	log, recs, rec, rebuilding, err := openLog(opt.DataDir, opt.Rejoin, func() error {
		if _, err := os.Stat(filepath.Join(opt.DataDir, IdentityFile)); err == nil {
			return nil
		}
		if err := os.MkdirAll(opt.DataDir, 0o755); err != nil {
			return fmt.Errorf("udphost: data directory: %w", err)
		}
		return writeIdentity(opt.DataDir, cfg, opt.ID)
	})
	if err != nil {
		return nil, err
	}
	replicaRecs, logged, err := checkLogIdentity(log.Path(), recs, cfg, opt.ID)
	var known bool
	if err == nil {
		known, err = checkIdentity(opt.DataDir, cfg, opt.ID, replicaRecs, rebuilding)
	}
	if err == nil && !known && replicaRecs > 0 && !rebuilding {
		// A data directory from before identities: record it now.
		err, known = writeIdentity(opt.DataDir, cfg, opt.ID), true
	}
	if err != nil {
		log.Close()
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
		bc: newBatchConn(conn, addr), auth: newAuth(cfg), addrs: newAddrTable(cfg, ClientsMax),
		calls: make(chan func(), 1), onTable: opt.OnTable,
		stop: make(chan struct{}), exiting: make(chan struct{}), done: make(chan struct{}),
	}
	maxBytes := paxos.MaxPacketBytes + n.auth.overhead()
	n.rd = make([]ipv4.Message, readBatch)
	for i := range n.rd {
		// One byte more than any packet: a datagram that fills the
		// buffer is oversized (the kernel cut it short).
		n.rd[i].Buffers = [][]byte{make([]byte, maxBytes+1)}
	}
	n.tr = &transport{bc: n.bc, addrs: n.addrs, auth: n.auth, stats: &n.stats}
	// NewNode may already send (a restarted replica resumes its timers),
	// so the socket is bound first; the owner starts after, and from
	// then on only the owner touches n.node.
	st := &storage{log: log, tr: n.tr, idRec: identityRecord(cfg, opt.ID), logged: logged}
	if rebuilding {
		st.rebuilt = func() error { return clearRebuild(opt.DataDir) }
	}
	if !known {
		st.identify = func() error { return writeIdentity(opt.DataDir, cfg, opt.ID) }
	}
	scfg := cfg.ServerConfig(opt.ID, rng)
	scfg.Rejoin = rebuilding
	n.node, err = lockmgr.NewNode(scfg, recs, st, n.tr, nil)
	n.tr.flush()
	if err != nil {
		conn.Close()
		log.Close()
		return nil, fmt.Errorf("udphost: replica %d: restore from %s: %w", opt.ID, log.Path(), err)
	}
	// A goroutine on purpose: a real node owns its socket and log in one
	// goroutine of its own (see the package doc); the simulator runs the
	// same lockmgr.Node on its single goroutine instead.
	go n.run()
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
	n.wake()
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
	case <-n.exiting:
		return false
	}
	n.wake()
	select {
	case <-ran:
		return true
	case <-n.exiting:
		// It may have run just before the owner stopped.
		select {
		case <-ran:
			return true
		default:
			return false
		}
	}
}

// wake interrupts the owner's wait for packets, so that it looks at its
// calls and at stop. The owner sets its own deadline before it looks at
// them, so a wake that loses the race with it is seen anyway.
func (n *Node) wake() {
	_ = n.conn.SetReadDeadline(time.Unix(1, 0)) // a closed socket has nobody to wake
}

// Stats reports the node's counters, role and log statistics.
func (n *Node) Stats() (Stats, bool) {
	var st Stats
	ok := n.Inspect(func(ln *lockmgr.Node) {
		rep := ln.Server().Replica()
		st = Stats{Host: n.stats, Log: n.log.Stats(), Counters: ln.Server().Counters(),
			Role: rep.Role(), Leader: rep.Leader(), Commit: rep.Commit(), Rebuilding: rep.Rebuilding()}
	})
	return st, ok
}

// run is the owner goroutine: the only one that touches the lockmgr.Node,
// the address table and the log. It reads the socket itself, many
// datagrams per system call, with the next tick as the read deadline: no
// goroutine hand-off per packet.
func (n *Node) run() {
	defer n.teardown()
	start := time.Now() // the real clock on purpose: ticks come from wall time on UDP
	var ticks int64
	var deadline time.Time // the read deadline last set, zero if unknown
	for {
		// Ticks due, then the deadline for the next one, then calls and
		// stop: a wake (which sets a past deadline) after this point
		// makes the read below return at once.
		due := int64(time.Since(start) / n.tick)
		if due > ticks {
			ticks = n.elapse(due, ticks)
		}
		if next := start.Add(time.Duration(ticks+1) * n.tick); !next.Equal(deadline) {
			if err := n.conn.SetReadDeadline(next); err != nil {
				return
			}
			deadline = next
		}
		select {
		case <-n.stop:
			return
		case f := <-n.calls:
			f()
		default:
		}
		// What the ticks or a call caused (a heartbeat, a resend, an
		// election) leaves now, not after the wait for packets below.
		if n.node.Pending() {
			n.node.Flush()
			n.stats.Flushes++
			n.tr.flush()
		}
		if n.readBatches() {
			deadline = time.Time{} // it passed, or a wake replaced it
		}
		n.node.Flush()
		n.stats.Flushes++
		n.tr.flush()
		if n.onTable != nil {
			n.table.watch(n.node.Server(), n.onTable)
		}
		if err := n.node.Err(); err != nil {
			n.err = fmt.Errorf("udphost: replica %d stopped: %w", n.id, err)
			return
		}
	}
}

// readBatches waits for datagrams until the read deadline and delivers
// them, and then those already waiting, up to BatchPacketsMax, so that
// one Flush (one fsync) covers them all. It reports whether the deadline
// stopped the wait.
func (n *Node) readBatches() (deadlineGone bool) {
	for total := 0; total < BatchPacketsMax; {
		k, err := n.bc.ReadBatch(n.rd, 0)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			return true
		case errors.Is(err, net.ErrClosed):
			return deadlineGone
		default:
			n.stats.ReadErrors++
			time.Sleep(time.Millisecond) // real sleep on purpose: do not spin on a persistent socket error
			return deadlineGone
		}
		n.stats.Reads++
		for i := range k {
			n.deliver(&n.rd[i])
		}
		total += k
		if k < len(n.rd) {
			return deadlineGone // the socket is drained
		}
		// A full batch: more may be waiting. Take them, but do not wait.
		if err := n.conn.SetReadDeadline(time.Unix(1, 0)); err != nil {
			return deadlineGone
		}
		deadlineGone = true
	}
	return deadlineGone
}

// deliver checks one datagram's size and MAC and hands it to the node,
// which copies what it keeps: the buffer is read into again.
func (n *Node) deliver(m *ipv4.Message) {
	n.stats.Packets++
	buf := m.Buffers[0]
	if m.N >= len(buf) {
		n.node.Server().AddCounter(lockmgr.Oversized, 1)
		return
	}
	frame, st := n.auth.open(buf[:m.N])
	switch st {
	case openOtherCluster:
		n.node.Server().AddCounter(lockmgr.OtherCluster, 1)
		return
	case openBadMAC:
		n.node.Server().AddCounter(lockmgr.Unauthenticated, 1)
		return
	}
	ua, ok := m.Addr.(*net.UDPAddr)
	if !ok {
		n.stats.ReadErrors++
		return
	}
	n.node.Deliver(n.addrs.from(ua.AddrPort()), frame)
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

func (n *Node) teardown() {
	close(n.exiting)
	n.tr.flush()
	n.conn.Close()
	n.closeErr = n.log.Close()
	if n.err != nil && n.closeErr == nil {
		n.closeErr = n.err
	}
	close(n.done)
}

// storage is the node's log as the driver sees it: before the driver
// waits for the disk, the packets it queued so far leave (in particular a
// leader's accepts, which then travel while its own write syncs).
type storage struct {
	log *wal.Log
	tr  *transport
	// identify records the data directory's identity after the log's
	// first durable write (see IdentityFile); nil once done.
	identify func() error
	// rebuilt clears the rebuild mark (see RebuildFile); nil if none.
	rebuilt func() error
	// idRec is the identity record the log starts with; logged: the
	// log has it.
	idRec  paxos.Record
	logged bool
}

// Rebuilt implements lockmgr.RebuildStorage.
func (s *storage) Rebuilt() error {
	if s.rebuilt == nil {
		return nil
	}
	return s.rebuilt()
}

func (s *storage) Append(recs []paxos.Record) error {
	if !s.logged {
		// The log's first records: the identity goes first.
		s.logged = true
		return s.log.Append(append([]paxos.Record{s.idRec}, recs...))
	}
	return s.log.Append(recs)
}

func (s *storage) Rewrite(recs []paxos.Record) error {
	s.tr.flush()
	s.logged = true
	if err := s.log.Rewrite(append([]paxos.Record{s.idRec}, recs...)); err != nil {
		return err
	}
	return s.identified()
}

func (s *storage) Sync() error {
	s.tr.flush()
	if err := s.log.Sync(); err != nil {
		return err
	}
	return s.identified()
}

// identified writes the identity once the log holds something durable.
func (s *storage) identified() error {
	if s.identify == nil {
		return nil
	}
	if err := s.identify(); err != nil {
		return err
	}
	s.identify = nil
	return nil
}

// transport queues the node's packets and sends them many per system
// call; it runs in the owner goroutine. Packets only ever leave later than
// the driver sent them, never earlier, so queueing cannot break the
// driver's rule that what vouches for a record leaves after its sync. They
// leave at the latest before the driver waits for the disk (see storage)
// and after each driver run.
type transport struct {
	bc      batchConn
	addrs   *addrTable
	auth    *auth
	stats   *HostStats
	out     []ipv4.Message
	bufs    [][]byte                        // each queued message's Buffers is one element of it
	slab    []byte                          // sealed packets are carved from it
	udpAddr map[netip.AddrPort]*net.UDPAddr // sendmmsg wants net.Addrs; built once each
}

// udpAddrCacheMax bounds the transport's address cache; past it, it starts
// over.
const udpAddrCacheMax = 4096

func (t *transport) Send(to lockmgr.Addr, pkt []byte) {
	ap, ok := t.addrs.to(to)
	if !ok {
		t.stats.Unroutable++
		return
	}
	// The driver hands over pkt for good (lockmgr.Transport). Without a
	// key the cluster tag goes in front as a buffer of its own (one
	// datagram from two iovecs: no copy); a MAC needs the sealed packet
	// in one buffer, carved from a slab.
	iov := [2][]byte{t.auth.tag[:], pkt}
	n := 2
	if t.auth.mac != nil {
		if size := len(pkt) + t.auth.overhead(); cap(t.slab)-len(t.slab) < size {
			t.slab = make([]byte, 0, max(16<<10, size))
		}
		start := len(t.slab)
		t.slab = t.auth.seal(t.slab, pkt)
		iov[0], n = t.slab[start:len(t.slab):len(t.slab)], 1
	}
	ua := t.udpAddr[ap]
	if ua == nil {
		if t.udpAddr == nil || len(t.udpAddr) >= udpAddrCacheMax {
			t.udpAddr = map[netip.AddrPort]*net.UDPAddr{}
		}
		ua = net.UDPAddrFromAddrPort(ap)
		t.udpAddr[ap] = ua
	}
	// Buffers is a window on t.bufs rather than a slice of its own per
	// packet; should t.bufs grow, the windows already handed out keep the
	// old array, which nobody writes until flush.
	t.bufs = append(t.bufs, iov[:n]...)
	k := len(t.bufs)
	t.out = append(t.out, ipv4.Message{Buffers: t.bufs[k-n : k : k], Addr: ua})
}

// flush sends every queued packet. A packet the kernel refuses is counted
// and dropped (delivery is not promised); the rest still go.
func (t *transport) flush() {
	for i := 0; i < len(t.out); {
		k, err := t.bc.WriteBatch(t.out[i:], 0)
		t.stats.Writes++
		t.stats.Sent += uint64(k)
		i += k
		if err != nil {
			t.stats.SendErrors++
			i++ // skip the one that failed
		}
	}
	clear(t.out)
	t.out = t.out[:0]
	clear(t.bufs)
	t.bufs = t.bufs[:0]
	t.slab = t.slab[:0] // nothing refers to the sent packets any more
}

// tableWatch notices changes of the lock table and hands it on,
// rate-limited (see NodeOptions.OnTable).
type tableWatch struct {
	sm      *lockmgr.StateMachine
	applied uint64
	dirty   bool
	last    string
	at      time.Time
}

func (t *tableWatch) watch(srv *lockmgr.Server, fn func(string)) {
	if sm := srv.StateMachine(); sm != t.sm || sm.Applied() != t.applied {
		t.sm, t.applied, t.dirty = sm, sm.Applied(), true
	}
	if !t.dirty || time.Since(t.at) < TableEvery { // real time, on purpose: a rate limit for people
		return
	}
	t.dirty = false
	locks := t.sm.Status()
	table := lockmgr.FormatStatus(locks[:min(len(locks), tableLocksMax)])
	if len(locks) > tableLocksMax {
		table += fmt.Sprintf(" and %d more locks", len(locks)-tableLocksMax)
	}
	if table != t.last {
		t.last, t.at = table, time.Now() // real time, on purpose: a rate limit for people
		fn(table)
	}
}
