package lockmgr

import "container/heap"

// session is a client's at-most-once record.
type session struct {
	id       ClientID
	seq      uint64 // latest request applied; 0 before the first
	result   Result // its answer
	lastSlot uint64 // slot of the client's latest applied command (eviction age)

	// Derived from the lock table, rebuilt on restore, never encoded.
	holds    int    // number of locks held
	waitName string // the lock waited for while result.Status == Queued
	heapIdx  int    // index in StateMachine.idle, -1 while pinned
}

// pinned reports whether evicting s would strand a lock or a grant.
func (s *session) pinned() bool { return s.holds > 0 || s.result.Status == Queued }

// newSession creates the record of an unknown client, first making room by
// evicting the least recently active idle clients while the table is full.
// It may take several: the table overflows while many clients are pinned and
// shrinks back here once they are idle again.
func (s *StateMachine) newSession(id ClientID) *session {
	for len(s.sessions) >= s.cfg.maxClients() && s.idle.Len() > 0 {
		old := heap.Pop(&s.idle).(*session)
		delete(s.sessions, old.id)
	}
	sess := &session{id: id, heapIdx: -1}
	s.sessions[id] = sess
	return sess
}

// touch records activity of sess at slot and moves it in or out of the
// eviction heap according to whether it is now pinned.
func (s *StateMachine) touch(sess *session, slot uint64) {
	sess.lastSlot = slot
	s.reindex(sess)
}

func (s *StateMachine) reindex(sess *session) {
	switch {
	case sess.pinned() && sess.heapIdx >= 0:
		heap.Remove(&s.idle, sess.heapIdx)
	case sess.pinned():
	case sess.heapIdx >= 0:
		heap.Fix(&s.idle, sess.heapIdx)
	default:
		heap.Push(&s.idle, sess)
	}
}

// idleHeap orders unpinned sessions by (lastSlot, id): the order is a pure
// function of the replicated state, so a restored replica evicts the same
// clients as one that never restarted.
type idleHeap []*session

func (h idleHeap) Len() int { return len(h) }

func (h idleHeap) Less(i, j int) bool {
	if h[i].lastSlot != h[j].lastSlot {
		return h[i].lastSlot < h[j].lastSlot
	}
	return h[i].id < h[j].id
}

func (h idleHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}

func (h *idleHeap) Push(x any) {
	sess := x.(*session)
	sess.heapIdx = len(*h)
	*h = append(*h, sess)
}

func (h *idleHeap) Pop() any {
	old := *h
	sess := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	sess.heapIdx = -1
	return sess
}
