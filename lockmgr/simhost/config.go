package simhost

import (
	"math/rand/v2"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// Timer durations of the simulated group, converted to ticks of whatever
// period a run uses. They match the UDP defaults at a 1 ms tick.
const (
	heartbeatNs   = 10_000_000
	electionNs    = 50_000_000
	resendNs      = 20_000_000
	backoffMaxNs  = 400_000_000
	clientWaitNs  = 40_000_000
	clientMaxNs   = 160_000_000
	clientQueueNs = 400_000_000
	reproposeNs   = 20_000_000
)

// DefaultLeaseMs is a simulated session's lease unless told otherwise:
// short, so that expiry happens within ordinary runs.
const DefaultLeaseMs = 1_000

// SimSM is the simulated group's state machine configuration: leases of
// 100 ms to 10 s.
var SimSM = lockmgr.SMConfig{LeaseMinMs: 100, LeaseMaxMs: 10_000}

// DefaultSnapshotSlots: a simulated replica compacts this often unless
// told otherwise, so that compaction and snapshot transfer happen in
// ordinary runs.
const DefaultSnapshotSlots = 64

// Config is what every process of one simulated group shares.
type Config struct {
	Peers        []paxos.ID
	TickNs       int64 // the replicas' tick period
	ClientTickNs int64 // the clients' tick period; 0: TickNs
	// GroupCommit makes a replica deliver every packet that arrives
	// between two ticks and drive its node once, at the tick, as the UDP
	// host does (many records, one sync). Off, each packet is driven on
	// arrival.
	GroupCommit bool
	ThinkNs     int64 // a client waits up to this long between operations
	// PatienceNs: a client gives up a Lock that has been queued this long
	// and goes on with its script (0: it waits as long as it takes).
	PatienceNs    int64
	SnapshotSlots uint64 // compact every this many slots; 0: DefaultSnapshotSlots
	// BatchCmdsMax: commands per slot at most; 0: the replica default.
	// One command per slot keeps many slots open at once under load.
	BatchCmdsMax int
	// HashEvery: a replica reports its state hash whenever it has applied
	// a multiple of this many slots (0: never).
	HashEvery uint64
	// LeaseMs: the lease clients ask for; 0: DefaultLeaseMs.
	LeaseMs uint64
	// DriftPermille: the drift bound clients allow for; 0: the default.
	DriftPermille int
	// Writes: after each grant, a client writes this many times to the
	// fenced resource (Storage at StorageAddr) before it goes on; each
	// write follows up to WorkNs of work, done after the client checked
	// that it holds the lease (check, then act, as real code does).
	Writes      int
	WorkNs      int64
	StorageAddr sim.Addr
	// Marks: where coverage marks are counted (zero: nowhere).
	Marks Marks
}

// ticks converts a duration to a whole number of ticks, at least one.
func ticks(ns, tickNs int64) int { return int(max(1, ns/tickNs)) }

// ClientTick is the clients' tick period.
func (c *Config) ClientTick() int64 {
	if c.ClientTickNs > 0 {
		return c.ClientTickNs
	}
	return c.TickNs
}

// Server is replica id's configuration.
func (c *Config) Server(id paxos.ID, rng *rand.Rand) lockmgr.ServerConfig {
	cfg := lockmgr.DefaultServerConfig(id, c.Peers)
	t := c.TickNs
	p := &cfg.Paxos
	p.Rand = rng
	p.HeartbeatTicks = ticks(heartbeatNs, t)
	p.ElectionTicks = max(p.HeartbeatTicks+1, ticks(electionNs, t))
	p.ResendTicks = ticks(resendNs, t)
	p.BackoffMaxTicks = ticks(backoffMaxNs, t)
	cfg.ReproposeTicks = int64(ticks(reproposeNs, t))
	cfg.TickNs = t
	cfg.SM = SimSM
	if c.BatchCmdsMax > 0 {
		p.BatchCmdsMax = c.BatchCmdsMax
	}
	p.Mark = c.Marks.Paxos
	cfg.Mark = c.Marks.Lock
	cfg.SnapshotSlots = DefaultSnapshotSlots
	if c.SnapshotSlots > 0 {
		cfg.SnapshotSlots = c.SnapshotSlots
	}
	return cfg
}

// Client is client id's configuration.
func (c *Config) Client(id lockmgr.ClientID, rng *rand.Rand) lockmgr.ClientConfig {
	cfg := lockmgr.DefaultClientConfig(id, c.Peers)
	t := c.ClientTick()
	cfg.Rand = rng
	cfg.Mark = c.Marks.Lock
	cfg.TimeoutTicks = ticks(clientWaitNs, t)
	cfg.BackoffMaxTicks = ticks(clientMaxNs, t)
	cfg.WaitTicks = ticks(clientQueueNs, t)
	cfg.TickNs = t
	cfg.LeaseMs = DefaultLeaseMs
	if c.LeaseMs > 0 {
		cfg.LeaseMs = c.LeaseMs
	}
	if c.DriftPermille > 0 {
		cfg.DriftPermille = c.DriftPermille
	}
	return cfg
}

// Lease is the lease clients ask for, in ms.
func (c *Config) Lease() uint64 {
	if c.LeaseMs > 0 {
		return c.LeaseMs
	}
	return DefaultLeaseMs
}

// ElectionNs is the election timeout in virtual time, for bounds that are
// stated in election timeouts.
func (c *Config) ElectionNs() int64 { return int64(ticks(electionNs, c.TickNs)) * c.TickNs }
