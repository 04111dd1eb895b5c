package check

import (
	"encoding/binary"
	"math/bits"

	"paxlock/paxos"
)

// Consensus judges the replicated log from first principles. A vote is a
// durable acceptance: an Accept record that reached a replica's disk (it
// was synced, rewritten, or found there at a restart). A value is chosen
// in a slot once a majority of the group holds votes for it at one
// ballot, which is Paxos's own definition, computed here with a quorum
// size of its own and the checker's ballot order. It fails:
//
//   - if a slot chooses two values;
//   - if, once a slot chose v at ballot b, any replica durably accepts
//     another value at a ballot above b (the invariant that keeps a chosen
//     value chosen; it fails before a second value can be chosen);
//   - if one ballot proposed two values for one slot;
//   - if a replica applies a slot that is not chosen (yet), or with
//     another value, or out of order: each incarnation applies slot after
//     slot without a gap, from 0 or from the snapshot it restored.
//
// It sees only what reached a disk and what replicas applied: a value a
// leader holds in memory, or a vote lost in a crash before its sync, is
// not a vote.
type Consensus struct {
	quorum  int
	slots   []slotVotes      // by slot
	pending [][]paxos.Record // per replica (id-1): appended, not yet synced
	next    []uint64         // per replica: the slot it must apply next
	booted  []bool
	prefix  uint64 // every slot below it is chosen
	err     *Failure
}

type slotVotes struct {
	votes  []vote
	chosen int // index into votes of the first ballot chosen, -1 if none
}

type vote struct {
	ballot paxos.Ballot
	value  uint64 // valueHash of the commands
	cmds   [][]byte
	voters uint64 // bit id-1 set: replica id voted
}

// NewConsensus judges a group of replicas 1..n.
func NewConsensus(n int) *Consensus {
	return &Consensus{quorum: n/2 + 1, pending: make([][]paxos.Record, n), next: make([]uint64, n), booted: make([]bool, n)}
}

// Err is the first failure found, or nil.
func (c *Consensus) Err() *Failure { return c.err }

func (c *Consensus) fail(f *Failure) {
	if c.err == nil {
		c.err = f
	}
}

// Booted: replica id restarted from recs, which its disk held.
func (c *Consensus) Booted(id paxos.ID, recs []paxos.Record) {
	c.pending[id-1] = c.pending[id-1][:0]
	c.next[id-1] = 0
	c.booted[id-1] = true
	c.votes(id, recs)
}

// Appended: records written, durable only once synced.
func (c *Consensus) Appended(id paxos.ID, recs []paxos.Record) {
	c.pending[id-1] = append(c.pending[id-1], recs...)
}

// Synced: the appended records are durable.
func (c *Consensus) Synced(id paxos.ID) {
	c.votes(id, c.pending[id-1])
	clear(c.pending[id-1])
	c.pending[id-1] = c.pending[id-1][:0]
}

// Rewrote: the log is now recs, durably.
func (c *Consensus) Rewrote(id paxos.ID, recs []paxos.Record) {
	clear(c.pending[id-1])
	c.pending[id-1] = c.pending[id-1][:0]
	c.votes(id, recs)
}

func (c *Consensus) votes(id paxos.ID, recs []paxos.Record) {
	for i := range recs {
		if r := &recs[i]; r.Type == paxos.RecAccept {
			c.vote(id, r.Entry)
		}
	}
}

func (c *Consensus) slot(n uint64) *slotVotes {
	for uint64(len(c.slots)) <= n {
		c.slots = append(c.slots, slotVotes{chosen: -1})
	}
	return &c.slots[n]
}

// vote records that id durably accepted e.
func (c *Consensus) vote(id paxos.ID, e paxos.Entry) {
	s := c.slot(e.Slot)
	h := valueHash(e.Cmds)
	k := -1
	for i := range s.votes {
		if s.votes[i].ballot == e.Ballot {
			k = i
			break
		}
	}
	if k < 0 {
		s.votes = append(s.votes, vote{ballot: e.Ballot, value: h, cmds: e.Cmds})
		k = len(s.votes) - 1
	} else if s.votes[k].value != h {
		c.fail(failf(FailAgreement, "slot %d: ballot %s proposed two values: replica %d accepted %s, another replica %s",
			e.Slot, fmtBallot(e.Ballot), id, describeCmds(e.Cmds), describeCmds(s.votes[k].cmds)))
		return
	}
	if s.chosen >= 0 {
		ch := &s.votes[s.chosen]
		if ballotLess(ch.ballot, e.Ballot) && h != ch.value {
			c.fail(failf(FailAgreement, "slot %d was chosen as %s at ballot %s, but replica %d accepted %s at the higher ballot %s",
				e.Slot, describeCmds(ch.cmds), fmtBallot(ch.ballot), id, describeCmds(e.Cmds), fmtBallot(e.Ballot)))
			return
		}
	}
	v := &s.votes[k]
	v.voters |= 1 << (id - 1)
	if bits.OnesCount64(v.voters) >= c.quorum {
		c.chose(e.Slot, s, k)
	}
}

