package check

import (
	"encoding/binary"
	"fmt"
	"strings"

	"paxlock/lockmgr"
)

// The checkers' own reading of a logged command, written from the wire
// format's description rather than with lockmgr.DecodeCommand, so that
// a decoding bug shows up as a disagreement with the oracle instead of
// being shared by both:
//
//	op byte | client uvarint | seq uvarint | name length byte | name
//
// Ops 1 (lock), 2 (trylock), 3 (unlock) with names of 1..128 bytes, and
// 5 (read) with none; minimal varints; nothing after the name. Anything
// else is not a command, and every replica skips it.

// opRead is the read op's number in the wire format.
const opRead = lockmgr.Op(5)

// decodeCmd returns the command b holds, or false.
func decodeCmd(b []byte) (lockmgr.Command, bool) {
	var c lockmgr.Command
	if len(b) < 1 || (b[0] < 1 || b[0] > 3) && b[0] != byte(opRead) {
		return c, false
	}
	c.Op = lockmgr.Op(b[0])
	b = b[1:]
	client, b, ok := minimalUvarint(b)
	if !ok {
		return c, false
	}
	c.Client = lockmgr.ClientID(client)
	if c.Seq, b, ok = minimalUvarint(b); !ok || len(b) < 1 {
		return c, false
	}
	n := int(b[0])
	named := c.Op != opRead
	if named && (n < 1 || n > 128) || !named && n != 0 || len(b) != 1+n {
		return c, false
	}
	c.Name = string(b[1:])
	return c, true
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
			fmt.Fprintf(&b, "c%d#%d %s(%q)", c.Client, c.Seq, opName(c.Op), c.Name)
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
	}
	return fmt.Sprintf("op%d", o)
}
