package lockmgr

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"paxlock/paxos"
)

// fingerprintFields names, per struct a Node or Client holds, every field
// that Clone and AppendFingerprint decided about (see paxos's test of the
// same name). Add a field to one of these structs and this test fails
// until you decide: encode it and copy it deeply, or say why not.
var fingerprintFields = map[reflect.Type][]string{
	reflect.TypeFor[Node](): {"srv", "skippedAt", "store", "net" /* the caller's */, "slab" /* scratch */, "err", "rebuilding"},
	reflect.TypeFor[Server](): {"cfg" /* fixed for a run */, "rep", "sm", "clients", "now", "replies", "counters",
		"in", "slab" /* scratch */, "smShared", "refsShared" /* copy-on-write */, "obs" /* the caller's */, "nextApply", "leases"},
	reflect.TypeFor[clientRef]():  {"addr", "seq", "proposedAt", "seenAt"},
	reflect.TypeFor[leaseTimer](): {"ballot", "heard", "next", "leadAt", "leadFor"},
	reflect.TypeFor[leaseRef]():   {"heard", "keepalive", "proposedAt"},
	// The state machine is encoded by its snapshot; what it leaves out is
	// rebuilt from it (held, waitName) or a cache (mac, verified, scratch).
	reflect.TypeFor[StateMachine](): {"cfg", "applied", "lastToken", "lastSession", "leader", "locks", "sessions", "nonces", "scratch",
		"mark" /* a coverage hook, decides nothing */, "idsScratch", "namesScratch" /* scratch */},
	reflect.TypeFor[lockState](): {"holder", "token", "waiters"},
	reflect.TypeFor[waiter]():    {"client", "seq"},
	reflect.TypeFor[session]():   {"id", "nonce", "secret", "leaseMs", "seq", "result", "held", "waitName", "mac", "verified"},
	reflect.TypeFor[Client](): {"cfg", "now", "nextSeq", "nextRead", "leader", "cur", "out", "id", "secret",
		"mac" /* made from secret */, "leaseTicks", "heldUntil", "lost", "open", "ka"},
	reflect.TypeFor[request](): {"req", "target", "attempts", "elapsed", "timeout", "backoff", "hop", "queued", "sentAt", "started",
		"leader" /* read only by a coverage mark */},
	reflect.TypeFor[keepalive](): {"seq", "sentAt", "due", "target"},
	reflect.TypeFor[Command]():   {"Client", "Seq", "Op", "Name", "Arg", "Node", "Key"},
}

func TestFingerprintCoversEveryField(t *testing.T) {
	for typ, want := range fingerprintFields {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v has fields %v; Clone and AppendFingerprint decided about %v: update them and this list", typ, got, want)
		}
	}
}

// miniGroup is a 3-replica group and one client on an in-memory FIFO
// network, enough to bring nodes into states worth copying.
type miniGroup struct {
	nodes []*Node
	srcs  []*rand.PCG
	cl    *Client
	clSrc *rand.PCG
	net   *miniNet
	stors []*miniStore
}

type miniPacket struct {
	from, to Addr
	data     []byte
}

type miniNet struct{ q []miniPacket }

type miniSender struct {
	net  *miniNet
	from Addr
}

func (s miniSender) Send(to Addr, pkt []byte) {
	s.net.q = append(s.net.q, miniPacket{s.from, to, pkt})
}

type miniStore struct{ recs []paxos.Record }

func (s *miniStore) Append(recs []paxos.Record) error { s.recs = append(s.recs, recs...); return nil }
func (s *miniStore) Rewrite(recs []paxos.Record) error {
	s.recs = slices.Clone(recs)
	return nil
}
func (s *miniStore) Sync() error { return nil }

const miniClient Addr = 100

