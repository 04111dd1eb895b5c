package scenarios

import (
	"fmt"
	"slices"

	"paxlock/paxos"
)

// durable follows what a replica's storage holds durably, built from the
// records the host wrote and synced, never from the replica's memory. It
// lets the harness check the durability contract of DESIGN §2 on its own
// terms: every Promise or Accepted that leaves a replica is backed by
// durable records, and a replica rebuilt from its disk promises at least
// what its disk says.
type durable struct {
	promised paxos.Ballot
	// before is the durable promise as it was before the latest sync: the
	// promise a message leaving now was made under, at the least.
	before paxos.Ballot
	// accepted: slot -> every ballot a durable accept or chosen record
	// names for it. All of them, not the latest: under group commit one
	// sync can cover an acceptance at one ballot and a later one at a
	// higher ballot, and the first acknowledgment is still true.
	accepted map[uint64][]paxos.Ballot
	snapSlot uint64
	pending  []paxos.Record // appended, not yet synced
}

func newDurable(recs []paxos.Record) *durable {
	d := &durable{accepted: map[uint64][]paxos.Ballot{}}
	d.apply(recs)
	return d
}

func (d *durable) apply(recs []paxos.Record) {
	for i := range recs {
		r := &recs[i]
		switch r.Type {
		case paxos.RecPromise:
			if d.promised.Less(r.Ballot) {
				d.promised = r.Ballot
			}
		case paxos.RecAccept, paxos.RecChosen:
			if !slices.Contains(d.accepted[r.Entry.Slot], r.Entry.Ballot) {
				d.accepted[r.Entry.Slot] = append(d.accepted[r.Entry.Slot], r.Entry.Ballot)
			}
		case paxos.RecSnapshot:
			d.snapSlot = max(d.snapSlot, r.Slot)
			for s := range d.accepted {
				if s < r.Slot {
					delete(d.accepted, s) // order-independent deletes only
				}
			}
		}
	}
}

func (d *durable) append(recs []paxos.Record) { d.pending = append(d.pending, recs...) }

func (d *durable) sync() {
	d.before = d.promised
	d.apply(d.pending)
	d.pending = d.pending[:0]
}

// rewrite replaces the log with recs. An acceptance made durable earlier
// in the same batch and superseded in recs by a higher ballot was still
// made, so what was known above the new snapshot is kept.
func (d *durable) rewrite(recs []paxos.Record) {
	old := d.accepted
	*d = durable{accepted: map[uint64][]paxos.Ballot{}, pending: d.pending[:0], before: d.promised}
	d.apply(recs)
	for slot, bs := range old { // order-independent: set union
		if slot >= d.snapSlot {
			for _, b := range bs {
				if !slices.Contains(d.accepted[slot], b) {
					d.accepted[slot] = append(d.accepted[slot], b)
				}
			}
		}
	}
}

// vouch checks a message as it leaves replica id.
func (d *durable) vouch(id paxos.ID, rep *paxos.Replica, m *paxos.Message) error {
	if m.Type == paxos.MsgAccept && len(m.Entries) > 0 && d.promised.Less(m.Ballot) {
		// A leader proposes only under a ballot its own disk promised:
		// else, after a crash, it could take that ballot again and
		// propose other values under it.
		return fmt.Errorf("replica %d sent %s before its disk promised that ballot (it promises %v)",
			id, paxos.DescribeMessage(m), d.promised)
	}
	if m.Reject || (m.Type != paxos.MsgPromise && m.Type != paxos.MsgAccepted) {
		return nil
	}
	if d.promised.Less(m.Ballot) {
		return fmt.Errorf("replica %d sent %s while its disk promises only %v", id, paxos.DescribeMessage(m), d.promised)
	}
	if m.Type != paxos.MsgAccepted {
		return nil
	}
	// An acceptor accepts nothing below what it promised. The sim host
	// drives after every input, so the promise durable before this batch
	// was in force when the value was accepted.
	if m.Ballot.Less(d.before) {
		return fmt.Errorf("replica %d sent %s below the ballot %v it had promised", id, paxos.DescribeMessage(m), d.before)
	}
	for _, s := range m.Slots {
		if slices.Contains(d.accepted[s], m.Ballot) || s < d.snapSlot {
			continue
		}
		if st, _ := rep.Slot(s); st == paxos.SlotChosen || st == paxos.SlotCleared {
			continue // acknowledging a chosen value vouches for nothing new
		}
		return fmt.Errorf("replica %d sent %s but slot %d is not durably accepted at %v", id, paxos.DescribeMessage(m), s, m.Ballot)
	}
	return nil
}

// restored checks a replica rebuilt from its disk.
func (d *durable) restored(id paxos.ID, rep *paxos.Replica) error {
	if rep.Promised().Less(d.promised) {
		return fmt.Errorf("replica %d restarted promising %v, but its disk promised %v", id, rep.Promised(), d.promised)
	}
	return nil
}
