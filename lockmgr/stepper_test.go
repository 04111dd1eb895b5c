package lockmgr

import (
	"reflect"

	"pgregory.net/rapid"
)

// stepper applies random well-formed traffic to a StateMachine, sequentially,
// as clients following the session rules would send it (one outstanding
// request each, seqs from FirstSeq), plus network duplicates and stale
// copies. With a mirror set, every command also goes to the mirror, whose
// answers and hash must stay equal to the original's. The porcupine model's
// own driver, which also records histories, lives with the model in
// scenarios/check.
type stepper struct {
	s      *StateMachine
	mirror *StateMachine
	slot   uint64
	last   []Command // per client: its latest request (Seq 0 before any)
	nextID ClientID
}

func newStepper(s *StateMachine, clients int) *stepper {
	st := &stepper{s: s, slot: s.Applied(), last: make([]Command, clients)}
	for i := range st.last {
		st.nextID++
		st.last[i].Client = st.nextID
	}
	return st
}

var (
	stepNames = []string{"a", "a", "a", "b", "c", ""}
	stepOps   = []Op{OpLock, OpLock, OpTryLock, OpUnlock, OpUnlock}
)

func (st *stepper) step(t *rapid.T) {
	if st.slot == 0 || rapid.IntRange(0, 3).Draw(t, "newSlot") > 0 {
		st.slot++
	}
	i := rapid.IntRange(0, len(st.last)-1).Draw(t, "client")
	c := st.last[i]
	_, _, known := st.s.Latest(c.Client)
	switch kind := rapid.IntRange(0, 9).Draw(t, "kind"); {
	case kind == 0 && known:
		st.apply(t, c) // a duplicate
	case kind == 1 && known && c.Seq > FirstSeq:
		old := c
		old.Seq = rapid.Uint64Range(0, c.Seq-1).Draw(t, "staleSeq")
		if res, _ := st.apply(t, old); res.Status != Stale {
			t.Fatalf("stale copy %v answered %v", old, res)
		}
	default:
		c.Seq++
		c.Op = rapid.SampledFrom(stepOps).Draw(t, "op")
		c.Name = rapid.SampledFrom(stepNames).Draw(t, "name")
		st.last[i] = c
		if res, _ := st.apply(t, c); res.Status == Stale {
			st.nextID++ // evicted: the client starts over under a new id
			st.last[i] = Command{Client: st.nextID}
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
