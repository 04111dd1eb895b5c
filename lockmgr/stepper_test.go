package lockmgr

import (
	"reflect"

	"pgregory.net/rapid"
)

// stepper applies random well-formed traffic to a StateMachine, sequentially,
// as clients following the session rules would send it (an open, then one
// outstanding request at a time, seqs from FirstSeq, a close now and then),
// plus network duplicates, stale copies, forgeries, leader takeovers and
// expiries. With a mirror set, every command also goes to the mirror, whose
// answers and hash must stay equal to the original's. The porcupine model's
// own driver, which also records histories, lives with the model in
// scenarios/check.
type stepper struct {
	s      *StateMachine
	mirror *StateMachine
	slot   uint64
	last   []Command // per client: its latest request, Key its secret (Client 0: no session)
	nonce  ClientID
	lead   uint64 // the round of the latest takeover
}

func newStepper(s *StateMachine, clients int) *stepper {
	return &stepper{s: s, slot: s.Applied(), last: make([]Command, clients)}
}

var (
	stepNames = []string{"a", "a", "a", "b", "c", ""}
	stepOps   = []Op{OpLock, OpLock, OpTryLock, OpUnlock, OpUnlock, OpUnlock, OpClose}
)

func (st *stepper) step(t *rapid.T) {
	if st.slot == 0 || rapid.IntRange(0, 3).Draw(t, "newSlot") > 0 {
		st.slot++
	}
	i := rapid.IntRange(0, len(st.last)-1).Draw(t, "client")
	c := st.last[i]
	if c.Client == 0 {
		st.nonce++
		res, _ := st.apply(t, Command{Client: NonceBit | st.nonce, Op: OpOpen, Arg: 2000, Key: testSecret(st.nonce)})
		if res.Status == Opened {
			st.last[i] = Command{Client: res.Holder, Key: testSecret(st.nonce)}
		}
		return
	}
	secret := c.Key
	switch kind := rapid.IntRange(0, 11).Draw(t, "kind"); {
	case kind == 0 && c.Seq > 0:
		dup := c // a duplicate
		dup.Sign(secret)
		st.apply(t, dup)
	case kind == 1 && c.Seq > FirstSeq:
		old := c
		old.Seq = rapid.Uint64Range(1, c.Seq-1).Draw(t, "staleSeq")
		old.Sign(secret)
		if res, _ := st.apply(t, old); res.Status != Stale && res.Status != SessionExpired {
			t.Fatalf("stale copy %v answered %v", old, res)
		}
	case kind == 2:
		forged := c
		forged.Seq++
		forged.Op = OpUnlock
		forged.Name = "a"
		forged.Sign(Key{0xff})
		if res, _ := st.apply(t, forged); res.Status != Refused && res.Status != SessionExpired {
			t.Fatalf("forgery %v answered %v", forged, res)
		}
	case kind == 3:
		st.lead += uint64(rapid.IntRange(0, 1).Draw(t, "newLeader"))
		st.apply(t, Command{Op: OpLead, Arg: st.lead, Node: 1})
	case kind == 4:
		if res, _ := st.apply(t, Command{Op: OpExpire, Client: c.Client, Arg: st.lead, Node: 1}); res.Status == Ended {
			st.last[i] = Command{}
		}
	default:
		c.Seq++
		c.Op = rapid.SampledFrom(stepOps).Draw(t, "op")
		c.Name = rapid.SampledFrom(stepNames).Draw(t, "name")
		if c.Op == OpClose {
			c.Name = ""
		}
		c.Sign(secret)
		st.last[i] = c
		st.last[i].Key = secret
		if res, _ := st.apply(t, c); res.Status == SessionExpired || res.Status == Ended {
			st.last[i] = Command{}
		}
	}
}

func (st *stepper) apply(t *rapid.T, c Command) (Result, []Grant) {
	res, grants := st.s.Apply(st.slot, c)
	if st.mirror == nil {
		return res, grants
	}
	mres, mgrants := st.mirror.Apply(st.slot, c)
	if mres != res || !reflect.DeepEqual(mgrants, grants) {
		t.Fatalf("%v at slot %d: mirror answered %v %v, original %v %v", c, st.slot, mres, mgrants, res, grants)
	}
	if st.mirror.Hash() != st.s.Hash() {
		t.Fatalf("hashes diverged after %v:\n%x\n%x", c, st.s.Snapshot(), st.mirror.Snapshot())
	}
	return res, grants
}
