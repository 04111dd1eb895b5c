package paxos

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

var updateFuzzCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the seed files under testdata/fuzz")

var sentinels = []error{ErrTruncated, ErrChecksum, ErrVersion, ErrTooLarge, ErrUnknownType, ErrMalformed}

func sentinelOf(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// --- generators ---------------------------------------------------------

var allMsgTypes = []MsgType{MsgPrepare, MsgPromise, MsgAccept, MsgAccepted, MsgHeartbeat,
	MsgHeartbeatAck, MsgForward, MsgCatchup, MsgChosen, MsgSnapshot}

var allRecordTypes = []RecordType{RecPromise, RecAccept, RecChosen, RecSnapshot, RecHost}

// genUint mixes small numbers (the common case, one-byte varints) with the
// whole range (every varint length, including the 10-byte one).
func genUint() *rapid.Generator[uint64] {
	return rapid.OneOf(rapid.Uint64Range(0, 300), rapid.Uint64())
}

func genID() *rapid.Generator[ID] {
	return rapid.Custom(func(t *rapid.T) ID {
		return ID(rapid.OneOf(rapid.Uint32Range(0, 9), rapid.Uint32()).Draw(t, "id"))
	})
}

func genBallot() *rapid.Generator[Ballot] {
	return rapid.Custom(func(t *rapid.T) Ballot {
		return Ballot{Round: genUint().Draw(t, "round"), Node: genID().Draw(t, "node")}
	})
}

func genBytes(maxLen int) *rapid.Generator[[]byte] {
	return rapid.SliceOfN(rapid.Byte(), 0, maxLen)
}

func genEntry() *rapid.Generator[Entry] {
	return rapid.Custom(func(t *rapid.T) Entry {
		return Entry{
			Slot:   genUint().Draw(t, "slot"),
			Ballot: genBallot().Draw(t, "ballot"),
			Cmds:   rapid.SliceOfN(genBytes(50), 0, 5).Draw(t, "cmds"),
		}
	})
}

func genMessage() *rapid.Generator[*Message] {
	return rapid.Custom(func(t *rapid.T) *Message {
		return &Message{
			Type:    rapid.SampledFrom(allMsgTypes).Draw(t, "type"),
			From:    genID().Draw(t, "from"),
			To:      genID().Draw(t, "to"),
			Ballot:  genBallot().Draw(t, "ballot"),
			Slot:    genUint().Draw(t, "slot"),
			Commit:  genUint().Draw(t, "commit"),
			Reject:  rapid.Bool().Draw(t, "reject"),
			More:    rapid.Bool().Draw(t, "more"),
			Entries: rapid.SliceOfN(genEntry(), 0, 6).Draw(t, "entries"),
			Slots:   rapid.SliceOfN(genUint(), 0, 20).Draw(t, "slots"),
			Offset:  genUint().Draw(t, "offset"),
			Total:   genUint().Draw(t, "total"),
			Data:    genBytes(200).Draw(t, "data"),
		}
	})
}

func genRecord() *rapid.Generator[*Record] {
	return rapid.Custom(func(t *rapid.T) *Record {
		return &Record{
			Type:   rapid.SampledFrom(allRecordTypes).Draw(t, "type"),
			Ballot: genBallot().Draw(t, "ballot"),
			Entry:  genEntry().Draw(t, "entry"),
			Slot:   genUint().Draw(t, "slot"),
			Data:   genBytes(300).Draw(t, "data"),
		}
	})
}

// --- equality (the codec does not tell nil from empty) --------------------

func equalEntry(a, b Entry) bool {
	return a.Slot == b.Slot && a.Ballot == b.Ballot && slices.EqualFunc(a.Cmds, b.Cmds, bytes.Equal)
}

func equalMessage(a, b *Message) bool {
	return a.Type == b.Type && a.From == b.From && a.To == b.To && a.Ballot == b.Ballot &&
		a.Slot == b.Slot && a.Commit == b.Commit && a.Reject == b.Reject && a.More == b.More &&
		slices.EqualFunc(a.Entries, b.Entries, equalEntry) && slices.Equal(a.Slots, b.Slots) &&
		a.Offset == b.Offset && a.Total == b.Total && bytes.Equal(a.Data, b.Data)
}

func equalRecord(a, b *Record) bool {
	return a.Type == b.Type && a.Ballot == b.Ballot && equalEntry(a.Entry, b.Entry) &&
		a.Slot == b.Slot && bytes.Equal(a.Data, b.Data)
}

// checkCapped fails unless every command and command list of m has
// cap == len, so that appending to one cannot clobber its neighbour.
func checkCapped(t *rapid.T, m *Message) {
	t.Helper()
	for _, e := range m.Entries {
		for _, c := range e.Cmds {
			if cap(c) != len(c) {
				t.Fatalf("decoded command has cap %d > len %d", cap(c), len(c))
			}
		}
		if cap(e.Cmds) != len(e.Cmds) {
			t.Fatalf("decoded command list has cap %d > len %d", cap(e.Cmds), len(e.Cmds))
		}
	}
}

// --- properties ---------------------------------------------------------

func TestMessageRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMessage().Draw(t, "m")
		prefix := genBytes(8).Draw(t, "prefix")
		buf := AppendMessage(slices.Clone(prefix), m)
		if !bytes.Equal(buf[:len(prefix)], prefix) {
			t.Fatalf("AppendMessage clobbered dst")
		}
		pkt := buf[len(prefix):]
		if got := EncodedSize(m); got != len(pkt) {
			t.Fatalf("EncodedSize = %d, encoded %d bytes", got, len(pkt))
		}
		got := &Message{Entries: []Entry{{Slot: 99}}, Data: []byte("stale")}
		if err := DecodeMessage(pkt, got); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !equalMessage(m, got) {
			t.Fatalf("round trip:\n got  %s\n want %s", DescribeMessage(got), DescribeMessage(m))
		}
		checkCapped(t, got)
		if again := AppendMessage(nil, got); !bytes.Equal(again, pkt) {
			t.Fatalf("re-encoding differs: the encoding is not canonical")
		}
		// Decoded byte strings are copies: wiping the packet leaves them be.
		clear(pkt)
		if !equalMessage(m, got) {
			t.Fatalf("decoded message aliases the packet")
		}
	})
}

