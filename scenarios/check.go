package scenarios

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// history records client operations in virtual time, for porcupine.
type history struct {
	ops []porcupine.Operation
}

// call records the start of an operation and returns its index.
func (h *history) call(client int, nowNs int64, op OpSpec) int {
	h.ops = append(h.ops, porcupine.Operation{
		ClientId: client,
		Input:    lockmgr.ModelInput{Client: lockmgr.ClientID(client + 1), Op: op.Op, Name: op.Name},
		Call:     nowNs,
		Return:   -1,
	})
	return len(h.ops) - 1
}

// ret records an operation's answer. Stale means the group cannot say what
// happened to it: the operation stays open, and forCheck closes it with an
// unknown outcome at the end of the history.
func (h *history) ret(i int, nowNs int64, r lockmgr.Result) {
	if r.Status == lockmgr.Stale {
		return
	}
	h.ops[i].Output = lockmgr.ModelOutput{Status: r.Status, Token: r.Token, Holder: r.Holder}
	h.ops[i].Return = nowNs
}

// completed counts operations with an answer.
func (h *history) completed() int {
	n := 0
	for _, op := range h.ops {
		if op.Return >= 0 {
			n++
		}
	}
	return n
}

// forCheck closes the history: an operation still waiting has an unknown
// outcome, and returns after everything else.
func (h *history) forCheck(endNs int64) []porcupine.Operation {
	ops := slices.Clone(h.ops)
	for i := range ops {
		if ops[i].Return < 0 {
			ops[i].Output = lockmgr.ModelOutput{Unknown: true}
			ops[i].Return = endNs + 1
		}
	}
	return ops
}

// checkLinearizable runs porcupine over the history. An inconclusive check
// (timeout) is reported as a failure of its own kind, never as a pass.
func checkLinearizable(ops []porcupine.Operation, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	return porcupine.CheckOperationsVerbose(lockmgr.Model(), ops, timeout)
}

// agreement checks, after every event, that no slot is ever chosen with two
// different values anywhere: it follows each replica's chosen prefix and
// compares every newly chosen slot with the first value seen for it.
type agreement struct {
	chosen  map[uint64]uint64 // slot -> hash of the chosen value
	checked []uint64          // per replica: slots below this were compared
}

func newAgreement(replicas int) *agreement {
	return &agreement{chosen: map[uint64]uint64{}, checked: make([]uint64, replicas)}
}

func (a *agreement) check(i int, rep *paxos.Replica) error {
	from := max(a.checked[i], rep.FirstSlot())
	for n := from; n < rep.Commit(); n++ {
		st, e := rep.Slot(n)
		if st != paxos.SlotChosen {
			continue
		}
		h := valueHash(e.Cmds)
		if prev, ok := a.chosen[n]; !ok {
			a.chosen[n] = h
		} else if prev != h {
			return fmt.Errorf("slot %d chosen with two values: replica %d has %s (hash %x), earlier %x",
				n, rep.ID(), paxos.DescribeEntry(e), h, prev)
		}
	}
	a.checked[i] = max(a.checked[i], rep.Commit())
	return nil
}

// restarted forgets how far replica i was checked: it relearns from its disk.
func (a *agreement) restarted(i int) { a.checked[i] = 0 }

func valueHash(cmds [][]byte) uint64 {
	h := fnv.New64a()
	var n [1]byte
	for _, c := range cmds {
		n[0] = byte(len(c))
		h.Write(n[:])
		h.Write(c)
	}
	return h.Sum64()
}

// fencing checks, on every replica as it applies, that each lock's tokens
// strictly increase: a new grant's token is above every earlier one, and a
// re-entrant grant repeats the holder's token.
type fencing struct {
	last   map[paxos.ID]map[string]uint64
	queues map[paxos.ID]*fifoState
	err    error
}

func newFencing() *fencing { return &fencing{last: map[paxos.ID]map[string]uint64{}} }

