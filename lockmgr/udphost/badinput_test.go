package udphost

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/paxos/wal"
)

// The bad input of issue 8, one test each: random bytes, a valid packet
// from a stranger, a wrong HMAC, a 64 KiB packet, a replayed old packet,
// a config with a duplicate id (config_test.go), a data directory with a
// corrupted record. Every one must be dropped and counted, never crash or
// mislead a node, and the group must go on serving.

// stranger is a socket that is neither a replica nor a well-behaved client.
func stranger(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wire seals frame as a node of cfg's group would, with the group's
// cluster tag (and MAC, if keyed).
func wire(cfg *Config, frame []byte) []byte { return newAuth(cfg).seal(nil, frame) }

// tagged puts only cfg's cluster tag in front of b: no MAC.
func tagged(cfg *Config, b []byte) []byte {
	tag := clusterTag(cfg.ClusterID())
	return append(tag[:], b...)
}

func sendTo(t *testing.T, c *net.UDPConn, to netip.AddrPort, pkt []byte) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(pkt, to); err != nil {
		t.Fatalf("send %d bytes: %v", len(pkt), err)
	}
}

// waitCounter waits until replica id's counter (picked by get) reaches want.
func waitCounter(t *testing.T, g *group, id paxos.ID, what string, want uint64, get func(lockmgr.Counters) uint64) {
	t.Helper()
	var got uint64
	eventually(t, what, 5*time.Second, func() bool {
		got = get(g.stats(id).Counters)
		return got >= want
	})
	if got != want {
		t.Fatalf("%s: counter is %d, want %d", what, got, want)
	}
}

// stillServes checks that the group still grants locks, taking and
// releasing one.
func stillServes(t *testing.T, g *group) {
	t.Helper()
	c := newTestClient(t, g.cfg)
	if r := do(t, c, lockmgr.OpTryLock, "alive").Result; r.Status != lockmgr.Granted {
		t.Fatalf("group after bad input: trylock answered %v", r)
	}
	do(t, c, lockmgr.OpUnlock, "alive")
}

func TestRandomBytesPacket(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-key", true: "key"}[keyed], func(t *testing.T) {
			extra := map[string]any{}
			if keyed {
				extra["key"] = testKey
			}
			g := startGroup(t, testConfig(t, 3, extra))
			s := stranger(t)
			rng := rand.New(rand.NewPCG(1, 2))
			const packets = 50
			for i := range packets {
				b := make([]byte, rng.IntN(2000)) // includes the empty datagram
				for j := range b {
					b[j] = byte(rng.Uint32())
				}
				if i%5 == 0 && len(b) > 2 {
					b[0], b[1] = paxos.Version, paxos.KindPaxos // get past the first checks
				}
				sendTo(t, s, g.nodes[0].Addr(), tagged(g.cfg, b))
			}
			get := func(c lockmgr.Counters) uint64 { return c[lockmgr.BadPacket] }
			if keyed {
				get = func(c lockmgr.Counters) uint64 { return c[lockmgr.Unauthenticated] }
			}
			waitCounter(t, g, 1, "random packets counted", packets, get)
			stillServes(t, g)
		})
	}
}

// TestStrangerReplicaPacket: a well-formed replica message claiming to come
// from replica 2, sent from an address that is not replica 2's, is dropped
// and counted as a stranger; its ballot has no effect.
func TestStrangerReplicaPacket(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	stillServes(t, g) // a leader is in place
	var before paxos.Ballot
	g.nodes[0].Inspect(func(n *lockmgr.Node) { before = n.Server().Replica().Promised() })
	s := stranger(t)
	high := paxos.Ballot{Round: 1 << 40, Node: 2}
	for _, m := range []paxos.Message{
		{Type: paxos.MsgPrepare, From: 2, To: 1, Ballot: high},
		{Type: paxos.MsgHeartbeat, From: 2, To: 1, Ballot: high, Commit: 1 << 30},
	} {
		sendTo(t, s, g.nodes[0].Addr(), wire(g.cfg, paxos.AppendMessage(nil, &m)))
	}
	waitCounter(t, g, 1, "stranger packets counted", 2, func(c lockmgr.Counters) uint64 { return c[lockmgr.Stranger] })
	var after paxos.Ballot
	g.nodes[0].Inspect(func(n *lockmgr.Node) { after = n.Server().Replica().Promised() })
	if after == high || after.Round > before.Round+100 {
		t.Fatalf("a stranger's prepare moved the promise from %v to %v", before, after)
	}
	stillServes(t, g)
}