func TestEntryEncodedSizeAddsUp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := genMessage().Draw(t, "m")
		e := genEntry().Draw(t, "e")
		before := EncodedSize(m)
		countGrowth := uvarintLen(uint64(len(m.Entries)+1)) - uvarintLen(uint64(len(m.Entries)))
		m.Entries = append(m.Entries, e)
		if got, want := EncodedSize(m), before+EntryEncodedSize(e)+countGrowth; got != want {
			t.Fatalf("EncodedSize after adding an entry = %d, want %d", got, want)
		}
	})
}

func TestRecordRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		recs := rapid.SliceOfN(genRecord(), 1, 4).Draw(t, "recs")
		var log []byte
		for _, r := range recs {
			log = AppendRecord(log, r)
		}
		rest := log
		for i, want := range recs {
			got, n, err := DecodeRecord(rest)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if !equalRecord(want, &got) {
				t.Fatalf("record %d:\n got  %s\n want %s", i, DescribeRecord(&got), DescribeRecord(want))
			}
			rest = rest[n:]
		}
		if len(rest) != 0 {
			t.Fatalf("%d bytes left after the last record", len(rest))
		}
		// A torn write leaves a strict prefix of the last record.
		lastLen := len(AppendRecord(nil, recs[len(recs)-1]))
		cut := rapid.IntRange(0, lastLen-1).Draw(t, "cut")
		torn := log[len(log)-lastLen : len(log)-lastLen+cut]
		if _, n, err := DecodeRecord(torn); !errors.Is(err, ErrTruncated) || n != 0 {
			t.Fatalf("torn record of %d/%d bytes: n=%d err=%v, want ErrTruncated", cut, lastLen, n, err)
		}
	})
}

// --- rejections -----------------------------------------------------------

func sampleAccept() *Message {
	cmds := make([][]byte, 5)
	for i := range cmds {
		cmds[i] = bytes.Repeat([]byte{byte('a' + i)}, 40)
	}
	return &Message{Type: MsgAccept, From: 1, To: 3, Ballot: Ballot{Round: 3, Node: 1}, Commit: 995,
		Entries: []Entry{{Slot: 1000, Ballot: Ballot{Round: 3, Node: 1}, Cmds: cmds}}}
}

// heartbeatBody is a hand-encoded Heartbeat 1->2 b=3.1 c=7 body, which the
// table below damages one field at a time.
var heartbeatBody = []byte{
	5,    // type: MsgHeartbeat
	1, 2, // from, to
	3, 1, // ballot
	0, 7, // slot, commit
	0,    // flags
	0, 0, // entries, slots
	0, 0, // offset, total
	0, // data
}

