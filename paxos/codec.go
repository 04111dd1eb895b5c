package paxos

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// The binary codec for Message (sent in a KindPaxos frame) and Record
// (stored in a KindRecord envelope); see frame.go for the envelope.
//
// Every field is always encoded, whatever the message type: it costs a
// byte per unused field and keeps one layout, one encoder and one decoder.
// Integers are unsigned LEB128 varints (encoding/binary's uvarint) and must
// be minimal; byte strings and lists are a uvarint length or count followed
// by their items. Version 1 bodies:
//
//	Message: type:1 from to ballot slot commit flags:1 entries slots
//	         offset total data
//	Record:  type:1 ballot entry slot data
//
//	ballot  = round node
//	entry   = slot ballot ncmds (len bytes)*ncmds
//	entries = count entry*count
//	slots   = count slot*count
//	data    = len bytes
//	flags   = bit 0 Reject, bit 1 More; other bits must be zero
//
// Node IDs (from, to, ballot node) must fit in 32 bits. The encoding is
// canonical: a body that decodes re-encodes to the same bytes.
//
// Decoded byte strings (commands, snapshot data) never alias the input:
// the replica keeps commands for as long as their slots live, and aliasing
// would pin a whole packet buffer (or a whole log file read at restart)
// behind each 40-byte command, and would forbid a host from reusing its
// receive buffer. Instead a decode copies all of a message's byte strings
// into one allocation, so it costs at most four allocations (entries, the
// command headers, the bytes, the slots) however many commands it carries.
// Commands are sliced with their capacity capped at their length, so
// appending to one never overwrites its neighbour. The codec does not tell
// nil from empty: empty lists and byte strings decode as nil.

const (
	flagReject = 1 << 0
	flagMore   = 1 << 1

	// Smallest encodings, used to bound a count by the bytes left before
	// looping over it: an entry is at least slot, round, node and ncmds.
	entryBytesMin = 4
	cmdBytesMin   = 1
	slotBytesMin  = 1
)

// AppendMessage appends m to dst as one whole packet (a KindPaxos frame)
// and returns the extended slice. It does not allocate when dst has room.
// It panics if the packet would exceed MaxPacketBytes; use EncodedSize to
// stay under it when batching.
func AppendMessage(dst []byte, m *Message) []byte {
	dst, start := BeginFrame(dst, KindPaxos)
	dst = appendMessageBody(dst, m)
	return FinishFrame(dst, start)
}

// EncodedSize returns len(AppendMessage(nil, m)) without encoding.
func EncodedSize(m *Message) int {
	n := FrameOverheadBytes + 1 + uvarintLen(uint64(m.From)) + uvarintLen(uint64(m.To)) +
		ballotLen(m.Ballot) + uvarintLen(m.Slot) + uvarintLen(m.Commit) + 1
	n += uvarintLen(uint64(len(m.Entries)))
	for i := range m.Entries {
		n += EntryEncodedSize(m.Entries[i])
	}
	n += uvarintLen(uint64(len(m.Slots)))
	for _, s := range m.Slots {
		n += uvarintLen(s)
	}
	return n + uvarintLen(m.Offset) + uvarintLen(m.Total) + bytesLen(m.Data)
}

// EntryEncodedSize returns the bytes e adds to a message's encoding. Adding
// an entry to a message grows EncodedSize by this much, plus one byte each
// time the entry count crosses a power of 128 (127 -> 128, ...).
func EntryEncodedSize(e Entry) int {
	n := uvarintLen(e.Slot) + ballotLen(e.Ballot) + uvarintLen(uint64(len(e.Cmds)))
	for _, c := range e.Cmds {
		n += bytesLen(c)
	}
	return n
}

// DecodeMessage parses one whole packet into m. Every field of m is
// overwritten; nothing of m's previous contents is reused, because the
// replica may still hold slices of a message it stepped earlier. On error m
// is unchanged and the error wraps one of the sentinel errors. Decoded byte
// strings are copies (see the codec comment above). It never panics.
func DecodeMessage(pkt []byte, m *Message) error {
	kind, body, err := ParseFrame(pkt)
	if err != nil {
		return err
	}
	return DecodeMessageBody(kind, body, m)
}

