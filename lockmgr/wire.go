package lockmgr

import (
	"encoding/binary"
	"errors"
	"fmt"

	"paxlock/paxos"
)

// The client protocol: a Request from a client to any replica, a Reply
// back. Both travel in the same checksummed frame as replica traffic (the
// paxos package's envelope), under application kinds.
const (
	KindRequest byte = paxos.KindAppMin     // client -> replica
	KindReply   byte = paxos.KindAppMin + 1 // replica -> client
)

// Request is one client request as sent on the wire: a command in its one
// encoding (see Command.Encode), of any op, OpStatus included.
type Request struct {
	Command
}

// Reply answers a Request. Locks is set for Report only, and may be cut
// short to fit a packet (Truncated says how many locks were left out).
type Reply struct {
	Client    ClientID
	Seq       uint64
	Status    Status
	Token     uint64
	Holder    ClientID
	Leader    paxos.ID
	Locks     []LockStatus
	Truncated uint64
	Counters  []uint64 // Report only: the replica's drop counters (see Server)
	// Slot: for OpRead, the slot the read was applied in (the table is the
	// state at that point of the log); for OpStatus, the replica's applied
	// prefix (every slot below it, nothing above).
	Slot uint64
	// SinceLeader (OpStatus): how many of the replica's ticks ago it last
	// heard from its leader; 0 if it leads, negative if it knows none.
	SinceLeader int64
}

// ErrBadPacket wraps every client-protocol decoding failure.
var ErrBadPacket = errors.New("lockmgr: bad packet")

// AppendRequest appends a framed request to dst.
func AppendRequest(dst []byte, q *Request) []byte {
	dst, start := paxos.BeginFrame(dst, KindRequest)
	dst = q.Command.Encode(dst)
	return paxos.FinishFrame(dst, start)
}

// DecodeRequest parses the body of a KindRequest frame. The name is not
// judged here: the server answers a bad one Invalid.
func DecodeRequest(body []byte) (Request, error) {
	c, err := decodeCommand(body)
	if err != nil {
		return Request{}, fmt.Errorf("%w: request: %v", ErrBadPacket, err)
	}
	return Request{c}, nil
}

// replyBytesMax leaves room for the frame around a reply.
const replyBytesMax = paxos.MaxPacketBytes - paxos.FrameOverheadBytes - 64

// AppendReply appends a framed reply to dst, leaving out locks that would
// not fit (counted in Truncated).
func AppendReply(dst []byte, p *Reply) []byte {
	dst, start := paxos.BeginFrame(dst, KindReply)
	dst = binary.AppendUvarint(dst, uint64(p.Client))
	dst = binary.AppendUvarint(dst, p.Seq)
	dst = append(dst, byte(p.Status))
	dst = binary.AppendUvarint(dst, p.Token)
	dst = binary.AppendUvarint(dst, uint64(p.Holder))
	dst = binary.AppendUvarint(dst, uint64(p.Leader))
	dst = binary.AppendUvarint(dst, p.Slot)
	dst = binary.AppendVarint(dst, p.SinceLeader)
	dst = binary.AppendUvarint(dst, uint64(len(p.Counters)))
	for _, c := range p.Counters {
		dst = binary.AppendUvarint(dst, c)
	}
	fit := len(p.Locks)
	size := len(dst) - start
	for i, l := range p.Locks {
		size += len(l.Name) + 24 + 10*len(l.Waiters)
		if size > replyBytesMax {
			fit = i
			break
		}
	}
	dst = binary.AppendUvarint(dst, p.Truncated+uint64(len(p.Locks)-fit))
	dst = binary.AppendUvarint(dst, uint64(fit))
	for _, l := range p.Locks[:fit] {
		dst = binary.AppendUvarint(dst, uint64(len(l.Name)))
		dst = append(dst, l.Name...)
		dst = binary.AppendUvarint(dst, uint64(l.Holder))
		dst = binary.AppendUvarint(dst, l.Token)
		dst = binary.AppendUvarint(dst, uint64(len(l.Waiters)))
		for _, w := range l.Waiters {
			dst = binary.AppendUvarint(dst, uint64(w))
		}
	}
	return paxos.FinishFrame(dst, start)
}

// DecodeReply parses the body of a KindReply frame.
func DecodeReply(body []byte) (Reply, error) {
	d := reader{b: body}
	p := Reply{Client: ClientID(d.uvarint()), Seq: d.uvarint(), Status: Status(d.byte()),
		Token: d.uvarint(), Holder: ClientID(d.uvarint())}
	leader := d.uvarint()
	if leader > 1<<32-1 {
		d.fail("leader id")
	}
	p.Leader = paxos.ID(leader)
	p.Slot = d.uvarint()
	p.SinceLeader = d.varint()
	if n := d.count(1); n > 0 {
		p.Counters = make([]uint64, n)
		for i := range p.Counters {
			p.Counters[i] = d.uvarint()
		}
	}
	p.Truncated = d.uvarint()
	if n := d.count(3); n > 0 {
		p.Locks = make([]LockStatus, n)
		for i := range p.Locks {
			l := &p.Locks[i]
			l.Name = d.str(NameBytesMax)
			l.Holder, l.Token = ClientID(d.uvarint()), d.uvarint()
			if w := d.count(1); w > 0 {
				l.Waiters = make([]ClientID, w)
				for j := range l.Waiters {
					l.Waiters[j] = ClientID(d.uvarint())
				}
			}
		}
	}
	if err := d.finish(); err != nil {
		return Reply{}, fmt.Errorf("%w: reply: %v", ErrBadPacket, err)
	}
	return p, nil
}
