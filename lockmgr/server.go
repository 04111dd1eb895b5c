package lockmgr

import (
	"errors"
	"fmt"

	"paxlock/paxos"
)

// Addr is an opaque endpoint handle. Replica i is always Addr(i); a host
// gives each client endpoint a handle of its own above every replica id
// (the simulator uses its process addresses, the UDP host a table of
// socket addresses).
type Addr uint64

// ServerConfig configures one replica of the lock service.
type ServerConfig struct {
	Paxos paxos.Config
	SM    SMConfig
	// SnapshotSlots: compact the log after this many applied slots.
	SnapshotSlots uint64
	// ClientTTLTicks: forget a client's return address after this long
	// without hearing from it (its record in the state machine stays).
	ClientTTLTicks int64
	// ReproposeTicks: a repeated request is proposed again only after this
	// long (the first copy may still be on its way through the log).
	ReproposeTicks int64
	// TickNs is the length of a tick in ns, which turns a session's lease
	// (ms, in the replicated state) into ticks of this replica's clock.
	TickNs int64
	// Rejoin: this replica lost its disk and rebuilds before it votes
	// again (see paxos.Config.Rejoin; the server makes the OpRejoin
	// command that ends the rebuild).
	Rejoin bool
	// Mark, if not nil, is told each time the server or its state
	// machine reaches a situation Mark names (coverage marks, for a test
	// harness; Paxos.Mark is the replica's own).
	Mark func(Mark)
}

// DefaultServerConfig returns the defaults for replica id of peers; the
// caller sets Paxos.Rand.
func DefaultServerConfig(id paxos.ID, peers []paxos.ID) ServerConfig {
	return ServerConfig{
		Paxos:          paxos.DefaultConfig(id, peers),
		SnapshotSlots:  1000,
		ClientTTLTicks: 10_000,
		ReproposeTicks: 20,
		TickNs:         1_000_000,
	}
}

// Counter names one of a server's counters: what it dropped, by reason,
// and a few events worth watching. They go on the wire by position (the
// status reply) and are named by String: append only.
type Counter int

const (
	BadPacket    Counter = iota // failed the checksum or could not be decoded
	Stranger                    // replica traffic from an endpoint that is not that replica
	Misaddressed                // replica traffic for another replica
	UnknownKind                 // an intact frame of a kind this server does not take
	BadCommand                  // a chosen command that does not decode (skipped by all)
	Rejected                    // client requests turned away (no leader, queue full)
	// Dropped by the host before the server saw them (see AddCounter).
	Unauthenticated // no valid packet MAC, in a group with a key
	Oversized       // a datagram longer than any packet may be
	// Not a drop: compactions skipped because the snapshot was too big.
	SnapshotTooBig
	// A peer claimed another value chosen for a slot chosen here (a bug,
	// or a forgery in a group without a key); the claim was ignored.
	ChosenConflict
	// A request whose tag did not prove its session's secret: refused.
	Forged
	// Dropped by the host: a packet without this group's cluster tag
	// (another group's, or no paxlock packet at all).
	OtherCluster
	NumCounters // the number of counters, not a counter
)

// counterNames is the one list of the counters' names, by position.
var counterNames = [NumCounters]string{"bad_packet", "stranger", "misaddressed", "unknown_kind", "bad_command", "rejected",
	"unauthenticated", "oversized", "snapshot_too_big", "chosen_conflict", "forged", "other_cluster"}

func (c Counter) String() string {
	if c < 0 || c >= NumCounters {
		return fmt.Sprintf("counter%d", int(c))
	}
	return counterNames[c]
}

// Counters are a server's counters, indexed by Counter.
type Counters [NumCounters]uint64

// Packet is an encoded packet to send.
type Packet struct {
	To   Addr
	Data []byte
}

// clientRef is how to reach a client and what it last asked.
type clientRef struct {
	addr       Addr
	seq        uint64
	proposedAt int64
	seenAt     int64
}

