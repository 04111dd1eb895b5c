package check

import (
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
)

// History records client operations in virtual time, for porcupine.
type History struct {
	ops []porcupine.Operation
}

// Call records the start of an operation by client (0-based; its id is
// client+1) and returns its index.
func (h *History) Call(client int, nowNs int64, op lockmgr.Op, name string) int {
	h.ops = append(h.ops, porcupine.Operation{
		ClientId: client,
		Input:    Input{Client: lockmgr.ClientID(client + 1), Op: op, Name: name},
		Call:     nowNs,
		Return:   -1,
	})
	return len(h.ops) - 1
}

// Return records an operation's answer. Stale means the group cannot say
// what happened to it: the operation stays open, and ForCheck closes it
// with an unknown outcome at the end of the history.
func (h *History) Return(i int, nowNs int64, r lockmgr.Result) {
	if r.Status == lockmgr.Stale {
		return
	}
	h.ops[i].Output = Output{Status: r.Status, Token: r.Token, Holder: r.Holder}
	h.ops[i].Return = nowNs
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
	ops := slices.DeleteFunc(slices.Clone(h.ops), func(op porcupine.Operation) bool {
		o := op.Input.(Input).Op
		return o == opRead || o == lockmgr.OpStatus
	})
	for i := range ops {
		if ops[i].Return < 0 {
			ops[i].Output = Output{Unknown: true}
			ops[i].Return = endNs + 1
		}
	}
	return ops
}

// Linearizable runs porcupine over a closed history. An inconclusive
// check (timeout) is its own verdict, never a pass.
func Linearizable(ops []porcupine.Operation, timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	return porcupine.CheckOperationsVerbose(Model(), ops, timeout)
}
