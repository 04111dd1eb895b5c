package udphost

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/paxos/wal"
)

// TestAmnesiaRefused: a node whose data directory says it ran (its
// identity) but whose log was deleted, emptied or overwritten with random
// bytes refuses to start, naming the files and the ways out; a directory
// of another node is refused too; the untouched directory starts again.
func TestAmnesiaRefused(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	c := newTestClient(t, g.cfg)
	if r := do(t, c, lockmgr.OpLock, "kept").Result; r.Status != lockmgr.Granted {
		t.Fatalf("lock: %v", r)
	}
	g.stop(2)
	dir := g.dirs[1]
	if _, err := os.Stat(filepath.Join(dir, IdentityFile)); err != nil {
		t.Fatalf("no identity after the node wrote its log: %v", err)
	}
	logPath := filepath.Join(dir, wal.LogName)
	good, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	start := func() error {
		addr, _ := g.cfg.NodeAddr(2)
		releasePort(addr)
		n, err := StartNode(NodeOptions{Config: g.cfg, ID: 2, DataDir: dir})
		if err == nil {
			n.Close()
		}
		return err
	}
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i>>3)
	}
	for _, tc := range []struct {
		name   string
		break_ func() error
	}{
		{"deleted", func() error { return os.Remove(logPath) }},
		{"emptied", func() error { return os.WriteFile(logPath, nil, 0o644) }},
		{"random bytes", func() error { return os.WriteFile(logPath, random, 0o644) }},
	} {
		if err := tc.break_(); err != nil {
			t.Fatal(err)
		}
		err := start()
		if err == nil || !errors.Is(err, ErrAmnesia) && !errors.Is(err, wal.ErrCorrupt) {
			t.Errorf("%s log: start gave %v, want a refusal", tc.name, err)
		} else if errors.Is(err, ErrAmnesia) && (!strings.Contains(err.Error(), logPath) || !strings.Contains(err.Error(), "-rejoin")) {
			t.Errorf("%s log: %v: want it to name %s and the ways out", tc.name, err, logPath)
		}
	}
	if err := os.WriteFile(logPath, good, 0o644); err != nil {
		t.Fatal(err)
	}
	// Node 3's directory is not node 2's.
	addr, _ := g.cfg.NodeAddr(2)
	releasePort(addr)
	g.stop(3)
	if _, err := StartNode(NodeOptions{Config: g.cfg, ID: 2, DataDir: g.dirs[2]}); err == nil || !strings.Contains(err.Error(), "belongs to node 3") {
		t.Errorf("node 2 on node 3's directory: %v, want a refusal", err)
	}
	// Node 3's log copied into node 2's directory: the log says whose
	// it is.
	three, err := os.ReadFile(filepath.Join(g.dirs[2], wal.LogName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, three, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := start(); err == nil || !strings.Contains(err.Error(), "belongs to node 3") || !strings.Contains(err.Error(), logPath) {
		t.Errorf("node 3's log in node 2's directory: %v, want a refusal naming the log", err)
	}
	if err := os.WriteFile(logPath, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := start(); err != nil {
		t.Fatalf("the restored directory: %v", err)
	}
}

// TestFreshNodeIdentity: a new directory starts, and gets its identity
// only once its log holds something.
func TestFreshNodeIdentity(t *testing.T) {
	cfg := testConfig(t, 1, nil)
	dir := t.TempDir()
	addr, _ := cfg.NodeAddr(1)
	releasePort(addr)
	n, err := StartNode(NodeOptions{Config: cfg, ID: paxos.ID(1), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := newTestClient(t, cfg)
	if r := do(t, c, lockmgr.OpTryLock, "x").Result; r.Status != lockmgr.Granted {
		t.Fatalf("trylock: %v", r)
	}
	raw, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	if err != nil || !strings.Contains(string(raw), `"node":1`) || !strings.Contains(string(raw), cfg.ClusterID()) {
		t.Fatalf("identity %q, %v", raw, err)
	}
}

// TestRejoinSetsAside: -rejoin on a damaged log keeps it aside (never
// deletes it), rebuilds, and clears its mark once it votes; -rejoin on
// another node's directory is refused before anything is touched.
func TestRejoinSetsAside(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	c := newTestClient(t, g.cfg)
	for _, name := range []string{"a", "b", "c"} {
		do(t, c, lockmgr.OpLock, name)
	}
	g.stop(3)
	g.stop(2)
	logPath := filepath.Join(g.dirs[2], wal.LogName)
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x40 // damage in the middle: wal refuses it
	if err := os.WriteFile(logPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// Node 2 with -rejoin on node 3's directory: refused, untouched.
	addr2, _ := g.cfg.NodeAddr(2)
	releasePort(addr2)
	if _, err := StartNode(NodeOptions{Config: g.cfg, ID: 2, DataDir: g.dirs[2], Rejoin: true}); err == nil ||
		!strings.Contains(err.Error(), "belongs to node 3") {
		t.Fatalf("-rejoin on another node's directory: %v", err)
	}
	if got, _ := os.ReadFile(logPath); string(got) != string(raw) {
		t.Fatal("the refused -rejoin touched the log")
	}
	holdPort(t, addr2)
	g.start(2)
	addr3, _ := g.cfg.NodeAddr(3)
	releasePort(addr3)
	n, err := StartNode(NodeOptions{Config: g.cfg, ID: 3, DataDir: g.dirs[2], Rejoin: true})
	if err != nil {
		t.Fatal(err)
	}
	g.nodes[2] = n
	aside, err := os.ReadFile(filepath.Join(g.dirs[2], SetAsidePrefix+"1"))
	if err != nil || string(aside) != string(raw) {
		t.Fatalf("the damaged log was not kept aside: %v", err)
	}
	eventually(t, "node 3 rebuilt", 10*time.Second, func() bool {
		st, ok := n.Stats()
		_, err := os.Stat(filepath.Join(g.dirs[2], RebuildFile))
		return ok && !st.Rebuilding && errors.Is(err, os.ErrNotExist)
	})
	stillServes(t, g)
}

// TestRejoinNeedsThreeNodes: a group of one or two cannot rebuild a node
// (no majority of voters besides it): -rejoin is refused with the reason,
// and the directory is not touched.
func TestRejoinNeedsThreeNodes(t *testing.T) {
	cfg := testConfig(t, 1, nil)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, wal.LogName), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := StartNode(NodeOptions{Config: cfg, ID: 1, DataDir: dir, Rejoin: true})
	if err == nil || !strings.Contains(err.Error(), "a group of 1 cannot rebuild") {
		t.Fatalf("-rejoin in a group of one: %v", err)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, wal.LogName)); string(raw) != "x" {
		t.Fatal("the refused -rejoin touched the log")
	}
}
