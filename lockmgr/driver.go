package lockmgr

import (
	"fmt"
	"math"

	"paxlock/paxos"
)

// Storage is a replica's durable log, as a host provides it.
type Storage interface {
	// Append adds records to the log; they need not be durable until Sync.
	Append(recs []paxos.Record) error
	// Rewrite atomically replaces the whole log with recs, durably.
	Rewrite(recs []paxos.Record) error
	// Sync makes everything appended so far durable.
	Sync() error
}

// RebuildStorage is a Storage that keeps a mark of an unfinished rebuild
// (ServerConfig.Rejoin): Rebuilt is called once the rebuilding replica's
// promise is durable, and the host clears its mark. A host that restarts
// with the mark still there must start the replica with Rejoin again.
type RebuildStorage interface {
	Storage
	Rebuilt() error
}

// Transport sends one encoded packet; delivery is not promised. The
// transport owns pkt: the node never writes to it again, so it may be
// kept (queued, or in flight in a simulator) without a copy.
type Transport interface {
	Send(to Addr, pkt []byte)
}

// Node is the one driver loop, shared by every host. Input (packets,
// ticks) goes into the server; then, while the replica has a Ready: write
// its records, send the messages that vouch for nothing durable, install a
// snapshot and apply the committed slots, answer clients, sync, send the
// promises and acceptances, advance, and compact if due (see drive for why
// that order is safe). Hosts differ only in the Storage and Transport they
// plug in and in where ticks come from.
type Node struct {
	srv       *Server
	skippedAt uint64 // the applied slot of the last compaction skipped as too big
	store     Storage
	net       Transport
	slab      []byte // packets are carved from it; see send
	err       error
	// rebuilding: the replica started rebuilding and the storage's mark
	// has not been cleared yet.
	rebuilding bool
}

// slabBytes is the size of one slab of outgoing packets.
const slabBytes = 4 << 10

// firstSlabBytes is the size of a node's or server's first slab: enough
// for a few packets (replies need 512 bytes free). A copy made by Clone
// starts without a slab, and an explorer makes a copy per step that
// sends a packet or two, so a whole slab would mostly be cleared for
// nothing.
const firstSlabBytes = 1 << 10

// nextSlab is the size of the slab that replaces slab.
func nextSlab(slab []byte) int {
	if cap(slab) == 0 {
		return firstSlabBytes
	}
	return slabBytes
}

// NewNode rebuilds a replica from the records its storage held (nil for a
// fresh one) and returns its driver. obs, if not nil, sees everything the
// server does from the first drive on (a restored replica applies its
// durable chosen slots at once); see Observer.
func NewNode(cfg ServerConfig, recs []paxos.Record, store Storage, net Transport, obs Observer) (*Node, error) {
	srv, err := newServer(cfg, recs)
	if err != nil {
		return nil, err
	}
	srv.obs = obs
	n := &Node{srv: srv, store: store, net: net, rebuilding: cfg.Rejoin}
	n.drive()
	return n, n.err
}

// Server is the node's lock server, for inspection.
func (n *Node) Server() *Server { return n.srv }

// Err is the storage failure that stopped the node, if any. A node that
// cannot make its promises durable must not say anything more.
func (n *Node) Err() error { return n.err }

// Receive hands the node one packet from endpoint from and drives it:
// Deliver, then Flush.
func (n *Node) Receive(from Addr, pkt []byte) {
	n.Deliver(from, pkt)
	n.Flush()
}

// Tick advances the node's clock by one tick and drives it: Elapse, then
// Flush.
func (n *Node) Tick() {
	n.Elapse()
	n.Flush()
}

// Deliver hands the node one packet without driving it. A host that has
// several packets at hand delivers them all and then calls Flush once, so
// that the records they cause share one Sync (group commit). Nothing the
// packet causes leaves the node before that Flush. The node keeps nothing
// of pkt once Deliver returns (the decoders copy what they keep), so a
// host may read the next packet into the same buffer.
func (n *Node) Deliver(from Addr, pkt []byte) {
	if n.err != nil {
		return
	}
	n.srv.receive(from, pkt)
}

// Elapse advances the node's clock by one tick without driving it; see
// Deliver.
func (n *Node) Elapse() {
	if n.err != nil {
		return
	}
	n.srv.tick()
}

// TicksToTimer is how many Ticks from now the node's next timer fires. The
// Ticks before it only count down (see paxos.Replica.TicksToTimer), so a
// host may Elapse them late, all at once, just before its next Deliver or
// Tick, and need not be woken for them.
func (n *Node) TicksToTimer() int {
	if n.err != nil {
		return math.MaxInt32 // a stopped node has no timers
	}
	return min(n.srv.rep.TicksToTimer(), n.srv.ticksToTimer())
}

// Pending reports whether a Flush has work to do: what was delivered or
// elapsed since the last Flush left the replica something to hand out.
func (n *Node) Pending() bool { return n.err == nil && n.srv.rep.HasReady() }