// DecodeMessageBody decodes the body of a frame of the given kind into m,
// as DecodeMessage does after ParseFrame: for a host that has parsed (and
// so checksummed) the frame already, to look at its kind, and should not
// pay for the checksum twice. It rejects everything DecodeMessage rejects
// but what ParseFrame checks: a kind other than KindPaxos
// (ErrUnknownType), a body longer than a packet could carry (ErrTooLarge),
// and any body that is not a valid encoding. On error m is unchanged. It
// never panics.
func DecodeMessageBody(kind byte, body []byte, m *Message) error {
	if kind != KindPaxos {
		return fmt.Errorf("paxos: frame kind %d is not a paxos message: %w", kind, ErrUnknownType)
	}
	if len(body) > MaxPacketBytes-FrameOverheadBytes {
		return fmt.Errorf("paxos: message body of %d bytes above %d: %w", len(body), MaxPacketBytes-FrameOverheadBytes, ErrTooLarge)
	}
	// Pass one validates the body and counts what it holds; pass two
	// allocates exactly that and fills it. Nothing is allocated before the
	// whole body is known to be well formed, so a hostile count cannot
	// make the decoder allocate more than 24 bytes (one command header) per
	// input byte: at most about 1.5 MB for the largest packet.
	var a arena
	var tmp Message
	r := reader{b: body}
	if r.message(&tmp, &a); r.err != nil {
		return r.err
	}
	if a.empty() {
		// Nothing to allocate: pass one has already set every field.
		*m = tmp
		return nil
	}
	a.allocate()
	r = reader{b: body}
	if r.message(&tmp, &a); r.err != nil {
		return r.err // unreachable: pass one accepted the same bytes
	}
	*m = tmp
	return nil
}

// AppendRecord appends r to dst as one self-delimiting, checksummed record
// (a KindRecord envelope, see frame.go) and returns the extended slice. A
// host appends records to a log file; DecodeRecord reads them back and
// detects a torn tail. It does not allocate when dst has room, and panics
// if the body exceeds MaxRecordBytes (a record no reader would accept).
func AppendRecord(dst []byte, r *Record) []byte {
	start := len(dst)
	dst = append(dst, Version, KindRecord, 0, 0, 0, 0)
	dst = append(dst, byte(r.Type))
	dst = appendBallot(dst, r.Ballot)
	dst = appendEntry(dst, &r.Entry)
	dst = binary.AppendUvarint(dst, r.Slot)
	dst = appendBytes(dst, r.Data)
	if n := len(dst) - start - frameHeaderBytes; n > MaxRecordBytes {
		panic(fmt.Sprintf("paxos: encoded record body is %d bytes, above MaxRecordBytes=%d", n, MaxRecordBytes))
	}
	return finishEnvelope(dst, start)
}

// DecodeRecord reads one record from the front of b and returns it with the
// number of bytes it occupied. ErrTruncated means b ends inside the record:
// at the end of a log, a torn write. ErrChecksum means the record's bytes
// are all there but damaged. ErrTooLarge means the length field is beyond
// MaxRecordBytes: most likely corruption rather than a torn write. A
// corrupted length that still fits the bound and points past the end of b
// reads as ErrTruncated; a host should trust ErrTruncated as a torn tail
// only where b is the end of the log. Decoded byte strings are copies. It
// never panics; on error it returns n = 0.
func DecodeRecord(b []byte) (r Record, n int, err error) {
	kind, body, n, err := parseEnvelope(b, MaxRecordBytes, false)
	if err != nil {
		return Record{}, 0, err
	}
	if kind != KindRecord {
		return Record{}, 0, fmt.Errorf("paxos: frame kind %d is not a log record: %w", kind, ErrUnknownType)
	}
	// Two passes, as in DecodeMessage. A record's body is checksummed and
	// comes from the replica's own log, so the 24-bytes-per-input-byte
	// bound matters less here than for packets.
	var a arena
	rd := reader{b: body}
	if rd.record(&r, &a); rd.err != nil {
		return Record{}, 0, rd.err
	}
	a.allocate()
	rd = reader{b: body}
	if rd.record(&r, &a); rd.err != nil {
		return Record{}, 0, rd.err // unreachable: pass one accepted the same bytes
	}
	return r, n, nil
}

