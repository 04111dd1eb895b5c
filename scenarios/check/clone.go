package check

import (
	"maps"
	"paxlock/lockmgr"
	"slices"
)

// Copies of the checkers, for an explorer that branches a run at every
// step (scenarios/explore): each branch's checkers go on from the state
// its parent's had, without seeing its siblings' events. clone_test.go
// lists every field of every struct copied here and fails when one is
// added without a decision. Recorded commands, records and grants are
// shared: nothing writes them once recorded.

// Clone returns a copy of c that goes on from c's state without changing
// it. The copy is lazy: it shares every checker with c, and copies one
// (deeply) the first time an event would change it, so a step that
// reaches one checker copies one. c must not be changed after it is
// cloned (an explorer's parent state is not).
func (c *Checkers) Clone() *Checkers {
	x := *c
	x.owned = 0
	return &x
}

// consensus is c's own consensus checker, copied from the one it shares
// on first use; durability, oracle, hashes, rejoin and reads likewise.
func (c *Checkers) consensus() *Consensus {
	if c.owned&ownConsensus == 0 {
		c.Consensus, c.owned = c.Consensus.clone(), c.owned|ownConsensus
	}
	return c.Consensus
}

func (c *Checkers) durability() *Durability {
	if c.owned&ownDurability == 0 {
		c.Durability, c.owned = c.Durability.clone(c.chosen), c.owned|ownDurability
	}
	return c.Durability
}

func (c *Checkers) oracle() *Oracle {
	if c.owned&ownOracle == 0 {
		c.Oracle, c.owned = c.Oracle.clone(), c.owned|ownOracle
	}
	return c.Oracle
}

func (c *Checkers) hashes() *StateHash {
	if c.owned&ownHashes == 0 {
		c.Hashes, c.owned = c.Hashes.clone(), c.owned|ownHashes
	}
	return c.Hashes
}

func (c *Checkers) rejoin() *Rejoin {
	if c.owned&ownRejoin == 0 {
		c.Rejoin, c.owned = c.Rejoin.clone(), c.owned|ownRejoin
	}
	return c.Rejoin
}

func (c *Checkers) reads() map[int]uint64 {
	if c.owned&ownReadPrefix == 0 {
		c.readPrefix, c.owned = maps.Clone(c.readPrefix), c.owned|ownReadPrefix
	}
	return c.readPrefix
}

// chosen is what the durability checker asks the consensus checker: it
// goes through c, so a durability checker copied into c asks c's own
// consensus checker, whichever copy that is by then.
func (c *Checkers) chosen(slot uint64) (uint64, bool) { return c.Consensus.Chosen(slot) }

func (j *Rejoin) clone() *Rejoin {
	x := *j
	x.rebuilding = slices.Clone(j.rebuilding)
	x.lostAt = slices.Clone(j.lostAt)
	x.nonces = maps.Clone(j.nonces)
	x.voted, x.owed = square(len(j.voted)), square(len(j.owed))
	for i := range j.voted {
		copy(x.voted[i], j.voted[i])
		copy(x.owed[i], j.owed[i])
	}
	return &x
}

func (c *Consensus) clone() *Consensus {
	x := *c
	x.slots = slices.Clone(c.slots)
	for i := range x.slots {
		x.slots[i].votes = slices.Clone(x.slots[i].votes)
	}
	x.pending = slices.Clone(c.pending)
	for i := range x.pending {
		x.pending[i] = slices.Clone(x.pending[i])
	}
	x.next = slices.Clone(c.next)
	x.booted = slices.Clone(c.booted)
	return &x
}

func (d *Durability) clone(chosen func(uint64) (uint64, bool)) *Durability {
	x := *d
	x.chosen = chosen
	x.disks = slices.Clone(d.disks)
	for i := range x.disks {
		k := &x.disks[i]
		k.accepted.b = slices.Clone(k.accepted.b)
		k.pending = slices.Clone(k.pending)
	}
	return &x
}

func (o *Oracle) clone() *Oracle {
	x := *o
	x.locks = make(map[string]*refLock, len(o.locks))
	for name, l := range o.locks {
		lc := *l
		lc.waiters = slices.Clone(l.waiters)
		x.locks[name] = &lc
	}
	x.sessions = make(map[lockmgr.ClientID]*refSession, len(o.sessions))
	for id, s := range o.sessions {
		sc := *s
		sc.held = maps.Clone(s.held)
		sc.mac, sc.sum = nil, nil // made again from the secret on first use
		x.sessions[id] = &sc
	}
	x.nonces = maps.Clone(o.nonces)
	x.slots = slices.Clone(o.slots)
	for i := range x.slots {
		x.slots[i] = slices.Clone(x.slots[i])
	}
	x.cursor = slices.Clone(o.cursor)
	x.pending = slices.Clone(o.pending)
	x.prefixes = maps.Clone(o.prefixes)
	x.reads = make(map[readKey][]readAt, len(o.reads))
	for k, v := range o.reads {
		x.reads[k] = slices.Clone(v)
	}
	x.names, x.buf = nil, nil
	return &x
}

func (s *StateHash) clone() *StateHash {
	x := *s
	x.seen = maps.Clone(s.seen)
	return &x
}

// Clone returns a deep copy of h.
func (h *History) Clone() *History {
	return &History{ops: slices.Clone(h.ops), abandoned: maps.Clone(h.abandoned),
		granted: maps.Clone(h.granted), waiting: maps.Clone(h.waiting)}
}
