package lockmgr

import (
	"reflect"
	"strings"
	"testing"
)

func granted(token uint64) Result { return Result{Status: Granted, Token: token} }
func busy(holder ClientID) Result { return Result{Status: Busy, Holder: holder} }

var (
	queued   = Result{Status: Queued}
	released = Result{Status: Released}
	notHeld  = Result{Status: NotHeld}
	invalid  = Result{Status: Invalid}
	stale    = Result{Status: Stale}
)

// step is one Apply and its expected outcome. batch applies the command in
// the same slot as the previous step; otherwise each step gets the next slot.
type step struct {
	c      ClientID
	seq    uint64
	op     Op
	name   string
	want   Result
	grants []Grant
	batch  bool
}

type scenario struct {
	name   string
	cfg    SMConfig
	steps  []step
	status string     // FormatStatus at the end
	known  []ClientID // clients whose latest record Lookup must find
	gone   []ClientID // clients Lookup must not find (evicted or never seen)
}

var longName = strings.Repeat("x", NameBytesMax)

var smScenarios = []scenario{
	{
		name:   "a free lock is granted with the first token",
		steps:  []step{{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)}},
		status: `Current Locks: {"a": c1 (token 1)}`,
		known:  []ClientID{1},
	},
	{
		name: "re-entrant acquire keeps the token and one unlock releases",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 1, seq: 2, op: OpLock, name: "a", want: granted(1)},
			{c: 1, seq: 3, op: OpTryLock, name: "a", want: granted(1)},
			{c: 1, seq: 4, op: OpUnlock, name: "a", want: released},
			{c: 1, seq: 5, op: OpUnlock, name: "a", want: notHeld},
		},
		status: `Current Locks: {}`,
	},
	{
		name: "waiters are granted in FIFO order, each with a new token",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 3, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 4, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released, grants: []Grant{{Client: 2, Seq: 1, Name: "a", Token: 2}}},
			{c: 2, seq: 2, op: OpUnlock, name: "a", want: released, grants: []Grant{{Client: 3, Seq: 1, Name: "a", Token: 3}}},
		},
		status: `Current Locks: {"a": c3 (token 3) waiting [c4]}`,
	},
	{
		name: "the last waiter's unlock frees the lock",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released, grants: []Grant{{Client: 2, Seq: 1, Name: "a", Token: 2}}},
			{c: 2, seq: 2, op: OpUnlock, name: "a", want: released},
		},
		status: `Current Locks: {}`,
	},
	{
		name: "trylock on a held lock is busy and does not queue",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpTryLock, name: "a", want: busy(1)},
			{c: 2, seq: 2, op: OpTryLock, name: "b", want: granted(2)},
		},
		status: `Current Locks: {"a": c1 (token 1), "b": c2 (token 2)}`,
	},
	{
		name: "unlock by a non-holder changes nothing",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 3, seq: 1, op: OpUnlock, name: "a", want: notHeld},
			{c: 3, seq: 2, op: OpUnlock, name: "free", want: notHeld},
		},
		status: `Current Locks: {"a": c1 (token 1) waiting [c2]}`,
	},
	{
		name: "a duplicate seq returns the recorded result without re-applying",
		steps: []step{
			{c: 1, seq: 1, op: OpTryLock, name: "a", want: granted(1)},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released},
			{c: 2, seq: 1, op: OpLock, name: "a", want: granted(2)},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released},
		},
		status: `Current Locks: {"a": c2 (token 2)}`,
		known:  []ClientID{1, 2},
	},
	{
		name: "a retried queued lock does not queue twice and learns its grant",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released, grants: []Grant{{Client: 2, Seq: 1, Name: "a", Token: 2}}},
			{c: 2, seq: 1, op: OpLock, name: "a", want: granted(2)},
			{c: 2, seq: 2, op: OpUnlock, name: "a", want: released},
		},
		status: `Current Locks: {}`,
	},
	{
		name: "an old seq is stale and changes nothing",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released},
			{c: 1, seq: 1, op: OpLock, name: "a", want: stale},
			{c: 1, seq: 7, op: OpLock, name: "b", want: granted(2)},
			{c: 1, seq: 6, op: OpUnlock, name: "b", want: stale},
		},
		status: `Current Locks: {"b": c1 (token 2)}`,
	},
	{
		name: "an unknown client must start at FirstSeq",
		steps: []step{
			{c: 9, seq: 3, op: OpLock, name: "a", want: stale},
			{c: 9, seq: 0, op: OpLock, name: "a", want: stale},
		},
		status: `Current Locks: {}`,
		gone:   []ClientID{9},
	},
	{
		name: "a new seq cancels the client's queued lock",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 3, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 2, seq: 2, op: OpTryLock, name: "b", want: granted(2)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: stale},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released, grants: []Grant{{Client: 3, Seq: 1, Name: "a", Token: 3}}},
		},
		status: `Current Locks: {"a": c3 (token 3), "b": c2 (token 2)}`,
	},
	{
		name: "a new lock request on the same lock requeues at the tail",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 3, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 2, seq: 2, op: OpLock, name: "a", want: queued},
		},
		status: `Current Locks: {"a": c1 (token 1) waiting [c3 c2]}`,
	},
	{
		name: "tokens increase per grant even within one slot",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "b", want: granted(2), batch: true},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released, batch: true},
			{c: 3, seq: 1, op: OpLock, name: "a", want: granted(3), batch: true},
			{c: 3, seq: 2, op: OpUnlock, name: "a", want: released},
			{c: 3, seq: 3, op: OpTryLock, name: "a", want: granted(4)},
		},
		status: `Current Locks: {"a": c3 (token 4), "b": c2 (token 2)}`,
	},
	{
		name: "bad names and ops are invalid and change nothing",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "", want: invalid},
			{c: 1, seq: 2, op: OpTryLock, name: longName + "y", want: invalid},
			{c: 1, seq: 3, op: OpUnlock, name: "", want: invalid},
			{c: 1, seq: 4, op: Op(0), name: "a", want: invalid},
			{c: 1, seq: 5, op: Op(4), name: "a", want: invalid},
			{c: 1, seq: 6, op: OpLock, name: longName, want: granted(1)},
		},
		status: `Current Locks: {"` + longName + `": c1 (token 1)}`,
	},
	{
		name: "a full table evicts the least recently active idle client",
		cfg:  SMConfig{MaxClients: 2},
		steps: []step{
			{c: 1, seq: 1, op: OpUnlock, name: "a", want: notHeld},
			{c: 2, seq: 1, op: OpUnlock, name: "a", want: notHeld},
			{c: 1, seq: 1, op: OpUnlock, name: "a", want: notHeld}, // touches c1
			{c: 3, seq: 1, op: OpUnlock, name: "a", want: notHeld}, // evicts c2
			{c: 2, seq: 2, op: OpTryLock, name: "a", want: stale},
		},
		known: []ClientID{1, 3},
		gone:  []ClientID{2},
	},
	{
		name: "eviction ties on slot go to the lowest id",
		cfg:  SMConfig{MaxClients: 2},
		steps: []step{
			{c: 6, seq: 1, op: OpUnlock, name: "a", want: notHeld},
			{c: 5, seq: 1, op: OpUnlock, name: "a", want: notHeld, batch: true},
			{c: 7, seq: 1, op: OpUnlock, name: "a", want: notHeld},
		},
		known: []ClientID{6, 7},
		gone:  []ClientID{5},
	},
	{
		name: "holders and waiters are never evicted",
		cfg:  SMConfig{MaxClients: 2},
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 3, seq: 1, op: OpUnlock, name: "b", want: notHeld},
			{c: 4, seq: 1, op: OpUnlock, name: "b", want: notHeld}, // evicts c3
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released, grants: []Grant{{Client: 2, Seq: 1, Name: "a", Token: 2}}},
			{c: 2, seq: 1, op: OpLock, name: "a", want: granted(2)},
			// Three records for a bound of two: c5 evicts c4 and c1 (idle
			// now), oldest first, and the table is back within its bound.
			{c: 5, seq: 1, op: OpUnlock, name: "b", want: notHeld},
		},
		status: `Current Locks: {"a": c2 (token 2)}`,
		known:  []ClientID{2, 5},
		gone:   []ClientID{1, 3, 4},
	},
	{
		name: "an evicted client restarts at FirstSeq as a new client",
		cfg:  SMConfig{MaxClients: 1},
		steps: []step{
			{c: 1, seq: 1, op: OpTryLock, name: "a", want: granted(1)},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released},
			{c: 2, seq: 1, op: OpTryLock, name: "b", want: granted(2)}, // evicts c1
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: stale},
			{c: 1, seq: 1, op: OpUnlock, name: "b", want: notHeld},
		},
		status: `Current Locks: {"b": c2 (token 2)}`,
		known:  []ClientID{1, 2},
	},
}

