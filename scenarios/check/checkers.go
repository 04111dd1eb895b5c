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
	// owned: which of the above are c's own (a bit per checker, see
	// clone.go). A copy made by Clone shares them all with the copy it
	// was made from, and copies one the first time an event changes it.
	owned uint8
}

// The bits of Checkers.owned.
const (
	ownConsensus uint8 = 1 << iota
	ownDurability
	ownOracle
	ownHashes
	ownRejoin
	ownReadPrefix
	ownAll = 1<<iota - 1
)

// New returns the checkers of a group of n replicas whose state machines
// are configured with sm.
func New(n int, sm lockmgr.SMConfig) *Checkers {
	c := &Checkers{Consensus: NewConsensus(n), Oracle: NewOracle(n, sm), Hashes: NewStateHash(),
		Rejoin: NewRejoin(n), readPrefix: map[int]uint64{}, owned: ownAll}
	c.Durability = NewDurability(n, c.chosen)
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
	c.consensus().Booted(id, recs)
	c.durability().Booted(id, recs)
	c.oracle().Booted(id)
	c.rejoin().Booted(id)
}

// Appended: records written, not yet durable.
func (c *Checkers) Appended(id paxos.ID, recs []paxos.Record) {
	c.consensus().Appended(id, recs)
	c.durability().Appended(id, recs)
}

// Synced: what was appended is durable.
func (c *Checkers) Synced(id paxos.ID) {
	c.consensus().Synced(id)
	c.durability().Synced(id)
}

// Rewrote: the log was replaced by recs, durably.
func (c *Checkers) Rewrote(id paxos.ID, recs []paxos.Record) {
	c.consensus().Rewrote(id, recs)
	c.durability().Rewrote(id, recs)
}

// Sent: a replica message leaves. The durability checker only reads what
// it recorded to judge a message, so it is copied only when it fails; the
// rejoin checker only when the message may change it.
func (c *Checkers) Sent(id paxos.ID, m *paxos.Message) {
	if c.Durability.Err() == nil {
		if f := c.Durability.judgeSent(id, m, c.chosen); f != nil {
			c.durability().err = f
		}
	}
	if c.Rejoin.changedBy(id, m) {
		c.rejoin().Sent(id, m)
	}
}

// DiskLost: replica id lost its whole disk; it comes back rebuilding.
func (c *Checkers) DiskLost(id paxos.ID) { c.rejoin().DiskLost(id) }

// Committed: a chosen slot is handed to the state machine.
func (c *Checkers) Committed(id paxos.ID, e paxos.Entry) {
	c.consensus().Committed(id, e)
	c.oracle().Committed(id, e)
	c.rejoin().Committed(id, e)
}

// Invoked: a client started operation h. A read notes what was chosen
// before it began.
func (c *Checkers) Invoked(h int, op lockmgr.Op) {
	if op == opRead {
		c.reads()[h] = c.Consensus.ChosenPrefix()
	}
}

// Answered: client's operation h got its final answer. Reads and
// statuses are judged against the oracle's tables (reads.go).
func (c *Checkers) Answered(h int, client lockmgr.ClientID, a lockmgr.Completion) {
	switch {
	case a.Op == opRead && a.Result.Status == lockmgr.Report:
		c.oracle().ReadAnswered(client, a.Seq, a.Slot, c.readPrefix[h], a.Locks)
	case a.Op == lockmgr.OpStatus && a.Result.Status == lockmgr.Report:
		c.oracle().StatusAnswered(client, a.Slot, a.Locks)
	}
	if _, ok := c.readPrefix[h]; ok {
		delete(c.reads(), h)
	}
}

// Applied: one command was applied.
func (c *Checkers) Applied(id paxos.ID, slot uint64, cmd lockmgr.Command, r lockmgr.Result, grants []lockmgr.Grant) {
	c.oracle().Applied(id, slot, cmd, r, grants)
}

// Restored: the state machine was reset to the snapshot below slot.
func (c *Checkers) Restored(id paxos.ID, slot uint64) {
	c.consensus().Restored(id, slot)
	c.oracle().Restored(id, slot)
}

// StateHash: replica id applied every slot below applied; its state hash.
func (c *Checkers) StateHash(id paxos.ID, applied, hash uint64) {
	c.hashes().Report(id, applied, hash)
}
