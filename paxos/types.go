// Package paxos is a sans-IO Multi-Paxos replica over opaque commands.
//
// A Replica is a pure state machine in the style of etcd's raft: time arrives
// as Tick calls, network input as Step, client commands as Propose, and every
// effect leaves through Ready: records to make durable, messages to send,
// chosen entries to apply. The host makes the records durable, sends the
// messages, applies the entries and then calls Advance. The package has no
// goroutines, no clock, no sockets and no files; its only randomness is the
// seeded source injected through Config.
//
// It is not a lock service and knows nothing about what a command means: a
// command is a byte string, a slot's value is a batch of commands, and the
// application supplies snapshots as opaque bytes.
package paxos

import "fmt"

// ID names a replica. Replicas of a group are numbered 1..N; 0 means none.
type ID uint32

// Ballot orders proposals: by round first, then by the proposing replica, so
// that two replicas never use the same ballot. The zero Ballot is below every
// ballot any replica uses.
type Ballot struct {
	Round uint64
	Node  ID
}

// Less reports whether b orders strictly before o.
func (b Ballot) Less(o Ballot) bool {
	if b.Round != o.Round {
		return b.Round < o.Round
	}
	return b.Node < o.Node
}

// IsZero reports whether b is the zero ballot (never promised anything).
func (b Ballot) IsZero() bool { return b.Round == 0 && b.Node == 0 }

func (b Ballot) String() string { return fmt.Sprintf("%d.%d", b.Round, b.Node) }

// Entry is one slot's value: a batch of commands accepted at a ballot. An
// empty batch is a no-op, which a new leader uses to fill holes.
type Entry struct {
	Slot   uint64
	Ballot Ballot
	Cmds   [][]byte
}

// IsNoop reports whether the entry carries no command.
func (e Entry) IsNoop() bool { return len(e.Cmds) == 0 }

// MsgType tags a Message. The numbering is part of the wire format: never
// renumber, only append.
type MsgType uint8

const (
	// MsgPrepare is phase 1a: Ballot, and Slot = the first slot the candidate
	// does not know to be chosen. One Prepare covers every slot from there on.
	MsgPrepare MsgType = 1
	// MsgPromise is phase 1b. Reject=false: the sender promised Ballot and
	// lists its accepted entries from the Prepare's Slot on (Entries), with
	// Commit = its own chosen prefix. If the entries did not fit, More is set
	// and the candidate asks again from the slot after the last entry.
	// Reject=true: Ballot is the higher ballot the sender already promised.
	MsgPromise MsgType = 2
	// MsgAccept is phase 2a: Ballot and Entries to accept, and Commit, the
	// leader's chosen prefix (piggybacked commit).
	MsgAccept MsgType = 3
	// MsgAccepted is phase 2b: the sender accepted Ballot for the slots in
	// Slots. Reject=true: Ballot is the higher ballot the sender promised.
	MsgAccepted MsgType = 4
	// MsgHeartbeat is the leader's liveness signal: Ballot and Commit.
	MsgHeartbeat MsgType = 5
	// MsgHeartbeatAck answers a heartbeat: Ballot, and Commit = the sender's
	// own chosen prefix, so the leader knows who lags. Reject=true: Ballot is
	// a higher promise that the leader must yield to.
	MsgHeartbeatAck MsgType = 6
	// MsgForward carries client commands (Entries[0].Cmds) from a replica
	// that is not the leader to the one it believes is.
	MsgForward MsgType = 7
	// MsgCatchup asks for chosen entries from Slot on.
	MsgCatchup MsgType = 8
	// MsgChosen answers MsgCatchup with chosen entries (their ballots are the
	// ballots they were chosen at) and Commit = the sender's chosen prefix.
	MsgChosen MsgType = 9
	// MsgSnapshot carries a chunk of the sender's snapshot: the state after
	// applying every slot below Slot; Offset and Total place Data in it.
	MsgSnapshot MsgType = 10
	// MsgPreVote asks, before an election, whether the receiver would
	// promise Ballot: it changes nothing at the receiver.
	MsgPreVote MsgType = 11
	// MsgPreVoteAck answers it; Reject=true if the receiver still hears a
	// live leader or promised higher.
	MsgPreVoteAck MsgType = 12
)