func TestStateMachineScenarios(t *testing.T) {
	for _, sc := range smScenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := NewStateMachine(sc.cfg)
			runSteps(t, s, sc.steps)
			if sc.status != "" {
				if got := FormatStatus(s.Status()); got != sc.status {
					t.Errorf("status:\n got %s\nwant %s", got, sc.status)
				}
			}
			for _, c := range sc.known {
				if s.sessions[c] == nil {
					t.Errorf("%v: record missing", c)
				}
			}
			for _, c := range sc.gone {
				if _, ok := s.sessions[c]; ok {
					t.Errorf("%v: record present, want gone", c)
				}
			}
		})
	}
}

func runSteps(t *testing.T, s *StateMachine, steps []step) {
	t.Helper()
	slot := s.Applied()
	for i, st := range steps {
		if !st.batch {
			slot++
		}
		c := Command{Client: st.c, Seq: st.seq, Op: st.op, Name: st.name}
		got, grants := s.Apply(slot, c)
		if got != st.want || !reflect.DeepEqual(grants, st.grants) {
			t.Fatalf("step %d %v: got %v %v, want %v %v", i, c, got, grants, st.want, st.grants)
		}
		if s.Applied() != slot {
			t.Fatalf("step %d: Applied() = %d, want %d", i, s.Applied(), slot)
		}
		checkInvariants(t, s)
	}
}

