package paxos

import (
	"encoding/binary"
	"testing"
)

func testLog(n int) (b []byte, ends []int) {
	for i := 0; i < n; i++ {
		r := Record{Type: RecAccept, Entry: Entry{Slot: uint64(i), Ballot: Ballot{Round: 1, Node: 1}, Cmds: [][]byte{[]byte("lock 1")}}}
		b = AppendRecord(b, &r)
		ends = append(ends, len(b))
	}
	return b, ends
}

// TestParseLogTornTail: any cut inside the last record is a torn tail.
func TestParseLogTornTail(t *testing.T) {
	b, ends := testLog(5)
	for cut := ends[3] + 1; cut < ends[4]; cut++ {
		recs, valid, err := ParseLog(b[:cut])
		if err != nil || len(recs) != 4 || valid != ends[3] {
			t.Fatalf("cut at %d: %d records, valid %d, err %v", cut, len(recs), valid, err)
		}
	}
}

// TestParseLogCorruptMiddle: damage followed by intact records is
// corruption, never a torn tail, whatever field it hits; in particular a
// length field flipped to point past the end (which reads as truncated)
// must not silently drop the records after it.
func TestParseLogCorruptMiddle(t *testing.T) {
	b, ends := testLog(5)
	for _, tc := range []struct {
		name string
		mod  func(c []byte)
	}{
		{"payload bit", func(c []byte) { c[ends[1]+8] ^= 1 }},
		{"length past end", func(c []byte) { binary.LittleEndian.PutUint32(c[ends[1]+2:], uint32(len(c))) }},
		{"length short", func(c []byte) { binary.LittleEndian.PutUint32(c[ends[1]+2:], 3) }},
	} {
		c := append([]byte(nil), b...)
		tc.mod(c)
		recs, _, err := ParseLog(c)
		if err == nil {
			t.Errorf("%s: no error; %d records read", tc.name, len(recs))
		}
	}
}
