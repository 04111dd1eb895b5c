package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"paxlock/lockmgr"
)

// TestKilledHolderLockPassesOn runs real lockctl processes: one holds a
// lock and is SIGKILLed, so it cannot close its session; another waits for
// the lock. The group must expire the dead session and hand the lock to
// the waiter within the lease plus one second.
func TestKilledHolderLockPassesOn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds lockctl and runs processes")
	}
	const leaseMs = 2000
	path, ports := writeConfig(t, 3)
	// The same group with a short lease, so that the test takes seconds.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), `{"nodes"`, fmt.Sprintf(`{"lease_ms":%d,"lease_min_ms":500,"nodes"`, leaseMs), 1))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	startNodes(t, path, ports)
	bin := filepath.Join(t.TempDir(), "lockctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	holder, holderOut := start(t, bin, "-config", path, "-timeout", "5s", "hold", "k", "--", "sh", "-c", "echo held $PAXLOCK_TOKEN; exec sleep 60")
	if line := readLine(t, holderOut); !strings.HasPrefix(line, "held ") {
		t.Fatalf("holder printed %q", line)
	}
	waiter, waiterOut := start(t, bin, "-config", path, "-timeout", "0", "hold", "k", "--", "sh", "-c", "echo got $PAXLOCK_TOKEN")
	time.Sleep(200 * time.Millisecond) // let the waiter queue behind the holder
	// SIGKILL the holder and its command (its process group): nothing
	// gets to close the session.
	if err := syscall.Kill(-holder.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now() // the real clock on purpose: a bound on real processes
	line := readLine(t, waiterOut)
	took := time.Since(killed)
	if !strings.HasPrefix(line, "got ") || line == "got 1" {
		t.Fatalf("waiter printed %q, want a grant with a new token", line)
	}
	if bound := leaseMs*time.Millisecond + time.Second; took > bound {
		t.Fatalf("the dead holder's lock reached the waiter %v after the kill, bound %v", took, bound)
	}
	t.Logf("the dead holder's lock reached the waiter %v after the kill (lease %d ms)", took.Round(time.Millisecond), leaseMs)
	if err := waiter.Wait(); err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

// start runs bin in a process group of its own and returns its stdout.
func start(t *testing.T, bin string, args ...string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd, bufio.NewReader(out)
}

// readLine reads one line of r, failing the test after 20 s.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		ch <- strings.TrimSpace(line)
	}()
	select {
	case line := <-ch:
		return line
	case <-time.After(20 * time.Second):
		t.Fatal("no line within 20s")
		return ""
	}
}

// TestHoldStopsCommandOnLostLease: when the group goes away under a hold,
// the lease runs out and the command gets SIGTERM, rather than running on
// as if it still held the lock.
func TestHoldStopsCommandOnLostLease(t *testing.T) {
	path, ports := writeConfig(t, 1)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), `{"nodes"`, `{"lease_ms":1000,"lease_min_ms":500,"nodes"`, 1))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	nodes := startNodes(t, path, ports)
	pr, w := io.Pipe()
	r := bufio.NewReader(pr)
	done := make(chan int, 1)
	var errw strings.Builder
	go func() {
		done <- run(context.Background(), []string{"-config", path, "hold", "k", "--", "sh", "-c",
			"trap 'echo terminated; exit 7' TERM; echo held; while :; do sleep 0.05; done"}, strings.NewReader(""), w, &errw)
		w.Close()
	}()
	if line := readLine(t, r); line != "held" {
		t.Fatalf("command printed %q", line)
	}
	nodes[0].Close() // the whole group: no keepalive is answered any more
	if line := readLine(t, r); line != "terminated" {
		t.Fatalf("command printed %q, want it terminated", line)
	}
	if code := <-done; code != 7 || !strings.Contains(errw.String(), "lease lost") {
		t.Fatalf("exit %d, stderr %q: want the command's 7 and the lease loss said", code, errw.String())
	}
}

// TestSignalClosesSession: SIGTERM (as Ctrl-C) ends a lockctl REPL with
// its session closed: the lock it held is free at once, long before its
// 10 s lease could have run out.
func TestSignalClosesSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds lockctl and runs processes")
	}
	path, ports := writeConfig(t, 3)
	startNodes(t, path, ports)
	bin := filepath.Join(t.TempDir(), "lockctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-config", path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(pipe)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	fmt.Fprintln(in, "lock x")
	if line := readLine(t, out); !strings.HasPrefix(line, "lock x: granted") {
		t.Fatalf("lockctl printed %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("lockctl after SIGTERM: %v, want exit status 130", err)
	}
	if r := mustDo(t, newClient(t, path), lockmgr.OpTryLock, "x"); r.Status != lockmgr.Granted {
		t.Fatalf("trylock x right after lockctl was stopped: %v, want granted (its session closed)", r)
	}
}
