package lockmgr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"paxlock/paxos"
)

// ClientID names a client session. The state machine numbers sessions
// 1, 2, 3, ... as it opens them and never reuses a number. An OpOpen
// request carries in its place the opener's nonce, which has NonceBit set,
// so that the two never meet.
type ClientID uint64

// NonceBit is set in every open nonce and in no session id.
const NonceBit ClientID = 1 << 63

func (c ClientID) String() string { return fmt.Sprintf("s%d", uint64(c)) }

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
	// Sessions (see StateMachine): open one with a lease, keep it alive,
	// close it. Expire and Lead are proposed by replicas only.
	OpOpen      Op = 6  // start a session: Arg is the lease asked for, in ms; Key the secret
	OpKeepAlive Op = 7  // renew the lease: answered by the leader, never logged
	OpClose     Op = 8  // end the session: its locks are released, its waits withdrawn
	OpExpire    Op = 9  // the leader ends a silent session; Arg/Node: the leader's ballot
	OpLead      Op = 10 // a new leader takes over the leases; Arg/Node: its ballot
	// OpRejoin marks where a replica that lost its disk may vote again
	// (see paxos.Config.Rejoin): Arg is a nonce, Node the replica. It
	// changes nothing.
	OpRejoin Op = 11
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
	// session: the command's Client is a session, and its Key is the tag
	// that proves the sender knows the session's secret (see Command.Tag).
	session bool
	// keyed: the encoding carries Key (the tag, or OpOpen's secret).
	keyed bool
	// args: the encoding carries Arg and Node.
	args bool
	// internal: proposed by replicas only; refused from a client.
	internal bool
}