// TestWrongHMAC: in a keyed group, packets with a wrong MAC or none at all
// are dropped and counted, and a client with the wrong key gets no answer.
func TestWrongHMAC(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, map[string]any{"key": testKey}))
	s := stranger(t)
	req := lockmgr.AppendRequest(nil, &lockmgr.Request{Command: lockmgr.Command{Client: 77, Seq: 1, Op: lockmgr.OpLock, Name: "k"}})
	other := *g.cfg
	other.key = []byte(strings.Repeat("k", KeyBytesMin))
	wrong := newAuth(&other)
	forged := wire(g.cfg, req)
	forged[len(forged)-1] ^= 1
	for _, pkt := range [][]byte{
		tagged(g.cfg, req),              // no MAC at all
		wrong.seal(nil, req),            // another key
		forged,                          // one bit off
		forged[:len(forged)-MACBytes+3], // a MAC cut short
	} {
		sendTo(t, s, g.nodes[0].Addr(), pkt)
	}
	waitCounter(t, g, 1, "unauthenticated packets counted", 4, func(c lockmgr.Counters) uint64 { return c[lockmgr.Unauthenticated] })

	bad := *g.cfg
	bad.key = wrong.key
	c := newTestClient(t, &bad)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, lockmgr.OpLock, "k")
	var na *NoAnswerError
	if !errors.As(err, &na) || na.Heard {
		t.Fatalf("client with the wrong key: err = %v, want no answer at all", err)
	}
	stillServes(t, g)
	for _, l := range do(t, newTestClient(t, g.cfg), lockmgr.OpStatus, "").Locks {
		if l.Name == "k" {
			t.Fatalf("an unauthenticated lock request took effect: %v holds k", l.Holder)
		}
	}
}

// TestOversizedPacket: a datagram as large as UDP allows is dropped and
// counted, never parsed.
func TestOversizedPacket(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	s := stranger(t)
	const udpMax = 65507 // the largest IPv4 UDP payload: "64 KiB"
	big := make([]byte, udpMax)
	copy(big, lockmgr.AppendRequest(nil, &lockmgr.Request{Command: lockmgr.Command{Client: 5, Seq: 1, Op: lockmgr.OpLock, Name: "big"}}))
	sendTo(t, s, g.nodes[0].Addr(), big)
	sendTo(t, s, g.nodes[0].Addr(), big[:paxos.MaxPacketBytes+ClusterTagBytes+1])
	waitCounter(t, g, 1, "oversized packets counted", 2, func(c lockmgr.Counters) uint64 { return c[lockmgr.Oversized] })
	stillServes(t, g)
}

// TestTruncatedCorruptUnknownPackets: the codec's rejections reach the
// counters.
func TestTruncatedCorruptUnknownPackets(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	s := stranger(t)
	req := lockmgr.AppendRequest(nil, &lockmgr.Request{Command: lockmgr.Command{Client: 5, Seq: 1, Op: lockmgr.OpLock, Name: "t"}})
	flipped := append([]byte(nil), req...)
	flipped[len(flipped)/2] ^= 0x10
	sendTo(t, s, g.nodes[0].Addr(), wire(g.cfg, req[:len(req)-3]))
	sendTo(t, s, g.nodes[0].Addr(), wire(g.cfg, flipped))
	waitCounter(t, g, 1, "truncated and corrupt packets counted", 2, func(c lockmgr.Counters) uint64 { return c[lockmgr.BadPacket] })
	sendTo(t, s, g.nodes[0].Addr(), wire(g.cfg, paxos.AppendFrame(nil, paxos.KindAppMax, []byte("hello"))))
	waitCounter(t, g, 1, "unknown kind counted", 1, func(c lockmgr.Counters) uint64 { return c[lockmgr.UnknownKind] })
	stillServes(t, g)
}

