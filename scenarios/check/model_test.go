package check

import (
	"fmt"
	"paxlock/lockmgr"
	"testing"

	"github.com/anishathalye/porcupine"
	"pgregory.net/rapid"
)

// hop is one operation of a hand-written history: client, op, name, the
// answer, and the call/return times.
type hop struct {
	c         lockmgr.ClientID
	op        lockmgr.Op
	name      string
	out       Output
	call, ret int64
}

func grantOut(token uint64) Output      { return Output{Status: lockmgr.Granted, Token: token} }
func busyOut(h lockmgr.ClientID) Output { return Output{Status: lockmgr.Busy, Holder: h} }
func outOf(s lockmgr.Status) Output     { return Output{Status: s} }
func history(ops ...hop) []porcupine.Operation {
	var h []porcupine.Operation
	for _, o := range ops {
		h = append(h, porcupine.Operation{
			ClientId: int(o.c),
			Input:    Input{Client: o.c, Op: o.op, Name: o.name},
			Call:     o.call, Output: o.out, Return: o.ret,
		})
	}
	return h
}

var unknown = Output{Unknown: true}

func TestModelHistories(t *testing.T) {
	tests := []struct {
		name  string
		legal bool
		ops   []porcupine.Operation
	}{
		{"lock, unlock, lock by another", true, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 2, 3},
			hop{2, lockmgr.OpLock, "a", grantOut(2), 4, 5},
		)},
		{"re-entrant lock keeps its token; one unlock frees", true, history(
			hop{1, lockmgr.OpLock, "a", grantOut(3), 0, 1},
			hop{1, lockmgr.OpTryLock, "a", grantOut(3), 2, 3},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 4, 5},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.NotHeld), 6, 7},
		)},
		{"re-entrant grant with another token", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(3), 0, 1},
			hop{1, lockmgr.OpLock, "a", grantOut(4), 2, 3},
		)},
		{"blocked lock granted by an overlapping unlock", true, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{2, lockmgr.OpLock, "a", grantOut(2), 2, 7},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 5, 7},
		)},
		{"two holders at once", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{2, lockmgr.OpLock, "a", grantOut(2), 2, 3},
		)},
		{"different locks are independent", true, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{2, lockmgr.OpLock, "b", grantOut(2), 2, 3},
			hop{3, lockmgr.OpTryLock, "b", busyOut(2), 4, 5},
		)},
		{"token repeats after release", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(5), 0, 1},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 2, 3},
			hop{2, lockmgr.OpLock, "a", grantOut(5), 4, 5},
		)},
		{"token goes down after release", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(5), 0, 1},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 2, 3},
			hop{2, lockmgr.OpTryLock, "a", grantOut(3), 4, 5},
		)},
		{"concurrent grants may linearize in token order", true, history(
			hop{1, lockmgr.OpLock, "a", grantOut(7), 0, 10},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 11, 12},
			hop{2, lockmgr.OpLock, "a", grantOut(4), 0, 10},
			hop{2, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 5, 6},
		)},
		{"non-holder's unlock released", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{2, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 2, 3},
		)},
		{"holder's unlock not held", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.NotHeld), 2, 3},
		)},
		{"trylock busy on a free lock", false, history(
			hop{1, lockmgr.OpTryLock, "a", busyOut(2), 0, 1},
		)},
		{"trylock busy names the wrong holder", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{2, lockmgr.OpTryLock, "a", busyOut(3), 2, 3},
		)},
		{"trylock busy on the caller's own lock", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{1, lockmgr.OpTryLock, "a", busyOut(1), 2, 3},
		)},
		{"queued is never a final answer", false, history(
			hop{1, lockmgr.OpLock, "a", outOf(lockmgr.Queued), 0, 1},
		)},
		{"invalid and stale impose nothing", true, history(
			hop{1, lockmgr.OpLock, "", outOf(lockmgr.Invalid), 0, 1},
			hop{2, lockmgr.OpUnlock, "a", outOf(lockmgr.Stale), 2, 3},
			hop{2, lockmgr.OpLock, "a", grantOut(1), 4, 5},
		)},
		// c1 stopped waiting; c2 sees c1 holding, so c1's Lock took effect.
		{"unknown lock that must have taken effect", true, history(
			hop{1, lockmgr.OpLock, "a", unknown, 0, 100},
			hop{2, lockmgr.OpTryLock, "a", busyOut(1), 5, 6},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 10, 11},
			hop{2, lockmgr.OpLock, "a", grantOut(3), 12, 13},
		)},
		{"control: the same without the unknown lock", false, history(
			hop{2, lockmgr.OpTryLock, "a", busyOut(1), 5, 6},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 10, 11},
			hop{2, lockmgr.OpLock, "a", grantOut(3), 12, 13},
		)},
		// The unknown token is above 2, so c2's later token must exceed 3.
		{"unknown grant raises the token floor", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(2), 0, 1},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 2, 3},
			hop{3, lockmgr.OpLock, "a", unknown, 4, 100},
			hop{2, lockmgr.OpTryLock, "a", busyOut(3), 5, 6},
			hop{3, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 7, 8},
			hop{2, lockmgr.OpLock, "a", grantOut(3), 9, 10},
		)},
		{"control: a token above the raised floor", true, history(
			hop{1, lockmgr.OpLock, "a", grantOut(2), 0, 1},
			hop{1, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 2, 3},
			hop{3, lockmgr.OpLock, "a", unknown, 4, 100},
			hop{2, lockmgr.OpTryLock, "a", busyOut(3), 5, 6},
			hop{3, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 7, 8},
			hop{2, lockmgr.OpLock, "a", grantOut(4), 9, 10},
		)},
		// c1's Lock gave up by t=20; c3 gets the lock at t=30 and keeps it,
		// so c1's Lock cannot have taken effect.
		{"unknown lock that must not have taken effect", true, history(
			hop{1, lockmgr.OpLock, "a", unknown, 0, 20},
			hop{2, lockmgr.OpLock, "a", grantOut(1), 5, 6},
			hop{2, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 7, 8},
			hop{3, lockmgr.OpLock, "a", grantOut(2), 30, 31},
		)},
		{"control: the same with c1 granted", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(9), 0, 20},
			hop{2, lockmgr.OpLock, "a", grantOut(1), 5, 6},
			hop{2, lockmgr.OpUnlock, "a", outOf(lockmgr.Released), 7, 8},
			hop{3, lockmgr.OpLock, "a", grantOut(2), 30, 31},
		)},
		{"unknown unlock that took effect", true, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{1, lockmgr.OpUnlock, "a", unknown, 2, 100},
			hop{2, lockmgr.OpLock, "a", grantOut(2), 3, 4},
		)},
		{"unknown unlock that did not", true, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{1, lockmgr.OpUnlock, "a", unknown, 2, 5},
			hop{2, lockmgr.OpTryLock, "a", busyOut(1), 6, 7},
		)},
		{"unknown unlock by a non-holder frees nothing", false, history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{2, lockmgr.OpUnlock, "a", unknown, 2, 100},
			hop{3, lockmgr.OpLock, "a", grantOut(2), 3, 4},
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(Model(), tt.ops); got != tt.legal {
				t.Errorf("CheckOperations = %v, want %v", got, tt.legal)
			}
		})
	}
}

