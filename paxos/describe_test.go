package paxos

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"
)

func TestDescribeMessage(t *testing.T) {
	b21 := Ballot{Round: 2, Node: 1}
	cmd := []byte("lock 7 from client 3")
	tests := []struct {
		m    Message
		want string
	}{
		{Message{Type: MsgPrepare, From: 2, To: 1, Ballot: Ballot{Round: 3, Node: 2}, Slot: 5},
			"2->1 Prepare b=3.2 s=5"},
		{Message{Type: MsgPromise, From: 2, To: 1, Ballot: b21, Commit: 5,
			Entries: []Entry{{Slot: 5, Ballot: Ballot{Round: 1, Node: 1}, Cmds: [][]byte{cmd}}, {Slot: 6, Ballot: b21}}},
			"2->1 Promise b=2.1 rej=false c=5 more=false [s5:b1.1:1cmd s6:b2.1:noop]"},
		{Message{Type: MsgPromise, From: 2, To: 1, Ballot: Ballot{Round: 4, Node: 3}, Reject: true},
			"2->1 Promise b=4.3 rej=true c=0 more=false []"},
		{Message{Type: MsgAccept, From: 1, To: 3, Ballot: b21, Commit: 7,
			Entries: []Entry{{Slot: 7, Ballot: b21, Cmds: [][]byte{cmd, cmd}}, {Slot: 8, Ballot: b21}}},
			"1->3 Accept b=2.1 c=7 [s7:b2.1:2cmds s8:b2.1:noop]"},
		{Message{Type: MsgAccept, From: 1, To: 3, Ballot: b21, Commit: 7, Entries: make([]Entry, 11)},
			"1->3 Accept b=2.1 c=7 [s0:b0.0:noop s0:b0.0:noop s0:b0.0:noop s0:b0.0:noop s0:b0.0:noop s0:b0.0:noop s0:b0.0:noop s0:b0.0:noop ...+3]"},
		{Message{Type: MsgAccepted, From: 3, To: 1, Ballot: b21, Slots: []uint64{7, 8}},
			"3->1 Accepted b=2.1 rej=false slots=[7 8]"},
		{Message{Type: MsgAccepted, From: 3, To: 1, Ballot: b21, Slots: []uint64{7, 8, 9, 10, 12, 14, 15, 16}},
			"3->1 Accepted b=2.1 rej=false slots=[7-10 12 14-16]"},
		{Message{Type: MsgAccepted, From: 3, To: 1, Ballot: b21, Slots: []uint64{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 34, 35}},
			"3->1 Accepted b=2.1 rej=false slots=[1 3 5 7 9 11 13 15 17 19 21 23 25 27 29 31 ...+3]"},
		{Message{Type: MsgAccepted, From: 3, To: 1, Ballot: b21, Slots: []uint64{^uint64(0) - 1, ^uint64(0), 0}},
			"3->1 Accepted b=2.1 rej=false slots=[18446744073709551614 18446744073709551615 0]"},
		{Message{Type: MsgHeartbeat, From: 1, To: 2, Ballot: b21, Commit: 9},
			"1->2 Heartbeat b=2.1 c=9"},
		{Message{Type: MsgHeartbeatAck, From: 2, To: 1, Ballot: b21, Commit: 8},
			"2->1 HeartbeatAck b=2.1 rej=false c=8"},
		{Message{Type: MsgForward, From: 2, To: 1, Entries: []Entry{{Cmds: [][]byte{cmd, {1, 2}, {}, cmd, cmd, cmd}}}},
			"2->1 Forward cmds=[6c6f636b~20B 0102 ~0B 6c6f636b~20B ...+2]"},
		{Message{Type: MsgCatchup, From: 2, To: 1, Slot: 40},
			"2->1 Catchup s=40"},
		{Message{Type: MsgChosen, From: 1, To: 2, Commit: 42, Entries: []Entry{{Slot: 40, Ballot: b21, Cmds: [][]byte{cmd}}}},
			"1->2 Chosen c=42 [s40:b2.1:1cmd]"},
		{Message{Type: MsgSnapshot, From: 1, To: 2, Slot: 100, Offset: 1024, Total: 4096, Data: make([]byte, 1024)},
			"1->2 Snapshot s=100 off=1024 total=4096 data=1024B"},
		{Message{Type: 99, From: 1, To: 2},
			"1->2 MsgType(99) b=0.0 s=0 c=0 rej=false more=false [] slots=[] off=0 total=0 data=0B"},
	}
	for _, tt := range tests {
		if got := DescribeMessage(&tt.m); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestDescribeEntry(t *testing.T) {
	b21 := Ballot{Round: 2, Node: 1}
	tests := []struct {
		e    Entry
		want string
	}{
		{Entry{Slot: 8, Ballot: b21}, "s8:b2.1:noop"},
		{Entry{Slot: 7, Ballot: b21, Cmds: [][]byte{[]byte("lock 1"), {0xde, 0xad}}}, "s7:b2.1:[6c6f636b~6B dead]"},
		{Entry{Slot: 7, Ballot: b21, Cmds: make([][]byte, 9)}, "s7:b2.1:[~0B ~0B ~0B ~0B ...+5]"},
	}
	for _, tt := range tests {
		if got := DescribeEntry(tt.e); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestDescribeRecord(t *testing.T) {
	b21 := Ballot{Round: 2, Node: 1}
	tests := []struct {
		r    Record
		want string
	}{
		{Record{Type: RecPromise, Ballot: b21}, "Promise b=2.1"},
		{Record{Type: RecAccept, Entry: Entry{Slot: 7, Ballot: b21, Cmds: [][]byte{[]byte("lock 1")}}}, "Accept s7:b2.1:[6c6f636b~6B]"},
		{Record{Type: RecAccept, Entry: Entry{Slot: 8, Ballot: b21}}, "Accept s8:b2.1:noop"},
		{Record{Type: RecChosen, Entry: Entry{Slot: 7, Ballot: b21}}, "Chosen s7:b2.1"},
		{Record{Type: RecSnapshot, Slot: 100, Data: make([]byte, 77)}, "Snapshot s=100 data=77B"},
		{Record{Type: 0}, "RecordType(0) b=0.0 s0:b0.0:noop s=0 data=0B"},
	}
	for _, tt := range tests {
		if got := DescribeRecord(&tt.r); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

// Describing is a pure function of the value: a message and its decoded
// copy describe the same way, and nothing prints raw command bytes.
func TestDescribeDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMessage().Draw(t, "m")
		var got Message
		if err := DecodeMessage(AppendMessage(nil, m), &got); err != nil {
			t.Fatal(err)
		}
		d := DescribeMessage(m)
		if d2 := DescribeMessage(&got); d2 != d {
			t.Fatalf("describe differs after a round trip:\n%s\n%s", d, d2)
		}
		if bytes.ContainsAny([]byte(d), "\n\x00") {
			t.Fatalf("describe is not one printable line: %q", d)
		}
	})
}
