package check

import (
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
)

// History records client operations in virtual time, for porcupine.
type History struct {
	ops       []porcupine.Operation
	abandoned map[reqKey]int              // Locks clients gave up waiting for (see Abandon) -> op
	granted   map[reqKey]grantAt          // every grant to a queued Lock, when first applied
	waiting   map[lockmgr.ClientID]reqKey // by session: its abandoned Lock still open
}

type reqKey struct {
	client lockmgr.ClientID
	seq    uint64
}

type grantAt struct {
	token uint64
	atNs  int64
}

// Call records the start of an operation by client (0-based) and returns
// its index. Its session is not known yet: see Began.
func (h *History) Call(client int, nowNs int64, op lockmgr.Op, name string) int {
	h.ops = append(h.ops, porcupine.Operation{
		ClientId: client,
		Input:    Input{Op: op, Name: name},
		Call:     nowNs,
		Return:   -1,
	})
	return len(h.ops) - 1
}

// Began records the session operation i was sent in.
func (h *History) Began(i int, session lockmgr.ClientID) {
	in := h.ops[i].Input.(Input)
	in.Client = session
	h.ops[i].Input = in
}

// SessionLane is the porcupine client id of the operations no client
// called: the group's expiries.
const SessionLane = 1 << 20

// Ended records that the group ended session s by op (OpExpire) between
// callNs, when it was first proposed, and nowNs, when it was first
// applied. The model lets a lock go free without an Unlock only through
// such an operation or a client's Close.
func (h *History) Ended(callNs, nowNs int64, s lockmgr.ClientID, op lockmgr.Op) {
	h.ops = append(h.ops, porcupine.Operation{
		ClientId: SessionLane,
		Input:    Input{Client: s, Op: op},
		Output:   Output{Status: lockmgr.Ended},
		Call:     min(callNs, nowNs),
		Return:   nowNs,
	})
}

// Return records an operation's answer. Stale means the group cannot say
// what happened to it: the operation stays open, and ForCheck closes it
// with an unknown outcome at the end of the history.
func (h *History) Return(i int, nowNs int64, r lockmgr.Result) {
	if r.Status == lockmgr.Stale {
		return
	}
	if in := h.ops[i].Input.(Input); in.Client == 0 {
		// Answered before it went out in a session: the open failed.
		h.ops[i].Output = Output{Status: r.Status, Withdrawn: true}
		h.ops[i].Return = nowNs
		return
	}

	h.ops[i].Output = Output{Status: r.Status, Token: r.Token, Holder: r.Holder}
	h.ops[i].Return = nowNs
}

// Abandon records that the client stopped waiting for operation i, a
// queued Lock numbered seq. The client never learns its outcome, but the
// log decides it: granted (when an Unlock hands it the lock) or withdrawn
// (when the client's next request is applied first). Applied reads that
// from the commands replicas apply; a grant applied before the client
// gave up is already known.
func (h *History) Abandon(i int, seq uint64) {
	k := reqKey{h.ops[i].Input.(Input).Client, seq}
	if k.client == 0 {
		// Given up before its session opened: it never went out.
		h.ops[i].Output = Output{Withdrawn: true}
		h.ops[i].Return = h.ops[i].Call
		return
	}
	if g, ok := h.granted[k]; ok {
		h.ops[i].Output = Output{Status: lockmgr.Granted, Token: g.token}
		h.ops[i].Return = max(g.atNs, h.ops[i].Call)
		return
	}
	if h.abandoned == nil {
		h.abandoned, h.waiting = map[reqKey]int{}, map[lockmgr.ClientID]reqKey{}
	}
	h.abandoned[k] = i
	h.waiting[k.client] = k
}

// Applied: a replica applied command c, granting grants, at nowNs (only
// the first replica to apply a command matters here); ended says it ended
// its session. A grant to an abandoned Lock ends it, granted; the
// session's next request or its end, applied first, ends it withdrawn. A
// read withdraws nothing: it leaves the client's other requests alone.
func (h *History) Applied(nowNs int64, c lockmgr.Command, ended bool, grants []lockmgr.Grant) {
	for _, g := range grants {
		k := reqKey{g.Client, g.Seq}
		if _, seen := h.granted[k]; seen {
			continue
		}
		if h.granted == nil {
			h.granted = map[reqKey]grantAt{}
		}
		h.granted[k] = grantAt{token: g.Token, atNs: nowNs}
		if i, ok := h.abandoned[k]; ok {
			h.ops[i].Output = Output{Status: lockmgr.Granted, Token: g.Token}
			h.ops[i].Return = nowNs
			delete(h.abandoned, k)
			delete(h.waiting, g.Client)
		}
	}
	k, ok := h.waiting[c.Client]
	ends := c.Op == opExpire || c.Op == opClose // a stale expiry ends nothing, but then
	// no grant can follow either: the wait stays open until a real end.
	if !ok || !ends && (c.Seq <= k.seq || c.Op == opRead) || ends && !ended {
		return
	}
	if i, ok := h.abandoned[k]; ok {
		h.ops[i].Output = Output{Withdrawn: true}
		h.ops[i].Return = nowNs
		delete(h.abandoned, k)
	}
	delete(h.waiting, c.Client)
}

