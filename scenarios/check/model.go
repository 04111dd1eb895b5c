package check

import (
	"fmt"
	"paxlock/lockmgr"

	"github.com/anishathalye/porcupine"
)

// Input is one client operation as the checker sees it.
type Input struct {
	Client lockmgr.ClientID
	Op     lockmgr.Op
	Name   string
}

// Output is the answer the client got. Unknown means the client stopped
// waiting and the operation may or may not have taken effect; a Stale answer
// is treated the same way, since an earlier copy of the request may have been
// applied. Invalid imposes no constraint and changes nothing.
type Output struct {
	Status  lockmgr.Status
	Token   uint64
	Holder  lockmgr.ClientID
	Unknown bool
	// Withdrawn: a Lock the client gave up on, whose wait its next request
	// withdrew before any grant: it had no effect.
	Withdrawn bool
	Table     string // a read's or status's table, rendered (see RenderTable)
}

// modelState is one lock's state. When Exact is false the holder's token is
// unknown (it was granted by an operation whose outcome is unknown) and Last
// is a lower bound on it; otherwise Last is the last token granted. A fresh
// grant needs a token above the real last one, and since that can be as low
// as Last, "Token > Last" is the right test in both cases. A free lock always
// has Exact false, so that equal states compare equal.
type modelState struct {
	Held   bool
	Holder lockmgr.ClientID
	Last   uint64
	Exact  bool
}

// lockModel is the sequential specification of one lock (the history is
// partitioned by name). It is nondeterministic because an operation with an
// unknown outcome may or may not have taken effect, and porcupine's plain
// "returns at infinity" treatment would force a blocked Lock to take effect.
var lockModel = porcupine.NondeterministicModel{
	Partition:      partitionByName,
	PartitionEvent: partitionEventsByName,
	Init:           func() []any { return []any{modelState{}} },
	Step: func(state, input, output any) []any {
		return modelStep(state.(modelState), input.(Input), output.(Output))
	},
	Hash: func(state any) uint64 {
		st := state.(modelState)
		h := st.Last*0x9e3779b97f4a7c15 ^ uint64(st.Holder)
		if st.Held {
			h ^= 1 << 63
		}
		if st.Exact {
			h ^= 1 << 62
		}
		return h
	},
	DescribeOperation: func(input, output any) string {
		return describeOperation(input.(Input), output.(Output))
	},
	DescribeState: func(state any) string { return state.(modelState).String() },
}

// Model returns the porcupine model of the lock service, partitioned by lock
// name. Operations carry Input and Output. A blocked Lock is one
// operation from its call to its grant. One whose client stopped waiting
// (History.Abandon) ends as the log decided it: granted, when the grant
// was applied, or Withdrawn (no effect), when the client's next request was
// applied first; until either, it stays open, and at the end of the
// history it is Unknown.
func Model() porcupine.Model { return lockModel.ToModel() }

func modelStep(st modelState, in Input, out Output) []any {
	if out.Withdrawn {
		return []any{st}
	}
	if out.Unknown || out.Status == lockmgr.Stale || out.Status == lockmgr.SessionExpired {
		// SessionExpired says the session is gone, not whether this
		// request took effect before it went (a grant whose answer was
		// lost, then the expiry): an unknown outcome, which the session's
		// end in the history then undoes.
		return unknownStep(st, in)
	}
	switch out.Status {
	case lockmgr.Invalid:
		// A bad name or op changes nothing, and a bad name is its own
		// partition, so there is nothing to check.
		return []any{st}
	case lockmgr.Refused, lockmgr.Full:
		// Not the session's (or no session was opened): nothing changed.
		return []any{st}
	}
	next, ok := knownStep(st, in, out)
	if !ok {
		return nil
	}
	return []any{next}
}

// knownStep applies an operation whose answer the client received.
func knownStep(st modelState, in Input, out Output) (modelState, bool) {
	mine := st.Held && st.Holder == in.Client
	switch {
	case endsSession(in.Op):
		// A session's end frees its locks: the only way a lock comes
		// free without an Unlock.
		if out.Status != lockmgr.Ended {
			return st, false
		}
		if mine {
			return modelState{Last: st.Last}, true
		}
		return st, true
	case in.Op == lockmgr.OpUnlock && out.Status == lockmgr.Released:
		return modelState{Last: st.Last}, mine
	case in.Op == lockmgr.OpUnlock && out.Status == lockmgr.NotHeld:
		return st, !mine
	case in.Op == lockmgr.OpTryLock && out.Status == lockmgr.Busy:
		return st, st.Held && !mine && st.Holder == out.Holder
	case (in.Op != lockmgr.OpLock && in.Op != lockmgr.OpTryLock) || out.Status != lockmgr.Granted:
		// Includes Queued: a history records a blocked Lock's final grant,
		// so a Queued answer means the harness recorded the wrong thing.
		return st, false
	case mine && st.Exact:
		return st, out.Token == st.Last
	case mine:
		return modelState{Held: true, Holder: in.Client, Last: out.Token, Exact: true}, out.Token >= st.Last
	}
	return modelState{Held: true, Holder: in.Client, Last: out.Token, Exact: true}, !st.Held && out.Token > st.Last
}