func (f *fencing) observer(id paxos.ID) func(uint64, lockmgr.Command, lockmgr.Result, []lockmgr.Grant) {
	if f.last[id] == nil {
		f.last[id] = map[string]uint64{}
	}
	last := f.last[id]
	return func(slot uint64, c lockmgr.Command, r lockmgr.Result, grants []lockmgr.Grant) {
		if r.Status == lockmgr.Granted {
			f.saw(id, last, slot, c.Name, r.Token, true)
		}
		for _, g := range grants {
			f.saw(id, last, slot, g.Name, g.Token, false)
		}
		f.fifo(id, slot, c, r, grants)
	}
}

func (f *fencing) saw(id paxos.ID, last map[string]uint64, slot uint64, name string, tok uint64, mayRepeat bool) {
	prev := last[name]
	if tok > prev || (mayRepeat && tok == prev) {
		last[name] = tok
		return
	}
	if f.err == nil {
		f.err = fmt.Errorf("replica %d slot %d: lock %q granted token %d after token %d", id, slot, name, tok, prev)
	}
}

// reset: a replica restarted or installed a snapshot, and goes on applying
// from the snapshot's state: its queues start over from that state's
// waiters, and its tokens from nothing.
func (f *fencing) reset(id paxos.ID, sm *lockmgr.StateMachine) {
	if f.last[id] != nil {
		clear(f.last[id])
	}
	st := &fifoState{byName: map[string][]waiting{}, waitsIn: map[lockmgr.ClientID]waiting{}}
	for _, l := range sm.Status() {
		for _, c := range l.Waiters {
			seq, _, _ := sm.Latest(c)
			w := waiting{client: c, seq: seq, name: l.Name}
			st.byName[l.Name] = append(st.byName[l.Name], w)
			st.waitsIn[c] = w
		}
	}
	if f.queues == nil {
		f.queues = map[paxos.ID]*fifoState{}
	}
	f.queues[id] = st
}

// fifo checks, on every replica as it applies, that blocked Locks are
// granted in the order they queued: it keeps its own queue per lock from
// the Queued results, drops a client that moved on to a newer request (the
// state machine cancels that wait), and requires every grant to go to the
// head. Linearizability alone cannot see this: any grant order is legal.
func (f *fencing) fifo(id paxos.ID, slot uint64, c lockmgr.Command, r lockmgr.Result, grants []lockmgr.Grant) {
	if f.queues == nil {
		f.queues = map[paxos.ID]*fifoState{}
	}
	st := f.queues[id]
	if st == nil {
		st = &fifoState{byName: map[string][]waiting{}, waitsIn: map[lockmgr.ClientID]waiting{}}
		f.queues[id] = st
	}
	if w, ok := st.waitsIn[c.Client]; ok && c.Seq > w.seq {
		st.remove(w) // a newer request cancels the wait
	}
	if r.Status == lockmgr.Queued {
		if _, ok := st.waitsIn[c.Client]; !ok {
			w := waiting{client: c.Client, seq: c.Seq, name: c.Name}
			st.byName[c.Name] = append(st.byName[c.Name], w)
			st.waitsIn[c.Client] = w
		}
	}
	for _, g := range grants {
		q := st.byName[g.Name]
		if len(q) == 0 || q[0].client != g.Client || q[0].seq != g.Seq {
			if f.err == nil {
				f.err = fmt.Errorf("replica %d slot %d: lock %q granted to %v#%d, but the queue is %v",
					id, slot, g.Name, g.Client, g.Seq, q)
			}
			continue
		}
		st.remove(q[0])
	}
}

type waiting struct {
	client lockmgr.ClientID
	seq    uint64
	name   string
}

type fifoState struct {
	byName  map[string][]waiting
	waitsIn map[lockmgr.ClientID]waiting
}

func (s *fifoState) remove(w waiting) {
	q := s.byName[w.name]
	for i := range q {
		if q[i].client == w.client {
			s.byName[w.name] = slices.Delete(q, i, i+1)
			break
		}
	}
	delete(s.waitsIn, w.client)
}