func appendMessageBody(dst []byte, m *Message) []byte {
	dst = append(dst, byte(m.Type))
	dst = binary.AppendUvarint(dst, uint64(m.From))
	dst = binary.AppendUvarint(dst, uint64(m.To))
	dst = appendBallot(dst, m.Ballot)
	dst = binary.AppendUvarint(dst, m.Slot)
	dst = binary.AppendUvarint(dst, m.Commit)
	var flags byte
	if m.Reject {
		flags |= flagReject
	}
	if m.More {
		flags |= flagMore
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(m.Entries)))
	for i := range m.Entries {
		dst = appendEntry(dst, &m.Entries[i])
	}
	dst = binary.AppendUvarint(dst, uint64(len(m.Slots)))
	for _, s := range m.Slots {
		dst = binary.AppendUvarint(dst, s)
	}
	dst = binary.AppendUvarint(dst, m.Offset)
	dst = binary.AppendUvarint(dst, m.Total)
	return appendBytes(dst, m.Data)
}

func appendBallot(dst []byte, b Ballot) []byte {
	dst = binary.AppendUvarint(dst, b.Round)
	return binary.AppendUvarint(dst, uint64(b.Node))
}

func appendEntry(dst []byte, e *Entry) []byte {
	dst = binary.AppendUvarint(dst, e.Slot)
	dst = appendBallot(dst, e.Ballot)
	dst = binary.AppendUvarint(dst, uint64(len(e.Cmds)))
	for _, c := range e.Cmds {
		dst = appendBytes(dst, c)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }
func ballotLen(b Ballot) int  { return uvarintLen(b.Round) + uvarintLen(uint64(b.Node)) }
func bytesLen(b []byte) int   { return uvarintLen(uint64(len(b))) + len(b) }

// arena holds what one decode allocates. In its first pass (fill false) a
// decode only tallies the commands and bytes it meets; allocate then sizes
// the arena exactly, and the second pass (fill true) carves it up.
type arena struct {
	fill bool
	// nLists counts the non-empty entry and slot lists pass one met; the
	// decoder allocates those itself, in pass two.
	nLists int
	nCmds  int
	nBytes int
	cmds   [][]byte
	bytes  []byte
}

// empty reports whether pass one met nothing that pass two would allocate.
func (a *arena) empty() bool { return a.nLists == 0 && a.nCmds == 0 && a.nBytes == 0 }

func (a *arena) allocate() {
	a.fill = true
	if a.nCmds > 0 {
		a.cmds = make([][]byte, a.nCmds)
	}
	if a.nBytes > 0 {
		a.bytes = make([]byte, 0, a.nBytes)
	}
}

// copyBytes returns a copy of b carved from the arena, or nil if b is empty.
func (a *arena) copyBytes(b []byte) []byte {
	if !a.fill {
		a.nBytes += len(b)
		return nil
	}
	if len(b) == 0 {
		return nil
	}
	start := len(a.bytes)
	a.bytes = append(a.bytes, b...)
	return a.bytes[start:len(a.bytes):len(a.bytes)]
}

// takeCmds returns n command headers carved from the arena, or nil.
func (a *arena) takeCmds(n int) [][]byte {
	if !a.fill {
		a.nCmds += n
		return nil
	}
	if n == 0 {
		return nil
	}
	c := a.cmds[:n:n]
	a.cmds = a.cmds[n:]
	return c
}

// reader decodes a body. Its error is sticky: after the first failure every
// read returns a zero value, and loops stop at the next check of r.err.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("paxos: %s at body byte %d of %d: %w", what, r.off, len(r.b), ErrMalformed)
	}
}

func (r *reader) byte1() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("body ends inside a field")
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

// uvarint is split so that the one-byte case, most of them, inlines. The
// fast path skips the sticky-error check: a value read after a failure is
// never used, since every caller that acts on one checks r.err first.
func (r *reader) uvarint() uint64 {
	if b := r.b[r.off:]; len(b) > 0 && b[0] < 0x80 {
		r.off++
		return uint64(b[0])
	}
	return r.uvarintSlow()
}