func newMiniGroup(t *testing.T) *miniGroup {
	g := &miniGroup{net: &miniNet{}}
	peers := []paxos.ID{1, 2, 3}
	for _, id := range peers {
		cfg := DefaultServerConfig(id, peers)
		src := rand.NewPCG(1, uint64(id))
		cfg.Paxos.Rand = rand.New(src)
		st := &miniStore{}
		n, err := NewNode(cfg, nil, st, miniSender{g.net, Addr(id)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		g.nodes, g.srcs, g.stors = append(g.nodes, n), append(g.srcs, src), append(g.stors, st)
	}
	ccfg := DefaultClientConfig(1, peers)
	g.clSrc = rand.NewPCG(2, 2)
	ccfg.Rand = rand.New(g.clSrc)
	cl, err := NewClient(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	g.cl = cl
	return g
}

// clone copies the whole group: nodes, client, network, storage and the
// random sources' states.
func (g *miniGroup) clone() *miniGroup {
	c := &miniGroup{net: &miniNet{q: slices.Clone(g.net.q)}}
	for i, n := range g.nodes {
		src := *g.srcs[i]
		st := &miniStore{recs: slices.Clone(g.stors[i].recs)}
		c.nodes = append(c.nodes, n.Clone(st, miniSender{c.net, Addr(i + 1)}, nil, rand.New(&src)))
		c.srcs, c.stors = append(c.srcs, &src), append(c.stors, st)
	}
	src := *g.clSrc
	c.clSrc = &src
	c.cl = g.cl.Clone(rand.New(&src))
	return c
}

func (g *miniGroup) fingerprint() []byte {
	var b []byte
	for _, n := range g.nodes {
		b = n.AppendFingerprint(b)
	}
	return g.cl.AppendFingerprint(b)
}

// run ticks everyone and delivers everything in flight, k times.
func (g *miniGroup) run(k int) {
	for range k {
		for _, n := range g.nodes {
			n.Tick()
		}
		g.cl.Tick()
		g.flushClient()
		for len(g.net.q) > 0 {
			p := g.net.q[0]
			g.net.q = g.net.q[1:]
			if p.to == miniClient {
				g.cl.Receive(p.data)
				g.flushClient()
				continue
			}
			g.nodes[p.to-1].Receive(p.from, p.data)
		}
	}
}

func (g *miniGroup) flushClient() {
	for _, p := range g.cl.Outbox() {
		g.net.q = append(g.net.q, miniPacket{miniClient, p.To, p.Data})
	}
}

// newLockedGroup is a mini group whose client opened a session and holds
// lock "a".
func newLockedGroup(t *testing.T) *miniGroup {
	g := newMiniGroup(t)
	g.run(120)
	if _, err := g.cl.Start(OpLock, "a"); err != nil {
		t.Fatal(err)
	}
	g.flushClient()
	g.run(60)
	if len(g.nodes[0].Server().StateMachine().Status()) != 1 {
		t.Fatal("the lock was not granted: the group did not get going")
	}
	return g
}

// TestCloneIsIndependent: a clone of a group with a session and a lock
// held has the original's fingerprint, behaves as the original does, and
// driving it alone leaves the original as it was.
func TestCloneIsIndependent(t *testing.T) {
	g := newLockedGroup(t)
	c := g.clone()
	before := g.fingerprint()
	if !bytes.Equal(c.fingerprint(), before) {
		t.Fatal("the clone's fingerprint differs from the original's")
	}
	g2 := g.clone()
	for _, x := range []*miniGroup{g2, c} {
		if _, err := x.cl.Start(OpUnlock, "a"); err != nil {
			t.Fatal(err)
		}
		x.flushClient()
		x.run(40)
	}
	if !bytes.Equal(c.fingerprint(), g2.fingerprint()) {
		t.Fatal("two clones given the same inputs ended in different states")
	}
	if !bytes.Equal(g.fingerprint(), before) {
		t.Fatal("driving the clones changed the original")
	}
	if bytes.Equal(c.fingerprint(), before) {
		t.Fatal("an unlock and 40 rounds left the fingerprint as it was")
	}
	if len(c.nodes[0].Server().StateMachine().Status()) != 0 || len(g.nodes[0].Server().StateMachine().Status()) != 1 {
		t.Fatal("the unlock did not free the lock in the clone only")
	}
}

// runQuiet is run with the client silent (not ticked: no keepalives),
// one hop a round (what a round sends is delivered the next), and, if
// cut is not zero, replica cut cut off from everyone.
func (g *miniGroup) runQuiet(k int, cut Addr) {
	for range k {
		for _, n := range g.nodes {
			n.Tick()
		}
		for range len(g.net.q) {
			p := g.net.q[0]
			g.net.q = g.net.q[1:]
			switch {
			case p.to == miniClient, p.from == cut, p.to == cut:
			default:
				g.nodes[p.to-1].Receive(p.from, p.data)
			}
		}
	}
}

// TestCloneIsIndependentThroughExpiryAndLeaderChange drives a group
// through what a copy shares with its original until it changes it
// (Server.ownRefs, Server.ownSM): a session that expires (the leader's
// lease scan, the expiry applied), the replicas forgetting a silent
// client's address, and a leader cut off until it steps down and another
// leads. Before every round it copies the group and runs the round in the
// copy first: the original must not change. A copy owns what it shares
// from its first write on, so copying before each round makes every
// write site the first in some round.
func TestCloneIsIndependentThroughExpiryAndLeaderChange(t *testing.T) {
	g := newLockedGroup(t)
	round := func(cut Addr) {
		before := g.fingerprint()
		c := g.clone()
		c.runQuiet(1, cut)
		if !bytes.Equal(g.fingerprint(), before) {
			t.Fatalf("a round in the copy changed the original (cut %d)", cut)
		}
		g.runQuiet(1, cut)
		if !bytes.Equal(g.fingerprint(), c.fingerprint()) {
			t.Fatalf("the copy and the original went different ways (cut %d)", cut)
		}
	}
	// The leader cut off while the session lives: it stops timing leases
	// (and forgets them), another leader starts timing them.
	leader := g.nodes[0].Server().Replica().Leader()
	if leader == 0 {
		t.Fatal("no leader")
	}
	for range 600 {
		round(Addr(leader))
	}
	if g.nodes[leader-1].Server().Replica().Role() == paxos.Leader {
		t.Fatalf("replica %d, cut off, still leads", leader)
	}
	// Healed, the client still silent: past the 10 s lease and the 10 s
	// address TTL, at 1 ms ticks.
	for range 12_000 {
		round(0)
	}
	if n := len(g.nodes[0].Server().StateMachine().Sessions()); n != 0 {
		t.Fatalf("the silent client's session is still open (%d sessions)", n)
	}
}