// checkInvariants verifies what rebuild verifies on restore, on live state.
func checkInvariants(t *testing.T, s *StateMachine) {
	t.Helper()
	if _, err := RestoreStateMachine(s.cfg, s.Snapshot()); err != nil {
		t.Fatalf("own snapshot rejected: %v", err)
	}
	idle := 0
	for _, sess := range s.sessions {
		if !sess.pinned() {
			idle++
		}
	}
	if idle != s.idle.Len() {
		t.Fatalf("eviction heap has %d sessions, want %d idle", s.idle.Len(), idle)
	}
}

func TestLookup(t *testing.T) {
	s := NewStateMachine(SMConfig{})
	s.Apply(1, Command{Client: 1, Seq: 1, Op: OpLock, Name: "a"})
	s.Apply(2, Command{Client: 2, Seq: 1, Op: OpLock, Name: "a"})
	tests := []struct {
		c    ClientID
		seq  uint64
		want Result
		ok   bool
	}{
		{1, 1, granted(1), true},
		{2, 1, queued, true},
		{1, 0, Result{}, false},
		{1, 2, Result{}, false},
		{3, 1, Result{}, false},
	}
	for _, tt := range tests {
		got, ok := s.Lookup(tt.c, tt.seq)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Lookup(%v, %d) = %v, %v; want %v, %v", tt.c, tt.seq, got, ok, tt.want, tt.ok)
		}
	}
}

func TestApplyRejectsSlotGoingBack(t *testing.T) {
	s := NewStateMachine(SMConfig{})
	s.Apply(5, Command{Client: 1, Seq: 1, Op: OpLock, Name: "a"})
	defer func() {
		if recover() == nil {
			t.Fatal("Apply(4) after slot 5 did not panic")
		}
	}()
	s.Apply(4, Command{Client: 1, Seq: 2, Op: OpUnlock, Name: "a"})
}

func TestFormatStatus(t *testing.T) {
	tests := []struct {
		locks []LockStatus
		want  string
	}{
		{nil, `Current Locks: {}`},
		{[]LockStatus{{Name: "1", Holder: 7, Token: 12, Waiters: []ClientID{9}}}, `Current Locks: {"1": c7 (token 12) waiting [c9]}`},
		{
			[]LockStatus{{Name: "1", Holder: 7, Token: 12}, {Name: "x y", Holder: 2, Token: 3, Waiters: []ClientID{4, 5}}},
			`Current Locks: {"1": c7 (token 12), "x y": c2 (token 3) waiting [c4 c5]}`,
		},
	}
	for _, tt := range tests {
		if got := FormatStatus(tt.locks); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}

// TestAssertsFire: the state machine's invariants are checked where they
// could break, not left to a checker to notice much later.
func TestAssertsFire(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if s, _ := r.(string); !strings.HasPrefix(s, "lockmgr: assertion failed: ") {
				t.Errorf("%s: recovered %v, want an assertion failure", name, r)
			}
		}()
		f()
	}
	mustPanic("slot goes back", func() {
		sm := NewStateMachine(SMConfig{})
		sm.Apply(5, Command{Client: 1, Seq: FirstSeq, Op: OpLock, Name: "a"})
		sm.Apply(4, Command{Client: 2, Seq: FirstSeq, Op: OpLock, Name: "a"})
	})
	mustPanic("cancelled waiter missing", func() {
		sm := NewStateMachine(SMConfig{})
		sm.Apply(1, Command{Client: 1, Seq: FirstSeq, Op: OpLock, Name: "a"})
		sm.Apply(2, Command{Client: 2, Seq: FirstSeq, Op: OpLock, Name: "a"})
		sm.locks["a"].waiters = nil // corrupt the queue behind the session's back
		sm.Apply(3, Command{Client: 2, Seq: FirstSeq + 1, Op: OpTryLock, Name: "b"})
	})
	mustPanic("grant token not above the lock's", func() {
		sm := NewStateMachine(SMConfig{})
		sm.Apply(1, Command{Client: 1, Seq: FirstSeq, Op: OpLock, Name: "a"})
		sm.Apply(2, Command{Client: 2, Seq: FirstSeq, Op: OpLock, Name: "a"})
		sm.lastToken = 0 // the shared counter goes back
		sm.Apply(3, Command{Client: 1, Seq: FirstSeq + 1, Op: OpUnlock, Name: "a"})
	})
}