func (r *reader) uvarintSlow() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n == 0 {
		r.fail("body ends inside a varint")
		return 0
	}
	if n < 0 {
		r.fail("varint overflows 64 bits")
		return 0
	}
	// n >= 2 here; a minimal encoding never ends in a zero byte.
	if r.b[r.off+n-1] == 0 {
		r.fail("non-minimal varint")
		return 0
	}
	r.off += n
	return v
}

func (r *reader) id() ID {
	v := r.uvarint()
	if v > math.MaxUint32 {
		r.fail("node id above 32 bits")
		return 0
	}
	return ID(v)
}

func (r *reader) ballot() Ballot {
	round := r.uvarint()
	return Ballot{Round: round, Node: r.id()}
}

// count reads a length or count whose items take at least itemBytesMin
// bytes each, and fails unless that many could fit in what is left.
func (r *reader) count(itemBytesMin int) int {
	v := r.uvarint()
	if r.err != nil {
		return 0
	}
	// v <= left first, so that v*itemBytesMin cannot overflow.
	if left := uint64(len(r.b) - r.off); v > left || v*uint64(itemBytesMin) > left {
		r.fail(fmt.Sprintf("count %d exceeds the bytes left", v))
		return 0
	}
	return int(v)
}

// bytes reads a length-prefixed byte string and returns it aliasing r.b.
func (r *reader) bytes() []byte {
	n := r.count(1)
	if r.err != nil {
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) entry(e *Entry, a *arena) {
	e.Slot = r.uvarint()
	e.Ballot = r.ballot()
	n := r.count(cmdBytesMin)
	e.Cmds = a.takeCmds(n)
	for i := 0; i < n && r.err == nil; i++ {
		c := a.copyBytes(r.bytes())
		if a.fill {
			e.Cmds[i] = c
		}
	}
}

func (r *reader) message(m *Message, a *arena) {
	m.Type = MsgType(r.byte1())
	if r.err == nil && !m.Type.Valid() {
		r.err = fmt.Errorf("paxos: message type %d: %w", uint8(m.Type), ErrUnknownType)
		return
	}
	m.From = r.id()
	m.To = r.id()
	m.Ballot = r.ballot()
	m.Slot = r.uvarint()
	m.Commit = r.uvarint()
	flags := r.byte1()
	if flags&^(flagReject|flagMore) != 0 {
		r.fail(fmt.Sprintf("unknown flag bits %#02x", flags))
	}
	m.Reject = flags&flagReject != 0
	m.More = flags&flagMore != 0
	m.Entries = nil
	if n := r.count(entryBytesMin); n > 0 {
		a.nLists++
		if a.fill {
			m.Entries = make([]Entry, n)
		}
		var scratch Entry
		for i := 0; i < n && r.err == nil; i++ {
			e := &scratch
			if a.fill {
				e = &m.Entries[i]
			}
			r.entry(e, a)
		}
	}
	m.Slots = nil
	if n := r.count(slotBytesMin); n > 0 {
		a.nLists++
		if a.fill {
			m.Slots = make([]uint64, n)
		}
		for i := 0; i < n && r.err == nil; i++ {
			s := r.uvarint()
			if a.fill {
				m.Slots[i] = s
			}
		}
	}
	m.Offset = r.uvarint()
	m.Total = r.uvarint()
	m.Data = a.copyBytes(r.bytes())
	r.end()
}

func (r *reader) record(rec *Record, a *arena) {
	rec.Type = RecordType(r.byte1())
	if r.err == nil && !rec.Type.Valid() {
		r.err = fmt.Errorf("paxos: record type %d: %w", uint8(rec.Type), ErrUnknownType)
		return
	}
	rec.Ballot = r.ballot()
	r.entry(&rec.Entry, a)
	rec.Slot = r.uvarint()
	rec.Data = a.copyBytes(r.bytes())
	r.end()
}

// end fails if the body has bytes left after its last field.
func (r *reader) end() {
	if r.err == nil && r.off != len(r.b) {
		r.fail(fmt.Sprintf("%d trailing bytes after the last field", len(r.b)-r.off))
	}
}
