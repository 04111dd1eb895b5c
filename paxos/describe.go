package paxos

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// Stable one-line printers for messages, entries and records, shared by
// traces, logs and golden tests. The output is a function of the value
// alone, so golden files and trace hashes stay put; changing a format is a
// change to every golden file, so do it on purpose.
//
// Notation:
//
//	1->3 Accept b=2.1 c=7 [s7:b2.1:2cmds s8:b2.1:noop]
//	2->1 Promise b=2.1 rej=false c=5 more=false [s5:b1.1:1cmd]
//	3->1 Accepted b=2.1 rej=false slots=[7-12 15]
//	s7:b2.1:[6c6f636b~40B 01]     (DescribeEntry: slot, ballot, commands)
//
// A command prints as the hex of its first commandPrefixBytes bytes, then
// ~ and its length if it is longer; lists past their print limit end in
// ...+N, N being how many more items there are. Runs of three or more
// consecutive slots print as first-last.
const (
	describeEntriesMax = 8
	describeCmdsMax    = 4
	describeSlotsMax   = 16
	commandPrefixBytes = 4
)

// DescribeMessage returns m on one line, showing the fields m.Type uses.
// An unknown type prints every field.
func DescribeMessage(m *Message) string {
	var b strings.Builder
	b.Grow(64)
	writeUint(&b, uint64(m.From))
	b.WriteString("->")
	writeUint(&b, uint64(m.To))
	b.WriteByte(' ')
	b.WriteString(m.Type.String())
	switch m.Type {
	case MsgPrepare:
		writeBallot(&b, m.Ballot)
		writeField(&b, "s", m.Slot)
	case MsgPromise:
		writeBallot(&b, m.Ballot)
		writeBool(&b, "rej", m.Reject)
		writeField(&b, "c", m.Commit)
		writeBool(&b, "more", m.More)
		writeEntries(&b, m.Entries)
	case MsgAccept:
		writeBallot(&b, m.Ballot)
		writeField(&b, "c", m.Commit)
		writeEntries(&b, m.Entries)
	case MsgAccepted:
		writeBallot(&b, m.Ballot)
		writeBool(&b, "rej", m.Reject)
		writeSlots(&b, m.Slots)
	case MsgHeartbeat:
		writeBallot(&b, m.Ballot)
		writeField(&b, "c", m.Commit)
	case MsgHeartbeatAck:
		writeBallot(&b, m.Ballot)
		writeBool(&b, "rej", m.Reject)
		writeField(&b, "c", m.Commit)
	case MsgForward:
		if len(m.Entries) == 1 {
			b.WriteString(" cmds=")
			writeCmds(&b, m.Entries[0].Cmds)
		} else {
			writeEntries(&b, m.Entries)
		}
	case MsgCatchup:
		writeField(&b, "s", m.Slot)
	case MsgChosen:
		writeField(&b, "c", m.Commit)
		writeEntries(&b, m.Entries)
	case MsgPreVote:
		writeBallot(&b, m.Ballot)
		writeField(&b, "c", m.Commit)
	case MsgPreVoteAck:
		writeBallot(&b, m.Ballot)
		writeBool(&b, "rej", m.Reject)
	case MsgSnapshot:
		writeField(&b, "s", m.Slot)
		writeField(&b, "off", m.Offset)
		writeField(&b, "total", m.Total)
		writeLen(&b, "data", len(m.Data))
	default:
		writeBallot(&b, m.Ballot)
		writeField(&b, "s", m.Slot)
		writeField(&b, "c", m.Commit)
		writeBool(&b, "rej", m.Reject)
		writeBool(&b, "more", m.More)
		writeEntries(&b, m.Entries)
		writeSlots(&b, m.Slots)
		writeField(&b, "off", m.Offset)
		writeField(&b, "total", m.Total)
		writeLen(&b, "data", len(m.Data))
	}
	return b.String()
}

// DescribeEntry returns e as slot:ballot:commands, for example
// s7:b2.1:[6c6f636b~40B 01] or s8:b2.1:noop.
func DescribeEntry(e Entry) string {
	var b strings.Builder
	writeEntryHead(&b, e)
	b.WriteByte(':')
	if e.IsNoop() {
		b.WriteString("noop")
	} else {
		writeCmds(&b, e.Cmds)
	}
	return b.String()
}

