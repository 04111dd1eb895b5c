package udphost

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
)

// MACBytes is what authentication adds to every packet.
const MACBytes = sha256.Size

// auth seals and opens packets: with a key, a packet on the wire is
// frame || HMAC-SHA256(key, frame); without one, the frame alone (its
// CRC-32C still catches accidents, not forgeries). An auth holds hash
// state, so each goroutine needs its own (see clone).
type auth struct {
	key []byte
	mac hash.Hash
	sum []byte
}

func newAuth(key []byte) *auth {
	a := &auth{key: key}
	if key != nil {
		a.mac = hmac.New(sha256.New, key)
		a.sum = make([]byte, 0, MACBytes)
	}
	return a
}

// seal appends the wire form of frame to dst.
func (a *auth) seal(dst, frame []byte) []byte {
	dst = append(dst, frame...)
	if a.mac == nil {
		return dst
	}
	a.mac.Reset()
	a.mac.Write(frame)
	return a.mac.Sum(dst)
}

// open returns the frame inside a wire packet, or false if the packet does
// not carry a valid MAC. The frame aliases pkt.
func (a *auth) open(pkt []byte) ([]byte, bool) {
	if a.mac == nil {
		return pkt, true
	}
	if len(pkt) < MACBytes {
		return nil, false
	}
	frame, tag := pkt[:len(pkt)-MACBytes], pkt[len(pkt)-MACBytes:]
	a.mac.Reset()
	a.mac.Write(frame)
	a.sum = a.mac.Sum(a.sum[:0])
	return frame, hmac.Equal(a.sum, tag)
}