func TestHeartbeatBodyIsWhatTheEncoderWrites(t *testing.T) {
	m := &Message{Type: MsgHeartbeat, From: 1, To: 2, Ballot: Ballot{Round: 3, Node: 1}, Commit: 7}
	if got := appendMessageBody(nil, m); !bytes.Equal(got, heartbeatBody) {
		t.Fatalf("body = % x, want % x", got, heartbeatBody)
	}
}

func TestDecodeMessageRejects(t *testing.T) {
	edit := func(at int, cut int, insert ...byte) []byte {
		b := slices.Clone(heartbeatBody)
		return slices.Insert(slices.Delete(b, at, at+cut), at, insert...)
	}
	frame := func(body []byte) []byte { return AppendFrame(nil, KindPaxos, body) }
	good := AppendMessage(nil, sampleAccept())
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"truncated", good[:len(good)-3], ErrTruncated},
		{"trailing garbage", append(slices.Clone(good), "junk"...), ErrMalformed},
		{"oversized", append(slices.Clone(good), make([]byte, MaxPacketBytes)...), ErrTooLarge},
		{"checksum", func() []byte { p := slices.Clone(good); p[20] ^= 4; return p }(), ErrChecksum},
		{"wrong version", func() []byte { p := slices.Clone(good); p[0] = Version + 1; return reseal(p) }(), ErrVersion},
		{"application kind", AppendFrame(nil, KindAppMin, heartbeatBody), ErrUnknownType},
		{"record kind", AppendRecord(nil, &Record{Type: RecPromise}), ErrUnknownType},
		{"msg type 0", frame(edit(0, 1, 0)), ErrUnknownType},
		{"msg type 13", frame(edit(0, 1, 13)), ErrUnknownType},
		{"msg type 255", frame(edit(0, 1, 255)), ErrUnknownType},
		{"empty body", frame(nil), ErrMalformed},
		{"body ends early", frame(heartbeatBody[:len(heartbeatBody)-1]), ErrMalformed},
		{"body ends in varint", frame(append(heartbeatBody[:1:1], 0x81)), ErrMalformed},
		{"body has trailing byte", frame(append(slices.Clone(heartbeatBody), 0)), ErrMalformed},
		{"unknown flag bit", frame(edit(7, 1, 4)), ErrMalformed},
		{"non-minimal varint", frame(edit(1, 1, 0x81, 0x00)), ErrMalformed},
		{"varint overflow", frame(edit(5, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02)), ErrMalformed},
		{"varint too long", frame(edit(5, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)), ErrMalformed},
		{"id above 32 bits", frame(edit(1, 1, 0x80, 0x80, 0x80, 0x80, 0x10)), ErrMalformed},
		{"ballot node above 32 bits", frame(edit(4, 1, 0x80, 0x80, 0x80, 0x80, 0x10)), ErrMalformed},
		{"huge entry count", frame(edit(8, 1, 0xff, 0xff, 0xff, 0xff, 0x0f)), ErrMalformed},
		{"entry count past the end", frame(edit(8, 1, 2)), ErrMalformed},
		{"huge slot count", frame(edit(9, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), ErrMalformed},
		{"huge data length", frame(edit(12, 1, 0xff, 0xff, 0x03)), ErrMalformed},
		{"huge command count", frame(edit(8, 1, 1, 0, 0, 0, 0xff, 0xff, 0x03)), ErrMalformed},
		{"huge command length", frame(edit(8, 1, 1, 0, 0, 0, 1, 0xff, 0xff, 0x03)), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{Type: MsgChosen, Commit: 42}
			err := DecodeMessage(tt.pkt, m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if m.Type != MsgChosen || m.Commit != 42 {
				t.Fatalf("a failed decode changed m to %s", DescribeMessage(m))
			}
			// What the frame lets through, the body decoder rejects alike.
			kind, body, ferr := ParseFrame(tt.pkt)
			if ferr != nil {
				return
			}
			if berr := DecodeMessageBody(kind, body, m); berr == nil || berr.Error() != err.Error() {
				t.Fatalf("DecodeMessageBody: err = %v, DecodeMessage's was %v", berr, err)
			}
			if m.Type != MsgChosen || m.Commit != 42 {
				t.Fatalf("a failed body decode changed m to %s", DescribeMessage(m))
			}
		})
	}
}

