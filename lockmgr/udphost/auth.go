package udphost

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
)

// MACBytes is what authentication adds to every packet.
const MACBytes = sha256.Size

// ClusterTagBytes is the cluster tag every packet starts with.
const ClusterTagBytes = 8

// clusterTag is the first bytes of SHA-256 of the group's ClusterID: a
// packet of another group (another config on the same ports, a stray
// client) is told apart before anything else reads it.
func clusterTag(id string) [ClusterTagBytes]byte {
	sum := sha256.Sum256([]byte("paxlock cluster " + id))
	return [ClusterTagBytes]byte(sum[:ClusterTagBytes])
}

// auth seals and opens packets. On the wire a packet is
//
//	cluster tag (8 bytes) || frame [|| HMAC-SHA256(key, tag || frame)]
//
// with the MAC only in a group with a key (without one, the frame's
// CRC-32C still catches accidents, not forgeries). An auth holds hash
// state, so each goroutine needs its own.
type auth struct {
	key []byte
	tag [ClusterTagBytes]byte
	mac hash.Hash
	sum []byte
}

func newAuth(cfg *Config) *auth {
	a := &auth{key: cfg.key, tag: clusterTag(cfg.ClusterID())}
	if a.key != nil {
		a.mac = hmac.New(sha256.New, a.key)
		a.sum = make([]byte, 0, MACBytes)
	}
	return a
}

// overhead is what sealing adds to a frame.
func (a *auth) overhead() int {
	if a.mac == nil {
		return ClusterTagBytes
	}
	return ClusterTagBytes + MACBytes
}

// seal appends the wire form of frame to dst.
func (a *auth) seal(dst, frame []byte) []byte {
	start := len(dst)
	dst = append(dst, a.tag[:]...)
	dst = append(dst, frame...)
	if a.mac == nil {
		return dst
	}
	a.mac.Reset()
	a.mac.Write(dst[start:])
	return a.mac.Sum(dst)
}

// opened says what open made of a packet.
type opened uint8

const (
	openOK           opened = iota
	openOtherCluster        // no tag, or another group's
	openBadMAC              // this group's tag, but the MAC does not check out
)

// open returns the frame inside a wire packet; the frame aliases pkt.
func (a *auth) open(pkt []byte) ([]byte, opened) {
	if len(pkt) < ClusterTagBytes || [ClusterTagBytes]byte(pkt[:ClusterTagBytes]) != a.tag {
		return nil, openOtherCluster
	}
	if a.mac == nil {
		return pkt[ClusterTagBytes:], openOK
	}
	if len(pkt) < ClusterTagBytes+MACBytes {
		return nil, openBadMAC
	}
	body, tag := pkt[:len(pkt)-MACBytes], pkt[len(pkt)-MACBytes:]
	a.mac.Reset()
	a.mac.Write(body)
	a.sum = a.mac.Sum(a.sum[:0])
	if !hmac.Equal(a.sum, tag) {
		return nil, openBadMAC
	}
	return body[ClusterTagBytes:], openOK
}
