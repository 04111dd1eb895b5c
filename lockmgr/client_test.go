package lockmgr

import (
	"math/rand/v2"
	"testing"

	"paxlock/paxos"
)

// TestClientNotesQueued: the session records a Queued answer to its
// outstanding operation (a host reports it when it gives up waiting), and
// only an answer to that operation; the note ends with the operation.
func TestClientNotesQueued(t *testing.T) {
	cc := DefaultClientConfig(7, []paxos.ID{1, 2, 3})
	cc.Rand = rand.New(rand.NewPCG(1, 2))
	c, err := NewClient(cc)
	if err != nil {
		t.Fatal(err)
	}
	reply := func(p Reply) []byte { return AppendReply(nil, &p) }
	seq, err := c.Start(OpLock, "k")
	if err != nil {
		t.Fatal(err)
	}
	opened(t, c, 7)
	for _, pkt := range [][]byte{
		reply(Reply{Client: 7, Seq: seq + 1, Status: Queued, Leader: 1}), // another request
		reply(Reply{Client: 8, Seq: seq, Status: Queued, Leader: 1}),     // another client
		reply(Reply{Client: 7, Seq: seq, Status: Redirect, Leader: 1}),
		AppendRequest(nil, &Request{Command{Client: 7, Seq: seq, Op: OpLock, Name: "k"}}), // not a reply
	} {
		if _, done := c.Receive(pkt); done || c.Queued() {
			t.Fatalf("after a packet that is no Queued answer: done %v, Queued %v", done, c.Queued())
		}
	}
	if _, done := c.Receive(reply(Reply{Client: 7, Seq: seq, Status: Queued, Leader: 1})); done || !c.Queued() {
		t.Fatalf("after a Queued answer: done %v, Queued %v; want false, true", done, c.Queued())
	}
	c.Tick()
	if !c.Queued() {
		t.Fatal("a tick forgot the Queued answer")
	}
	comp, done := c.Receive(reply(Reply{Client: 7, Seq: seq, Status: Granted, Token: 3, Leader: 1}))
	if !done || comp.Result.Status != Granted || c.Queued() {
		t.Fatalf("after the grant: done %v, %v, Queued %v", done, comp.Result, c.Queued())
	}

	seq, _ = c.Start(OpLock, "k")
	c.Receive(reply(Reply{Client: 7, Seq: seq, Status: Queued, Leader: 1}))
	c.Abandon()
	if c.Queued() {
		t.Fatal("Queued after Abandon")
	}
	if _, err := c.Start(OpTryLock, "k"); err != nil {
		t.Fatal(err)
	}
	if c.Queued() {
		t.Fatal("a new operation starts Queued")
	}
}

// opened answers the open request in c's outbox: session id.
func opened(t *testing.T, c *Client, id ClientID) {
	t.Helper()
	for _, p := range c.Outbox() {
		kind, body, err := paxos.ParseFrame(p.Data)
		if err != nil || kind != KindRequest {
			continue
		}
		if q, err := DecodeRequest(body); err == nil && q.Op == OpOpen {
			c.Receive(AppendReply(nil, &Reply{Client: q.Client, Seq: q.Seq, Status: Opened, Holder: id, Token: 10_000, Leader: 1}))
			return
		}
	}
	t.Fatal("no open request went out")
}

// TestClientLease: the client sends a keepalive every third of its lease,
// holds the lease until lease·(1−drift) after it sent the last keepalive
// the leader acknowledged, and reports the loss once, dropping the session.
func TestClientLease(t *testing.T) {
	cc := DefaultClientConfig(7, []paxos.ID{1, 2, 3})
	cc.Rand = rand.New(rand.NewPCG(1, 2))
	cc.DriftPermille = 100 // ticks are 1 ms; opened grants 10 000 ms: held 9 000 ticks
	c, err := NewClient(cc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(OpOpen, ""); err != nil {
		t.Fatal(err)
	}
	opened(t, c, 5)
	if !c.LeaseHeld() || c.ID() != 5 {
		t.Fatalf("after the open: held %v, session %v", c.LeaseHeld(), c.ID())
	}
	keepalives := func() []Request {
		var qs []Request
		for _, p := range c.Outbox() {
			_, body, _ := paxos.ParseFrame(p.Data)
			if q, err := DecodeRequest(body); err == nil && q.Op == OpKeepAlive {
				qs = append(qs, q)
			}
		}
		return qs
	}
	// A keepalive every 3 333 ticks.
	ticks := 0
	for ; len(keepalives()) == 0; ticks++ {
		c.Tick()
		if ticks > 4000 {
			t.Fatal("no keepalive within 4000 ticks")
		}
	}
	if ticks < 3000 || ticks > 3400 {
		t.Fatalf("first keepalive after %d ticks, want a third of the 10 000-tick lease", ticks)
	}
	// No answer: it is resent to the next replica, and the lease runs out
	// 9 000 ticks after the open was sent.
	for c.LeaseHeld() {
		c.Tick()
		ticks++
	}
	if ticks < 8990 || ticks > 9010 {
		t.Fatalf("lease lost after %d ticks, want 9 000 (10 000 less 10%% drift)", ticks)
	}
	if s, lost := c.LeaseLost(); !lost || s != 5 || c.ID() != 0 {
		t.Fatalf("LeaseLost() = %v, %v after the lease ran out; want s5, true and the session dropped", s, lost)
	}
	if _, again := c.LeaseLost(); again {
		t.Fatal("the loss is reported twice")
	}
}

// TestClientKeepaliveRenews: an acknowledged keepalive renews the lease
// from the moment it was sent.
func TestClientKeepaliveRenews(t *testing.T) {
	cc := DefaultClientConfig(7, []paxos.ID{1, 2, 3})
	cc.Rand = rand.New(rand.NewPCG(1, 2))
	cc.DriftPermille = 100
	c, err := NewClient(cc)
	if err != nil {
		t.Fatal(err)
	}
	c.Start(OpOpen, "")
	opened(t, c, 5)
	sentAt := -1
	for tick := 1; tick <= 20_000; tick++ {
		c.Tick()
		for _, p := range c.Outbox() {
			_, body, _ := paxos.ParseFrame(p.Data)
			q, err := DecodeRequest(body)
			if err != nil || q.Op != OpKeepAlive {
				continue
			}
			sentAt = tick
			// The leader answers at once.
			c.Receive(AppendReply(nil, &Reply{Client: q.Client, Seq: q.Seq, Status: Alive, Leader: 1}))
		}
		if !c.LeaseHeld() {
			t.Fatalf("lease lost at tick %d though every keepalive was answered (last sent at %d)", tick, sentAt)
		}
	}
	if sentAt < 0 {
		t.Fatal("no keepalive in 20 s")
	}
}
