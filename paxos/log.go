package paxos

import (
	"bytes"
	"fmt"
)

// SlotState is what a replica knows about one slot.
type SlotState uint8

const (
	SlotEmpty    SlotState = iota // nothing accepted
	SlotAccepted                  // a value accepted at some ballot, not known chosen
	SlotChosen                    // the value is chosen; it never changes again
	SlotCleared                   // below the snapshot: discarded
)

func (s SlotState) String() string {
	switch s {
	case SlotEmpty:
		return "empty"
	case SlotAccepted:
		return "accepted"
	case SlotChosen:
		return "chosen"
	case SlotCleared:
		return "cleared"
	}
	return fmt.Sprintf("SlotState(%d)", uint8(s))
}

// slot is one log position. For a chosen slot, ballot is a ballot at which a
// quorum accepted the value (the chosen ballot), which is what lets a
// follower trust a leader's piggybacked commit: same slot and ballot means
// same value.
type slot struct {
	state  SlotState
	ballot Ballot
	cmds   [][]byte
	acks   uint64 // leader only: peers (by index) that accepted at the leader's ballot
}

// slotLog holds slots [start, start+len(s)) densely; slots below start are
// cleared (covered by the snapshot).
type slotLog struct {
	start uint64
	s     []slot
}

// at returns the slot, growing the log if needed; nil if below start.
func (l *slotLog) at(n uint64) *slot {
	if n < l.start {
		return nil
	}
	i := n - l.start
	for uint64(len(l.s)) <= i {
		l.s = append(l.s, slot{})
	}
	return &l.s[i]
}

// peek returns the slot if it is held, nil otherwise; it never grows the log.
func (l *slotLog) peek(n uint64) *slot {
	if n < l.start || n-l.start >= uint64(len(l.s)) {
		return nil
	}
	return &l.s[n-l.start]
}

// end is one past the highest slot held.
func (l *slotLog) end() uint64 { return l.start + uint64(len(l.s)) }

// truncate discards every slot below n.
func (l *slotLog) truncate(n uint64) {
	if n <= l.start {
		return
	}
	if n >= l.end() {
		l.s = l.s[:0]
	} else {
		k := copy(l.s, l.s[n-l.start:])
		clear(l.s[k:])
		l.s = l.s[:k]
	}
	l.start = n
}

// lastNonEmpty is the highest slot holding a value, or start-1 if none.
func (l *slotLog) lastNonEmpty() (uint64, bool) {
	for i := len(l.s) - 1; i >= 0; i-- {
		if l.s[i].state != SlotEmpty {
			return l.start + uint64(i), true
		}
	}
	return 0, false
}

func sameCmds(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// entryBytes is what an entry adds to an encoded message; budgets use it
// to keep every packet under the codec's MaxPacketBytes.
func entryBytes(n uint64, b Ballot, cmds [][]byte) int {
	return EntryEncodedSize(Entry{Slot: n, Ballot: b, Cmds: cmds}) + 1
}
