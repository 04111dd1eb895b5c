package scenarios

import (
	"fmt"

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
	// before is the durable promise as it was before the latest sync. A
	// value acknowledged now was accepted under an in-memory promise at
	// least this high, with or without group commit.
	before paxos.Ballot
	// accepted: slot -> the highest ballot a durable accept or chosen
	// record names for it. An acknowledgment at ballot b is backed when
	// the disk holds the slot at b or higher: under group commit a later,
	// higher acceptance in the same batch may replace the first before it
	// reaches the disk, and the durable higher one dominates it (any
	// proposal above a chosen ballot carries the chosen value).
	accepted ballots
	snapSlot uint64
	pending  []paxos.Record // appended, not yet synced
	// violation is the first record the replica wrote that it must not
	// have: an acceptance below a promise it had already written.
	violation error
}

func newDurable(recs []paxos.Record) *durable {
	d := &durable{}
	d.apply(recs, false)
	return d
}

// apply folds records into the durable view. For records the replica
// appended (ordered), it also checks that no acceptance comes after a
// promise above it; a rewrite lists the promise first and older
// acceptances after it, so it is not checked.
func (d *durable) apply(recs []paxos.Record, ordered bool) {
	for i := range recs {
		r := &recs[i]
		switch r.Type {
		case paxos.RecPromise:
			if d.promised.Less(r.Ballot) {
				d.promised = r.Ballot
			}
		case paxos.RecAccept:
			if ordered && r.Entry.Ballot.Less(d.promised) && d.violation == nil {
				d.violation = fmt.Errorf("accepted %s below its promise %v", paxos.DescribeEntry(r.Entry), d.promised)
			}
			d.noteAccepted(r.Entry.Slot, r.Entry.Ballot)
		case paxos.RecChosen:
			d.noteAccepted(r.Entry.Slot, r.Entry.Ballot)
		case paxos.RecSnapshot:
			d.snapSlot = max(d.snapSlot, r.Slot)
			d.accepted.dropBelow(r.Slot)
		}
	}
}

func (d *durable) noteAccepted(slot uint64, b paxos.Ballot) {
	if cur, ok := d.accepted.get(slot); !ok || cur.Less(b) {
		d.accepted.set(slot, b)
	}
}

// ballots maps slots to ballots over a dense window of slots [base,
// base+len(b)), like the replica's own log; a zero ballot is no entry (no
// value is ever accepted at ballot zero).
type ballots struct {
	base uint64
	b    []paxos.Ballot
}

func (w *ballots) get(slot uint64) (paxos.Ballot, bool) {
	if slot < w.base || slot-w.base >= uint64(len(w.b)) {
		return paxos.Ballot{}, false
	}
	v := w.b[slot-w.base]
	return v, !v.IsZero()
}

func (w *ballots) set(slot uint64, v paxos.Ballot) {
	if len(w.b) == 0 {
		w.base = slot
	}
	if slot < w.base { // below the window: widen it downwards
		grown := make([]paxos.Ballot, int(w.base-slot)+len(w.b))
		copy(grown[w.base-slot:], w.b)
		w.b, w.base = grown, slot
	}
	for uint64(len(w.b)) <= slot-w.base {
		w.b = append(w.b, paxos.Ballot{})
	}
	w.b[slot-w.base] = v
}

// dropBelow forgets every slot below s.
func (w *ballots) dropBelow(s uint64) {
	if s <= w.base {
		return
	}
	if n := s - w.base; n >= uint64(len(w.b)) {
		w.b = w.b[:0]
	} else {
		k := copy(w.b, w.b[n:])
		w.b = w.b[:k]
	}
	w.base = s
}

func (d *durable) append(recs []paxos.Record) { d.pending = append(d.pending, recs...) }

func (d *durable) sync() {
	d.before = d.promised
	d.apply(d.pending, true)
	d.pending = d.pending[:0]
}

// rewrite replaces the log with recs (the replica's whole durable state).
func (d *durable) rewrite(recs []paxos.Record) {
	w := d.accepted
	w.b = w.b[:0] // the window's array is reused
	*d = durable{accepted: w, pending: d.pending[:0], violation: d.violation, before: d.promised}
	d.apply(recs, false)
}

// vouch checks a message as it leaves replica id.
func (d *durable) vouch(id paxos.ID, rep *paxos.Replica, m *paxos.Message) error {
	if d.violation != nil {
		return fmt.Errorf("replica %d %v", id, d.violation)
	}
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
	if m.Ballot.Less(d.before) {
		return fmt.Errorf("replica %d sent %s below the ballot %v it had promised", id, paxos.DescribeMessage(m), d.before)
	}
	for _, s := range m.Slots {
		if b, ok := d.accepted.get(s); ok && !b.Less(m.Ballot) || s < d.snapSlot {
			continue
		}
		if st, _ := rep.Slot(s); st == paxos.SlotChosen || st == paxos.SlotCleared {
			continue // acknowledging a chosen value vouches for nothing new
		}
		return fmt.Errorf("replica %d sent %s but slot %d is not durably accepted at %v or above", id, paxos.DescribeMessage(m), s, m.Ballot)
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
