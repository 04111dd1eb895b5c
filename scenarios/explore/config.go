// Package explore searches small configurations of the lock service
// exhaustively: every process is the real code (paxos.Replica inside a
// lockmgr.Node, lockmgr.Client), and every step of a run is a choice
// among delivering one message in flight, dropping it, duplicating it,
// firing one process's next timer, crashing or restarting a replica, and
// a client starting its next operation. The search is depth-first or
// breadth-first (Config.Order) over states deduplicated by a 64-bit
// fingerprint of every process's whole state, the disks, the multiset of
// messages in flight, the client history and the fault budgets spent;
// each state keeps its parent, so the path to any state (a violation's
// counterexample, the shortest one found breadth-first) can be rebuilt
// and replayed (Replay, and the scenario command `explore`).
//
// Every state is judged by the checkers of scenarios/check (agreement,
// gapless in-order apply, durability, the oracle's lock rules and
// fencing tokens), fed the events of each step, and every history that
// gained an answer by porcupine. It is not a model of the protocol: a bug
// it finds is in the code that runs in production.
package explore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"paxlock/lockmgr"
)

// Op is one operation of a client's script.
type Op struct {
	Op   lockmgr.Op
	Name string
}

func (o Op) String() string {
	if o.Op.Named() {
		return o.Op.String() + " " + o.Name
	}
	return o.Op.String()
}

// Bounds are what keeps the space finite: how many faults of each kind
// and timer firings a run may contain, and how many steps.
type Bounds struct {
	Depth   int // steps in a run, at most
	Drops   int // messages lost
	Dups    int // messages duplicated
	Crashes int // replica crashes (a crashed replica may restart at any step)
	Timers  int // timer firings, all processes together
}

func (b Bounds) String() string {
	return fmt.Sprintf("depth<=%d drops<=%d dups<=%d crashes<=%d timers<=%d", b.Depth, b.Drops, b.Dups, b.Crashes, b.Timers)
}

// Config is one configuration to explore.
type Config struct {
	Replicas int
	Clients  [][]Op // per client, its operations in order
	Bounds   Bounds
	// TickNs is the length of a tick: timers are converted to whole ticks
	// of it as the simulator's hosts do (10 ms: a heartbeat is one tick,
	// an election timeout five).
	TickNs int64
	// SnapshotSlots: replicas compact every this many applied slots (0:
	// never, which keeps each disk an append-only history of votes).
	SnapshotSlots uint64
	// PruneDone: do not expand a state where every client is done (the
	// goal); its history is judged, what could still happen below it is
	// not searched.
	PruneDone bool
	// MaxStates and TimeLimit stop the search early (0: no limit); the
	// report then says the space was not exhausted.
	MaxStates int
	TimeLimit time.Duration
	// Order is how the space is walked: BreadthFirst (the default) keeps
	// every state of the next level whole, so memory grows with the
	// widest level; DepthFirst keeps only the states on the current path
	// and the visited table (see dfs.go).
	Order Order
}

// Order is the order a search visits states in.
type Order int

const (
	BreadthFirst Order = iota
	DepthFirst
)

func (o Order) String() string {
	if o == DepthFirst {
		return "dfs"
	}
	return "bfs"
}

// ParseOrder reads "bfs" or "dfs".
func ParseOrder(s string) (Order, error) {
	switch s {
	case "bfs":
		return BreadthFirst, nil
	case "dfs":
		return DepthFirst, nil
	}
	return 0, fmt.Errorf("explore: order %q: want bfs or dfs", s)
}

// Limits on a configuration, so that a typo cannot ask for a search that
// never ends or a table that does not fit.
const (
	ReplicasMax = 5
	ClientsMax  = 3
	OpsMax      = 3
	DepthMax    = 1000
)

// Validate reports the first thing wrong with c, in words.
func (c *Config) Validate() error {
	switch {
	case c.Replicas < 1 || c.Replicas > ReplicasMax:
		return fmt.Errorf("explore: replicas=%d: want 1..%d", c.Replicas, ReplicasMax)
	case len(c.Clients) > ClientsMax:
		return fmt.Errorf("explore: %d clients: want 0..%d", len(c.Clients), ClientsMax)
	case c.Bounds.Depth < 1 || c.Bounds.Depth > DepthMax:
		return fmt.Errorf("explore: depth=%d: want 1..%d", c.Bounds.Depth, DepthMax)
	case c.Bounds.Drops < 0 || c.Bounds.Dups < 0 || c.Bounds.Crashes < 0 || c.Bounds.Timers < 0:
		return errors.New("explore: drops, dups, crashes and timers must be >= 0")
	case c.TickNs <= 0:
		return fmt.Errorf("explore: tick=%dns: want > 0", c.TickNs)
	case c.Order != BreadthFirst && c.Order != DepthFirst:
		return fmt.Errorf("explore: order %d: want bfs or dfs", c.Order)
	case c.MaxStates < 0 || c.TimeLimit < 0:
		return errors.New("explore: max-states and time limit must be >= 0")
	}
	for i, ops := range c.Clients {
		if len(ops) < 1 || len(ops) > OpsMax {
			return fmt.Errorf("explore: client %d has %d operations: want 1..%d", i+1, len(ops), OpsMax)
		}
		for _, o := range ops {
			if !o.Op.Callable() || o.Op == lockmgr.OpStatus {
				return fmt.Errorf("explore: client %d: %v: want lock, trylock, unlock, read or close", i+1, o.Op)
			}
			if o.Op.Named() != lockmgr.ValidName(o.Name) || !o.Op.Named() && o.Name != "" {
				return fmt.Errorf("explore: client %d: %v needs a lock name of 1..%d bytes, and only it", i+1, o.Op, lockmgr.NameBytesMax)
			}
		}
	}
	return nil
}

// ParseOps reads a client's script: operations separated by commas, each
// "op name" or "op:name" ("lock a,unlock a", "lock:a,unlock:a"), or
// "read" and "close" alone.
func ParseOps(s string) ([]Op, error) {
	var ops []Op
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(strings.ReplaceAll(strings.TrimSpace(part), ":", " "))
		if len(f) == 0 || len(f) > 2 {
			return nil, fmt.Errorf("explore: operation %q: want \"lock NAME\", \"trylock NAME\", \"unlock NAME\", \"read\" or \"close\"", part)
		}
		op, err := lockmgr.ParseOp(f[0])
		if err != nil {
			return nil, fmt.Errorf("explore: operation %q: %w", part, err)
		}
		o := Op{Op: op}
		if len(f) == 2 {
			o.Name = f[1]
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// FormatOps is ParseOps's inverse.
func FormatOps(ops []Op) string {
	parts := make([]string, len(ops))
	for i, o := range ops {
		parts[i] = strings.ReplaceAll(o.String(), " ", ":")
	}
	return strings.Join(parts, ",")
}
