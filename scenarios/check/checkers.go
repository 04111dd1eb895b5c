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
}

// New returns the checkers of a group of n replicas whose at-most-once
// table keeps maxClients idle clients (0: the service's default).
func New(n, maxClients int) *Checkers {
	c := &Checkers{Consensus: NewConsensus(n), Oracle: NewOracle(n, maxClients), Hashes: NewStateHash()}
	c.Durability = NewDurability(n, c.Consensus.Chosen)
	return c
}

// Err is the first failure any checker found, or nil.
func (c *Checkers) Err() *Failure {
	for _, f := range []*Failure{c.Consensus.Err(), c.Durability.Err(), c.Oracle.Err(), c.Hashes.Err()} {
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
func (c *Checkers) Sent(id paxos.ID, m *paxos.Message) { c.Durability.Sent(id, m) }

// Committed: a chosen slot is handed to the state machine.
func (c *Checkers) Committed(id paxos.ID, e paxos.Entry) {
	c.Consensus.Committed(id, e)
	c.Oracle.Committed(id, e)
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