// DescribeRecord returns r on one line, for example "Promise b=2.1",
// "Accept s7:b2.1:[6c6f636b~40B]", "Chosen s7:b2.1" or
// "Snapshot s=100 data=1024B". An unknown type prints every field.
func DescribeRecord(r *Record) string {
	var b strings.Builder
	b.WriteString(r.Type.String())
	switch r.Type {
	case RecPromise:
		writeBallot(&b, r.Ballot)
	case RecAccept:
		b.WriteByte(' ')
		b.WriteString(DescribeEntry(r.Entry))
	case RecChosen:
		// A chosen record names its slot and ballot; commands, if any,
		// print too, but an empty list is not shown as a no-op.
		b.WriteByte(' ')
		if len(r.Entry.Cmds) == 0 {
			writeEntryHead(&b, r.Entry)
		} else {
			b.WriteString(DescribeEntry(r.Entry))
		}
	case RecSnapshot:
		writeField(&b, "s", r.Slot)
		writeLen(&b, "data", len(r.Data))
	case RecHost:
		writeLen(&b, "data", len(r.Data))
	default:
		writeBallot(&b, r.Ballot)
		b.WriteByte(' ')
		b.WriteString(DescribeEntry(r.Entry))
		writeField(&b, "s", r.Slot)
		writeLen(&b, "data", len(r.Data))
	}
	return b.String()
}

func writeUint(b *strings.Builder, v uint64) {
	var buf [20]byte
	b.Write(strconv.AppendUint(buf[:0], v, 10))
}

// writeField writes " name=v".
func writeField(b *strings.Builder, name string, v uint64) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteByte('=')
	writeUint(b, v)
}

func writeBallot(b *strings.Builder, bal Ballot) {
	b.WriteString(" b=")
	writeUint(b, bal.Round)
	b.WriteByte('.')
	writeUint(b, uint64(bal.Node))
}

func writeBool(b *strings.Builder, name string, v bool) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(strconv.FormatBool(v))
}

// writeLen writes " name=NB".
func writeLen(b *strings.Builder, name string, n int) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteByte('=')
	writeUint(b, uint64(n))
	b.WriteByte('B')
}

// writeEntryHead writes "sSLOT:bROUND.NODE".
func writeEntryHead(b *strings.Builder, e Entry) {
	b.WriteByte('s')
	writeUint(b, e.Slot)
	b.WriteString(":b")
	writeUint(b, e.Ballot.Round)
	b.WriteByte('.')
	writeUint(b, uint64(e.Ballot.Node))
}

// writeEntries writes " [s7:b2.1:2cmds s8:b2.1:noop ...+N]": in a message
// an entry shows its command count, not its commands.
func writeEntries(b *strings.Builder, es []Entry) {
	b.WriteString(" [")
	for i, e := range es {
		if i == describeEntriesMax {
			b.WriteString(" ...+")
			writeUint(b, uint64(len(es)-i))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		writeEntryHead(b, e)
		b.WriteByte(':')
		switch len(e.Cmds) {
		case 0:
			b.WriteString("noop")
		case 1:
			b.WriteString("1cmd")
		default:
			writeUint(b, uint64(len(e.Cmds)))
			b.WriteString("cmds")
		}
	}
	b.WriteByte(']')
}

// writeCmds writes "[6c6f636b~20B 0102 ...+N]".
func writeCmds(b *strings.Builder, cmds [][]byte) {
	b.WriteByte('[')
	for i, c := range cmds {
		if i == describeCmdsMax {
			b.WriteString(" ...+")
			writeUint(b, uint64(len(cmds)-i))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		if len(c) > commandPrefixBytes {
			b.WriteString(hex.EncodeToString(c[:commandPrefixBytes]))
		} else {
			b.WriteString(hex.EncodeToString(c))
		}
		if len(c) > commandPrefixBytes || len(c) == 0 {
			b.WriteByte('~')
			writeUint(b, uint64(len(c)))
			b.WriteByte('B')
		}
	}
	b.WriteByte(']')
}

// writeSlots writes " slots=[7-10 12 14-16 ...+N]": runs of three or more
// consecutive slots collapse to first-last; the limit counts printed items.
func writeSlots(b *strings.Builder, slots []uint64) {
	b.WriteString(" slots=[")
	items := 0
	for i := 0; i < len(slots); {
		j := i
		for j+1 < len(slots) && slots[j+1] == slots[j]+1 && slots[j+1] != 0 {
			j++
		}
		if items == describeSlotsMax {
			b.WriteString(" ...+")
			writeUint(b, uint64(len(slots)-i))
			break
		}
		if items > 0 {
			b.WriteByte(' ')
		}
		if j-i >= 2 {
			writeUint(b, slots[i])
			b.WriteByte('-')
			writeUint(b, slots[j])
			i = j + 1
		} else {
			writeUint(b, slots[i])
			i++
		}
		items++
	}
	b.WriteByte(']')
}