// ReturnTable records the table a read or status answered with.
func (h *History) ReturnTable(i int, rows []lockmgr.LockStatus) {
	out := h.ops[i].Output.(Output)
	out.Table = RenderTable(rows)
	h.ops[i].Output = out
}

// Op returns operation i as recorded so far (Return < 0 while open).
func (h *History) Op(i int) porcupine.Operation { return h.ops[i] }

// Len is the number of operations recorded.
func (h *History) Len() int { return len(h.ops) }

// Ops is every operation so far; open ones have Return < 0.
func (h *History) Ops() []porcupine.Operation { return h.ops }

// Completed counts operations with an answer.
func (h *History) Completed() int {
	n := 0
	for _, op := range h.ops {
		if op.Return >= 0 {
			n++
		}
	}
	return n
}

// ForCheck closes the history: an operation still waiting has an unknown
// outcome, and returns after everything else.
func (h *History) ForCheck(endNs int64) []porcupine.Operation {
	// Reads and statuses are judged by the oracle (reads.go), not here:
	// the model is of one lock, and they read them all.
	// A withdrawn Lock had no effect and its client saw nothing: it is
	// left out too, rather than given to porcupine to place anywhere.
	ops := slices.DeleteFunc(slices.Clone(h.ops), func(op porcupine.Operation) bool {
		o := op.Input.(Input).Op
		out, _ := op.Output.(Output)
		return o == opRead || o == lockmgr.OpStatus || out.Withdrawn
	})
	for i := range ops {
		if ops[i].Return < 0 {
			ops[i].Output = Output{Unknown: true}
			ops[i].Return = endNs + 1
		}
	}
	return dropFreeNotHeld(ops)
}

// dropFreeNotHeld leaves out the Unlocks answered NotHeld that constrain
// nothing: those whose session cannot hold the lock at any point of the
// Unlock's interval, so the model accepts them wherever they go. A lock
// comes to a session only through that session's own Lock or TryLock;
// so if the session's previous operation on the lock left it not holding
// (a TryLock answered Busy, an Unlock answered Released or NotHeld) or it
// had none, and no other operation of it on the lock overlaps the Unlock,
// it holds the lock nowhere in between. Porcupine would place each such
// Unlock anywhere, but a crowd of them, all concurrent, multiplies the
// orders it tries; without them it decides in milliseconds what took it
// minutes.
func dropFreeNotHeld(ops []porcupine.Operation) []porcupine.Operation {
	type key struct {
		s    lockmgr.ClientID
		name string
	}
	bySession := map[key][]int{}
	for i, op := range ops {
		in := op.Input.(Input)
		k := key{in.Client, in.Name}
		bySession[k] = append(bySession[k], i)
	}
	drop := make([]bool, len(ops))
	for i, op := range ops {
		in, out := op.Input.(Input), op.Output.(Output)
		if in.Op != lockmgr.OpUnlock || out.Status != lockmgr.NotHeld || out.Unknown {
			continue
		}
		prev, free := -1, true
		for _, j := range bySession[key{in.Client, in.Name}] {
			o := ops[j]
			switch {
			case j == i:
			case o.Call < op.Return && o.Return > op.Call:
				free = false // overlaps: the lock might come to it meanwhile
			case o.Return <= op.Call && (prev < 0 || o.Call > ops[prev].Call):
				prev = j
			}
		}
		if free && prev >= 0 {
			pin, pout := ops[prev].Input.(Input), ops[prev].Output.(Output)
			free = !pout.Unknown && (pin.Op == lockmgr.OpTryLock && pout.Status == lockmgr.Busy ||
				pin.Op == lockmgr.OpUnlock && (pout.Status == lockmgr.Released || pout.Status == lockmgr.NotHeld))
		}
		drop[i] = free
	}
	out := ops[:0]
	for i, op := range ops {
		if !drop[i] {
			out = append(out, op)
		}
	}
	return out
}

// Linearizable runs porcupine over a closed history. An inconclusive
// check (timeout) is its own verdict, never a pass.
func Linearizable(ops []porcupine.Operation, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	return porcupine.CheckOperationsVerbose(Model(), ops, timeout)
}
