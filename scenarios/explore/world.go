package explore

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"

	"paxlock/lockmgr"
	"paxlock/lockmgr/simhost"
	"paxlock/paxos"
	"paxlock/scenarios/check"
)

// clientAddrBase is client i's address minus i: above every replica id.
const clientAddrBase = 1000

// world is one state of the search: every process, every disk, the
// messages in flight, the fault budgets spent, and the checkers' view of
// the path that led here.
type world struct {
	cfg   *Config
	host  *simhost.Config
	reps  []*replica
	cls   []*client
	net   []packet // in flight, in the order sent
	spent Bounds   // Depth: steps taken so far
	chk   *check.Checkers
	hist  *check.History
	// expiries: when each expiry (session, ballot) was first proposed,
	// for the history's session lane; ended: sessions already in it.
	expiries map[expiryKey]int64
	ended    map[lockmgr.ClientID]bool
	broken   string // a process could not do its job (a panic, a storage error)
	// What w has copied from its parent (see clone): replica i is bit i
	// of owned, client i bit 32+i.
	owned                          uint64
	chkOwned, histOwned, mapsOwned bool
}

type expiryKey struct {
	session lockmgr.ClientID
	ballot  paxos.Ballot
}

type packet struct {
	from, to lockmgr.Addr
	data     []byte // shared between states: nobody writes a packet once sent
}

// replica is one replica's process and disk.
type replica struct {
	id   paxos.ID
	node *lockmgr.Node // nil while crashed
	src  source
	// durable is what survives a crash; pending was appended and not
	// synced yet. Both are shared with the parent state until written
	// (appends go to fresh arrays: see disk).
	durable, pending []paxos.Record
	boots            int
	// fp is the hash of the replica's encoding, once computed (fpOK); a
	// replica is not changed after that (see world.own*).
	fp   uint64
	fpOK bool
	// The node's ports and random source, bound to the world that owns
	// this replica; kept here so that a copy is one allocation, not five.
	disk storage
	out  sender
	obs  observer
	rng  rand.Rand
}

// bind points r's ports and random source at w and r itself.
func (r *replica) bind(w *world) {
	r.disk = storage{w: w, r: r}
	r.out = sender{w: w, from: lockmgr.Addr(r.id)}
	r.obs = observer{w: w, id: r.id}
	r.rng = *rand.New(&r.src)
}

// client is one client process and its script.
type client struct {
	idx   int
	cl    *lockmgr.Client
	src   source
	next  int // the script's next operation
	cur   int // the history handle of the outstanding operation, -1 if none
	began bool
	fp    uint64 // as replica.fp
	fpOK  bool
	rng   rand.Rand // draws from src
}

func (c *client) addr() lockmgr.Addr { return lockmgr.Addr(clientAddrBase + c.idx) }

func (c *client) done(ops int) bool { return c.next == ops && c.cur < 0 }

// source is a splitmix64 stream: a random source whose whole state is one
// word, so a state's draws are copied and fingerprinted exactly.
type source struct{ s uint64 }

