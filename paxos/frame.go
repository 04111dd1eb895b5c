package paxos

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The envelope every packet in the system travels in, and every durable
// record is stored in. Version 1 lays a frame out as
//
//	offset  size  field
//	0       1     version (Version)
//	1       1     kind (KindPaxos, KindRecord, 64..127 for the application)
//	2       4     body length L, little-endian uint32
//	6       L     body
//	6+L     4     crc32c (Castagnoli), little-endian, over bytes [0, 6+L)
//
// The length is fixed-width so that an encoder can reserve the header,
// append the body straight into the output buffer and patch the length
// afterwards (BeginFrame/FinishFrame): no intermediate copy of the body.
// The checksum covers the header too, so a flipped version or kind bit is
// reported as corruption rather than mistaken for a foreign peer.
const (
	// Version is the wire and log format version this package writes and
	// the only one it reads.
	Version = 1
	// MaxPacketBytes bounds a whole encoded packet, header and checksum
	// included, so that it fits one UDP datagram.
	MaxPacketBytes = 60000
	// MaxRecordBytes bounds a durable record's body. Records are not sent
	// as datagrams, but a bound still lets a reader tell a corrupted length
	// field from a torn tail most of the time, and keeps a hostile length
	// from asking for a huge buffer. A snapshot record is the big one.
	MaxRecordBytes = 64 << 20

	frameHeaderBytes  = 6
	frameTrailerBytes = 4
	// FrameOverheadBytes is what the envelope adds to a body.
	FrameOverheadBytes = frameHeaderBytes + frameTrailerBytes
)

// Frame kinds. The kind says how to read the body; it is part of the wire
// format: never renumber.
const (
	// KindPaxos: the body is a paxos Message.
	KindPaxos byte = 1
	// KindRecord: the body is a durable Record (log files only, never sent).
	KindRecord byte = 2
	// Kinds 3..63 are reserved for this package; KindAppMin..KindAppMax
	// belong to the application (the lock service's client protocol);
	// 0 and 128..255 are unassigned.
	KindAppMin byte = 64
	KindAppMax byte = 127
)

// Sentinel errors. Decoders wrap them with context; test with errors.Is, so
// that a host can count dropped packets by reason.
var (
	// ErrTruncated: the input ends before the frame or record it starts
	// does (a short datagram, a torn log tail).
	ErrTruncated = errors.New("truncated")
	// ErrChecksum: the bytes are all there but the crc32c does not match.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrVersion: an intact frame written by another format version.
	ErrVersion = errors.New("unsupported version")
	// ErrTooLarge: the input, or a length it declares, exceeds the bound
	// (MaxPacketBytes, MaxRecordBytes).
	ErrTooLarge = errors.New("too large")
	// ErrUnknownType: an intact frame of a kind, message type or record
	// type this decoder does not know.
	ErrUnknownType = errors.New("unknown type")
	// ErrMalformed: anything else that cannot be a valid encoding: trailing
	// bytes after a frame, a body that ends inside a field or has bytes left
	// over, a varint that overflows or is not minimal, a count larger than
	// the bytes left could hold, an ID above 32 bits, unknown flag bits.
	ErrMalformed = errors.New("malformed")
)

// castagnoli is built once; hash/crc32 uses the CPU's crc32 instruction
// for this polynomial where there is one.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendFrame appends a whole packet of the given kind carrying body to dst
// and returns the extended slice. It copies body; to encode a body in place,
// use BeginFrame and FinishFrame. It panics if the packet would exceed
// MaxPacketBytes: an oversized packet is undeliverable, so producing one is
// a bug in the caller, which must bound what it batches (see EncodedSize).
func AppendFrame(dst []byte, kind byte, body []byte) []byte {
	dst, start := BeginFrame(dst, kind)
	dst = append(dst, body...)
	return FinishFrame(dst, start)
}

// BeginFrame appends a frame header for kind with a placeholder length and
// returns the extended slice and the offset where the frame starts. Append
// the body to the returned slice, then call FinishFrame with that offset.
func BeginFrame(dst []byte, kind byte) (out []byte, start int) {
	start = len(dst)
	dst = append(dst, Version, kind, 0, 0, 0, 0)
	return dst, start
}

