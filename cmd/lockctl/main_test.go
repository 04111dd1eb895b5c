package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"paxlock/lockmgr"
	"paxlock/lockmgr/udphost"
)

// writeConfig writes a config for n loopback replicas on free ports and
// returns it with the ports, still bound: a replica's port stays taken by a
// socket that never answers until startNodes hands it to the replica, or to
// the end of the test. A port released early could become a client's
// ephemeral port (which would then hear its own requests) or another test
// process's replica (which would answer them).
func writeConfig(t *testing.T, n int) (string, []*net.UDPConn) {
	t.Helper()
	var nodes []string
	var ports []*net.UDPConn
	for i := range n {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ports = append(ports, c)
		nodes = append(nodes, fmt.Sprintf(`{"id":%d,"addr":%q}`, i+1, c.LocalAddr().String()))
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"nodes":[`+strings.Join(nodes, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, ports
}

// startNodes starts every replica of path's config, each on the port
// writeConfig holds for it, released just before the replica binds it.
func startNodes(t *testing.T, path string, ports []*net.UDPConn) []*udphost.Node {
	t.Helper()
	var nodes []*udphost.Node
	cfg, err := udphost.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range cfg.Peers() {
		ports[id-1].Close()
		n, err := udphost.StartNode(udphost.NodeOptions{Config: cfg, ID: id, DataDir: filepath.Join(t.TempDir(), fmt.Sprint(id))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	return nodes
}

var clientID = regexp.MustCompile(`\bs[0-9]+\b`)

// TestScript runs the seed's REPL session as a script.
func TestScript(t *testing.T) {
	path, ports := writeConfig(t, 3)
	startNodes(t, path, ports)
	script := `lock 1
# a comment, then a blank line

trylock 1
lock 2
unlock 1
unlock 1
LOCK 3
status
exit
lock 4
`
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"-config", path}, strings.NewReader(script), &out, &errw)
	got := clientID.ReplaceAllString(out.String(), "sX")
	want := `lock 1: granted (token 1)
Current Locks: {"1": sX (token 1)}
trylock 1: granted (token 1)
Current Locks: {"1": sX (token 1)}
lock 2: granted (token 2)
Current Locks: {"1": sX (token 1), "2": sX (token 2)}
unlock 1: released
Current Locks: {"2": sX (token 2)}
unlock 1: not held by this session (sX)
Current Locks: {"2": sX (token 2)}
lock 3: granted (token 3)
Current Locks: {"2": sX (token 2), "3": sX (token 3)}
Current Locks: {"2": sX (token 2), "3": sX (token 3)}
`
	if !strings.HasPrefix(got, want) {
		t.Fatalf("output:\n%s\nwant it to start with:\n%s", got, want)
	}
	for id := 1; id <= 3; id++ {
		line := regexp.MustCompile(fmt.Sprintf(`(?m)^node %d 127\.0\.0\.1:\d+: leader \d, \d locks? held \((it leads|heard its leader [0-9.]+[mµn]?s ago)\); bad_packet=0 stranger=0 .* oversized=0 snapshot_too_big=0 chosen_conflict=0 forged=0 other_cluster=0$`, id))
		if !line.MatchString(got) {
			t.Errorf("status has no counters line for node %d:\n%s", id, got)
		}
	}
	if strings.Contains(got, "lock 4") || code != 0 || errw.Len() > 0 {
		t.Fatalf("exit code %d, stderr %q, output after exit: %v", code, errw.String(), strings.Contains(got, "lock 4"))
	}
}

func TestBadCommands(t *testing.T) {
	path, ports := writeConfig(t, 1)
	startNodes(t, path, ports)
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"-config", path}, strings.NewReader("frobnicate 1\nlock\nlock a b\nstatus now\nhelp\nlock "+strings.Repeat("n", 129)+"\n"), &out, &errw)
	for _, want := range []string{
		`unknown command "frobnicate": try help`,
		"usage: lock NAME",
		"usage: status",
		"trylock K   acquire lock K if it is free",
		"invalid lock name (want 1 to 128 bytes)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code != 1 {
		t.Fatalf("exit code %d after failed commands, want 1", code)
	}
}

// TestUnreachableCluster: nothing answers (the replicas' ports are bound
// to silent sockets); every command says so and the REPL goes on to the
// next. The test asserts on the output, not on how long it took: the
// timeouts bound that, and a busy machine may stretch it. The waits
// reported are not pinned either: the client measures from when it sent,
// a little after the timeout started, so a loaded machine can print 299ms.
func TestUnreachableCluster(t *testing.T) {
	path, _ := writeConfig(t, 3)
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"-config", path, "-timeout", "300ms"}, strings.NewReader("lock 1\nunlock 1\nstatus\n"), &out, &errw)
	want := regexp.MustCompile(`^lock 1: no answer from the cluster within \d+ms \(is it running, and is this its config\? see paxgroup\)
unlock 1: no answer from the cluster within \d+ms \(is it running, and is this its config\? see paxgroup\)
Current Locks: unknown \(status: no answer from the cluster within \d+ms \(is it running, and is this its config\? see paxgroup\)\)
node 1 127\.0\.0\.1:\d+: no answer within 100ms
node 2 127\.0\.0\.1:\d+: no answer within 100ms
node 3 127\.0\.0\.1:\d+: no answer within 100ms
$`)
	if !want.MatchString(out.String()) {
		t.Errorf("output:\n%s\nwant it to match:\n%s", out.String(), want)
	}
	if code != 1 || errw.Len() > 0 {
		t.Fatalf("exit code %d, stderr %q: want 1 and nothing", code, errw.String())
	}
}

func TestBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(`{"nodes":[{"id":1,"addr":"127.0.0.1:7101"},{"id":1,"addr":"127.0.0.1:7102"}]}`), 0o644)
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"-config", path}, strings.NewReader(""), &out, &errw)
	if code != 2 || !strings.Contains(errw.String(), "config.json: nodes[1].id: duplicate id 1") {
		t.Fatalf("exit %d, stderr %q", code, errw.String())
	}
}

// TestOneShot: a command on the command line runs alone.
func TestOneShot(t *testing.T) {
	path, ports := writeConfig(t, 3)
	startNodes(t, path, ports)
	var out, errw bytes.Buffer
	if code := run(context.Background(), []string{"-config", path, "trylock", "7"}, strings.NewReader("lock 8\n"), &out, &errw); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errw.String())
	}
	got := clientID.ReplaceAllString(out.String(), "sX")
	if want := "trylock 7: granted (token 1)\nCurrent Locks: {\"7\": sX (token 1)}\n"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
}

func newClient(t *testing.T, path string) *udphost.Client {
	t.Helper()
	cfg, err := udphost.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := udphost.NewClient(cfg, udphost.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustDo(t *testing.T, c *udphost.Client, op lockmgr.Op, name string) lockmgr.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	comp, err := c.Do(ctx, op, name)
	if err != nil {
		t.Fatalf("%v %s: %v", op, name, err)
	}
	return comp.Result
}

// TestSessionClosedAtEnd: the end of input closes the session, which
// releases its locks at once (not a lease later).
func TestSessionClosedAtEnd(t *testing.T) {
	path, ports := writeConfig(t, 3)
	startNodes(t, path, ports)
	var out, errw bytes.Buffer
	if code := run(context.Background(), []string{"-config", path}, strings.NewReader("lock a\nlock b\n"), &out, &errw); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errw.String())
	}
	c := newClient(t, path)
	for _, name := range []string{"a", "b"} {
		if r := mustDo(t, c, lockmgr.OpTryLock, name); r.Status != lockmgr.Granted {
			t.Fatalf("trylock %s after lockctl ended: %v, want granted", name, r)
		}
	}
}

// TestLockTimeoutWithdrawsWait: a lock that waits past -timeout withdraws
// its wait: the table shows no waiter, and the holder's unlock frees the
// lock rather than handing it to a client that gave up.
func TestLockTimeoutWithdrawsWait(t *testing.T) {
	path, ports := writeConfig(t, 3)
	startNodes(t, path, ports)
	holder := newClient(t, path)
	if r := mustDo(t, holder, lockmgr.OpLock, "w"); r.Status != lockmgr.Granted {
		t.Fatalf("lock w: %v", r)
	}
	var out, errw bytes.Buffer
	run(context.Background(), []string{"-config", path, "-timeout", "300ms"}, strings.NewReader("lock w\nstatus\n"), &out, &errw)
	got := clientID.ReplaceAllString(out.String(), "sX")
	if !strings.Contains(got, "lock w: wait withdrawn\n") || !strings.Contains(got, "\nCurrent Locks: {\"w\": sX (token 1)}\n") {
		t.Fatalf("output:\n%s\nwant the wait withdrawn and no waiter in the table", got)
	}
	if r := mustDo(t, holder, lockmgr.OpUnlock, "w"); r.Status != lockmgr.Released {
		t.Fatalf("unlock w: %v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := holder.NodeStatus(ctx, 1)
	if err != nil || len(rep.Locks) != 0 {
		t.Fatalf("after the holder's unlock: %v %v, want no locks", rep.Locks, err)
	}
}

// TestHold: hold runs the command with the token, passes its exit status
// on, and releases the lock when it ends.
func TestHold(t *testing.T) {
	path, ports := writeConfig(t, 3)
	startNodes(t, path, ports)
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"-config", path, "hold", "h", "--", "sh", "-c", "echo token=$PAXLOCK_TOKEN; exit 3"},
		strings.NewReader(""), &out, &errw)
	if code != 3 || out.String() != "token=1\n" {
		t.Fatalf("exit %d, output %q, stderr %q; want 3 and the token", code, out.String(), errw.String())
	}
	if r := mustDo(t, newClient(t, path), lockmgr.OpTryLock, "h"); r.Status != lockmgr.Granted || r.Token != 2 {
		t.Fatalf("trylock h after hold ended: %v, want granted #2", r)
	}
	for _, args := range [][]string{{"hold"}, {"hold", "h"}, {"hold", "h", "sh"}, {"hold", "h", "--"}, {"hold", "", "--", "true"}} {
		if code := run(context.Background(), append([]string{"-config", path}, args...), strings.NewReader(""), &out, &errw); code != 2 {
			t.Errorf("lockctl %v: exit %d, want 2 (usage)", args, code)
		}
	}
}

// TestLongLineAndOneShotStatus: an overlong line is refused and the REPL
// goes on (the next command still runs); a one-shot busy trylock exits 1.
func TestLongLineAndOneShotStatus(t *testing.T) {
	path, ports := writeConfig(t, 3)
	startNodes(t, path, ports)
	var out, errw bytes.Buffer
	script := "trylock " + strings.Repeat("x", 70_000) + "\ntrylock k\nexit\n"
	code := run(context.Background(), []string{"-config", path}, strings.NewReader(script), &out, &errw)
	if !strings.Contains(out.String(), "line too long (over 4096 bytes): refused\n") || !strings.Contains(out.String(), "trylock k: granted") {
		t.Fatalf("output:\n%.300s\nwant the long line refused and the next command run", out.String())
	}
	if code != 1 || errw.Len() > 0 {
		t.Fatalf("exit %d, stderr %q: want 1 (a command failed) and nothing", code, errw.String())
	}
	holder := newClient(t, path)
	if r := mustDo(t, holder, lockmgr.OpLock, "b"); r.Status != lockmgr.Granted {
		t.Fatalf("lock b: %v", r)
	}
	out.Reset()
	if code := run(context.Background(), []string{"-config", path, "trylock", "b"}, strings.NewReader(""), &out, &errw); code != 1 {
		t.Fatalf("one-shot busy trylock: exit %d, want 1\n%s", code, out.String())
	}
	if code := run(context.Background(), []string{"-config", path, "trylock", "free"}, strings.NewReader(""), &out, &errw); code != 0 {
		t.Fatalf("one-shot granted trylock: exit %d, want 0\n%s", code, out.String())
	}
}

// TestJSON: -json prints one object per result, which parses.
func TestJSON(t *testing.T) {
	path, ports := writeConfig(t, 3)
	startNodes(t, path, ports)
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"-config", path, "-json"}, strings.NewReader("trylock a\nunlock b\nfrobnicate\nstatus\n"), &out, &errw)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || code != 1 {
		t.Fatalf("exit %d, %d lines:\n%s\nwant 4 objects and exit 1 (the unknown command)", code, len(lines), out.String())
	}
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, m)
	}
	if got[0]["op"] != "trylock" || got[0]["status"] != "granted" || got[0]["token"] != 1.0 || got[0]["session"] != "s1" {
		t.Errorf("trylock: %v", got[0])
	}
	if got[1]["status"] != "not-held" {
		t.Errorf("unlock: %v", got[1])
	}
	if !strings.Contains(fmt.Sprint(got[2]["error"]), "unknown command") {
		t.Errorf("unknown command: %v", got[2])
	}
	locks, _ := got[3]["locks"].([]any)
	nodes, _ := got[3]["nodes"].([]any)
	if got[3]["op"] != "status" || len(locks) != 1 || len(nodes) != 3 {
		t.Errorf("status: %v", got[3])
	}
}

// TestStatusMarksStaleTables: a node that has not heard a leader within
// its election timeout is marked as possibly stale in status.
func TestStatusMarksStaleTables(t *testing.T) {
	path, ports := writeConfig(t, 3)
	nodes := startNodes(t, path, ports)
	if r := mustDo(t, newClient(t, path), lockmgr.OpLock, "a"); r.Status != lockmgr.Granted {
		t.Fatalf("lock a: %v", r)
	}
	nodes[0].Close()
	nodes[1].Close()        // node 3 is left alone, without a quorum or a leader
	time.Sleep(time.Second) // beyond the election timeout (300..600 ms); a lower bound, not a timing assertion
	var out, errw bytes.Buffer
	run(context.Background(), []string{"-config", path, "-timeout", "300ms", "status"}, strings.NewReader(""), &out, &errw)
	line := regexp.MustCompile(`(?m)^node 3 .*$`).FindString(out.String())
	if !strings.Contains(line, "its table may be stale") {
		t.Fatalf("node 3's status line %q: want it marked as possibly stale\n%s", line, out.String())
	}
}

// TestErrorsSayWhatIsWrong: with no quorum the replica left says it knows
// no leader, and lockctl says so; with a key the group does not have,
// nothing answers, and lockctl asks about the key as well.
func TestErrorsSayWhatIsWrong(t *testing.T) {
	path, ports := writeConfig(t, 3)
	nodes := startNodes(t, path, ports)
	nodes[0].Close()
	nodes[1].Close()
	time.Sleep(time.Second) // node 3 gives up on its leader (a lower bound, not a timing assertion)
	var out, errw bytes.Buffer
	run(context.Background(), []string{"-config", path, "-timeout", "500ms", "trylock", "x"}, strings.NewReader(""), &out, &errw)
	if !strings.Contains(out.String(), "the replicas know no leader") {
		t.Errorf("without a quorum: %q, want it to say the replicas know no leader", out.String())
	}

	keyed, kports := writeConfig(t, 1)
	data, _ := os.ReadFile(keyed)
	withKey := func(k string) []byte {
		return []byte(strings.Replace(string(data), `{"nodes"`, `{"key":"`+strings.Repeat(k, 64)+`","nodes"`, 1))
	}
	os.WriteFile(keyed, withKey("a"), 0o644)
	startNodes(t, keyed, kports)
	wrong := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(wrong, withKey("b"), 0o644)
	out.Reset()
	run(context.Background(), []string{"-config", wrong, "-timeout", "300ms", "trylock", "x"}, strings.NewReader(""), &out, &errw)
	if !strings.Contains(out.String(), "is the config's key the group's?") {
		t.Errorf("with a wrong key: %q, want it to ask about the key", out.String())
	}
}
