package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"paxlock/lockmgr"
	"paxlock/lockmgr/udphost"
	"paxlock/paxos"
	"paxlock/paxos/wal"
)

// proc is one paxosd process of a test group.
type proc struct {
	cmd  *exec.Cmd
	errw *syncBuffer
	done chan error
}

func startProc(t *testing.T, bin, cfg string, id int, data string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"-config", cfg, "-id", fmt.Sprint(id), "-data", data, "-quiet"}, extra...)
	p := &proc{cmd: exec.Command(bin, args...), errw: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.errw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// exitCode waits for the process to exit on its own.
func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		t.Fatalf("still running:\n%s", p.errw.String())
	}
	return -1
}

func (p *proc) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(p.errw.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %q in:\n%s", want, p.errw.String())
		}
	}
}

// TestRejoinAfterDiskLoss, with real processes: a node whose log was
// deleted refuses to start and names the way out; started with -rejoin it
// rebuilds as a non-voting member, votes again, and the group, which then
// needs its vote, still has every lock it acknowledged.
func TestRejoinAfterDiskLoss(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command on PATH to build paxosd")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "paxosd")
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
	cfgPath := filepath.Join(dir, "config.json")
	os.WriteFile(cfgPath, []byte(`{"nodes":[`+strings.Join(nodes, ",")+`]}`), 0o644)
	cfg, err := udphost.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	data := func(id int) string { return filepath.Join(dir, fmt.Sprintf("node%d", id)) }
	procs := map[int]*proc{}
	for id := 1; id <= 3; id++ {
		procs[id] = startProc(t, bin, cfgPath, id, data(id))
	}

	holder, err := udphost.NewClient(cfg, udphost.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	do := func(c *udphost.Client, op lockmgr.Op, name string) lockmgr.Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		comp, err := c.Do(ctx, op, name)
		if err != nil {
			t.Fatalf("%v %s: %v", op, name, err)
		}
		return comp.Result
	}
	tokens := map[string]uint64{}
	take := func(name string) {
		t.Helper()
		r := do(holder, lockmgr.OpLock, name)
		if r.Status != lockmgr.Granted {
			t.Fatalf("lock %s: %v", name, r)
		}
		tokens[name] = r.Token
	}
	for i := range 10 {
		take(fmt.Sprintf("before-%d", i))
	}

	// Node 3 loses its log.
	procs[3].kill()
	if err := os.Remove(filepath.Join(data(3), wal.LogName)); err != nil {
		t.Fatal(err)
	}
	refused := startProc(t, bin, cfgPath, 3, data(3))
	if code := refused.exitCode(t); code != 1 || !strings.Contains(refused.errw.String(), "refuses") ||
		!strings.Contains(refused.errw.String(), "-rejoin") {
		t.Fatalf("start without -rejoin: exit %d, want 1 with a message naming -rejoin:\n%s", code, refused.errw.String())
	}
	procs[3] = startProc(t, bin, cfgPath, 3, data(3), "-rejoin")
	procs[3].waitFor(t, "rebuilding after a disk loss")
	for i := range 5 {
		take(fmt.Sprintf("during-%d", i))
	}
	procs[3].waitFor(t, "rebuilt: votes again")
	if _, err := os.Stat(filepath.Join(data(3), udphost.RebuildFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the rebuild mark is still there: %v", err)
	}

	// Now the group needs node 3: whichever of 1 and 2 leads goes down.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	st, err := holder.NodeStatus(ctx, 2)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	down := 1
	if st.Leader == 2 {
		down = 2
	}
	procs[down].kill()
	take("after")
	other, err := udphost.NewClient(cfg, udphost.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for name, tok := range tokens {
		if r := do(other, lockmgr.OpTryLock, name); r.Status != lockmgr.Busy || r.Holder != holder.ID() {
			t.Fatalf("trylock %s (token %d) after the rejoin: %v, want busy (held by %v)", name, tok, r, holder.ID())
		}
	}
	// The rebuilt node's own table holds every lock, with its token.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := holder.NodeStatus(ctx, paxos.ID(3))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, l := range rep.Locks {
		got[l.Name] = l.Token
	}
	for name, tok := range tokens {
		if got[name] != tok {
			t.Errorf("node 3 has %s at token %d, want %d", name, got[name], tok)
		}
	}
}
