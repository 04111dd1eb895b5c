package paxos

// outbox is what a replica has queued for its host: records to persist,
// messages to send, messages to itself that wait for those records, a
// snapshot to install, a rewrite to do. Ready hands it out and Advance
// retires what that Ready took, keeping whatever was queued after it (a
// host may Step between the two). It is kept apart from the protocol state,
// as etcd keeps its unstable log apart from raft.
type outbox struct {
	records []Record
	rewrite bool
	sync    bool
	msgs    []Message
	snap    *Snapshot
	self    []Message // messages to self, stepped once the records are durable
	// committed is Ready.Committed's buffer, reused after Advance.
	committed []Entry

	// Each request for a sync, rewrite or snapshot install bumps its
	// counter; handed is what the last Ready took, so Advance retires that
	// and keeps whatever came after it.
	syncSeq, rewriteSeq, snapSeq uint64
	handed                       handedOut
	// outstanding is set from Ready to Advance: the host holds a Ready.
	outstanding bool
	// retiredSync is the sync counter the last retired Ready covered:
	// every sync requested up to it is durable.
	retiredSync uint64
}

// handedOut is what one Ready handed to the host.
type handedOut struct {
	records, msgs, self          int
	syncSeq, rewriteSeq, snapSeq uint64
	commit                       uint64 // the chosen prefix Committed ran up to
}

// persist queues a record; sync says it must be durable before any message
// that vouches for it leaves.
func (o *outbox) persist(rec Record, sync bool) {
	o.records = append(o.records, rec)
	if sync {
		o.sync = true
		o.syncSeq++
	}
}

// send queues a message to a peer.
func (o *outbox) send(m Message) { o.msgs = append(o.msgs, m) }

// sendSelf queues a message to this replica, stepped at the next Advance
// that retires the records queued before it.
func (o *outbox) sendSelf(m Message) { o.self = append(o.self, m) }

// requestRewrite asks the host to replace its durable log with
// DurableState.
func (o *outbox) requestRewrite() {
	o.rewrite = true
	o.rewriteSeq++
}

// offerSnapshot asks the host to install s. It keeps its own copy: a Ready
// that handed out an earlier snapshot must keep pointing at that one even
// if another is offered before its Advance.
func (o *outbox) offerSnapshot(s Snapshot) {
	o.snap = &s
	o.snapSeq++
}

// hasWork reports whether anything but committed entries waits for a Ready.
func (o *outbox) hasWork() bool {
	return len(o.records) > 0 || o.rewrite || len(o.msgs) > 0 || o.snap != nil || len(o.self) > 0
}

// take hands out everything queued, with the committed entries from
// applied up to commit, and remembers how much it handed out.
func (o *outbox) take(l *slotLog, applied, commit uint64) Ready {
	assert(!o.outstanding, "Ready called again before Advance")
	o.outstanding = true
	rd := Ready{
		Records:  o.records,
		Rewrite:  o.rewrite,
		Sync:     o.sync || o.rewrite,
		Messages: o.msgs,
		Snapshot: o.snap,
	}
	o.handed = handedOut{records: len(o.records), msgs: len(o.msgs), self: len(o.self),
		syncSeq: o.syncSeq, rewriteSeq: o.rewriteSeq, snapSeq: o.snapSeq, commit: commit}
	if commit > applied {
		c := o.committed[:0]
		for n := applied; n < commit; n++ {
			s := l.peek(n)
			// Paired with advanceCommit, which moves only over chosen
			// slots, and Compact, which discards only applied ones.
			assert(s != nil && s.state == SlotChosen, "slot %d below commit %d is handed out to apply but not held chosen", n, commit)
			c = append(c, Entry{Slot: n, Ballot: s.ballot, Cmds: s.cmds})
		}
		rd.Committed, o.committed = c, c
	}
	return rd
}

// retire drops what the last Ready handed out and returns the commit it
// handed out to and the messages to self it released, which the caller
// steps now that the records before them are durable.
func (o *outbox) retire() (commit uint64, self []Message) {
	assert(o.outstanding, "Advance called without a Ready")
	o.outstanding = false
	h := o.handed
	o.handed = handedOut{}
	o.retiredSync = h.syncSeq
	// Nothing but Advance removes from the queues.
	assert(h.records <= len(o.records) && h.msgs <= len(o.msgs) && h.self <= len(o.self),
		"Advance retires more than is queued: records %d/%d msgs %d/%d self %d/%d",
		h.records, len(o.records), h.msgs, len(o.msgs), h.self, len(o.self))
	o.records = retire(o.records, h.records)
	o.msgs = retire(o.msgs, h.msgs)
	clear(o.committed)
	o.committed = o.committed[:0]
	// A flag stays up if it was raised again after the Ready.
	o.sync = o.syncSeq != h.syncSeq
	o.rewrite = o.rewriteSeq != h.rewriteSeq
	if o.snapSeq == h.snapSeq {
		o.snap = nil
	}
	self = o.self[:h.self:h.self]
	o.self = append([]Message(nil), o.self[h.self:]...)
	if len(o.self) == 0 {
		o.self = nil
	}
	return h.commit, self
}

// retire drops the first n elements of s, keeping the rest (and the
// backing array) for the next Ready.
func retire[T any](s []T, n int) []T {
	k := copy(s, s[n:])
	clear(s[k:])
	return s[:k]
}