func (x *source) Uint64() uint64 {
	x.s += 0x9e3779b97f4a7c15
	z := x.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// newWorld builds the initial state: fresh replicas and idle clients.
func newWorld(cfg *Config) (*world, error) {
	peers := make([]paxos.ID, cfg.Replicas)
	for i := range peers {
		peers[i] = paxos.ID(i + 1)
	}
	host := &simhost.Config{Peers: peers, TickNs: cfg.TickNs, SnapshotSlots: cfg.SnapshotSlots}
	if host.SnapshotSlots == 0 {
		host.SnapshotSlots = math.MaxUint64 / 2
	}
	w := &world{cfg: cfg, host: host, chk: check.New(cfg.Replicas, simhost.SimSM), hist: &check.History{},
		expiries: map[expiryKey]int64{}, ended: map[lockmgr.ClientID]bool{}, chkOwned: true, histOwned: true, mapsOwned: true}
	for _, id := range peers {
		r := &replica{id: id, src: source{uint64(id) * 0x5851f42d4c957f2d}}
		w.reps = append(w.reps, r)
		if err := w.boot(r); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Clients {
		c := &client{idx: i, cur: -1, src: source{uint64(i+1) * 0x2545f4914f6cdd1d}}
		c.rng = *rand.New(&c.src)
		cl, err := lockmgr.NewClient(host.Client(lockmgr.ClientID(i+1), &c.rng))
		if err != nil {
			return nil, err
		}
		c.cl = cl
		w.cls = append(w.cls, c)
	}
	return w, nil
}

// boot starts replica r from its durable records.
func (w *world) boot(r *replica) error {
	r.boots++
	r.pending = nil
	recs := slices.Clone(r.durable)
	w.checks().Booted(r.id, recs)
	r.bind(w)
	scfg := w.host.Server(r.id, &r.rng)
	node, err := lockmgr.NewNode(scfg, recs, &r.disk, &r.out, &r.obs)
	if err != nil {
		return fmt.Errorf("explore: replica %d boot: %w", r.id, err)
	}
	r.node = node
	return nil
}

// clone copies the world for a child state, cheaply: a step changes one
// process, so the processes, the checkers and the history stay shared
// with the parent until the child first changes them (own, checks,
// history). A state in the frontier is never changed again, so what it
// shares stays as it was.
func (w *world) clone() *world {
	x := *w
	x.net = slices.Clip(w.net)
	x.reps = slices.Clone(w.reps)
	x.cls = slices.Clone(w.cls)
	x.owned = 0
	x.chkOwned, x.histOwned, x.mapsOwned = false, false, false
	return &x
}

// ownReplica gives w a copy of replica i of its own, bound to w, before
// w changes it.
func (w *world) ownReplica(i int) *replica {
	bit := uint64(1) << i
	if w.owned&bit != 0 {
		return w.reps[i]
	}
	w.owned |= bit
	r := w.reps[i]
	rc := &replica{id: r.id, src: r.src, durable: slices.Clip(r.durable), pending: slices.Clip(r.pending), boots: r.boots}
	if r.node != nil {
		rc.bind(w)
		rc.node = r.node.Clone(&rc.disk, &rc.out, &rc.obs, &rc.rng)
	}
	w.reps[i] = rc
	return rc
}

// ownClient is ownReplica for client i.
func (w *world) ownClient(i int) *client {
	bit := uint64(1) << (32 + i)
	if w.owned&bit != 0 {
		return w.cls[i]
	}
	w.owned |= bit
	c := *w.cls[i]
	c.fpOK = false
	c.rng = *rand.New(&c.src)
	c.cl = w.cls[i].cl.Clone(&c.rng)
	w.cls[i] = &c
	return &c
}

// checks is w's checkers, copied from the parent's on first use.
func (w *world) checks() *check.Checkers {
	if !w.chkOwned {
		w.chk, w.chkOwned = w.chk.Clone(), true
	}
	return w.chk
}

// history is w's client history, copied from the parent's on first use.
func (w *world) history() *check.History {
	if !w.histOwned {
		w.hist, w.histOwned = w.hist.Clone(), true
	}
	return w.hist
}

// ownMaps copies the expiry bookkeeping before w changes it.
func (w *world) ownMaps() {
	if !w.mapsOwned {
		w.expiries, w.ended, w.mapsOwned = maps.Clone(w.expiries), maps.Clone(w.ended), true
	}
}

// storage is a replica's disk: appends become durable at Sync; a crash
// loses what was not synced.
type storage struct {
	w *world
	r *replica
}

func (s *storage) Append(recs []paxos.Record) error {
	s.w.checks().Appended(s.r.id, recs)
	s.r.pending = append(slices.Clip(s.r.pending), recs...)
	return nil
}

func (s *storage) Rewrite(recs []paxos.Record) error {
	s.r.durable, s.r.pending = slices.Clone(recs), nil
	s.w.checks().Rewrote(s.r.id, recs)
	return nil
}

func (s *storage) Sync() error {
	s.r.durable = append(slices.Clip(s.r.durable), s.r.pending...)
	s.r.pending = nil
	s.w.checks().Synced(s.r.id)
	return nil
}

// sender puts a process's packets in flight.
type sender struct {
	w    *world
	from lockmgr.Addr
}

func (s *sender) Send(to lockmgr.Addr, pkt []byte) {
	s.w.net = append(s.w.net, packet{from: s.from, to: to, data: pkt})
}

// observer forwards a replica's events to the checkers and the history,
// as the simulator's runner does.
type observer struct {
	w  *world
	id paxos.ID
}

func (o *observer) Sent(m *paxos.Message)                            { o.w.checks().Sent(o.id, m) }
func (o *observer) Committed(e paxos.Entry, _ *lockmgr.StateMachine) { o.w.checks().Committed(o.id, e) }
func (o *observer) Restored(slot uint64)                             { o.w.checks().Restored(o.id, slot) }
func (o *observer) KeptAlive(lockmgr.ClientID, paxos.Ballot)         {}

func (o *observer) Proposed(c lockmgr.Command) {
	if c.Op != lockmgr.OpExpire {
		return
	}
	k := expiryKey{c.Client, paxos.Ballot{Round: c.Arg, Node: c.Node}}
	if _, ok := o.w.expiries[k]; !ok {
		o.w.ownMaps()
		o.w.expiries[k] = o.w.now()
	}
}

func (o *observer) Applied(slot uint64, c lockmgr.Command, r lockmgr.Result, grants []lockmgr.Grant) {
	w := o.w
	w.checks().Applied(o.id, slot, c, r, grants)
	ended := r.Status == lockmgr.Ended && (c.Op == lockmgr.OpExpire || c.Op == lockmgr.OpClose)
	w.history().Applied(w.now(), c, ended, grants)
	if ended && c.Op == lockmgr.OpClose {
		w.ownMaps()
		w.ended[c.Client] = true
	}
	if ended && c.Op == lockmgr.OpExpire && !w.ended[c.Client] {
		w.ownMaps()
		w.ended[c.Client] = true
		call, ok := w.expiries[expiryKey{c.Client, paxos.Ballot{Round: c.Arg, Node: c.Node}}]
		if !ok && w.broken == "" {
			w.broken = fmt.Sprintf("oracle: replica %d applied %v, which no replica proposed", o.id, c)
		}
		w.history().Ended(call, w.now(), c.Client, c.Op)
	}
}

// now is the history's clock: the number of steps taken. Only the order
// of calls and returns matters to porcupine.
func (w *world) now() int64 { return int64(w.spent.Depth) }

// allDone reports whether every client finished its script.
func (w *world) allDone() bool {
	for i, c := range w.cls {
		if !c.done(len(w.cfg.Clients[i])) {
			return false
		}
	}
	return true
}