// Flush runs the driver sequence over everything delivered and elapsed
// since the last Flush.
func (n *Node) Flush() {
	if n.err != nil {
		return
	}
	n.drive()
}

// drive is the driver sequence, the only place that orders durability
// against messages: write the records, send what vouches for nothing
// durable (so the leader's accepts are on their way while its own write
// syncs), apply and reply, sync, send the promises and acceptances,
// advance.
func (n *Node) drive() {
	s := n.srv
	for n.err == nil && s.rep.HasReady() {
		rd := s.rep.Ready()
		// A snapshot from a peer is decoded before anything is written: one
		// that does not decode stops the node without becoming durable, so
		// a restart fetches a good one instead of failing on it forever.
		var snapSM *StateMachine
		if rd.Snapshot != nil {
			sm, err := s.decodeSnapshot(rd.Snapshot)
			if err != nil {
				n.err = err
				return
			}
			snapSM = sm
		}
		if err := n.write(&rd); err != nil {
			n.err = err
			return
		}
		n.send(rd.Messages, false)
		// Applying and answering clients need nothing from this Ready's
		// own records: a committed entry is chosen, which a quorum's
		// durable acceptances vouch for (the leader counts its own vote
		// only after its sync, at Advance), and a snapshot was written
		// durably above. So the answers leave before the sync, rather than
		// wait for a write that is about entries proposed since.
		if snapSM != nil {
			s.adopt(snapSM, rd.Snapshot.Slot)
		}
		for _, e := range rd.Committed {
			s.apply(e)
		}
		n.flushReplies()
		if err := n.sync(&rd); err != nil {
			n.err = err
			return
		}
		n.send(rd.Messages, true)
		s.rep.Advance()
		n.maybeCompact()
	}
	n.flushReplies()
	if n.err == nil && n.rebuilding && !s.rep.Rebuilding() {
		n.rebuilding = false
		if rs, ok := n.store.(RebuildStorage); ok {
			n.err = rs.Rebuilt()
		}
	}
}

// send sends the messages that vouch for durable state (durable=true) or
// the others.
func (n *Node) send(msgs []paxos.Message, durable bool) {
	for i := range msgs {
		m := &msgs[i]
		if m.VouchesDurable() != durable {
			continue
		}
		if n.srv.obs != nil {
			n.srv.obs.Sent(m)
		}
		// The transport owns what it is handed, so each packet needs
		// bytes nobody writes again: carve it from a slab, which is only
		// ever appended to and replaced when full (one allocation per
		// slab, not per packet).
		if size := paxos.EncodedSize(m); cap(n.slab)-len(n.slab) < size {
			n.slab = make([]byte, 0, max(nextSlab(n.slab), size))
		}
		start := len(n.slab)
		n.slab = paxos.AppendMessage(n.slab, m)
		n.net.Send(Addr(m.To), n.slab[start:len(n.slab):len(n.slab)])
	}
}

// write hands the Ready's records to storage (a rewrite is durable at once).
func (n *Node) write(rd *paxos.Ready) error {
	var err error
	switch {
	case rd.Rewrite:
		err = n.store.Rewrite(n.srv.rep.DurableState())
	case len(rd.Records) > 0:
		err = n.store.Append(rd.Records)
	}
	if err != nil {
		return fmt.Errorf("lockmgr: storage: %w", err)
	}
	return nil
}

// sync makes the Ready's records durable, if they need it.
func (n *Node) sync(rd *paxos.Ready) error {
	if !rd.Sync || rd.Rewrite {
		return nil
	}
	if err := n.store.Sync(); err != nil {
		return fmt.Errorf("lockmgr: storage: %w", err)
	}
	return nil
}

func (n *Node) flushReplies() {
	s := n.srv
	for _, p := range s.replies {
		n.net.Send(p.To, p.Data)
	}
	clear(s.replies)
	s.replies = s.replies[:0]
}

// maybeCompact snapshots the state machine every SnapshotSlots applied
// slots, which bounds the log (and the host's durable log) in a steady run.
func (n *Node) maybeCompact() {
	rep := n.srv.rep
	if rep.Applied()-max(rep.SnapshotSlot(), n.skippedAt) < n.srv.cfg.SnapshotSlots {
		return
	}
	data := n.srv.sm.Snapshot()
	if len(data) > n.srv.cfg.Paxos.SnapshotBytesMax {
		// Too big to be one durable record or to send: keep the log
		// instead, count it, and try again SnapshotSlots later, rather
		// than fail every replica at the same slot. (The lock table
		// itself is not bounded yet, so a log that cannot be compacted
		// eventually stops accepting: a stall, not lost state.)
		n.srv.counters[SnapshotTooBig]++
		n.skippedAt = rep.Applied()
		return
	}
	if err := rep.Compact(rep.Applied(), data); err != nil {
		n.err = err
	}
}
