package check

import (
	"fmt"
	"paxlock/lockmgr"
	"reflect"

	"github.com/anishathalye/porcupine"
	"pgregory.net/rapid"
)

// driver plays well-behaved clients against one StateMachine, sequentially,
// and records what the clients observe as a porcupine history. Clients follow
// the session rules: open a session, one outstanding request, seqs from
// FirstSeq, a blocked Lock returns when an Unlock (or the holder's close or
// expiry) grants it, a new request abandons a blocked Lock (outcome
// unknown), a close ends the session. The leader expires sessions now and
// then; closes and expiries are operations of the history. It also injects
// network duplicates and stale copies, which must not show in the history.
type driver struct {
	s       *lockmgr.StateMachine
	mirror  *lockmgr.StateMachine // if set, gets every command too and must agree
	slot    uint64
	now     int64
	nonce   lockmgr.ClientID
	clients []*driverClient
	history []porcupine.Operation
	pending map[lockmgr.ClientID]int // client -> index of its blocked Lock in history
	grants  []grantInfo              // every Granted answer in the history
	lastTok map[string]uint64
}

type driverClient struct {
	id     lockmgr.ClientID // 0: no session
	secret lockmgr.Key
	last   lockmgr.Command // latest request sent; Seq 0 before the first
}

// grantInfo locates a Granted output and the largest token that would make it
// illegal: at most the lock's previous token for a fresh grant, anything
// below the held token for a re-entrant one.
type grantInfo struct {
	op         int
	maxIllegal uint64
}

// Weighted toward one hot lock so that requests block and queue; "" is
// answered Invalid.
var (
	driverNames = []string{"a", "a", "a", "b", "c", ""}
	driverOps   = []lockmgr.Op{lockmgr.OpLock, lockmgr.OpLock, lockmgr.OpTryLock, lockmgr.OpUnlock, lockmgr.OpUnlock, lockmgr.OpUnlock, lockmgr.OpClose}
)

func newDriver(s *lockmgr.StateMachine, clients int) *driver {
	d := &driver{s: s, slot: s.Applied(), pending: map[lockmgr.ClientID]int{}, lastTok: map[string]uint64{}}
	for range clients {
		d.clients = append(d.clients, &driverClient{})
	}
	s.Apply(d.slot, lockmgr.Command{Op: opLead, Arg: 1, Node: 1})
	return d
}

// step draws and applies one action.
func (d *driver) step(t *rapid.T) {
	if d.slot == 0 || rapid.IntRange(0, 3).Draw(t, "newSlot") > 0 {
		d.slot++ // else batch with the previous command
	}
	i := rapid.IntRange(0, len(d.clients)-1).Draw(t, "client")
	cl := d.clients[i]
	if cl.id == 0 {
		d.nonce++
		*cl = driverClient{secret: lockmgr.Key{0: byte(d.nonce), 1: byte(d.nonce >> 8), 2: 1}}
		res, _ := d.apply(t, lockmgr.Command{Client: lockmgr.NonceBit | d.nonce, Op: opOpen, Arg: 1000, Key: cl.secret})
		if res.Status == lockmgr.Opened {
			cl.id = res.Holder
		}
		return
	}
	switch kind := rapid.IntRange(0, 11).Draw(t, "kind"); {
	case kind == 0 && cl.last.Seq > 0:
		d.duplicate(t, cl)
	case kind == 1 && cl.last.Seq > lockmgr.FirstSeq:
		old := cl.last
		old.Seq = rapid.Uint64Range(1, cl.last.Seq-1).Draw(t, "staleSeq")
		old.Sign(cl.secret)
		if res, _ := d.apply(t, old); res.Status != lockmgr.Stale {
			t.Fatalf("stale copy %v answered %v", old, res)
		}
	case kind == 2:
		d.expire(t, i)
	default:
		op := rapid.SampledFrom(driverOps).Draw(t, "op")
		name := rapid.SampledFrom(driverNames).Draw(t, "name")
		d.request(t, i, op, name)
	}
}

// apply applies c to the state machine and to the mirror, if any.
func (d *driver) apply(t *rapid.T, c lockmgr.Command) (lockmgr.Result, []lockmgr.Grant) {
	res, grants := d.s.Apply(d.slot, c)
	if d.mirror == nil {
		return res, grants
	}
	mres, mgrants := d.mirror.Apply(d.slot, c)
	if mres != res || !reflect.DeepEqual(mgrants, grants) {
		t.Fatalf("%v at slot %d: mirror answered %v %v, original %v %v", c, d.slot, mres, mgrants, res, grants)
	}
	if d.mirror.Hash() != d.s.Hash() {
		t.Fatalf("hashes diverged after %v:\n%x\n%x", c, d.s.Snapshot(), d.mirror.Snapshot())
	}
	return res, grants
}

