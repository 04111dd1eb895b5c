package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"paxlock/paxos"
	"paxlock/paxos/wal"
)

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

func writeConfig(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(fmt.Sprintf(`{"nodes":[{"id":1,"addr":%q}]}`, addr)), 0o644)
	return path
}

// TestCleanShutdown: a node serves until its context ends (SIGTERM in
// main), then exits 0 having logged its counters.
func TestCleanShutdown(t *testing.T) {
	cfg, data := writeConfig(t), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var errw syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"-config", cfg, "-id", "1", "-data", data}, &errw) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(errw.String(), "role=leader") {
		if time.Now().After(deadline) {
			t.Fatalf("no leader:\n%s", errw.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if c := <-code; c != 0 || !strings.Contains(errw.String(), "msg=stopped") {
		t.Fatalf("exit %d:\n%s", c, errw.String())
	}
	// The test config has no key: the node says what that means.
	if !strings.Contains(errw.String(), "level=WARN msg=\"the config has no key: any host that can reach these ports can join the group") {
		t.Fatalf("no warning about the unkeyed config:\n%s", errw.String())
	}
	// The data directory was released: a second start succeeds.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if c := run(ctx2, []string{"-config", cfg, "-id", "1", "-data", data}, &errw); c != 0 {
		t.Fatalf("restart exit %d:\n%s", c, errw.String())
	}
}

func TestRefusals(t *testing.T) {
	cfg := writeConfig(t)
	dupe := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(dupe, []byte(`{"nodes":[{"id":1,"addr":"127.0.0.1:7101"},{"id":1,"addr":"127.0.0.1:7102"}]}`), 0o644)
	corrupt := t.TempDir()
	l, _, _, err := wal.Open(corrupt)
	if err != nil {
		t.Fatal(err)
	}
	recs := []paxos.Record{{Type: paxos.RecPromise, Ballot: paxos.Ballot{Round: 1, Node: 1}},
		{Type: paxos.RecPromise, Ballot: paxos.Ballot{Round: 2, Node: 1}}}
	l.Append(recs)
	l.Close()
	raw, _ := os.ReadFile(filepath.Join(corrupt, wal.LogName))
	raw[7] ^= 0xff // inside the first record's body: its checksum fails
	os.WriteFile(filepath.Join(corrupt, wal.LogName), raw, 0o644)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no id", []string{"-config", cfg}, 2, "-id N is required"},
		{"id not in config", []string{"-config", cfg, "-id", "4", "-data", t.TempDir()}, 1, "replica id 4 is not in the config"},
		{"duplicate id", []string{"-config", dupe, "-id", "1"}, 2, "nodes[1].id: duplicate id 1"},
		{"missing config", []string{"-config", "/nonexistent/config.json", "-id", "1"}, 2, "no such file"},
		{"corrupt log", []string{"-config", cfg, "-id", "1", "-data", corrupt}, 1, "refuses to start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errw syncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel() // a node that wrongly starts stops here, and the test fails
			code := run(ctx, tt.args, &errw)
			if code != tt.code || !strings.Contains(errw.String(), tt.want) {
				t.Fatalf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, tt.code, errw.String(), tt.want)
			}
		})
	}
}
