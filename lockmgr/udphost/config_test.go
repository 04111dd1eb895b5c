package udphost

import (
	"strings"
	"testing"
	"time"

	"paxlock/paxos"
)

// TestConfigErrors: every mistake is refused with the field it is in.
func TestConfigErrors(t *testing.T) {
	const two = `{"id":1,"addr":"127.0.0.1:7101"},{"id":2,"addr":"127.0.0.1:7102"}`
	tests := []struct {
		name, json, want string
	}{
		{"duplicate id", `{"nodes":[` + two + `,{"id":2,"addr":"127.0.0.1:7103"}]}`,
			"config.json: nodes[2].id: duplicate id 2 (also nodes[1])"},
		{"zero id", `{"nodes":[{"id":0,"addr":"127.0.0.1:7101"}]}`, "nodes[0].id: missing or 0"},
		{"missing id", `{"nodes":[{"addr":"127.0.0.1:7101"}]}`, "nodes[0].id: missing or 0"},
		{"negative id", `{"nodes":[{"id":-1,"addr":"127.0.0.1:7101"}]}`, "nodes[0].id: want a whole number >= 0, got JSON number -1"},
		{"id as string", `{"nodes":[{"id":"1","addr":"127.0.0.1:7101"}]}`, "nodes[0].id: want a whole number >= 0, got JSON string"},
		{"duplicate addr", `{"nodes":[` + two + `,{"id":3,"addr":"127.0.0.1:7101"}]}`,
			"nodes[2].addr: duplicate address 127.0.0.1:7101 (also nodes[0])"},
		{"missing addr", `{"nodes":[{"id":1}]}`, "nodes[0].addr: missing"},
		{"host name", `{"nodes":[{"id":1,"addr":"localhost:7101"}]}`, "nodes[0].addr: \"localhost:7101\": want ip:port"},
		{"no port", `{"nodes":[{"id":1,"addr":"127.0.0.1"}]}`, "nodes[0].addr"},
		{"port 0", `{"nodes":[{"id":1,"addr":"127.0.0.1:0"}]}`, "nodes[0].addr: \"127.0.0.1:0\": port 0"},
		{"wildcard", `{"nodes":[{"id":1,"addr":"0.0.0.0:7101"}]}`, "nodes[0].addr: \"0.0.0.0:7101\": want the address peers see"},
		{"no nodes", `{"nodes":[]}`, "nodes: empty"},
		{"empty object", `{}`, "nodes: empty"},
		{"empty file", ``, "empty file"},
		{"syntax", "{\"nodes\": [\n  {\"id\": 1,, }]}", "line 2, column 12"},
		{"unknown field", `{"nodes":[` + two + `],"tick":5}`, `unknown field "tick"`},
		{"unknown node field", `{"nodes":[{"id":1,"addr":"127.0.0.1:7101","port":3}]}`, `unknown field "port"`},
		{"short key", `{"nodes":[` + two + `],"key":"abcd"}`, "key: 2 bytes: want at least 32"},
		{"bad key", `{"nodes":[` + two + `],"key":"xyz"}`, "key: not hex"},
		{"tick", `{"nodes":[` + two + `],"tick_ms":-1}`, "tick_ms: -1"},
		{"slow tick", `{"nodes":[` + two + `],"tick_ms":5000}`, "tick_ms: 5000"},
		{"timers", `{"nodes":[` + two + `],"heartbeat_ticks":400,"election_ticks":300}`, "heartbeat_ticks: 400: want below election_ticks (300)"},
		{"addr as number", `{"nodes":[{"id":1,"addr":7101}]}`, "nodes[0].addr: want a string, got JSON number"},
		{"nodes as object", `{"nodes":{"id":1}}`, "nodes: want a list, got JSON object"},
		{"array", `[]`, "(top level): want an object, got JSON array"},
		{"trailing", `{"nodes":[` + two + `]} {}`, "unexpected data after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("config.json", []byte(tt.json))
			if err == nil {
				t.Fatalf("accepted %s", tt.json)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "config.json: ") {
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// TestRepoConfigs: the shipped config.json (the default of every command)
// and config5.json are valid, on loopback, numbered 1..N.
func TestRepoConfigs(t *testing.T) {
	for file, n := range map[string]int{"../../config.json": 3, "../../config5.json": 5} {
		cfg, err := LoadConfig(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range cfg.Peers() {
			ap, _ := cfg.NodeAddr(id)
			if id != paxos.ID(i+1) || !ap.Addr().IsLoopback() {
				t.Fatalf("%s: node %d at %v: want ids 1..%d on loopback", file, id, ap, n)
			}
		}
		if len(cfg.Nodes) != n || cfg.Tick() != time.Millisecond {
			t.Fatalf("%s: %d nodes, tick %v", file, len(cfg.Nodes), cfg.Tick())
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig("c", []byte(`{"nodes":[{"id":3,"addr":"127.0.0.1:7101"},{"id":1,"addr":"[::1]:7102"}],
		"tick_ms":5,"election_ticks":80,"snapshot_slots":7,"key":"`+testKey+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.ServerConfig(3, nil)
	if got := sc.Paxos.Peers; len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("peers %v", got)
	}
	if sc.Paxos.ElectionTicks != 80 || sc.Paxos.HeartbeatTicks != 10 || sc.SnapshotSlots != 7 || cfg.Tick() != 5*time.Millisecond {
		t.Fatalf("server config %+v, tick %v", sc, cfg.Tick())
	}
	if !cfg.Keyed() || cfg.maxID() != 3 {
		t.Fatalf("keyed %v, max id %d", cfg.Keyed(), cfg.maxID())
	}
}
