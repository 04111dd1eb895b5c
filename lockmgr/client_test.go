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
