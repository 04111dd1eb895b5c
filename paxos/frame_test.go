package paxos

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// reseal recomputes the checksum of the single frame pkt, so that a test
// can damage the header or body and still get past the integrity check.
func reseal(pkt []byte) []byte {
	end := len(pkt) - frameTrailerBytes
	binary.LittleEndian.PutUint32(pkt[end:], crc32.Checksum(pkt[:end], castagnoli))
	return pkt
}

func TestFrameRoundTrip(t *testing.T) {
	for _, body := range [][]byte{nil, {0}, []byte("hello"), bytes.Repeat([]byte{7}, MaxPacketBytes-FrameOverheadBytes)} {
		prefix := []byte("prefix")
		pkt := AppendFrame(append([]byte(nil), prefix...), KindAppMin, body)
		if !bytes.Equal(pkt[:len(prefix)], prefix) {
			t.Fatalf("AppendFrame clobbered dst's existing bytes")
		}
		pkt = pkt[len(prefix):]
		if got, want := len(pkt), len(body)+FrameOverheadBytes; got != want {
			t.Fatalf("len = %d, want %d", got, want)
		}
		kind, got, err := ParseFrame(pkt)
		if err != nil || kind != KindAppMin || !bytes.Equal(got, body) {
			t.Fatalf("ParseFrame = %d, %d bytes, %v; want %d, %d bytes, nil", kind, len(got), err, KindAppMin, len(body))
		}
	}
}

func TestFrameLayout(t *testing.T) {
	got := AppendFrame(nil, KindPaxos, []byte{0xaa, 0xbb})
	want := []byte{Version, KindPaxos, 2, 0, 0, 0, 0xaa, 0xbb}
	want = binary.LittleEndian.AppendUint32(want, crc32.Checksum(want, crc32.MakeTable(crc32.Castagnoli)))
	if !bytes.Equal(got, want) {
		t.Fatalf("frame = % x, want % x", got, want)
	}
}

func TestBeginFinishFrameInPlace(t *testing.T) {
	dst, start := BeginFrame([]byte("xy"), 99)
	dst = append(dst, "body"...)
	dst = FinishFrame(dst, start)
	if want := AppendFrame([]byte("xy"), 99, []byte("body")); !bytes.Equal(dst, want) {
		t.Fatalf("in-place frame % x, want % x", dst, want)
	}
}

func TestFinishFramePanicsWhenOversized(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a packet above MaxPacketBytes")
		}
	}()
	AppendFrame(nil, KindAppMin, make([]byte, MaxPacketBytes-FrameOverheadBytes+1))
}

func TestParseFrameRejects(t *testing.T) {
	good := AppendFrame(nil, KindPaxos, []byte("some body bytes"))
	clone := func() []byte { return append([]byte(nil), good...) }
	tests := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"shorter than header", good[:5], ErrTruncated},
		{"header only", good[:frameHeaderBytes], ErrTruncated},
		{"missing checksum byte", good[:len(good)-1], ErrTruncated},
		{"missing body byte", append(clone()[:7], good[8:]...), ErrTruncated},
		{"trailing byte", append(clone(), 0), ErrMalformed},
		{"two frames", append(clone(), good...), ErrMalformed},
		{"oversized packet", make([]byte, MaxPacketBytes+1), ErrTooLarge},
		{"length field too large", func() []byte {
			p := clone()
			binary.LittleEndian.PutUint32(p[2:], MaxPacketBytes)
			return p
		}(), ErrTooLarge},
		{"length field max", func() []byte {
			p := clone()
			binary.LittleEndian.PutUint32(p[2:], ^uint32(0))
			return p
		}(), ErrTooLarge},
		{"bad checksum", func() []byte { p := clone(); p[len(p)-1] ^= 1; return p }(), ErrChecksum},
		{"corrupt body", func() []byte { p := clone(); p[8] ^= 0x40; return p }(), ErrChecksum},
		{"corrupt version", func() []byte { p := clone(); p[0] = 2; return p }(), ErrChecksum},
		{"wrong version", func() []byte { p := clone(); p[0] = 2; return reseal(p) }(), ErrVersion},
		{"version zero", func() []byte { p := clone(); p[0] = 0; return reseal(p) }(), ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseFrame(tt.pkt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseFrame err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseFrameBodyCannotGrowIntoChecksum(t *testing.T) {
	pkt := AppendFrame(nil, KindPaxos, []byte("abc"))
	_, body, err := ParseFrame(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if cap(body) != len(body) {
		t.Fatalf("body cap %d > len %d: appending to it would overwrite the checksum", cap(body), len(body))
	}
}

// Every strict prefix of a packet is a truncated packet.
func TestParseFramePrefixesTruncated(t *testing.T) {
	pkt := AppendFrame(nil, KindPaxos, []byte("0123456789"))
	for n := range len(pkt) {
		if _, _, err := ParseFrame(pkt[:n]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d bytes: err = %v, want ErrTruncated", n, err)
		}
	}
}
