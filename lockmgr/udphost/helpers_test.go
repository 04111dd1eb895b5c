package udphost

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// heldPorts are the test replicas' loopback ports while no replica is
// bound to them: each is bound to a socket that never reads or answers.
// A port released instead could become a client's ephemeral port (which
// would then hear its own requests as a replica's answers) or another test
// process's replica (which would answer them). freeAddrs takes them,
// group.start and procCluster.start release one just before its replica
// binds it, and group.stop and procCluster.down take it back.
var heldPorts = struct {
	sync.Mutex
	conns map[netip.AddrPort]*net.UDPConn
}{conns: map[netip.AddrPort]*net.UDPConn{}}

// holdPort binds ap (port 0: a free one) to a silent socket, held until
// releasePort or the end of the test, and returns the address bound.
func holdPort(t testing.TB, ap netip.AddrPort) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		t.Fatalf("hold replica port %v: %v", ap, err)
	}
	ap = unmapped(c.LocalAddr().(*net.UDPAddr).AddrPort())
	heldPorts.Lock()
	defer heldPorts.Unlock()
	heldPorts.conns[ap] = c
	t.Cleanup(func() { releasePort(ap) })
	return ap
}

// releasePort frees ap's port for its replica to bind; it does nothing if
// the port is not held.
func releasePort(ap netip.AddrPort) {
	ap = unmapped(ap)
	heldPorts.Lock()
	defer heldPorts.Unlock()
	if c := heldPorts.conns[ap]; c != nil {
		c.Close()
		delete(heldPorts.conns, ap)
	}
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// freeAddrs reserves n loopback UDP ports and holds them (see heldPorts)
// until their replicas start or the test ends.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		addrs = append(addrs, holdPort(t, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0)).String())
	}
	return addrs
}

// testConfigJSON is a config file's text for n loopback replicas.
func testConfigJSON(t testing.TB, n int, extra map[string]any) []byte {
	t.Helper()
	var nodes []map[string]any
	for i, a := range freeAddrs(t, n) {
		nodes = append(nodes, map[string]any{"id": i + 1, "addr": a})
	}
	m := map[string]any{"nodes": nodes}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testConfig(t testing.TB, n int, extra map[string]any) *Config {
	t.Helper()
	cfg, err := ParseConfig("test.json", testConfigJSON(t, n, extra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const testKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// group is an in-process group of nodes on loopback.
type group struct {
	t     testing.TB
	cfg   *Config
	dirs  []string
	nodes []*Node
}

func startGroup(t testing.TB, cfg *Config) *group {
	t.Helper()
	g := &group{t: t, cfg: cfg}
	root := t.TempDir()
	for _, id := range cfg.Peers() {
		g.dirs = append(g.dirs, filepath.Join(root, fmt.Sprintf("node%d", id)))
		g.nodes = append(g.nodes, nil)
		g.start(id)
	}
	t.Cleanup(g.close)
	return g
}

func (g *group) start(id paxos.ID) {
	g.t.Helper()
	addr, _ := g.cfg.NodeAddr(id)
	releasePort(addr)
	n, err := StartNode(NodeOptions{Config: g.cfg, ID: id, DataDir: g.dirs[id-1]})
	if err != nil {
		g.t.Fatal(err)
	}
	g.nodes[id-1] = n
}

func (g *group) stop(id paxos.ID) {
	g.t.Helper()
	if err := g.nodes[id-1].Close(); err != nil {
		g.t.Fatal(err)
	}
	g.nodes[id-1] = nil
	addr, _ := g.cfg.NodeAddr(id)
	holdPort(g.t, addr)
}

func (g *group) close() {
	for i, n := range g.nodes {
		if n != nil {
			n.Close()
			g.nodes[i] = nil
		}
	}
}

func (g *group) stats(id paxos.ID) Stats {
	g.t.Helper()
	st, ok := g.nodes[id-1].Stats()
	if !ok {
		g.t.Fatalf("node %d stopped: %v", id, g.nodes[id-1].Err())
	}
	return st
}

func newTestClient(t testing.TB, cfg *Config) *Client {
	t.Helper()
	c, err := NewClient(cfg, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// do runs one operation with a generous timeout and fails the test if it
// gets no answer.
func do(t testing.TB, c *Client, op lockmgr.Op, name string) lockmgr.Completion {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	comp, err := c.Do(ctx, op, name)
	if err != nil {
		t.Fatalf("%v %q: %v", op, name, err)
	}
	return comp
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