// opTable is the one definition of the ops, indexed by Op. An index with
// no name is not an op.
var opTable = [...]opInfo{
	OpLock:      {name: "lock", logged: true, blocking: true, named: true, session: true, keyed: true},
	OpTryLock:   {name: "trylock", logged: true, named: true, session: true, keyed: true},
	OpUnlock:    {name: "unlock", logged: true, named: true, session: true, keyed: true},
	OpStatus:    {name: "status", readOnly: true},
	OpRead:      {name: "read", logged: true, readOnly: true, session: true, keyed: true},
	OpOpen:      {name: "open", logged: true, keyed: true, args: true},
	OpKeepAlive: {name: "keepalive", session: true, keyed: true},
	OpClose:     {name: "close", logged: true, session: true, keyed: true},
	OpExpire:    {name: "expire", logged: true, args: true, internal: true},
	OpLead:      {name: "lead", logged: true, args: true, internal: true},
	OpRejoin:    {name: "rejoin", logged: true, args: true, internal: true},
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

// Session reports whether o acts within a session and must carry its tag.
func (o Op) Session() bool { in, _ := o.info(); return in.session }

// Internal reports whether o is proposed by replicas only.
func (o Op) Internal() bool { in, _ := o.info(); return in.internal }

// Callable reports whether o is an operation a client's user calls
// (Client.Start): not the internal ops, and not the open and keepalive
// the client sends on its own.
func (o Op) Callable() bool { return o.Known() && !o.Internal() && o != OpOpen && o != OpKeepAlive }

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

// KeepAliveSeqBase is the number of a session's first keepalive: they too
// are numbered apart, so that a late answer to one is never taken for
// the answer to a request.
const KeepAliveSeqBase uint64 = 1 << 62

// KeyBytes is the size of a session secret and of a request's tag.
const KeyBytes = 16

// Key is a session secret or a tag.
type Key [KeyBytes]byte

// Command is one client request as it travels in the Paxos log.
type Command struct {
	Client ClientID
	Seq    uint64
	Op     Op
	Name   string
	// Arg: OpOpen: the lease asked for, in ms. OpExpire, OpLead: the round
	// of the proposing leader's ballot. OpRejoin: a nonce.
	Arg uint64
	// Node: OpExpire, OpLead: the proposing leader's id. OpRejoin: the
	// rebuilding replica.
	Node paxos.ID
	// Key: OpOpen: the session's secret, chosen by the client. An op of a
	// session: its tag (see Tag).
	Key Key
}

func (c Command) String() string {
	switch {
	case c.Op == OpOpen:
		return fmt.Sprintf("open(nonce %x, %d ms)", uint64(c.Client&^NonceBit), c.Arg)
	case c.Op == OpExpire:
		return fmt.Sprintf("expire(%v) by %d.%d", c.Client, c.Arg, c.Node)
	case c.Op == OpLead:
		return fmt.Sprintf("lead(%d.%d)", c.Arg, c.Node)
	case c.Op == OpRejoin:
		return fmt.Sprintf("rejoin(replica %d, nonce %x)", c.Node, c.Arg)
	case c.Op.Named():
		return fmt.Sprintf("%v#%d %v(%q)", c.Client, c.Seq, c.Op, c.Name)
	}
	return fmt.Sprintf("%v#%d %v", c.Client, c.Seq, c.Op)
}

// CommandBytesMax bounds an encoded command: op, four uvarints, length,
// name, key.
const CommandBytesMax = 1 + 4*binary.MaxVarintLen64 + 1 + NameBytesMax + KeyBytes

// Encode appends the command's wire form to dst:
//
//	op byte | client uvarint | seq uvarint | name length byte | name
//	[| arg uvarint | node uvarint]   ops with arguments
//	[| key 16 bytes]                 keyed ops
//
// The op comes first so that a future format can be told apart by it. Encode
// does not validate: a command with a bad name or op encodes, and
// DecodeCommand rejects it.
func (c Command) Encode(dst []byte) []byte {
	dst = c.appendBody(dst)
	if in, _ := c.Op.info(); in.keyed {
		dst = append(dst, c.Key[:]...)
	}
	return dst
}

// appendBody is the encoding without the key: what a tag covers.
func (c Command) appendBody(dst []byte) []byte {
	dst = append(dst, byte(c.Op))
	dst = binary.AppendUvarint(dst, uint64(c.Client))
	dst = binary.AppendUvarint(dst, c.Seq)
	dst = append(dst, byte(len(c.Name)))
	dst = append(dst, c.Name...)
	if in, _ := c.Op.info(); in.args {
		dst = binary.AppendUvarint(dst, c.Arg)
		dst = binary.AppendUvarint(dst, uint64(c.Node))
	}
	return dst
}

// Tag is the proof that a session's command comes from a holder of its
// secret: HMAC-SHA256 keyed with the secret over the command's encoding
// without its key, cut to KeyBytes. It binds every field, so a captured
// tag fits no other request.
func (c Command) Tag(secret Key) Key { return newMAC(secret).tag(c) }

// mac makes tags under one secret. Kept per session, it saves setting up
// the key, and its scratch space, for every tag.
type mac struct {
	h   hash.Hash
	buf []byte
}

func newMAC(secret Key) *mac {
	return &mac{h: hmac.New(sha256.New, secret[:]), buf: make([]byte, 0, max(CommandBytesMax, sha256.Size))}
}

// tag makes c's tag without allocating.
func (m *mac) tag(c Command) Key {
	m.h.Reset()
	m.buf = c.appendBody(m.buf[:0])
	m.h.Write(m.buf)
	m.buf = m.h.Sum(m.buf[:0])
	var t Key
	copy(t[:], m.buf)
	return t
}

// Sign sets the command's Key to its tag under secret.
func (c *Command) Sign(secret Key) { c.Key = c.Tag(secret) }

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
	case c.Op == OpOpen && c.Client&NonceBit == 0, c.Op.Session() && c.Client&NonceBit != 0:
		err = fmt.Errorf("op %v: client %x", c.Op, uint64(c.Client))
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
	in, _ := c.Op.info()
	if in.args {
		c.Arg = d.uvarint()
		if node := d.uvarint(); node > 1<<32-1 {
			d.fail("node id")
		} else {
			c.Node = paxos.ID(node)
		}
	}
	if in.keyed {
		copy(c.Key[:], d.bytes(KeyBytes))
	}
	if err := d.finish(); err != nil {
		return Command{}, err
	}
	return c, nil
}
