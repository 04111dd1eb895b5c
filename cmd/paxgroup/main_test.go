package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"paxlock/lockmgr"
	"paxlock/lockmgr/udphost"
	"paxlock/paxos/wal"
)

// syncBuffer is a bytes.Buffer safe for the launcher's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestGroup starts a 3-node group of paxosd processes, uses it, and stops
// it as SIGINT would.
func TestGroup(t *testing.T) {
	bin, cfgPath, dir := newGroupFiles(t)

	g := launch(t, bin, cfgPath, dir)
	out, errw, cancel, code := &g.out, &g.errw, g.cancel, g.code

	cfg, err := udphost.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := udphost.NewClient(cfg, udphost.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	opCtx, opCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer opCancel()
	comp, err := cl.Do(opCtx, lockmgr.OpLock, "g")
	if err != nil || comp.Result.Status != lockmgr.Granted {
		cancel()
		t.Fatalf("lock on the launched group: %v %v\nstdout:\n%s\nstderr:\n%s", comp.Result, err, out.String(), errw.String())
	}
	// Every node prints its table once the lock is applied there.
	for i := 1; i <= 3; i++ {
		want := fmt.Sprintf("[node%d] Current Locks: {\"g\": s1 (token 1)}", i)
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errw.String()+out.String(), want); {
			if time.Now().After(deadline) {
				t.Fatalf("node %d never printed its table:\nstdout:\n%s\nstderr:\n%s", i, out.String(), errw.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !strings.Contains(errw.String(), "paxgroup: warning: the config has no key") {
		t.Errorf("paxgroup did not warn about the unkeyed config:\n%s", errw.String())
	}
	// A quorum answers the lock; the third node may still be starting.
	// Stop the group only once every node says it is listening, so that
	// every node has a log to check below.
	for i := 1; i <= 3; i++ {
		want := fmt.Sprintf("msg=listening node=%d ", i)
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errw.String(), want); {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("node %d never said it was listening:\n%s", i, errw.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("paxgroup exit code %d\n%s", c, errw.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("paxgroup did not stop")
	}
	for _, want := range []string{"node 1: pid ", "node 3: pid ", "paxgroup: stopping 3 nodes"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errw.String(), "[node2] ") || !strings.Contains(errw.String(), "shutting down") {
		t.Errorf("stderr lacks the nodes' prefixed logs:\n%s", errw.String())
	}
	for i := 1; i <= 3; i++ {
		if _, err := os.Stat(filepath.Join(dir, "data", fmt.Sprintf("node%d", i), "wal")); err != nil {
			t.Errorf("node %d data: %v", i, err)
		}
	}
}

// newGroupFiles builds paxosd and writes a 3-node config on free ports.
func newGroupFiles(t *testing.T) (bin, cfgPath, dir string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command on PATH to build paxosd")
	}
	dir = t.TempDir()
	bin = filepath.Join(dir, "paxosd")
	if out, err := exec.Command(goBin, "build", "-o", bin, "paxlock/cmd/paxosd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var nodes []string
	for i := range 3 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, fmt.Sprintf(`{"id":%d,"addr":%q}`, i+1, c.LocalAddr().String()))
		c.Close()
	}
	cfgPath = filepath.Join(dir, "config.json")
	os.WriteFile(cfgPath, []byte(`{"nodes":[`+strings.Join(nodes, ",")+`]}`), 0o644)
	return bin, cfgPath, dir
}

// waitFor waits until s's text holds want, failing after 20 s.
func waitFor(t *testing.T, s *syncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(s.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %q in:\n%s", want, s.String())
		}
	}
}

// TestNodeThatCannotStart: a node that exits before it listens (here its
// data directory is held by another process) is reported as failed, not
// as listening, and paxgroup stops the others and exits 1.
func TestNodeThatCannotStart(t *testing.T) {
	bin, cfgPath, dir := newGroupFiles(t)
	data := filepath.Join(dir, "data")
	held, _, _, err := wal.Open(filepath.Join(data, "node1"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var out, errw syncBuffer
	code := run(context.Background(), []string{"-config", cfgPath, "-data", data, "-paxosd", bin, "-grace", "2s"}, &out, &errw)
	if code != 1 || !strings.Contains(errw.String(), "paxgroup: node 1 failed to start") || strings.Contains(out.String(), "node 1: pid") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant node 1 reported failed, never listening, and exit 1", code, out.String(), errw.String())
	}
}

// TestRestart: with -restart, a node killed with SIGKILL is started again.
func TestRestart(t *testing.T) {
	bin, cfgPath, dir := newGroupFiles(t)
	g := launch(t, bin, cfgPath, dir, "-restart")
	out, errw, cancel, code := &g.out, &g.errw, g.cancel, g.code
	defer cancel()
	waitFor(t, out, "paxgroup: running")
	var pid int
	for _, line := range strings.Split(out.String(), "\n") {
		if _, err := fmt.Sscanf(line, "node 2: pid %d,", &pid); err == nil {
			break
		}
	}
	if pid == 0 {
		t.Fatalf("no pid for node 2 in:\n%s", out.String())
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, out, "paxgroup: node 2 restarted")
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d:\n%s\n%s", c, out.String(), errw.String())
	}
}

// launched is a paxgroup run in the background.
type launched struct {
	out, errw syncBuffer
	cancel    context.CancelFunc
	code      chan int // its exit status, once it returns
}

// launch runs paxgroup over newGroupFiles' files, with extra flags.
func launch(t *testing.T, bin, cfgPath, dir string, extra ...string) *launched {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	g := &launched{cancel: cancel, code: make(chan int, 1)}
	args := append([]string{"-config", cfgPath, "-data", filepath.Join(dir, "data"), "-paxosd", bin}, extra...)
	go func() { g.code <- run(ctx, args, &g.out, &g.errw) }()
	return g
}
