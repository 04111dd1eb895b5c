package lockmgr

import (
	"errors"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"paxlock/paxos"
)

func TestWireRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := Request{Command{
			Client: ClientID(rapid.Uint64().Draw(t, "client")),
			Seq:    rapid.Uint64().Draw(t, "seq"),
			Op:     rapid.SampledFrom([]Op{OpLock, OpTryLock, OpUnlock, OpStatus}).Draw(t, "op"),
			Name:   rapid.StringN(0, NameBytesMax, NameBytesMax).Draw(t, "name"),
		}}
		kind, body, err := paxos.ParseFrame(AppendRequest(nil, &q))
		if err != nil || kind != KindRequest {
			t.Fatalf("frame: %v %d", err, kind)
		}
		got, err := DecodeRequest(body)
		if err != nil || got != q {
			t.Fatalf("request %+v -> %+v, %v", q, got, err)
		}
		p := Reply{Client: q.Client, Seq: q.Seq, Status: Status(rapid.IntRange(1, 33).Draw(t, "status")),
			Token: rapid.Uint64().Draw(t, "token"), Holder: ClientID(rapid.Uint64().Draw(t, "holder")),
			Leader: paxos.ID(rapid.Uint32().Draw(t, "leader"))}
		for i := rapid.IntRange(0, 3).Draw(t, "locks"); i > 0; i-- {
			p.Locks = append(p.Locks, LockStatus{Name: "k", Holder: 7, Token: uint64(i), Waiters: []ClientID{1, 2}})
		}
		_, body, err = paxos.ParseFrame(AppendReply(nil, &p))
		if err != nil {
			t.Fatal(err)
		}
		gp, err := DecodeReply(body)
		if err != nil || !reflect.DeepEqual(gp, p) {
			t.Fatalf("reply %+v -> %+v, %v", p, gp, err)
		}
	})
}

// TestWireGarbage: decoders never panic on arbitrary bodies, and every
// failure is an ErrBadPacket.
func TestWireGarbage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "body")
		if _, err := DecodeRequest(b); err != nil && !errors.Is(err, ErrBadPacket) {
			t.Fatalf("request error %v is not ErrBadPacket", err)
		}
		if _, err := DecodeReply(b); err != nil && !errors.Is(err, ErrBadPacket) {
			t.Fatalf("reply error %v is not ErrBadPacket", err)
		}
	})
	// A hostile count cannot make the decoder allocate beyond the body.
	body := []byte{1, 1, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, err := DecodeReply(body); !errors.Is(err, ErrBadPacket) {
		t.Fatalf("huge counter count: %v", err)
	}
}

// TestReplyTruncatesLocks: a status too big for a packet is cut short and
// says how many locks it left out.
func TestReplyTruncatesLocks(t *testing.T) {
	var p Reply
	long := string(make([]byte, NameBytesMax))
	for i := 0; i < 2000; i++ {
		p.Locks = append(p.Locks, LockStatus{Name: long, Holder: 1, Token: uint64(i)})
	}
	pkt := AppendReply(nil, &p)
	_, body, err := paxos.ParseFrame(pkt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeReply(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Locks) == 0 || uint64(len(got.Locks))+got.Truncated != 2000 {
		t.Fatalf("%d locks + %d truncated, want 2000 in all", len(got.Locks), got.Truncated)
	}
}
