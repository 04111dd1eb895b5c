package paxos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Config is everything a Replica is told from outside. Timers count ticks;
// the host decides how long a tick is.
type Config struct {
	ID    ID
	Peers []ID // every replica of the group, including ID

	HeartbeatTicks  int // a leader heartbeats this often
	ElectionTicks   int // a follower suspects the leader after [E, 2E) silent ticks
	ResendTicks     int // unacknowledged prepares and accepts are resent this often
	BackoffMaxTicks int // cap of the randomized exponential election backoff

	WindowSlots      int // slots proposed but not yet chosen, at most (the pipeline)
	BatchCmdsMax     int // commands in one slot, at most
	BatchBytesMax    int // command bytes in one slot, at most
	PendingCmdsMax   int // commands queued at a leader or candidate, at most
	LogSlotsMax      int // slots held above the snapshot, at most; further accepts are refused
	MsgBytesMax      int // entries packed into one message, at most (keeps packets under the codec's limit)
	SnapshotBytesMax int // a snapshot received from a peer, at most

	// Rand is the injected, seeded source of every random choice.
	Rand *rand.Rand

	// Rejoin, if not nil, starts the replica rebuilding after a disk
	// loss (see Replica.Rebuilding): it votes in no quorum until the slot
	// carrying this command is chosen. The command must be unique to
	// this rebuild, and the application must apply it as a no-op.
	Rejoin []byte
	// Mark, if not nil, is told each time the replica reaches one of the
	// situations Mark names (coverage marks, for a test harness).
	Mark func(Mark)
}

// DefaultConfig returns sane values for a replica of the given group; the
// caller still sets Rand.
func DefaultConfig(id ID, peers []ID) Config {
	return Config{
		ID:               id,
		Peers:            peers,
		HeartbeatTicks:   10,
		ElectionTicks:    50,
		ResendTicks:      20,
		BackoffMaxTicks:  400,
		WindowSlots:      32,
		BatchCmdsMax:     64,
		BatchBytesMax:    8 << 10,
		PendingCmdsMax:   4096,
		LogSlotsMax:      1 << 16,
		MsgBytesMax:      48 << 10,
		SnapshotBytesMax: MaxRecordBytes - 1<<20, // it must fit one durable record
	}
}

// MaxPeers bounds the group size: acknowledgments are kept as a bit set.
const MaxPeers = 63

func (c *Config) validate() error {
	if len(c.Peers) == 0 || len(c.Peers) > MaxPeers {
		return fmt.Errorf("paxos: Config.Peers has %d replicas: want 1..%d", len(c.Peers), MaxPeers)
	}
	seen := map[ID]bool{}
	for _, p := range c.Peers {
		if p == 0 {
			return errors.New("paxos: Config.Peers: replica id 0 is reserved")
		}
		if seen[p] {
			return fmt.Errorf("paxos: Config.Peers: duplicate id %d", p)
		}
		seen[p] = true
	}
	if !seen[c.ID] {
		return fmt.Errorf("paxos: Config.ID %d is not in Config.Peers", c.ID)
	}
	positive := []struct {
		name string
		v    int
	}{
		{"HeartbeatTicks", c.HeartbeatTicks}, {"ElectionTicks", c.ElectionTicks},
		{"ResendTicks", c.ResendTicks}, {"BackoffMaxTicks", c.BackoffMaxTicks},
		{"WindowSlots", c.WindowSlots}, {"BatchCmdsMax", c.BatchCmdsMax},
		{"BatchBytesMax", c.BatchBytesMax}, {"PendingCmdsMax", c.PendingCmdsMax},
		{"LogSlotsMax", c.LogSlotsMax}, {"MsgBytesMax", c.MsgBytesMax},
		{"SnapshotBytesMax", c.SnapshotBytesMax},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("paxos: Config.%s = %d: want > 0", p.name, p.v)
		}
	}
	if c.HeartbeatTicks >= c.ElectionTicks {
		return fmt.Errorf("paxos: Config.HeartbeatTicks = %d: want < ElectionTicks (%d)", c.HeartbeatTicks, c.ElectionTicks)
	}
	if c.SnapshotBytesMax > MaxRecordBytes-1<<20 {
		return fmt.Errorf("paxos: Config.SnapshotBytesMax = %d: want <= %d (a snapshot is one durable record)", c.SnapshotBytesMax, MaxRecordBytes-1<<20)
	}
	if c.WindowSlots > c.LogSlotsMax {
		return fmt.Errorf("paxos: Config.WindowSlots = %d: want <= LogSlotsMax (%d)", c.WindowSlots, c.LogSlotsMax)
	}
	if c.Rand == nil {
		return errors.New("paxos: Config.Rand is nil: inject a seeded source")
	}
	c.Peers = slices.Clone(c.Peers)
	slices.Sort(c.Peers)
	return nil
}
