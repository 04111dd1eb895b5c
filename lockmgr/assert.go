package lockmgr

// assert panics if an invariant of this package does not hold. It is the
// TigerBeetle habit: state what must be true at every state change that
// matters, so a bug fails where it happens (the simulator turns the panic
// into a failure with a replay line) instead of thousands of events later
// as a wrong answer. what is a constant, so a passing assert costs a
// compare and nothing else.
func assert(ok bool, what string) {
	if !ok {
		panic("lockmgr: assertion failed: " + what)
	}
}