// FinishFrame completes the frame begun at start by BeginFrame: it patches
// the body length and appends the checksum. It panics if the packet exceeds
// MaxPacketBytes (see AppendFrame) or start does not point at a header.
func FinishFrame(dst []byte, start int) []byte {
	dst = finishEnvelope(dst, start)
	if n := len(dst) - start; n > MaxPacketBytes {
		panic(fmt.Sprintf("paxos: encoded packet is %d bytes, above MaxPacketBytes=%d", n, MaxPacketBytes))
	}
	return dst
}

// finishEnvelope patches the length of the envelope begun at start and
// appends its checksum; the bound is the caller's to check.
func finishEnvelope(dst []byte, start int) []byte {
	if start < 0 || len(dst)-start < frameHeaderBytes || dst[start] != Version {
		panic("paxos: FinishFrame without a matching BeginFrame")
	}
	bodyLen := len(dst) - start - frameHeaderBytes
	binary.LittleEndian.PutUint32(dst[start+2:], uint32(bodyLen))
	sum := crc32.Checksum(dst[start:], castagnoli)
	return binary.LittleEndian.AppendUint32(dst, sum)
}

// ParseFrame checks that pkt is exactly one intact frame and returns its
// kind and body. The body aliases pkt: it is valid as long as pkt is, and
// the caller must not reuse pkt's buffer while it still reads the body.
// ParseFrame does not judge the kind; the body's decoder does.
//
// Checks run in this order, and the first failure is returned: pkt longer
// than MaxPacketBytes, or a length field declaring a body that could not
// fit in one (ErrTooLarge); pkt shorter than a header, or than its length
// field says (ErrTruncated); longer than its length field says
// (ErrMalformed); checksum (ErrChecksum); version (ErrVersion). Integrity
// comes before the version so that a single flipped bit reads as
// ErrChecksum, except in the length field, where it reads as ErrTooLarge,
// ErrTruncated or ErrMalformed; ErrVersion means an intact frame from a
// peer of another version. ParseFrame never panics.
func ParseFrame(pkt []byte) (kind byte, body []byte, err error) {
	if len(pkt) > MaxPacketBytes {
		return 0, nil, fmt.Errorf("paxos: packet of %d bytes above %d: %w", len(pkt), MaxPacketBytes, ErrTooLarge)
	}
	kind, body, _, err = parseEnvelope(pkt, MaxPacketBytes-FrameOverheadBytes, true)
	return kind, body, err
}

// parseEnvelope reads one envelope from the front of b, whose body may be
// at most bodyMax bytes, and returns its kind, its body (aliasing b) and
// the number of bytes it occupies. A length past bodyMax is ErrTooLarge.
// If whole is set, the envelope must fill b exactly.
func parseEnvelope(b []byte, bodyMax int, whole bool) (kind byte, body []byte, n int, err error) {
	if len(b) < frameHeaderBytes {
		return 0, nil, 0, fmt.Errorf("paxos: %d bytes, shorter than a frame header: %w", len(b), ErrTruncated)
	}
	bodyLen := uint64(binary.LittleEndian.Uint32(b[2:]))
	if bodyLen > uint64(bodyMax) {
		return 0, nil, 0, fmt.Errorf("paxos: frame declares a %d-byte body, above %d: %w", bodyLen, bodyMax, ErrTooLarge)
	}
	end := frameHeaderBytes + int(bodyLen)
	if len(b) < end+frameTrailerBytes {
		return 0, nil, 0, fmt.Errorf("paxos: frame declares %d bytes, %d present: %w", end+frameTrailerBytes, len(b), ErrTruncated)
	}
	if whole && len(b) > end+frameTrailerBytes {
		return 0, nil, 0, fmt.Errorf("paxos: frame of %d bytes followed by %d trailing bytes: %w",
			end+frameTrailerBytes, len(b)-end-frameTrailerBytes, ErrMalformed)
	}
	want := binary.LittleEndian.Uint32(b[end:])
	if got := crc32.Checksum(b[:end], castagnoli); got != want {
		return 0, nil, 0, fmt.Errorf("paxos: frame crc32c %08x, expected %08x: %w", got, want, ErrChecksum)
	}
	if b[0] != Version {
		return 0, nil, 0, fmt.Errorf("paxos: frame version %d, this is version %d: %w", b[0], Version, ErrVersion)
	}
	return b[1], b[frameHeaderBytes:end:end], end + frameTrailerBytes, nil
}