// Server is one replica of the lock service: a paxos replica, the lock state
// machine it drives, and the client-facing request handling. It is sans-IO;
// a Node runs it (see driver.go).
type Server struct {
	cfg      ServerConfig
	rep      *paxos.Replica
	sm       *StateMachine
	clients  map[ClientID]*clientRef
	now      int64
	replies  []Packet
	counters Counters
	in       paxos.Message // the decoded peer message, reused: the replica keeps no pointer to it
	slab     []byte        // reply packets are carved from it; see reply
	// smShared: sm is shared with copies of this server (Node.Clone), so
	// it is copied before it is changed (ownSM). Only Apply changes it;
	// its other methods only read it or reset scratch of their own.
	smShared bool
	// refsShared: clients and leases.heard (and the refs in them) are
	// shared with copies of this server, so they are copied before either
	// is changed (ownRefs).
	refsShared bool
	obs        Observer // nil: nobody watches
	// nextApply: every slot below it has reached the state machine.
	nextApply uint64
	leases    leaseTimer
}

func newServer(cfg ServerConfig, recs []paxos.Record) (*Server, error) {
	if cfg.Rejoin && cfg.Paxos.Rand != nil {
		// The nonce makes the command unique to this rebuild; it comes
		// from the replica's seeded source, like every choice it makes.
		nonce := cfg.Paxos.Rand.Uint64() | 1
		cfg.Paxos.Rejoin = Command{Op: OpRejoin, Arg: nonce, Node: cfg.Paxos.ID}.Encode(nil)
	}
	rep, err := paxos.Restore(cfg.Paxos, recs)
	if err != nil {
		return nil, err
	}
	if cfg.SnapshotSlots == 0 || cfg.ClientTTLTicks <= 0 || cfg.ReproposeTicks <= 0 || cfg.TickNs <= 0 {
		return nil, fmt.Errorf("lockmgr: ServerConfig: SnapshotSlots, ClientTTLTicks, ReproposeTicks and TickNs must be > 0")
	}
	s := &Server{cfg: cfg, rep: rep, sm: NewStateMachine(cfg.SM), clients: map[ClientID]*clientRef{}}
	s.sm.mark = cfg.Mark
	s.leases.init()
	return s, nil
}

// Observer sees what a server does, for a harness's checkers. Its methods
// run inside the driver, at the moment they describe; they must not call
// back into the server or keep the slices they are handed.
type Observer interface {
	// Sent: a replica message leaves, after the records that back it were
	// written (and, for a promise or acceptance, synced).
	Sent(m *paxos.Message)
	// Committed: a chosen slot is handed to the state machine sm, before
	// its commands are applied; slots come in order without gaps. sm is
	// for inspection only (it has applied every slot below e.Slot).
	Committed(e paxos.Entry, sm *StateMachine)
	// Applied: one command of the slot was applied, with its result and
	// the waiters it granted.
	Applied(slot uint64, c Command, r Result, grants []Grant)
	// Restored: the state machine was reset to a snapshot covering every
	// slot below slot; applying goes on from slot.
	Restored(slot uint64)
	// Proposed: the server put a command of its own (OpLead, OpExpire)
	// into the log.
	Proposed(c Command)
	// KeptAlive: the server, timing leases under ballot b, took a
	// keepalive of session s and answered it: the lease counts from now.
	KeptAlive(s ClientID, b paxos.Ballot)
}

// Observe makes o see everything the server does from now on (nil: none).
func (s *Server) Observe(o Observer) { s.obs = o }

// Replica exposes the paxos replica, for inspection.
func (s *Server) Replica() *paxos.Replica { return s.rep }

// StateMachine exposes the lock table, for inspection.
func (s *Server) StateMachine() *StateMachine { return s.sm }

// Counters returns the counters.
func (s *Server) Counters() Counters {
	c := s.counters
	c[ChosenConflict], _ = s.rep.Conflicts()
	return c
}

// AddCounter adds a host's own drops (packets that never reached the
// server) to counter c, so that status shows them with the rest.
func (s *Server) AddCounter(c Counter, n uint64) { s.counters[c] += n }

func (s *Server) countersSlice() []uint64 {
	c := s.Counters()
	return c[:]
}

// receive takes one packet from endpoint from.
func (s *Server) receive(from Addr, pkt []byte) {
	kind, body, err := paxos.ParseFrame(pkt)
	if err != nil {
		s.badPacket()
		return
	}
	switch kind {
	case paxos.KindPaxos:
		// Reset, not reused in place: the replica may keep the decoded
		// entries and data, so each message gets slices of its own. The
		// body only: ParseFrame has checked the frame's crc already.
		m := &s.in
		*m = paxos.Message{}
		if err := paxos.DecodeMessageBody(kind, body, m); err != nil {
			s.badPacket()
			return
		}
		if Addr(m.From) != from {
			s.counters[Stranger]++
			return
		}
		if m.To != s.rep.ID() {
			s.counters[Misaddressed]++
			return
		}
		s.rep.Step(m)
	case KindRequest:
		q, err := DecodeRequest(body)
		if err != nil {
			s.badPacket()
			return
		}
		s.request(from, &q)
	default:
		s.counters[UnknownKind]++
	}
}