// chose: the votes at index k of slot n reached a majority.
func (c *Consensus) chose(n uint64, s *slotVotes, k int) {
	v := &s.votes[k]
	if s.chosen < 0 {
		s.chosen = k
		for c.prefix < uint64(len(c.slots)) && c.slots[c.prefix].chosen >= 0 {
			c.prefix++
		}
		// Every vote above the chosen ballot must carry the chosen value.
		for i := range s.votes {
			if o := &s.votes[i]; ballotLess(v.ballot, o.ballot) && o.value != v.value {
				c.fail(failf(FailAgreement, "slot %d was chosen as %s at ballot %s, but a replica had accepted %s at the higher ballot %s",
					n, describeCmds(v.cmds), fmtBallot(v.ballot), describeCmds(o.cmds), fmtBallot(o.ballot)))
			}
		}
		return
	}
	if first := &s.votes[s.chosen]; first.value != v.value {
		c.fail(failf(FailAgreement, "slot %d chosen with two values: %s at ballot %s and %s at ballot %s",
			n, describeCmds(first.cmds), fmtBallot(first.ballot), describeCmds(v.cmds), fmtBallot(v.ballot)))
	}
}

// Chosen reports the value slot n chose, if a majority voted for one yet.
func (c *Consensus) Chosen(n uint64) (value uint64, ok bool) {
	if n >= uint64(len(c.slots)) || c.slots[n].chosen < 0 {
		return 0, false
	}
	return c.slots[n].votes[c.slots[n].chosen].value, true
}

// ChosenPrefix is how many slots, from slot 0 on, are chosen without a gap.
func (c *Consensus) ChosenPrefix() uint64 { return c.prefix }

// Restored: replica id's state machine was reset to the snapshot below
// slot; it applies from slot on. Every slot below it must be chosen.
func (c *Consensus) Restored(id paxos.ID, slot uint64) {
	for n := c.next[id-1]; n < slot; n++ {
		if _, ok := c.Chosen(n); !ok {
			c.fail(failf(FailAgreement, "replica %d installed a snapshot covering slots below %d, but slot %d was never chosen", id, slot, n))
			return
		}
	}
	c.next[id-1] = slot
}

// Committed: replica id hands slot e.Slot to its state machine.
func (c *Consensus) Committed(id paxos.ID, e paxos.Entry) {
	want := c.next[id-1]
	switch {
	case !c.booted[id-1]:
		c.fail(failf(FailApplyOrder, "replica %d applied slot %d before it booted", id, e.Slot))
		return
	case e.Slot != want:
		c.fail(failf(FailApplyOrder, "replica %d applied slot %d, but the next slot in order is %d", id, e.Slot, want))
		return
	}
	c.next[id-1]++
	v, ok := c.Chosen(e.Slot)
	switch {
	case !ok:
		c.fail(failf(FailAgreement, "replica %d applied slot %d (%s), which no majority has accepted: it is not chosen",
			id, e.Slot, describeCmds(e.Cmds)))
	case v != valueHash(e.Cmds):
		ch := &c.slots[e.Slot].votes[c.slots[e.Slot].chosen]
		c.fail(failf(FailAgreement, "replica %d applied slot %d as %s, but it chose %s at ballot %s",
			id, e.Slot, describeCmds(e.Cmds), describeCmds(ch.cmds), fmtBallot(ch.ballot)))
	}
}

// valueHash identifies a slot's value: FNV-1a over the commands, each
// prefixed with its length.
func valueHash(cmds [][]byte) uint64 {
	h := fnvOffset
	var n [binary.MaxVarintLen64]byte
	for _, c := range cmds {
		h = fnvAdd(h, n[:binary.PutUvarint(n[:], uint64(len(c)))])
		h = fnvAdd(h, c)
	}
	return h
}

// FNV-1a, 64 bits, written out so that hashing allocates nothing.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

func fnvAdd(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}