// unknownStep lists the states after an operation that may or may not have
// taken effect: always the unchanged state, plus the effect when legal.
func unknownStep(st modelState, in Input) []any {
	states := []any{st}
	mine := st.Held && st.Holder == in.Client
	switch {
	case (in.Op == lockmgr.OpUnlock || endsSession(in.Op)) && mine:
		states = append(states, modelState{Last: st.Last})
	case (in.Op == lockmgr.OpLock || in.Op == lockmgr.OpTryLock) && !st.Held:
		// Granted with a token we never saw: it is above Last.
		states = append(states, modelState{Held: true, Holder: in.Client, Last: st.Last + 1})
	}
	return states
}

func (st modelState) String() string {
	switch {
	case !st.Held:
		return fmt.Sprintf("free (last #%d)", st.Last)
	case st.Exact:
		return fmt.Sprintf("%v #%d", st.Holder, st.Last)
	}
	return fmt.Sprintf("%v #>=%d", st.Holder, st.Last)
}

// endsSession: the op ends its session (the client's Close, the group's
// Expire).
func endsSession(o lockmgr.Op) bool { return o == opClose || o == opExpire }

func describeOperation(in Input, out Output) string {
	call := fmt.Sprintf("%v %v(%q)", in.Client, in.Op, in.Name)
	if endsSession(in.Op) {
		call = fmt.Sprintf("%v %v", in.Client, in.Op)
	}
	if out.Unknown {
		return call + " -> unknown"
	}
	if out.Withdrawn {
		return call + " -> withdrawn (the client gave up)"
	}
	res := lockmgr.Result{Status: out.Status, Token: out.Token, Holder: out.Holder}
	return call + " -> " + res.String()
}

// partitionByName splits a history into one sub-history per lock name, in
// order of first appearance (the map only indexes; it never orders
// output). A session's end acts on every lock the session could hold, so
// it goes into the part of every lock the session has an operation on; in
// any other part it could only be a no-op, legal anywhere, and a crowd of
// those would only multiply the orders porcupine tries.
func partitionByName(history []porcupine.Operation) [][]porcupine.Operation {
	index := make(map[string]int)
	touched := make(map[sessionLock]bool)
	var parts [][]porcupine.Operation
	for _, op := range history {
		in := op.Input.(Input)
		if endsSession(in.Op) {
			continue
		}
		if _, ok := index[in.Name]; !ok {
			index[in.Name] = len(parts)
			parts = append(parts, nil)
		}
		touched[sessionLock{in.Client, index[in.Name]}] = true
	}
	for _, op := range history {
		in := op.Input.(Input)
		if endsSession(in.Op) {
			for i := range parts {
				if touched[sessionLock{in.Client, i}] {
					parts[i] = append(parts[i], op)
				}
			}
			continue
		}
		i := index[in.Name]
		parts[i] = append(parts[i], op)
	}
	return parts
}

// sessionLock is a session and a part (lock) it has an operation on.
type sessionLock struct {
	s    lockmgr.ClientID
	part int
}

// partitionEventsByName is partitionByName for event histories: a return
// event goes with its call, found by Id; a session's end, call and
// return, goes into the part of every lock the session has an operation
// on.
func partitionEventsByName(history []porcupine.Event) [][]porcupine.Event {
	index := make(map[string]int)
	touched := make(map[sessionLock]bool)
	var parts [][]porcupine.Event
	ends := make(map[int]lockmgr.ClientID) // call id of a session's end -> the session
	for _, ev := range history {
		if ev.Kind != porcupine.CallEvent {
			continue
		}
		in := ev.Value.(Input)
		if endsSession(in.Op) {
			ends[ev.Id] = in.Client
			continue
		}
		if _, ok := index[in.Name]; !ok {
			index[in.Name] = len(parts)
			parts = append(parts, nil)
		}
		touched[sessionLock{in.Client, index[in.Name]}] = true
	}
	partOfID := make(map[int]int)
	for _, ev := range history {
		if s, ok := ends[ev.Id]; ok {
			for i := range parts {
				if touched[sessionLock{s, i}] {
					parts[i] = append(parts[i], ev)
				}
			}
			continue
		}
		i, ok := partOfID[ev.Id]
		if ev.Kind == porcupine.CallEvent {
			i = index[ev.Value.(Input).Name]
			partOfID[ev.Id] = i
		} else if !ok {
			continue // a return without a call; porcupine rejects it anyway
		}
		parts[i] = append(parts[i], ev)
	}
	return parts
}
