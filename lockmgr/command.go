package lockmgr

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ClientID names a client session. Clients pick unique 64-bit ids.
type ClientID uint64

func (c ClientID) String() string { return fmt.Sprintf("c%d", uint64(c)) }

// Op is an operation of the lock service. The values are part of the wire
// format (logged ones travel in the Paxos log): never renumber, only append,
// and describe every op in opTable.
type Op uint8

const (
	OpLock    Op = 1 // blocking acquire: granted now or queued until released
	OpTryLock Op = 2 // non-blocking acquire: granted now or Busy
	OpUnlock  Op = 3 // release, if held by the caller
	OpStatus  Op = 4 // one replica's lock table, answered by it at once; never logged
	OpRead    Op = 5 // the lock table, read through the log: linearizable
)

// opInfo is what every parser and printer needs to know about an op.
type opInfo struct {
	name     string // the word in the REPL, scenario files and traces
	logged   bool   // goes through the Paxos log
	blocking bool   // may be answered Queued and granted later
	named    bool   // acts on one lock, named in the command
	// readOnly: changes nothing, so it bypasses the at-most-once table (a
	// repeat is simply read again) and numbers its requests apart.
	readOnly bool
}

// opTable is the one definition of the ops, indexed by Op. An index with
// no name is not an op.
var opTable = [...]opInfo{
	OpLock:    {name: "lock", logged: true, blocking: true, named: true},
	OpTryLock: {name: "trylock", logged: true, named: true},
	OpUnlock:  {name: "unlock", logged: true, named: true},
	OpStatus:  {name: "status", readOnly: true},
	OpRead:    {name: "read", logged: true, readOnly: true},
}

func (o Op) info() (opInfo, bool) {
	if int(o) >= len(opTable) || opTable[o].name == "" {
		return opInfo{}, false
	}
	return opTable[o], true
}

func (o Op) String() string {
	if in, ok := o.info(); ok {
		return in.name
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Known reports whether o is an op of opTable.
func (o Op) Known() bool { _, ok := o.info(); return ok }

// Logged reports whether o goes through the log (a lock operation, as
// opposed to a query answered locally).
func (o Op) Logged() bool { in, _ := o.info(); return in.logged }

// Blocking reports whether o may wait (be answered Queued).
func (o Op) Blocking() bool { in, _ := o.info(); return in.blocking }

// Named reports whether o acts on one lock, named in the command.
func (o Op) Named() bool { in, _ := o.info(); return in.named }

// ReadOnly reports whether o changes nothing: it bypasses the at-most-once
// table, and a client numbers its read-only requests apart from the rest.
func (o Op) ReadOnly() bool { in, _ := o.info(); return in.readOnly }

// Ops lists every op, in wire order.
func Ops() []Op {
	var ops []Op
	for i := range opTable {
		if Op(i).Known() {
			ops = append(ops, Op(i))
		}
	}
	return ops
}

// ErrUnknownOp is wrapped by ParseOp's error.
var ErrUnknownOp = errors.New("unknown operation")

// ParseOp returns the op named name (as String prints it).
func ParseOp(name string) (Op, error) {
	for _, o := range Ops() {
		if opTable[o].name == name {
			return o, nil
		}
	}
	return 0, fmt.Errorf("%w %q", ErrUnknownOp, name)
}

// Lock names are 1..NameBytesMax bytes; anything else is answered Invalid.
const NameBytesMax = 128

// ValidName reports whether name is an acceptable lock name.
func ValidName(name string) bool { return len(name) >= 1 && len(name) <= NameBytesMax }

// FirstSeq is the sequence number of a client's first request; a client
// numbers its requests FirstSeq, FirstSeq+1, ... (see StateMachine for why
// an unknown client must start here).
const FirstSeq uint64 = 1

// ReadSeqBase is the number of a client's first read (OpRead). Reads are
// numbered apart from the requests that change state, in a range of their
// own, so that an answer to one can never be taken for the other's.
const ReadSeqBase uint64 = 1 << 63

// Command is one client request as it travels in the Paxos log.
type Command struct {
	Client ClientID
	Seq    uint64
	Op     Op
	Name   string
}

func (c Command) String() string {
	return fmt.Sprintf("%v#%d %v(%q)", c.Client, c.Seq, c.Op, c.Name)
}

// CommandBytesMax bounds an encoded command: op, two uvarints, length, name.
const CommandBytesMax = 1 + 2*binary.MaxVarintLen64 + 1 + NameBytesMax

// Encode appends the command's wire form to dst:
//
//	op byte | client uvarint | seq uvarint | name length byte | name
//
// The op comes first so that a future format can be told apart by it. Encode
// does not validate: a command with a bad name or op encodes, and
// DecodeCommand rejects it.
func (c Command) Encode(dst []byte) []byte {
	dst = append(dst, byte(c.Op))
	dst = binary.AppendUvarint(dst, uint64(c.Client))
	dst = binary.AppendUvarint(dst, c.Seq)
	dst = append(dst, byte(len(c.Name)))
	return append(dst, c.Name...)
}

// ErrBadCommand is wrapped by every DecodeCommand error.
var ErrBadCommand = errors.New("lockmgr: bad command encoding")

// DecodeCommand parses exactly one encoded command of the log. It never
// panics; it rejects truncated input, trailing bytes, non-minimal varints,
// unknown or unlogged ops and invalid names, so that every accepted input
// re-encodes to itself and two replicas can never read one log entry two
// ways.
func DecodeCommand(b []byte) (Command, error) {
	c, err := decodeCommand(b)
	switch {
	case err != nil:
	case !c.Op.Logged():
		err = fmt.Errorf("op %v is not logged", c.Op)
	case c.Op.Named() && !ValidName(c.Name):
		err = fmt.Errorf("name length %d", len(c.Name))
	case !c.Op.Named() && c.Name != "":
		err = fmt.Errorf("op %v takes no name", c.Op)
	}
	if err != nil {
		return Command{}, fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	return c, nil
}

// decodeCommand parses the one encoding of a command, for the log and the
// wire alike: any known op, names of 0..NameBytesMax bytes (the caller
// judges the name).
func decodeCommand(b []byte) (Command, error) {
	d := reader{b: b}
	c := Command{Op: Op(d.byte())}
	if d.err == nil && !c.Op.Known() {
		return Command{}, fmt.Errorf("unknown op %d", uint8(c.Op))
	}
	c.Client = ClientID(d.uvarint())
	c.Seq = d.uvarint()
	n := d.byte()
	if int(n) > NameBytesMax {
		d.fail("name length")
	}
	c.Name = string(d.bytes(uint64(n)))
	if err := d.finish(); err != nil {
		return Command{}, err
	}
	return c, nil
}
