package paxos

import "fmt"

// Assertions, in the TigerBeetle style: each state change that matters
// states what must hold, in pairs (where the state is written and where it
// is relied on), so that a broken invariant stops the replica where it
// breaks instead of surfacing later as a safety violation far away. The
// simulator turns the panic into a failure with a replay line.
//
// An assertion checks the replica's own logic, never its input: a message
// or record that breaks a rule is refused or counted elsewhere, not
// asserted on.

// assertPrefix starts every assertion failure's panic message.
const assertPrefix = "paxos: assertion failed: "

// assert panics with the formatted message if cond is false. It is cheap
// on the success path: it inlines to a branch, and the arguments do not
// escape (assertFail copies them out by type), so building them allocates
// nothing. Arguments may be of the types assertFail lists.
func assert(cond bool, format string, args ...any) {
	if !cond {
		assertFail(format, args)
	}
}

// assertFail formats and panics. It copies each argument out of its
// interface by concrete type rather than handing args to fmt, which would
// make every caller's arguments escape to the heap, failing or not.
//
//go:noinline
func assertFail(format string, args []any) {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case bool:
			out[i] = v
		case int:
			out[i] = v
		case uint64:
			out[i] = v
		case ID:
			out[i] = v
		case Ballot:
			out[i] = v
		case Role:
			out[i] = v
		case SlotState:
			out[i] = v
		case MsgType:
			out[i] = v
		default:
			out[i] = "(unsupported assert argument)"
		}
	}
	panic(assertPrefix + fmt.Sprintf(format, out...))
}