var msgTypeNames = [...]string{
	MsgPrepare:      "Prepare",
	MsgPromise:      "Promise",
	MsgAccept:       "Accept",
	MsgAccepted:     "Accepted",
	MsgHeartbeat:    "Heartbeat",
	MsgHeartbeatAck: "HeartbeatAck",
	MsgForward:      "Forward",
	MsgCatchup:      "Catchup",
	MsgChosen:       "Chosen",
	MsgSnapshot:     "Snapshot",
	MsgPreVote:      "PreVote",
	MsgPreVoteAck:   "PreVoteAck",
}

func (t MsgType) String() string {
	if int(t) < len(msgTypeNames) && msgTypeNames[t] != "" {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Valid reports whether t is a message type this version knows.
func (t MsgType) Valid() bool {
	return int(t) < len(msgTypeNames) && msgTypeNames[t] != ""
}

// Message is the one message shape every replica-to-replica exchange uses;
// which fields matter depends on Type (see the MsgType constants). Keeping
// one flat struct keeps the codec and the describe printers in one place.
type Message struct {
	Type   MsgType
	From   ID
	To     ID
	Ballot Ballot
	// Slot is the first slot a Prepare or Catchup covers, or the snapshot's
	// slot for MsgSnapshot.
	Slot uint64
	// Commit is the sender's chosen prefix: every slot below it is chosen.
	Commit  uint64
	Reject  bool
	More    bool
	Entries []Entry
	// Slots lists the slots an Accepted acknowledges.
	Slots []uint64
	// Offset, Total and Data carry a snapshot chunk.
	Offset uint64
	Total  uint64
	Data   []byte
}

// VouchesDurable reports whether m vouches for durable state at its sender
// (a promise, or an acceptance): it must not leave before the records of
// the Ready that carries it are durable. Every other message may leave
// while those records are still being written, which is how a leader's
// own write overlaps with its followers' (ARCHITECTURE.md: the leader counts
// its own vote only once durable, at Advance).
func (m *Message) VouchesDurable() bool {
	return !m.Reject && (m.Type == MsgPromise || m.Type == MsgAccepted)
}

// RecordType tags a durable Record.
type RecordType uint8

const (
	// RecPromise: the replica promised Ballot.
	RecPromise RecordType = 1
	// RecAccept: the replica accepted Entry (slot, ballot, commands).
	RecAccept RecordType = 2
	// RecChosen: Entry.Slot is known chosen with Entry.Ballot. It may be
	// written without a sync: losing it only costs relearning.
	RecChosen RecordType = 3
	// RecSnapshot: the application's snapshot covering every slot below
	// Slot, in Data. Everything recorded about lower slots is obsolete.
	RecSnapshot RecordType = 4
	// RecHost: the host's own bytes in Data, which the replica ignores
	// (a UDP node keeps its data directory's identity there, first in
	// the log). DurableState never lists it; a host that rewrites its log
	// puts its own back.
	RecHost RecordType = 5
)

var recordTypeNames = [...]string{
	RecPromise:  "Promise",
	RecAccept:   "Accept",
	RecChosen:   "Chosen",
	RecSnapshot: "Snapshot",
	RecHost:     "Host",
}

func (t RecordType) String() string {
	if t.Valid() {
		return recordTypeNames[t]
	}
	return fmt.Sprintf("RecordType(%d)", uint8(t))
}

// Valid reports whether t is a record type this version knows.
func (t RecordType) Valid() bool {
	return int(t) < len(recordTypeNames) && recordTypeNames[t] != ""
}

// Record is one unit of durable state, appended to the host's log. Replaying
// the records in order through Restore rebuilds the durable state.
type Record struct {
	Type   RecordType
	Ballot Ballot
	Entry  Entry
	Slot   uint64
	Data   []byte
}
