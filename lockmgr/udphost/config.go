package udphost

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// Config is a group's configuration file (config.json), shared by every
// node and client. Every node of a group must read the same file.
//
//	{
//	  "nodes": [{"id": 1, "addr": "127.0.0.1:7101"}, ...],
//	  "cluster": "locks-eu-1",   // optional: the group's name (see ClusterID)
//	  "key": "64+ hex digits",   // optional: HMAC-SHA256 on every packet
//	  "tick_ms": 1,              // optional: the length of one tick
//	  "heartbeat_ticks": 50,     // optional paxos timers, in ticks (default
//	  "election_ticks": 300,     // 50 ms and 300 ms at any tick_ms)
//	  "snapshot_slots": 1000,    // optional: compact the log this often
//	  "lease_ms": 10000,         // optional: the lease clients ask for
//	  "lease_min_ms": 1000,      // optional: the bounds a lease is clamped to
//	  "lease_max_ms": 600000
//	}
type Config struct {
	Nodes          []NodeConfig `json:"nodes"`
	Cluster        string       `json:"cluster,omitempty"`
	Key            string       `json:"key,omitempty"`
	TickMs         int          `json:"tick_ms,omitempty"`
	HeartbeatTicks int          `json:"heartbeat_ticks,omitempty"`
	ElectionTicks  int          `json:"election_ticks,omitempty"`
	SnapshotSlots  uint64       `json:"snapshot_slots,omitempty"`
	LeaseMs        uint64       `json:"lease_ms,omitempty"`
	LeaseMinMs     uint64       `json:"lease_min_ms,omitempty"`
	LeaseMaxMs     uint64       `json:"lease_max_ms,omitempty"`

	key []byte // decoded Key; nil without one
}

// NodeConfig is one replica: its id and the UDP address it listens on,
// which is also the only address its replica traffic is accepted from.
type NodeConfig struct {
	ID   paxos.ID `json:"id"`
	Addr string   `json:"addr"`

	addr netip.AddrPort
}

// Bounds on a configuration.
const (
	KeyBytesMin = 32 // a shorter HMAC key is refused
	// ClusterNameMax bounds the optional cluster name.
	ClusterNameMax = 128
	TickMsMax      = 1000 // a tick longer than a second is surely a typo
	DefaultFile    = "config.json"
	// DefaultLeaseMs is the lease a client asks for unless lease_ms says.
	DefaultLeaseMs = 10_000
	LeaseMsMax     = 24 * 3600 * 1000
)

// LoadConfig reads and validates a configuration file. Errors name the file
// and the field: `config.json: nodes[2].id: duplicate id 2`.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(filepath.Base(path), data)
}