// duplicate re-delivers the client's latest request: the answer must be the
// recorded one and nothing may change.
func (d *driver) duplicate(t *rapid.T, cl *driverClient) {
	want, ok := d.s.Lookup(cl.id, cl.last.Seq)
	before := d.s.Status()
	res, grants := d.apply(t, cl.last)
	if !ok || res != want || len(grants) > 0 || lockmgr.FormatStatus(d.s.Status()) != lockmgr.FormatStatus(before) {
		t.Fatalf("duplicate %v: got %v %v, recorded %v %v", cl.last, res, grants, want, ok)
	}
}

// request sends client i's next request and records it in the history.
func (d *driver) request(t *rapid.T, i int, op lockmgr.Op, name string) {
	cl := d.clients[i]
	d.abandon(cl.id)
	d.now += 2
	if op == lockmgr.OpClose {
		name = ""
	}
	cl.last = lockmgr.Command{Client: cl.id, Seq: cl.last.Seq + 1, Op: op, Name: name}
	cl.last.Sign(cl.secret)
	res, grants := d.apply(t, cl.last)
	in := Input{Client: cl.id, Op: op, Name: name}
	out := Output{Status: res.Status, Token: res.Token, Holder: res.Holder}
	switch res.Status {
	case lockmgr.Queued:
		d.pending[cl.id] = len(d.history)
		d.record(i, in, Output{Unknown: true}, 0)
	case lockmgr.Ended:
		d.record(i, in, out, d.now+1)
		d.clients[i] = &driverClient{}
	default:
		d.record(i, in, out, d.now+1)
	}
	if res.Status == lockmgr.Granted {
		d.noteGrant(len(d.history)-1, name, res.Token)
	}
	for _, g := range grants {
		d.finishBlocked(g)
	}
}

// expire has the leader expire client i's session, as an operation of
// the history; the client learns it only from its next request, so it
// simply has no session any more.
func (d *driver) expire(t *rapid.T, i int) {
	cl := d.clients[i]
	d.abandon(cl.id)
	d.now += 2
	res, grants := d.apply(t, lockmgr.Command{Client: cl.id, Op: opExpire, Arg: 1, Node: 1})
	if res.Status != lockmgr.Ended {
		t.Fatalf("expiry of live %v answered %v", cl.id, res)
	}
	d.history = append(d.history, porcupine.Operation{ClientId: SessionLane, Input: Input{Client: cl.id, Op: opExpire},
		Call: d.now, Output: Output{Status: lockmgr.Ended}, Return: d.now + 1})
	for _, g := range grants {
		d.finishBlocked(g)
	}
	d.clients[i] = &driverClient{}
}

func (d *driver) record(i int, in Input, out Output, ret int64) {
	d.history = append(d.history, porcupine.Operation{ClientId: i, Input: in, Call: d.now, Output: out, Return: ret})
}

// abandon gives up a client's blocked Lock: it returns at the end with an
// unknown outcome (Return stays 0 until finish).
func (d *driver) abandon(c lockmgr.ClientID) { delete(d.pending, c) }

// finishBlocked completes a blocked Lock granted by the current Unlock; it
// returns when the Unlock does.
func (d *driver) finishBlocked(g lockmgr.Grant) {
	j, ok := d.pending[g.Client]
	if !ok {
		panic(fmt.Sprintf("grant %+v for a client that is not waiting", g))
	}
	delete(d.pending, g.Client)
	d.history[j].Output = Output{Status: lockmgr.Granted, Token: g.Token}
	d.history[j].Return = d.now + 1
	d.noteGrant(j, g.Name, g.Token)
}

func (d *driver) noteGrant(op int, name string, token uint64) {
	last := d.lastTok[name]
	maxIllegal := last
	if token == last {
		maxIllegal = token - 1
	}
	d.grants = append(d.grants, grantInfo{op: op, maxIllegal: maxIllegal})
	d.lastTok[name] = token
}

// finish returns the history with every unknown outcome returning last.
func (d *driver) finish() []porcupine.Operation {
	end := d.now + 2
	for i := range d.history {
		if d.history[i].Return == 0 {
			d.history[i].Return = end
		}
	}
	return d.history
}