// TestDecodeMessageBodyRejects: the body decoder, which trusts the frame's
// checksum, still rejects a kind that is not KindPaxos and a body no packet
// could carry, as DecodeMessage would reject the frames they came in.
func TestDecodeMessageBodyRejects(t *testing.T) {
	good := AppendMessage(nil, sampleAccept())
	body := good[frameHeaderBytes : len(good)-frameTrailerBytes]
	// A well-formed heartbeat body but for its size: data of a packet's length.
	big := binary.AppendUvarint(slices.Clone(heartbeatBody[:len(heartbeatBody)-1]), MaxPacketBytes)
	big = append(big, make([]byte, MaxPacketBytes)...)
	for _, tt := range []struct {
		name string
		kind byte
		body []byte
		want error
	}{
		{"application kind", KindAppMin, body, ErrUnknownType},
		{"record kind", KindRecord, body, ErrUnknownType},
		{"kind 0", 0, body, ErrUnknownType},
		{"body larger than a packet", KindPaxos, big, ErrTooLarge},
		{"malformed", KindPaxos, body[:len(body)-1], ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{Type: MsgChosen, Commit: 42}
			if err := DecodeMessageBody(tt.kind, tt.body, m); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if m.Type != MsgChosen || m.Commit != 42 {
				t.Fatalf("a failed decode changed m to %s", DescribeMessage(m))
			}
		})
	}
	var m Message
	if err := DecodeMessageBody(KindPaxos, body, &m); err != nil || !equalMessage(&m, sampleAccept()) {
		t.Fatalf("DecodeMessageBody of a good body: %v, %s", err, DescribeMessage(&m))
	}
}

// Every single-bit flip of a packet is rejected, as corruption: ErrChecksum,
// or, in the length field, a length that disagrees with the packet's size.
func TestDecodeMessageRejectsEveryBitFlip(t *testing.T) {
	good := AppendMessage(nil, sampleAccept())
	pkt := slices.Clone(good)
	for i := range pkt {
		for bit := range 8 {
			pkt[i] ^= 1 << bit
			var m Message
			err := DecodeMessage(pkt, &m)
			pkt[i] ^= 1 << bit
			want := []error{ErrChecksum}
			if i >= 2 && i < frameHeaderBytes {
				want = []error{ErrTooLarge, ErrTruncated, ErrMalformed}
			}
			if s := sentinelOf(err); !slices.Contains(want, s) {
				t.Fatalf("flip byte %d bit %d: err = %v, want one of %v", i, bit, err, want)
			}
		}
	}
	if !bytes.Equal(pkt, good) {
		t.Fatal("test did not restore the packet")
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good := AppendRecord(nil, &Record{Type: RecAccept, Ballot: Ballot{Round: 2, Node: 1},
		Entry: Entry{Slot: 7, Ballot: Ballot{Round: 2, Node: 1}, Cmds: [][]byte{[]byte("lock 1")}}})
	body := good[frameHeaderBytes : len(good)-frameTrailerBytes]
	record := func(b []byte) []byte { return AppendFrame(nil, KindRecord, b) }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"torn header", good[:3], ErrTruncated},
		{"torn body", good[:len(good)-5], ErrTruncated},
		{"torn checksum", good[:len(good)-1], ErrTruncated},
		{"checksum", func() []byte { p := slices.Clone(good); p[9] ^= 1; return p }(), ErrChecksum},
		{"zeroed tail", make([]byte, 64), ErrChecksum},
		{"length above MaxRecordBytes", func() []byte {
			p := slices.Clone(good)
			p[5] = 0x7f
			return p
		}(), ErrTooLarge},
		{"wrong version", func() []byte { p := slices.Clone(good); p[0] = 9; return reseal(p) }(), ErrVersion},
		{"packet kind", AppendMessage(nil, sampleAccept()), ErrUnknownType},
		{"record type 0", record(append([]byte{0}, body[1:]...)), ErrUnknownType},
		{"record type 6", record(append([]byte{6}, body[1:]...)), ErrUnknownType},
		{"body trailing byte", record(append(slices.Clone(body), 0)), ErrMalformed},
		{"body ends early", record(body[:len(body)-1]), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, n, err := DecodeRecord(tt.b)
			if !errors.Is(err, tt.want) || n != 0 {
				t.Fatalf("n=%d err=%v, want 0, %v", n, err, tt.want)
			}
		})
	}
	t.Run("every bit flip", func(t *testing.T) {
		b := slices.Clone(good)
		for i := range b {
			for bit := range 8 {
				b[i] ^= 1 << bit
				_, _, err := DecodeRecord(b)
				b[i] ^= 1 << bit
				want := []error{ErrChecksum}
				if i >= 2 && i < frameHeaderBytes {
					want = []error{ErrTooLarge, ErrTruncated, ErrChecksum}
				}
				if s := sentinelOf(err); !slices.Contains(want, s) {
					t.Fatalf("flip byte %d bit %d: err = %v, want one of %v", i, bit, err, want)
				}
			}
		}
	})
}