// TestReplayedPacket: an authentic lock request captured and sent again
// after the client moved on changes nothing: the MAC cannot tell a replay,
// the at-most-once table does.
func TestReplayedPacket(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, map[string]any{"key": testKey}))
	c, err := NewClient(g.cfg, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var lockReq []byte // the signed Lock request, as it left the client
	c.mu.Lock()
	c.sent = func(frame []byte) {
		if _, body, err := paxos.ParseFrame(frame); err == nil && lockReq == nil {
			if q, err := lockmgr.DecodeRequest(body); err == nil && q.Op == lockmgr.OpLock {
				lockReq = slices.Clone(frame)
			}
		}
	}
	c.mu.Unlock()
	if r := do(t, c, lockmgr.OpLock, "r").Result; r.Status != lockmgr.Granted {
		t.Fatalf("lock r: %v", r)
	}
	if r := do(t, c, lockmgr.OpUnlock, "r").Result; r.Status != lockmgr.Released {
		t.Fatalf("unlock r: %v", r)
	}
	// The very bytes the client sent for its Lock (seq 1), as captured on
	// the wire, replayed from elsewhere to every replica, several times.
	c.mu.Lock()
	old := wire(g.cfg, lockReq)
	c.mu.Unlock()
	s := stranger(t)
	for range 3 {
		for _, n := range g.nodes {
			sendTo(t, s, n.Addr(), old)
		}
	}
	// Had a replay been applied, r would be held by the client for good
	// (nobody unlocks it): every replica must settle with r free. A later
	// request through the log makes sure the replays were processed first
	// on the replica that serves it.
	time.Sleep(100 * time.Millisecond)
	other := newTestClient(t, g.cfg)
	if r := do(t, other, lockmgr.OpTryLock, "r").Result; r.Status != lockmgr.Granted {
		t.Fatalf("trylock r by another client after the replay: %v", r)
	}
	do(t, other, lockmgr.OpUnlock, "r")
	for _, n := range g.nodes {
		eventually(t, fmt.Sprintf("replica %d settles with r free after the replay", n.ID()), 5*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			rep, err := c.NodeStatus(ctx, n.ID())
			return err == nil && len(rep.Locks) == 0
		})
	}
}

// TestCorruptDataDirRefused: a node whose log is damaged in the middle
// refuses to start and says why; a torn tail is cut off and it starts.
func TestCorruptDataDirRefused(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	c := newTestClient(t, g.cfg)
	for _, name := range []string{"a", "b", "c", "d"} {
		do(t, c, lockmgr.OpLock, name)
	}
	g.stop(3)
	path := filepath.Join(g.dirs[2], wal.LogName)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, first, err := paxos.DecodeRecord(raw)
	if err != nil || first >= len(raw)/2 {
		t.Fatalf("log of %d bytes, first record %d bytes: %v", len(raw), first, err)
	}
	bad := append([]byte(nil), raw...)
	bad[first+7] ^= 0x01
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = StartNode(NodeOptions{Config: g.cfg, ID: 3, DataDir: g.dirs[2]})
	if !errors.Is(err, wal.ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "refuses to start") {
		t.Fatalf("start on a corrupt log: err = %v", err)
	}
	// A torn tail instead: the half-written last record goes, the node starts.
	if err := os.WriteFile(path, append(raw, raw[:first/2]...), 0o644); err != nil {
		t.Fatal(err)
	}
	g.start(3)
	if tr := g.nodes[2].Recovery().TruncatedBytes; tr != int64(first/2) {
		t.Fatalf("recovery cut %d bytes, want %d", tr, first/2)
	}
	stillServes(t, g)
}

