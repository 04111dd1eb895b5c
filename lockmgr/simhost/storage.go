package simhost

import (
	"encoding/binary"
	"errors"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// The fenced resource: a storage service lock holders write to, as in
// Kleppmann's "How to do distributed locking". Every write names the
// resource (the lock's name), the writer's session and the fencing token
// of its grant. The storage refuses a fenced write whose token is below
// the highest it has accepted for that resource; a write that is not
// fenced (a client that does not use its token) it takes as it comes. A
// lease only says when a lock may have moved on; the token is what stops
// a holder that paused past its lease from writing over its successor.

// Frame kinds of the storage protocol (application kinds, above lockmgr's).
const (
	KindWrite    byte = paxos.KindAppMin + 8 // client -> storage
	KindWriteAck byte = paxos.KindAppMin + 9 // storage -> client
)

// Write is one write to the fenced resource.
type Write struct {
	Resource string
	Session  lockmgr.ClientID
	Token    uint64
	Fenced   bool   // the storage must check Token
	N        uint64 // the writer's own numbering, echoed in the ack
}

// WriteAck answers a Write.
type WriteAck struct {
	N        uint64
	Accepted bool
}

func appendWrite(dst []byte, w *Write) []byte {
	dst, start := paxos.BeginFrame(dst, KindWrite)
	dst = binary.AppendUvarint(dst, uint64(len(w.Resource)))
	dst = append(dst, w.Resource...)
	dst = binary.AppendUvarint(dst, uint64(w.Session))
	dst = binary.AppendUvarint(dst, w.Token)
	fenced := byte(0)
	if w.Fenced {
		fenced = 1
	}
	dst = append(dst, fenced)
	dst = binary.AppendUvarint(dst, w.N)
	return paxos.FinishFrame(dst, start)
}

var errBadWrite = errors.New("simhost: bad write")

func decodeWrite(body []byte) (Write, error) {
	var w Write
	n, k := binary.Uvarint(body)
	if k <= 0 || n > lockmgr.NameBytesMax || uint64(len(body)-k) < n {
		return w, errBadWrite
	}
	w.Resource, body = string(body[k:k+int(n)]), body[k+int(n):]
	var vals [2]uint64
	for i := range vals {
		v, k := binary.Uvarint(body)
		if k <= 0 {
			return w, errBadWrite
		}
		vals[i], body = v, body[k:]
	}
	w.Session, w.Token = lockmgr.ClientID(vals[0]), vals[1]
	if len(body) < 1 || body[0] > 1 {
		return w, errBadWrite
	}
	w.Fenced, body = body[0] == 1, body[1:]
	v, k := binary.Uvarint(body)
	if k <= 0 || k != len(body) {
		return w, errBadWrite
	}
	w.N = v
	return w, nil
}

func appendWriteAck(dst []byte, a WriteAck) []byte {
	dst, start := paxos.BeginFrame(dst, KindWriteAck)
	dst = binary.AppendUvarint(dst, a.N)
	ok := byte(0)
	if a.Accepted {
		ok = 1
	}
	dst = append(dst, ok)
	return paxos.FinishFrame(dst, start)
}

func decodeWriteAck(body []byte) (WriteAck, bool) {
	v, k := binary.Uvarint(body)
	if k <= 0 || len(body) != k+1 || body[k] > 1 {
		return WriteAck{}, false
	}
	return WriteAck{N: v, Accepted: body[k] == 1}, true
}

// Storage is the fenced resource's process. It never crashes: it stands
// for a store with durability of its own.
type Storage struct {
	rec     Recorder
	highest map[string]uint64 // per resource: the highest token accepted
}

// NewStorage returns the storage process; rec hears every accepted write.
func NewStorage(rec Recorder) *Storage {
	return &Storage{rec: rec, highest: map[string]uint64{}}
}

func (s *Storage) Start(env sim.Env) { env.WakeAtTick(1<<62 - 1) }
func (s *Storage) Tick(env sim.Env)  { env.WakeAtTick(1<<62 - 1) }

func (s *Storage) Receive(env sim.Env, from sim.Addr, data []byte) {
	kind, body, err := paxos.ParseFrame(data)
	if err != nil || kind != KindWrite {
		return
	}
	w, err := decodeWrite(body)
	if err != nil {
		return
	}
	ok := s.accepts(&w)
	if ok {
		s.highest[w.Resource] = max(s.highest[w.Resource], w.Token)
	}
	s.rec.Wrote(env.Now(), w, ok)
	env.Send(from, appendWriteAck(nil, WriteAck{N: w.N, Accepted: ok}))
}

// accepts is the fencing rule: a fenced write needs a token no lower than
// the highest accepted.
func (s *Storage) accepts(w *Write) bool {
	return !w.Fenced || w.Token >= s.highest[w.Resource]
}