// ParseConfig decodes and validates a configuration; name prefixes errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	c, err := decodeConfig(data)
	if err == nil {
		err = c.validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// decodeConfig decodes strictly (unknown fields are errors). The nodes are
// decoded one by one so that an error can name the node by its index.
func decodeConfig(data []byte) (*Config, error) {
	var top struct {
		Config
		Nodes []json.RawMessage `json:"nodes"`
	}
	if err := strictDecode(data, &top, ""); err != nil {
		return nil, err
	}
	c := top.Config
	c.Nodes = make([]NodeConfig, len(top.Nodes))
	for i, raw := range top.Nodes {
		if err := strictDecode(raw, &c.Nodes[i], fmt.Sprintf("nodes[%d]", i)); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

func strictDecode(data []byte, v any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(data, err, path)
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// describeJSONError turns the decoder's errors into ones that say where.
func describeJSONError(data []byte, err error, path string) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return fmt.Errorf("line %d, column %d: %v", line, col, syn)
	case errors.As(err, &typ):
		field := strings.Trim(path+"."+typ.Field, ".")
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("%s: want %s, got JSON %s", field, jsonKind(typ.Type), typ.Value)
	case errors.Is(err, io.EOF):
		return errors.New("empty file: want a JSON object with \"nodes\"")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if path != "" {
		msg = path + ": " + msg
	}
	return errors.New(msg)
}

// jsonKind names what a Go type wants in JSON words.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number >= 0"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

func position(data []byte, off int64) (line, col int) {
	off = min(off, int64(len(data)))
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	col = int(off) - bytes.LastIndexByte(data[:off], '\n') - 1 // the offending byte
	return line, col
}

func (c *Config) validate() error {
	if len(c.Nodes) == 0 {
		return errors.New("nodes: empty: want 1 to 63 replicas")
	}
	if len(c.Nodes) > paxos.MaxPeers {
		return fmt.Errorf("nodes: %d replicas: want at most %d", len(c.Nodes), paxos.MaxPeers)
	}
	ids := map[paxos.ID]int{}
	addrs := map[netip.AddrPort]int{}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.ID == 0 {
			return fmt.Errorf("nodes[%d].id: missing or 0: want a replica id >= 1", i)
		}
		if j, dup := ids[n.ID]; dup {
			return fmt.Errorf("nodes[%d].id: duplicate id %d (also nodes[%d])", i, n.ID, j)
		}
		ids[n.ID] = i
		ap, err := parseAddr(n.Addr)
		if err != nil {
			return fmt.Errorf("nodes[%d].addr: %w", i, err)
		}
		if j, dup := addrs[ap]; dup {
			return fmt.Errorf("nodes[%d].addr: duplicate address %v (also nodes[%d])", i, ap, j)
		}
		addrs[ap] = i
		n.addr = ap
	}
	if len(c.Cluster) > ClusterNameMax || strings.ContainsFunc(c.Cluster, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("cluster: %q: want at most %d printable characters", c.Cluster, ClusterNameMax)
	}
	if c.Key != "" {
		k, err := hex.DecodeString(c.Key)
		switch {
		case err != nil:
			return fmt.Errorf("key: not hex: %v", err)
		case len(k) < KeyBytesMin:
			return fmt.Errorf("key: %d bytes: want at least %d (%d hex digits)", len(k), KeyBytesMin, 2*KeyBytesMin)
		}
		c.key = k
	}
	if c.LeaseMinMs != 0 && c.LeaseMaxMs != 0 && c.LeaseMinMs > c.LeaseMaxMs {
		return fmt.Errorf("lease_min_ms: %d is above lease_max_ms %d", c.LeaseMinMs, c.LeaseMaxMs)
	}
	if c.LeaseMs > LeaseMsMax || c.LeaseMinMs > LeaseMsMax || c.LeaseMaxMs > LeaseMsMax {
		return fmt.Errorf("lease_ms, lease_min_ms, lease_max_ms: want at most %d (a day)", LeaseMsMax)
	}
	if c.TickMs < 0 || c.TickMs > TickMsMax {
		return fmt.Errorf("tick_ms: %d: want 1..%d (0 or absent means 1)", c.TickMs, TickMsMax)
	}
	if c.HeartbeatTicks < 0 || c.ElectionTicks < 0 {
		return errors.New("heartbeat_ticks, election_ticks: want > 0 (0 or absent means the default)")
	}
	if hb, el := c.heartbeatTicks(), c.electionTicks(); hb >= el {
		return fmt.Errorf("heartbeat_ticks: %d: want below election_ticks (%d)", hb, el)
	}
	return nil
}

func parseAddr(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, errors.New("missing: want ip:port, e.g. 127.0.0.1:7101")
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: want ip:port, e.g. 127.0.0.1:7101 (host names are not resolved)", s)
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	switch {
	case ap.Port() == 0:
		return netip.AddrPort{}, fmt.Errorf("%q: port 0: want a fixed port", s)
	case ap.Addr().IsUnspecified() || ap.Addr().IsMulticast():
		return netip.AddrPort{}, fmt.Errorf("%q: want the address peers see this replica's packets come from, not a wildcard or multicast one", s)
	}
	return ap, nil
}

// Peers lists the replica ids, sorted.
func (c *Config) Peers() []paxos.ID {
	ids := make([]paxos.ID, len(c.Nodes))
	for i, n := range c.Nodes {
		ids[i] = n.ID
	}
	slices.Sort(ids)
	return ids
}

// NodeAddr is replica id's address, if id is in the group.
func (c *Config) NodeAddr(id paxos.ID) (netip.AddrPort, bool) {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n.addr, true
		}
	}
	return netip.AddrPort{}, false
}

