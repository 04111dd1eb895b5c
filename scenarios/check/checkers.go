package check

import (
	"paxlock/lockmgr"
	"paxlock/paxos"
)

// Checkers is every checker that follows a run event by event, for a
// group of replicas 1..n. The runner forwards each event as it happens
// and asks Err after it; the first failure found stays.
type Checkers struct {
	Consensus  *Consensus
	Durability *Durability
	Oracle     *Oracle
	Hashes     *StateHash
	Rejoin     *Rejoin
	readPrefix map[int]uint64 // open reads: history index -> chosen prefix at the call
}

// New returns the checkers of a group of n replicas whose state machines
// are configured with sm.
func New(n int, sm lockmgr.SMConfig) *Checkers {
	c := &Checkers{Consensus: NewConsensus(n), Oracle: NewOracle(n, sm), Hashes: NewStateHash(),
		Rejoin: NewRejoin(n), readPrefix: map[int]uint64{}}
	c.Durability = NewDurability(n, c.Consensus.Chosen)
	return c
}

// Err is the first failure any checker found, or nil.
func (c *Checkers) Err() *Failure {
	for _, f := range []*Failure{c.Consensus.Err(), c.Durability.Err(), c.Oracle.Err(), c.Hashes.Err(), c.Rejoin.Err()} {
		if f != nil {
			return f
		}
	}
	return nil
}

// Booted: replica id restarted from the records its disk held.
func (c *Checkers) Booted(id paxos.ID, recs []paxos.Record) {
	c.Consensus.Booted(id, recs)
	c.Durability.Booted(id, recs)
	c.Oracle.Booted(id)
	c.Rejoin.Booted(id)
}

// Appended: records written, not yet durable.
func (c *Checkers) Appended(id paxos.ID, recs []paxos.Record) {
	c.Consensus.Appended(id, recs)
	c.Durability.Appended(id, recs)
}

// Synced: what was appended is durable.
func (c *Checkers) Synced(id paxos.ID) {
	c.Consensus.Synced(id)
	c.Durability.Synced(id)
}

// Rewrote: the log was replaced by recs, durably.
func (c *Checkers) Rewrote(id paxos.ID, recs []paxos.Record) {
	c.Consensus.Rewrote(id, recs)
	c.Durability.Rewrote(id, recs)
}

// Sent: a replica message leaves.
func (c *Checkers) Sent(id paxos.ID, m *paxos.Message) {
	c.Durability.Sent(id, m)
	c.Rejoin.Sent(id, m)
}

// DiskLost: replica id lost its whole disk; it comes back rebuilding.
func (c *Checkers) DiskLost(id paxos.ID) { c.Rejoin.DiskLost(id) }

// Committed: a chosen slot is handed to the state machine.
func (c *Checkers) Committed(id paxos.ID, e paxos.Entry) {
	c.Consensus.Committed(id, e)
	c.Oracle.Committed(id, e)
	c.Rejoin.Committed(id, e)
}

// Invoked: a client started operation h. A read notes what was chosen
// before it began.
func (c *Checkers) Invoked(h int, op lockmgr.Op) {
	if op == opRead {
		c.readPrefix[h] = c.Consensus.ChosenPrefix()
	}
}

// Answered: client's operation h got its final answer. Reads and
// statuses are judged against the oracle's tables (reads.go).
func (c *Checkers) Answered(h int, client lockmgr.ClientID, a lockmgr.Completion) {
	switch {
	case a.Op == opRead && a.Result.Status == lockmgr.Report:
		c.Oracle.ReadAnswered(client, a.Seq, a.Slot, c.readPrefix[h], a.Locks)
	case a.Op == lockmgr.OpStatus && a.Result.Status == lockmgr.Report:
		c.Oracle.StatusAnswered(client, a.Slot, a.Locks)
	}
	delete(c.readPrefix, h)
}

// Applied: one command was applied.
func (c *Checkers) Applied(id paxos.ID, slot uint64, cmd lockmgr.Command, r lockmgr.Result, grants []lockmgr.Grant) {
	c.Oracle.Applied(id, slot, cmd, r, grants)
}

// Restored: the state machine was reset to the snapshot below slot.
func (c *Checkers) Restored(id paxos.ID, slot uint64) {
	c.Consensus.Restored(id, slot)
	c.Oracle.Restored(id, slot)
}

// StateHash: replica id applied every slot below applied; its state hash.
func (c *Checkers) StateHash(id paxos.ID, applied, hash uint64) { c.Hashes.Report(id, applied, hash) }