// badPacket counts a packet that did not decode.
func (s *Server) badPacket() {
	s.counters[BadPacket]++
	markWith(s.cfg.Mark, MarkBadPacket)
}

// request handles one client request: answer from the at-most-once table
// if it was applied already (a waiting Lock included), else put it into
// the log (once per ReproposeTicks, however often the client repeats it).
func (s *Server) request(from Addr, q *Request) {
	if !q.Op.Logged() && !q.Op.Session() {
		// OpStatus: this replica's own table, now, with how far it has
		// applied and how fresh its leader is.
		age := s.rep.SinceLeader()
		if age < 0 {
			age = -1 << 31
		}
		s.reply(from, &Reply{Client: q.Client, Seq: q.Seq, Status: Report, Leader: s.rep.Leader(),
			Locks: s.sm.Status(), Counters: s.countersSlice(), Slot: s.nextApply, SinceLeader: int64(age)})
		return
	}
	if q.Op.Internal() || (q.Op == OpOpen) != (q.Client&NonceBit != 0) {
		s.counters[BadPacket]++
		return
	}
	if bad := q.Op.Named() && !ValidName(q.Name) || !q.Op.Named() && q.Name != ""; bad {
		s.reply(from, &Reply{Client: q.Client, Seq: q.Seq, Status: Invalid, Leader: s.rep.Leader()})
		return
	}
	if q.Op.Session() && !s.sessionRequest(from, q) {
		return
	}
	s.ownRefs()
	ref := s.clients[q.Client]
	if ref == nil {
		ref = &clientRef{proposedAt: -1 << 62}
		s.clients[q.Client] = ref
	}
	if ref.seq != q.Seq {
		ref.proposedAt = -1 << 62
	}
	ref.addr, ref.seq, ref.seenAt = from, q.Seq, s.now
	if res, ok := s.sm.OpenedBy(q.Command); ok {
		s.replyResult(q.Client, q.Seq, res)
		return
	}
	if res, ok := s.sm.Lookup(q.Client, q.Seq); ok && !q.Op.ReadOnly() {
		// Applied already: answer from the at-most-once table. A Lock
		// still Queued is in the replicated state too; this replica now
		// knows where the client is and answers it when the grant is
		// applied, so nothing goes into the log again.
		markWith(s.cfg.Mark, MarkDupAnswered)
		s.replyResult(q.Client, q.Seq, res)
		return
	}
	if s.now-ref.proposedAt < s.cfg.ReproposeTicks {
		return
	}
	if err := s.rep.Propose(q.Command.Encode(nil)); err != nil {
		s.counters[Rejected]++
		if errors.Is(err, paxos.ErrNoLeader) || errors.Is(err, paxos.ErrBusy) {
			markWith(s.cfg.Mark, MarkRedirected)
			s.reply(from, &Reply{Client: q.Client, Seq: q.Seq, Status: Redirect, Leader: s.rep.Leader()})
		}
		return
	}
	ref.proposedAt = s.now
}

// apply runs one chosen slot through the state machine and answers the
// clients this replica heard from.
func (s *Server) apply(e paxos.Entry) {
	assert(e.Slot >= s.nextApply, "committed slots reach the state machine once, in order")
	s.nextApply = e.Slot + 1
	if s.obs != nil {
		s.obs.Committed(e, s.sm)
	}
	for _, raw := range e.Cmds {
		c, err := DecodeCommand(raw)
		if err != nil {
			s.counters[BadCommand]++ // every replica skips it alike
			continue
		}
		res, grants := s.ownSM().Apply(e.Slot, c)
		if res.Status == Stale && c.Op.Session() {
			markWith(s.cfg.Mark, MarkStaleApplied)
		}
		if s.obs != nil {
			s.obs.Applied(e.Slot, c, res, grants)
		}
		s.leaseApplied(c, res)
		switch {
		case c.Op.ReadOnly() && res.Status == Report:
			s.replyRead(c, e.Slot)
			continue
		case c.Op == OpExpire && res.Status == Ended:
			// Whatever the session still waits for ends with it.
			if ref := s.clients[c.Client]; ref != nil {
				s.replyResult(c.Client, ref.seq, Result{Status: SessionExpired})
			}
		}
		s.replyResult(c.Client, c.Seq, res)
		for _, g := range grants {
			s.replyResult(g.Client, g.Seq, Result{Status: Granted, Token: g.Token})
		}
	}
}

