package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
func startNodes(t *testing.T, path string, ports []*net.UDPConn) {
	t.Helper()
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
	}
}

var clientID = regexp.MustCompile(`c[0-9]{2,}`)

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
	code := run([]string{"-config", path}, strings.NewReader(script), &out, &errw)
	got := clientID.ReplaceAllString(out.String(), "cX")
	want := `lock 1: granted (token 1)
Current Locks: {"1": cX (token 1)}
trylock 1: granted (token 1)
Current Locks: {"1": cX (token 1)}
lock 2: granted (token 2)
Current Locks: {"1": cX (token 1), "2": cX (token 2)}
unlock 1: released
Current Locks: {"2": cX (token 2)}
unlock 1: not held by this client (cX)
Current Locks: {"2": cX (token 2)}
lock 3: granted (token 3)
Current Locks: {"2": cX (token 2), "3": cX (token 3)}
Current Locks: {"2": cX (token 2), "3": cX (token 3)}
`
	if !strings.HasPrefix(got, want) {
		t.Fatalf("output:\n%s\nwant it to start with:\n%s", got, want)
	}
	for id := 1; id <= 3; id++ {
		line := regexp.MustCompile(fmt.Sprintf(`(?m)^node %d 127\.0\.0\.1:\d+: leader \d, \d locks? held; bad_packet=0 stranger=0 .* oversized=0 snapshot_too_big=0 chosen_conflict=0$`, id))
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
	code := run([]string{"-config", path}, strings.NewReader("frobnicate 1\nlock\nlock a b\nstatus now\nhelp\nlock "+strings.Repeat("n", 129)+"\n"), &out, &errw)
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
	code := run([]string{"-config", path, "-timeout", "300ms"}, strings.NewReader("lock 1\nunlock 1\nstatus\n"), &out, &errw)
	want := regexp.MustCompile(`^lock 1: no answer from the cluster within \d+ms \(is it running\? see paxgroup\)
unlock 1: no answer from the cluster within \d+ms \(is it running\? see paxgroup\)
Current Locks: unknown \(status: no answer from the cluster within \d+ms \(is it running\? see paxgroup\)\)
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
	code := run([]string{"-config", path}, strings.NewReader(""), &out, &errw)
	if code != 2 || !strings.Contains(errw.String(), "config.json: nodes[1].id: duplicate id 1") {
		t.Fatalf("exit %d, stderr %q", code, errw.String())
	}
}

// TestOneShot: a command on the command line runs alone.
func TestOneShot(t *testing.T) {
	path, ports := writeConfig(t, 3)
	startNodes(t, path, ports)
	var out, errw bytes.Buffer
	if code := run([]string{"-config", path, "trylock", "7"}, strings.NewReader("lock 8\n"), &out, &errw); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errw.String())
	}
	got := clientID.ReplaceAllString(out.String(), "cX")
	if want := "trylock 7: granted (token 1)\nCurrent Locks: {\"7\": cX (token 1)}\n"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
}
