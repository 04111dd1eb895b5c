package check

import (
	"paxlock/paxos"
)

// Durability follows what each replica's storage holds durably, built
// from the records the host wrote and synced, never from the replica's
// memory, and checks the durability contract: whatever a replica promises
// or accepts is on its disk before any message that vouches for it
// leaves, a leader proposes only under a ballot its own disk promised,
// and no replica acts below the promise its disk holds (not even after a
// restart that read that disk back).
type Durability struct {
	disks []disk // per replica (id-1)
	// chosen tells whether a slot is chosen (Consensus.Chosen): an
	// acknowledgment of a chosen value vouches for nothing new.
	chosen func(slot uint64) (uint64, bool)
	err    *Failure
}

// disk is one replica's durable state as its records say.
type disk struct {
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
	violation string
}

// NewDurability follows replicas 1..n; chosen reports chosen slots.
func NewDurability(n int, chosen func(slot uint64) (uint64, bool)) *Durability {
	return &Durability{disks: make([]disk, n), chosen: chosen}
}

// Err is the first failure found, or nil.
func (d *Durability) Err() *Failure { return d.err }

func (d *Durability) fail(id paxos.ID, format string, args ...any) {
	if d.err == nil {
		d.err = failf(FailDurability, "replica %d "+format, append([]any{id}, args...)...)
	}
}

// Booted: replica id restarted from what its disk held.
func (d *Durability) Booted(id paxos.ID, recs []paxos.Record) {
	k := &d.disks[id-1]
	w := k.accepted
	w.b = w.b[:0]
	*k = disk{accepted: w, pending: k.pending[:0]}
	k.apply(recs, false)
	k.before = k.promised
}

// Appended: records written, durable once synced.
func (d *Durability) Appended(id paxos.ID, recs []paxos.Record) {
	k := &d.disks[id-1]
	k.pending = append(k.pending, recs...)
}

// Synced: the appended records are durable.
func (d *Durability) Synced(id paxos.ID) {
	k := &d.disks[id-1]
	k.before = k.promised
	k.apply(k.pending, true)
	clear(k.pending)
	k.pending = k.pending[:0]
	if k.violation != "" {
		d.fail(id, "%s", k.violation)
	}
}

// Rewrote: the log is now recs (the replica's whole durable state).
func (d *Durability) Rewrote(id paxos.ID, recs []paxos.Record) {
	k := &d.disks[id-1]
	w := k.accepted
	w.b = w.b[:0] // the window's array is reused
	*k = disk{accepted: w, pending: k.pending[:0], before: k.promised}
	k.apply(recs, false)
}

// apply folds records into the durable view. For records the replica
// appended (ordered), it also checks that no acceptance comes after a
// promise above it; a rewrite lists the promise first and older
// acceptances after it, so it is not checked.
func (k *disk) apply(recs []paxos.Record, ordered bool) {
	for i := range recs {
		r := &recs[i]
		switch r.Type {
		case paxos.RecPromise:
			if ballotLess(k.promised, r.Ballot) {
				k.promised = r.Ballot
			}
		case paxos.RecAccept:
			if ordered && ballotLess(r.Entry.Ballot, k.promised) && k.violation == "" {
				k.violation = "accepted " + paxos.DescribeEntry(r.Entry) + " below its promise " + fmtBallot(k.promised)
			}
			k.noteAccepted(r.Entry.Slot, r.Entry.Ballot)
		case paxos.RecChosen:
			k.noteAccepted(r.Entry.Slot, r.Entry.Ballot)
		case paxos.RecSnapshot:
			k.snapSlot = max(k.snapSlot, r.Slot)
			k.accepted.dropBelow(r.Slot)
		}
	}
}

func (k *disk) noteAccepted(slot uint64, b paxos.Ballot) {
	if cur, ok := k.accepted.get(slot); !ok || ballotLess(cur, b) {
		k.accepted.set(slot, b)
	}
}

// Sent checks a message as it leaves replica id.
func (d *Durability) Sent(id paxos.ID, m *paxos.Message) {
	if d.err == nil {
		d.err = d.judgeSent(id, m, d.chosen)
	}
}

// judgeSent is Sent's judgement, without recording it: a failure, or nil.
// chosen answers which slots are chosen (d's own, or, for a durability
// checker shared between copies of the checkers, the asking copy's).
func (d *Durability) judgeSent(id paxos.ID, m *paxos.Message, chosen func(uint64) (uint64, bool)) *Failure {
	k := &d.disks[id-1]
	fail := func(format string, args ...any) *Failure {
		return failf(FailDurability, "replica %d "+format, append([]any{id}, args...)...)
	}
	if m.Type == paxos.MsgAccept && len(m.Entries) > 0 && ballotLess(k.promised, m.Ballot) {
		// A leader proposes only under a ballot its own disk promised:
		// else, after a crash, it could take that ballot again and
		// propose other values under it.
		return fail("sent %s before its disk promised that ballot (it promises %s)", paxos.DescribeMessage(m), fmtBallot(k.promised))
	}
	if m.Reject || (m.Type != paxos.MsgPromise && m.Type != paxos.MsgAccepted) {
		return nil
	}
	if ballotLess(k.promised, m.Ballot) {
		return fail("sent %s while its disk promises only %s", paxos.DescribeMessage(m), fmtBallot(k.promised))
	}
	if ballotLess(m.Ballot, k.before) {
		// Made under a promise below one already on the disk before this
		// sync (a promise raised in the same batch is fine: the message
		// was true when made).
		return fail("sent %s below the ballot %s it had promised", paxos.DescribeMessage(m), fmtBallot(k.before))
	}
	if m.Type == paxos.MsgPromise {
		return nil
	}
	for _, s := range m.Slots {
		if b, ok := k.accepted.get(s); ok && !ballotLess(b, m.Ballot) || s < k.snapSlot {
			continue
		}
		if _, ok := chosen(s); ok {
			continue // acknowledging a chosen value vouches for nothing new
		}
		return fail("sent %s but slot %d is not durably accepted at %s or above", paxos.DescribeMessage(m), s, fmtBallot(m.Ballot))
	}
	return nil
}

// ballots maps slots to ballots over a dense window of slots [base,
// base+len(b)), like a replica's log; a zero ballot is no entry (no value
// is ever accepted at ballot zero).
type ballots struct {
	base uint64
	b    []paxos.Ballot
}

func (w *ballots) get(slot uint64) (paxos.Ballot, bool) {
	if slot < w.base || slot-w.base >= uint64(len(w.b)) {
		return paxos.Ballot{}, false
	}
	v := w.b[slot-w.base]
	return v, !ballotZero(v)
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