func TestModelDescribe(t *testing.T) {
	m := Model()
	tests := []struct {
		in   Input
		out  Output
		want string
	}{
		{Input{Client: 3, Op: lockmgr.OpLock, Name: "7"}, grantOut(12), `s3 lock("7") -> granted #12`},
		{Input{Client: 3, Op: lockmgr.OpTryLock, Name: "7"}, busyOut(2), `s3 trylock("7") -> busy (s2)`},
		{Input{Client: 3, Op: lockmgr.OpUnlock, Name: "7"}, outOf(lockmgr.Released), `s3 unlock("7") -> released`},
		{Input{Client: 3, Op: lockmgr.OpLock, Name: "7"}, unknown, `s3 lock("7") -> unknown`},
	}
	for _, tt := range tests {
		if got := m.DescribeOperation(tt.in, tt.out); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
	states := []modelState{{Last: 4}, {Held: true, Holder: 2, Last: 4, Exact: true}, {Held: true, Holder: 2, Last: 5}}
	want := []string{"free (last #4)", "s2 #4", "s2 #>=5"}
	for i, st := range states {
		if got := st.String(); got != want[i] {
			t.Errorf("got %s, want %s", got, want[i])
		}
	}
}

func TestModelPartitionEvents(t *testing.T) {
	ops := history(
		hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 3},
		hop{2, lockmgr.OpLock, "b", grantOut(2), 1, 2},
		hop{3, lockmgr.OpTryLock, "a", busyOut(1), 4, 5},
	)
	events := []porcupine.Event{
		{Kind: porcupine.CallEvent, Value: ops[0].Input, Id: 0},
		{Kind: porcupine.CallEvent, Value: ops[1].Input, Id: 1},
		{Kind: porcupine.ReturnEvent, Value: ops[1].Output, Id: 1},
		{Kind: porcupine.ReturnEvent, Value: ops[0].Output, Id: 0},
		{Kind: porcupine.CallEvent, Value: ops[2].Input, Id: 2},
		{Kind: porcupine.ReturnEvent, Value: ops[2].Output, Id: 2},
	}
	parts := partitionEventsByName(events)
	if len(parts) != 2 || len(parts[0]) != 4 || len(parts[1]) != 2 {
		t.Fatalf("partitions: %v", parts)
	}
	if !porcupine.CheckEvents(Model(), events) {
		t.Fatal("legal event history rejected")
	}
	events[5].Value = busyOut(2)
	if porcupine.CheckEvents(Model(), events) {
		t.Fatal("illegal event history accepted")
	}
}

