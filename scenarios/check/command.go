package check

import (
	"encoding/binary"
	"fmt"
	"strings"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// The checkers' own reading of a logged command, written from the wire
// format's description rather than with lockmgr.DecodeCommand, so that
// a decoding bug shows up as a disagreement with the oracle instead of
// being shared by both:
//
//	op byte | client uvarint | seq uvarint | name length byte | name
//	[| arg uvarint | node uvarint]   open, expire, lead
//	[| key, 16 bytes]                open (the secret) and the ops of a session (the tag)
//
// Ops: 1 lock, 2 trylock, 3 unlock (names of 1..128 bytes); 5 read, 6 open,
// 8 close, 9 expire, 10 lead, 11 rejoin (no name). An open's client has the top bit
// set (a nonce), a session op's has not. Minimal varints, nothing after
// the end. Anything else is not a command, and every replica skips it.

// The op numbers of the wire format the checkers read.
const (
	opRead   = lockmgr.Op(5)
	opOpen   = lockmgr.Op(6)
	opClose  = lockmgr.Op(8)
	opExpire = lockmgr.Op(9)
	opLead   = lockmgr.Op(10)
	opRejoin = lockmgr.Op(11)
)

const nonceBit = 1 << 63

// cmd is a decoded command with the bytes its tag covers.
type cmd struct {
	lockmgr.Command
	body []byte // the encoding without the key
}

// decodeCmd returns the command b holds, or false.
func decodeCmd(b []byte) (lockmgr.Command, bool) {
	c, ok := decodeCmdBody(b)
	return c.Command, ok
}

func decodeCmdBody(raw []byte) (cmd, bool) {
	var c cmd
	b := raw
	if len(b) < 1 {
		return c, false
	}
	op := lockmgr.Op(b[0])
	named := op >= 1 && op <= 3
	session := named || op == opRead || op == opClose
	args := op == opOpen || op == opExpire || op == opLead || op == opRejoin
	keyed := session || op == opOpen
	if !named && !session && !args {
		return c, false
	}
	c.Op = op
	b = b[1:]
	client, b, ok := minimalUvarint(b)
	if !ok {
		return c, false
	}
	c.Client = lockmgr.ClientID(client)
	if op == opOpen && client&nonceBit == 0 || session && client&nonceBit != 0 {
		return c, false
	}
	if c.Seq, b, ok = minimalUvarint(b); !ok || len(b) < 1 {
		return c, false
	}
	n := int(b[0])
	if named && (n < 1 || n > 128) || !named && n != 0 || len(b) < 1+n {
		return c, false
	}
	c.Name = string(b[1 : 1+n])
	b = b[1+n:]
	if args {
		var node uint64
		if c.Arg, b, ok = minimalUvarint(b); !ok {
			return c, false
		}
		if node, b, ok = minimalUvarint(b); !ok || node > 1<<32-1 {
			return c, false
		}
		c.Node = paxos.ID(node)
	}
	c.body = raw[:len(raw)-len(b)]
	if keyed {
		if len(b) < len(c.Key) {
			return c, false
		}
		copy(c.Key[:], b)
		b = b[len(c.Key):]
	}
	return c, len(b) == 0
}

// minimalUvarint reads a uvarint that no shorter encoding could express.
func minimalUvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > 1 && b[n-1] == 0 {
		return 0, b, false // malformed, or a padded (non-minimal) form
	}
	return v, b[n:], true
}

// describeCmds prints a slot's value: noop, or its commands decoded.
func describeCmds(cmds [][]byte) string {
	if len(cmds) == 0 {
		return "noop"
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, raw := range cmds {
		if i > 0 {
			b.WriteByte(' ')
		}
		if c, ok := decodeCmd(raw); ok {
			fmt.Fprintf(&b, "s%d#%d %s(%q)", c.Client, c.Seq, opName(c.Op), c.Name)
		} else {
			fmt.Fprintf(&b, "(%d undecodable bytes)", len(raw))
		}
	}
	b.WriteByte(']')
	return b.String()
}

func opName(o lockmgr.Op) string {
	switch o {
	case lockmgr.OpLock:
		return "lock"
	case lockmgr.OpTryLock:
		return "trylock"
	case lockmgr.OpUnlock:
		return "unlock"
	case opRead:
		return "read"
	case opOpen:
		return "open"
	case opClose:
		return "close"
	case opExpire:
		return "expire"
	case opLead:
		return "lead"
	case opRejoin:
		return "rejoin"
	}
	return fmt.Sprintf("op%d", o)
}