func TestAppendMessageDoesNotAllocate(t *testing.T) {
	m := sampleAccept()
	buf := make([]byte, 0, MaxPacketBytes)
	if n := testing.AllocsPerRun(100, func() { buf = AppendMessage(buf[:0], m) }); n != 0 {
		t.Fatalf("AppendMessage allocates %v times per call into a reused buffer", n)
	}
	r := &Record{Type: RecAccept, Entry: m.Entries[0]}
	if n := testing.AllocsPerRun(100, func() { buf = AppendRecord(buf[:0], r) }); n != 0 {
		t.Fatalf("AppendRecord allocates %v times per call into a reused buffer", n)
	}
}

// --- fuzzing ------------------------------------------------------------

// seedMessages are the seed corpus of FuzzDecodeMessage, one per shape.
func seedMessages() map[string]*Message {
	b := Ballot{Round: 2, Node: 1}
	return map[string]*Message{
		"accept":    sampleAccept(),
		"prepare":   {Type: MsgPrepare, From: 2, To: 1, Ballot: Ballot{Round: 3, Node: 2}, Slot: 5},
		"promise":   {Type: MsgPromise, From: 2, To: 1, Ballot: b, Commit: 5, More: true, Entries: []Entry{{Slot: 5, Ballot: Ballot{Round: 1, Node: 1}, Cmds: [][]byte{[]byte("lock a")}}, {Slot: 6, Ballot: b}}},
		"rejected":  {Type: MsgAccepted, From: 3, To: 1, Ballot: Ballot{Round: 4, Node: 3}, Reject: true},
		"accepted":  {Type: MsgAccepted, From: 3, To: 1, Ballot: b, Slots: []uint64{7, 8, 9, 300}},
		"heartbeat": {Type: MsgHeartbeat, From: 1, To: 2, Ballot: b, Commit: 1 << 40},
		"forward":   {Type: MsgForward, From: 2, To: 1, Entries: []Entry{{Cmds: [][]byte{[]byte("unlock b"), {}}}}},
		"snapshot":  {Type: MsgSnapshot, From: 1, To: 3, Slot: 100, Offset: 4, Total: 10, Data: []byte("state!")},
	}
}

func seedRecords() map[string]*Record {
	b := Ballot{Round: 2, Node: 1}
	return map[string]*Record{
		"promise":  {Type: RecPromise, Ballot: b},
		"accept":   {Type: RecAccept, Entry: Entry{Slot: 7, Ballot: b, Cmds: [][]byte{[]byte("lock a"), []byte("lock b")}}},
		"chosen":   {Type: RecChosen, Entry: Entry{Slot: 7, Ballot: b}},
		"snapshot": {Type: RecSnapshot, Slot: 100, Data: []byte("state")},
		"host":     {Type: RecHost, Data: []byte(`{"node":1}`)},
	}
}

// FuzzDecodeMessage feeds the input to DecodeMessage twice: as a packet,
// and as a body inside a correctly checksummed frame, so that the fuzzer
// can reach the body decoder without having to forge a crc32c.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range seedMessages() {
		f.Add(AppendMessage(nil, m))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkMessageDecode(t, in)
		if len(in) <= MaxPacketBytes-FrameOverheadBytes {
			checkMessageDecode(t, AppendFrame(nil, KindPaxos, in))
		}
	})
}

