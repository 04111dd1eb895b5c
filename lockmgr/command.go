package lockmgr

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ClientID names a client session. Clients pick unique 64-bit ids.
type ClientID uint64

func (c ClientID) String() string { return fmt.Sprintf("c%d", uint64(c)) }

// Op is a lock operation. The values are part of the wire format (they travel
// in the Paxos log): never renumber, only append.
type Op uint8

const (
	OpLock    Op = 1 // blocking acquire: granted now or queued until released
	OpTryLock Op = 2 // non-blocking acquire: granted now or Busy
	OpUnlock  Op = 3 // release, if held by the caller
)

func (o Op) String() string {
	switch o {
	case OpLock:
		return "lock"
	case OpTryLock:
		return "trylock"
	case OpUnlock:
		return "unlock"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

func (o Op) valid() bool { return o >= OpLock && o <= OpUnlock }

// Lock names are 1..NameBytesMax bytes; anything else is answered Invalid.
const NameBytesMax = 128

// ValidName reports whether name is an acceptable lock name.
func ValidName(name string) bool { return len(name) >= 1 && len(name) <= NameBytesMax }

// FirstSeq is the sequence number of a client's first request; a client
// numbers its requests FirstSeq, FirstSeq+1, ... (see StateMachine for why
// an unknown client must start here).
const FirstSeq uint64 = 1

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

// DecodeCommand parses exactly one encoded command. It never panics; it
// rejects truncated input, trailing bytes, non-minimal varints, unknown ops
// and invalid names, so that every accepted input re-encodes to itself and
// two replicas can never read one log entry two ways.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if len(b) == 0 {
		return c, fmt.Errorf("%w: empty", ErrBadCommand)
	}
	c.Op = Op(b[0])
	if !c.Op.valid() {
		return c, fmt.Errorf("%w: unknown op %d", ErrBadCommand, b[0])
	}
	rest := b[1:]
	client, rest, err := readUvarint(rest, "client")
	if err != nil {
		return c, err
	}
	c.Client = ClientID(client)
	if c.Seq, rest, err = readUvarint(rest, "seq"); err != nil {
		return c, err
	}
	if len(rest) == 0 {
		return c, fmt.Errorf("%w: missing name length", ErrBadCommand)
	}
	n := int(rest[0])
	if n < 1 || n > NameBytesMax {
		return c, fmt.Errorf("%w: name length %d", ErrBadCommand, n)
	}
	if len(rest)-1 != n {
		return c, fmt.Errorf("%w: name length %d with %d bytes left", ErrBadCommand, n, len(rest)-1)
	}
	c.Name = string(rest[1:])
	return c, nil
}

// readUvarint reads one minimal uvarint. Minimality matters for determinism:
// binary.Uvarint accepts padded forms, which would give one command several
// encodings.
func readUvarint(b []byte, what string) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, fmt.Errorf("%w: bad %s varint", ErrBadCommand, what)
	}
	if n != uvarintLen(v) {
		return 0, b, fmt.Errorf("%w: non-minimal %s varint", ErrBadCommand, what)
	}
	return v, b[n:], nil
}

func uvarintLen(v uint64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], v)
}