// TestModelAcceptsStateMachineHistories cross-checks the two specifications:
// whatever the real state machine answers, applied sequentially, the model
// must accept; and lowering any granted token to a value that breaks
// monotonicity must make the model reject.
func TestModelAcceptsStateMachineHistories(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := lockmgr.SMConfig{MaxSessions: rapid.IntRange(1, 6).Draw(t, "maxSessions")}
		d := newDriver(lockmgr.NewStateMachine(cfg), rapid.IntRange(1, 5).Draw(t, "clients"))
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			d.step(t)
		}
		h := d.finish()
		if !porcupine.CheckOperations(Model(), h) {
			t.Fatalf("model rejected the state machine's history:\n%s", describeHistory(h))
		}
		if len(d.grants) == 0 {
			return
		}
		g := rapid.SampledFrom(d.grants).Draw(t, "mutate")
		out := h[g.op].Output.(Output)
		out.Token = rapid.Uint64Range(0, g.maxIllegal).Draw(t, "token")
		h[g.op].Output = out
		if porcupine.CheckOperations(Model(), h) {
			t.Fatalf("model accepted op %d with token lowered to %d:\n%s", g.op, out.Token, describeHistory(h))
		}
	})
}

func describeHistory(h []porcupine.Operation) string {
	var s string
	for i, op := range h {
		s += fmt.Sprintf("%3d [%d,%d] %s\n", i, op.Call, op.Return,
			describeOperation(op.Input.(Input), op.Output.(Output)))
	}
	return s
}

// TestModelSessionEnds: a lock goes free without an Unlock only through
// its holder's session ending (close or expiry), which acts on every lock.
func TestModelSessionEnds(t *testing.T) {
	ended := outOf(lockmgr.Ended)
	tests := []struct {
		name string
		h    []porcupine.Operation
		ok   bool
	}{
		{"taken over with no end", history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{2, lockmgr.OpLock, "a", grantOut(2), 2, 3}), false},
		{"taken over after the holder's expiry", history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{1, opExpire, "", ended, 2, 3},
			hop{2, lockmgr.OpLock, "a", grantOut(2), 4, 5}), true},
		{"taken over after another session's expiry", history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{3, opExpire, "", ended, 2, 3},
			hop{2, lockmgr.OpLock, "a", grantOut(2), 4, 5}), false},
		{"close frees every lock of the session", history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{1, lockmgr.OpLock, "b", grantOut(2), 2, 3},
			hop{1, opClose, "", ended, 4, 5},
			hop{2, lockmgr.OpTryLock, "a", grantOut(3), 6, 7},
			hop{2, lockmgr.OpTryLock, "b", grantOut(4), 6, 7}), true},
		{"a grant overlapping the expiry may follow it", history(
			hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
			hop{2, lockmgr.OpLock, "a", grantOut(2), 2, 9},
			hop{1, opExpire, "", ended, 5, 6}), true},
		{"the new token must exceed the expired holder's", history(
			hop{1, lockmgr.OpLock, "a", grantOut(5), 0, 1},
			hop{1, opExpire, "", ended, 2, 3},
			hop{2, lockmgr.OpLock, "a", grantOut(5), 4, 5}), false},
		{"an expired session's answer may hide an applied grant", history(
			hop{1, lockmgr.OpLock, "a", outOf(lockmgr.SessionExpired), 0, 9},
			hop{2, lockmgr.OpTryLock, "a", busyOut(1), 2, 3},
			hop{1, opExpire, "", ended, 4, 5},
			hop{2, lockmgr.OpTryLock, "a", grantOut(7), 6, 7}), true},
	}
	for _, tt := range tests {
		if got := porcupine.CheckOperations(Model(), tt.h); got != tt.ok {
			t.Errorf("%s: linearizable %v, want %v", tt.name, got, tt.ok)
		}
	}
}

// TestSessionEndsGoWhereTheSessionWent: a session's end goes into the part
// of each lock the session has an operation on, and no other; where it
// does go, it still frees the lock.
func TestSessionEndsGoWhereTheSessionWent(t *testing.T) {
	ended := outOf(lockmgr.Ended)
	h := history(
		hop{1, lockmgr.OpLock, "a", grantOut(1), 0, 1},
		hop{2, lockmgr.OpLock, "b", grantOut(2), 0, 1},
		hop{1, opExpire, "", ended, 2, 3},
		hop{3, opExpire, "", ended, 2, 3},
		hop{4, lockmgr.OpLock, "a", grantOut(3), 4, 5},
	)
	parts := partitionByName(h)
	if len(parts) != 2 || len(parts[0]) != 3 || len(parts[1]) != 1 {
		t.Fatalf("parts of sizes %d: want a's with s1's expiry (3 ops) and b's alone (1)", len(parts))
	}
	if !porcupine.CheckOperations(Model(), h) {
		t.Fatal("s1's expiry freed a for s4: should be linearizable")
	}
	h[2].Input = Input{Client: 3, Op: opExpire} // s3's expiry instead: a never comes free
	if porcupine.CheckOperations(Model(), h) {
		t.Fatal("a granted to s4 with s1 still holding it: accepted")
	}
}
