package check

import "fmt"

// Failure kinds, each with its own message.
const (
	FailLinearizability = "linearizability" // porcupine rejected the history
	FailCheckTimeout    = "check-timeout"   // porcupine could not decide in time
	FailAgreement       = "agreement"       // a slot chose two values, or a replica applied what was not chosen
	FailApplyOrder      = "apply-order"     // a replica applied slots out of order or with a gap
	FailStateHash       = "state-hash"      // same applied prefix, different state
	FailFencing         = "fencing"         // a token that did not increase
	FailOracle          = "oracle"          // a replica's answer differs from the reference model's
	FailLiveness        = "liveness"        // operations unfinished after healing, or too slow
	FailPanic           = "panic"           // an assertion fired (a found bug)
	FailDurability      = "durability"      // a message not backed by durable state
	FailTimer           = "timer"           // a timer fired while its host slept (TicksToTimer lied)
	FailStatus          = "status"          // a status answer that no state of the log matches
	FailLease           = "lease"           // a session expired sooner than its lease after a leader heard it
	FailFencedWrite     = "fenced-write"    // two holders' writes to a fenced resource interleave
	FailRejoin          = "rejoin"          // a replica that lost its disk voted before its rebuild ended
)

// Failure is the first thing a checker found wrong.
type Failure struct {
	Kind   string
	Detail string
}

func (f *Failure) Error() string { return f.Kind + ": " + f.Detail }

// failf builds a Failure.
func failf(kind, format string, args ...any) *Failure {
	return &Failure{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}