func checkMessageDecode(t *testing.T, pkt []byte) {
	var m Message
	err := DecodeMessage(pkt, &m)
	// DecodeMessageBody, given what ParseFrame makes of the packet, agrees.
	if kind, body, ferr := ParseFrame(pkt); ferr == nil {
		var mb Message
		berr := DecodeMessageBody(kind, body, &mb)
		if (berr == nil) != (err == nil) || (err != nil && berr.Error() != err.Error()) || !equalMessage(&m, &mb) {
			t.Fatalf("DecodeMessageBody disagrees with DecodeMessage: %v vs %v\n got  %s\n want %s",
				berr, err, DescribeMessage(&mb), DescribeMessage(&m))
		}
	}
	if err != nil {
		if sentinelOf(err) == nil {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		return
	}
	_ = DescribeMessage(&m)
	re := AppendMessage(nil, &m)
	if !bytes.Equal(re, pkt) {
		t.Fatalf("decoded packet re-encodes differently:\n in  % x\n out % x", pkt, re)
	}
	if EncodedSize(&m) != len(re) {
		t.Fatalf("EncodedSize = %d, encoded %d", EncodedSize(&m), len(re))
	}
	var m2 Message
	if err := DecodeMessage(re, &m2); err != nil || !equalMessage(&m, &m2) {
		t.Fatalf("re-decode: %v\n got  %s\n want %s", err, DescribeMessage(&m2), DescribeMessage(&m))
	}
}

// FuzzDecodeRecord feeds the input to DecodeRecord as a log, and as a body
// inside a correctly checksummed record.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range seedRecords() {
		f.Add(AppendRecord(nil, r))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkRecordDecode(t, in)
		checkRecordDecode(t, AppendFrame(nil, KindRecord, in[:min(len(in), MaxPacketBytes-FrameOverheadBytes)]))
	})
}

func checkRecordDecode(t *testing.T, b []byte) {
	r, n, err := DecodeRecord(b)
	if err != nil {
		if sentinelOf(err) == nil {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if n != 0 {
			t.Fatalf("n = %d on error", n)
		}
		return
	}
	_ = DescribeRecord(&r)
	if n <= 0 || n > len(b) {
		t.Fatalf("n = %d of %d bytes", n, len(b))
	}
	re := AppendRecord(nil, &r)
	if !bytes.Equal(re, b[:n]) {
		t.Fatalf("decoded record re-encodes differently:\n in  % x\n out % x", b[:n], re)
	}
	r2, n2, err := DecodeRecord(re)
	if err != nil || n2 != n || !equalRecord(&r, &r2) {
		t.Fatalf("re-decode: n=%d err=%v\n got  %s\n want %s", n2, err, DescribeRecord(&r2), DescribeRecord(&r))
	}
}

// TestFuzzSeedCorpus checks that the seed files under testdata/fuzz are
// valid encodings (a format change must come with new seeds, and a version
// bump); -update-fuzz-corpus rewrites them from seedMessages/seedRecords.
func TestFuzzSeedCorpus(t *testing.T) {
	seeds := map[string][]byte{}
	for name, m := range seedMessages() {
		seeds[filepath.Join("FuzzDecodeMessage", "seed-"+name)] = AppendMessage(nil, m)
	}
	for name, r := range seedRecords() {
		seeds[filepath.Join("FuzzDecodeRecord", "seed-"+name)] = AppendRecord(nil, r)
	}
	for name, want := range seeds {
		path := filepath.Join("testdata", "fuzz", name)
		if *updateFuzzCorpus {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", want)
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := readFuzzFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test -run TestFuzzSeedCorpus -update-fuzz-corpus)", path, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s holds % x, the codec encodes % x", path, got, want)
		}
	}
}

func readFuzzFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
		!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		return nil, fmt.Errorf("not a one-[]byte go fuzz file")
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	return []byte(s), err
}

// --- benchmarks ---------------------------------------------------------

func BenchmarkAppendMessageAccept(b *testing.B) {
	m := sampleAccept()
	buf := make([]byte, 0, MaxPacketBytes)
	b.ReportAllocs()
	b.SetBytes(int64(EncodedSize(m)))
	for b.Loop() {
		buf = AppendMessage(buf[:0], m)
	}
}

func BenchmarkDecodeMessageAccept(b *testing.B) {
	pkt := AppendMessage(nil, sampleAccept())
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	var m Message
	for b.Loop() {
		if err := DecodeMessage(pkt, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMessageHeartbeat(b *testing.B) {
	pkt := AppendMessage(nil, &Message{Type: MsgHeartbeat, From: 1, To: 2, Ballot: Ballot{Round: 3, Node: 1}, Commit: 995})
	b.ReportAllocs()
	var m Message
	for b.Loop() {
		if err := DecodeMessage(pkt, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRecordAccept(b *testing.B) {
	r := &Record{Type: RecAccept, Entry: sampleAccept().Entries[0]}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecord(buf[:0], r)
	}
}

func BenchmarkDecodeRecordAccept(b *testing.B) {
	rec := AppendRecord(nil, &Record{Type: RecAccept, Entry: sampleAccept().Entries[0]})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}