// Keyed reports whether packets are authenticated.
func (c *Config) Keyed() bool { return c.key != nil }

// UnkeyedWarning is what a process starting a group without a key says:
// the group then trusts the network.
const UnkeyedWarning = "the config has no key: any host that can reach these ports can join the group " +
	"and pose as a client (sessions' tags still bind requests to their sessions); " +
	"set \"key\" (openssl rand -hex 32) outside a trusted network"

// Tick is the length of one tick.
func (c *Config) Tick() time.Duration {
	if c.TickMs == 0 {
		return time.Millisecond
	}
	return time.Duration(c.TickMs) * time.Millisecond
}

// The UDP defaults of the Paxos timers, in time rather than ticks. Real
// machines stall: a busy 2-core box delayed a node's goroutine past the
// old 50 ms election timeout often enough to change leaders 29 times in 6
// minutes. A 300 ms timeout (drawn in [300, 600) ms) with 50 ms heartbeats
// rides out such stalls, and failover stays under a second.
const (
	DefaultHeartbeat = 50 * time.Millisecond
	DefaultElection  = 300 * time.Millisecond
)

func (c *Config) heartbeatTicks() int {
	if c.HeartbeatTicks == 0 {
		hb := max(1, int(DefaultHeartbeat/c.Tick()))
		if c.ElectionTicks > 0 && hb >= c.ElectionTicks {
			hb = max(1, c.ElectionTicks/6) // only the election timeout was set, short
		}
		return hb
	}
	return c.HeartbeatTicks
}

// ElectionTimeout is how long a follower waits to hear its leader before
// it stands for election itself.
func (c *Config) ElectionTimeout() time.Duration {
	return time.Duration(c.electionTicks()) * c.Tick()
}

func (c *Config) electionTicks() int {
	if c.ElectionTicks == 0 {
		return max(c.heartbeatTicks()+1, int(DefaultElection/c.Tick()))
	}
	return c.ElectionTicks
}

// ServerConfig is replica id's lock-server configuration.
func (c *Config) ServerConfig(id paxos.ID, rng *rand.Rand) lockmgr.ServerConfig {
	cfg := lockmgr.DefaultServerConfig(id, c.Peers())
	cfg.Paxos.Rand = rng
	cfg.Paxos.HeartbeatTicks = c.heartbeatTicks()
	cfg.Paxos.ElectionTicks = c.electionTicks()
	if c.SnapshotSlots > 0 {
		cfg.SnapshotSlots = c.SnapshotSlots
	}
	cfg.TickNs = c.Tick().Nanoseconds()
	cfg.SM = lockmgr.SMConfig{LeaseMinMs: c.LeaseMinMs, LeaseMaxMs: c.LeaseMaxMs}
	return cfg
}

// ClientConfig is a client's session configuration; the caller sets Rand.
func (c *Config) ClientConfig() lockmgr.ClientConfig {
	cc := lockmgr.DefaultClientConfig(0, c.Peers())
	cc.TickNs = c.Tick().Nanoseconds()
	cc.LeaseMs = DefaultLeaseMs
	if c.LeaseMs > 0 {
		cc.LeaseMs = c.LeaseMs
	}
	return cc
}

// maxID is the largest replica id; client handles are numbered above it.
func (c *Config) maxID() paxos.ID { return slices.Max(c.Peers()) }