// replyResult answers (client, seq) if this replica knows where the client
// is and the client still waits for that request.
func (s *Server) replyResult(c ClientID, seq uint64, res Result) {
	ref := s.clients[c]
	if ref == nil || ref.seq != seq {
		return
	}
	s.reply(ref.addr, &Reply{Client: c, Seq: seq, Status: res.Status, Token: res.Token,
		Holder: res.Holder, Leader: s.rep.Leader()})
}

// replyRead answers a read with the table at this point of the log, if
// the reader asked this replica (any replica it asked answers).
func (s *Server) replyRead(c Command, slot uint64) {
	ref := s.clients[c.Client]
	if ref == nil || ref.seq != c.Seq {
		return
	}
	s.reply(ref.addr, &Reply{Client: c.Client, Seq: c.Seq, Status: Report, Leader: s.rep.Leader(),
		Locks: s.sm.Status(), Slot: slot})
}

func (s *Server) reply(to Addr, p *Reply) {
	// Replies are carved from an append-only slab, like the node's
	// packets: the transport owns each one, and nobody writes its bytes
	// again (a reply that outgrows the slab moves it; the earlier packets
	// keep the old array).
	if cap(s.slab)-len(s.slab) < 512 {
		s.slab = make([]byte, 0, nextSlab(s.slab))
	}
	start := len(s.slab)
	s.slab = AppendReply(s.slab, p)
	s.replies = append(s.replies, Packet{To: to, Data: s.slab[start:len(s.slab):len(s.slab)]})
}

// decodeSnapshot builds the state machine a snapshot handed out by the
// replica describes, without adopting it yet.
func (s *Server) decodeSnapshot(snap *paxos.Snapshot) (*StateMachine, error) {
	if len(snap.Data) == 0 {
		return NewStateMachine(s.cfg.SM), nil
	}
	sm, err := RestoreStateMachine(s.cfg.SM, snap.Data)
	if err != nil {
		return nil, fmt.Errorf("lockmgr: snapshot at slot %d: %w", snap.Slot, err)
	}
	return sm, nil
}

// ownRefs copies the client and lease maps, and the refs in them, if a
// copy of the server shares them, before they are changed.
func (s *Server) ownRefs() {
	if !s.refsShared {
		return
	}
	s.refsShared = false
	clients := make(map[ClientID]*clientRef, len(s.clients))
	for id, ref := range s.clients {
		r := *ref
		clients[id] = &r
	}
	heard := make(map[ClientID]*leaseRef, len(s.leases.heard))
	for id, ref := range s.leases.heard {
		r := *ref
		heard[id] = &r
	}
	s.clients, s.leases.heard = clients, heard
}

// ownSM is the state machine, copied first if a copy of the server
// shares it.
func (s *Server) ownSM() *StateMachine {
	if s.smShared {
		s.sm, s.smShared = s.sm.clone(), false
	}
	return s.sm
}

// adopt resets the state machine to one decoded from the snapshot that
// covers every slot below slot.
func (s *Server) adopt(sm *StateMachine, slot uint64) {
	assert(slot >= s.nextApply, "a snapshot installed does not go back")
	assert(sm.Applied() < slot, "a snapshot's state covers only slots below its slot")
	s.sm, s.nextApply, s.smShared = sm, slot, false
	sm.mark = s.cfg.Mark
	if s.obs != nil {
		s.obs.Restored(slot)
	}
	s.leasesRestored()
}

// tick advances time by one tick and forgets long-silent clients' return
// addresses. Deleting while ranging over the map is order-independent.
func (s *Server) tick() {
	s.now++
	s.rep.Tick()
	s.tickLeases()
	if s.now%1024 == 0 {
		s.ownRefs()
		for id, ref := range s.clients {
			if s.now-ref.seenAt > s.cfg.ClientTTLTicks {
				delete(s.clients, id)
			}
		}
	}
}