// TestForgedSessionRequest: a stranger who knows a session's number (the
// lock table prints it) sends an unlock and a close in its name, with a
// tag it could not make: every replica refuses them and counts them as
// forged, and the holder keeps its lock.
func TestForgedSessionRequest(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	holder := newTestClient(t, g.cfg)
	if r := do(t, holder, lockmgr.OpLock, "f").Result; r.Status != lockmgr.Granted {
		t.Fatalf("lock f: %v", r)
	}
	id := holder.ID()
	// The stranger reads the session's number off a lock table: wait
	// until every replica's table shows it, so each knows the session
	// (a replica that has not applied the open yet leaves the judgement
	// to the log, and counts nothing).
	for _, n := range g.nodes {
		eventually(t, fmt.Sprintf("replica %d shows f held", n.ID()), 5*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			rep, err := holder.NodeStatus(ctx, n.ID())
			return err == nil && len(rep.Locks) == 1 && rep.Locks[0].Holder == id
		})
	}
	s := stranger(t)
	for _, op := range []lockmgr.Op{lockmgr.OpUnlock, lockmgr.OpClose} {
		c := lockmgr.Command{Client: id, Seq: 99, Op: op}
		if op.Named() {
			c.Name = "f"
		}
		c.Key = lockmgr.Key{1, 2, 3} // not the tag: the stranger lacks the secret
		for _, n := range g.nodes {
			sendTo(t, s, n.Addr(), wire(g.cfg, lockmgr.AppendRequest(nil, &lockmgr.Request{Command: c})))
		}
	}
	for _, n := range g.nodes {
		waitCounter(t, g, n.ID(), fmt.Sprintf("replica %d counts both forgeries", n.ID()), 2,
			func(c lockmgr.Counters) uint64 { return c[lockmgr.Forged] })
	}
	other := newTestClient(t, g.cfg)
	if r := do(t, other, lockmgr.OpTryLock, "f").Result; r.Status != lockmgr.Busy || r.Holder != id {
		t.Fatalf("trylock f after the forgeries: %v, want busy (held by %v)", r, id)
	}
	if r := do(t, holder, lockmgr.OpUnlock, "f").Result; r.Status != lockmgr.Released {
		t.Fatalf("the holder's own unlock: %v", r)
	}
}

// TestOtherClusterPacket: packets of another group (its cluster tag
// differs: another name in its config), and datagrams with no tag at all,
// are dropped and counted before anything reads them; a client of the
// other group hears nothing it can take.
func TestOtherClusterPacket(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, map[string]any{"cluster": "blue"}))
	other := *g.cfg
	other.Cluster = "green"
	s := stranger(t)
	req := lockmgr.AppendRequest(nil, &lockmgr.Request{Command: lockmgr.Command{Client: 5, Seq: 1, Op: lockmgr.OpLock, Name: "x"}})
	for _, pkt := range [][]byte{
		wire(&other, req),                    // another group's request
		req,                                  // no tag at all
		{},                                   // the empty datagram
		wire(g.cfg, req)[:ClusterTagBytes-1], // a tag cut short
	} {
		sendTo(t, s, g.nodes[0].Addr(), pkt)
	}
	waitCounter(t, g, 1, "other groups' packets counted", 4, func(c lockmgr.Counters) uint64 { return c[lockmgr.OtherCluster] })
	c := newTestClient(t, &other)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.Do(ctx, lockmgr.OpLock, "x"); err == nil {
		t.Fatal("a client of another group got an answer")
	}
	stillServes(t, g)
	if got := g.stats(1).Counters[lockmgr.BadPacket]; got != 0 {
		t.Fatalf("%d packets of another group reached the codec", got)
	}
}
