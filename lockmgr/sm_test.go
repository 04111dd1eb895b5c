package lockmgr

import (
	"reflect"
	"slices"
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
	ballot uint64 // OpLead, OpExpire: the ballot's round (node 1)
	forge  bool   // sign with a wrong secret
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
	gone   []ClientID // sessions that must not exist (ended or never opened)
}

var longName = strings.Repeat("x", NameBytesMax)

var smScenarios = []scenario{
	{
		name:   "a free lock is granted with the first token",
		steps:  []step{{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)}},
		status: `Current Locks: {"a": s1 (token 1)}`,
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
		status: `Current Locks: {"a": s3 (token 3) waiting [s4]}`,
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
		status: `Current Locks: {"a": s1 (token 1), "b": s2 (token 2)}`,
	},
	{
		name: "unlock by a non-holder changes nothing",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 3, seq: 1, op: OpUnlock, name: "a", want: notHeld},
			{c: 3, seq: 2, op: OpUnlock, name: "free", want: notHeld},
		},
		status: `Current Locks: {"a": s1 (token 1) waiting [s2]}`,
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
		status: `Current Locks: {"a": s2 (token 2)}`,
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
		status: `Current Locks: {"b": s1 (token 2)}`,
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
		status: `Current Locks: {"a": s3 (token 3), "b": s2 (token 2)}`,
	},
	{
		name: "a new lock request on the same lock requeues at the tail",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 3, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 2, seq: 2, op: OpLock, name: "a", want: queued},
		},
		status: `Current Locks: {"a": s1 (token 1) waiting [s3 s2]}`,
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
		status: `Current Locks: {"a": s3 (token 4), "b": s2 (token 2)}`,
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
		status: `Current Locks: {"` + longName + `": s1 (token 1)}`,
	},
	{
		name: "close releases every lock, each to its head waiter, and ends the session",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 1, seq: 2, op: OpLock, name: "b", want: granted(2)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 3, seq: 1, op: OpLock, name: "b", want: queued},
			{c: 1, seq: 3, op: OpClose, want: ended, grants: []Grant{
				{Client: 2, Seq: 1, Name: "a", Token: 3}, {Client: 3, Seq: 1, Name: "b", Token: 4}}},
			{c: 1, seq: 4, op: OpLock, name: "c", want: expired},
			{c: 1, seq: 3, op: OpClose, want: expired},
		},
		status: `Current Locks: {"a": s2 (token 3), "b": s3 (token 4)}`,
		known:  []ClientID{2, 3},
		gone:   []ClientID{1},
	},
	{
		name: "expiry counts only under the latest leader's ballot",
		steps: []step{
			{op: OpLead, ballot: 1, want: ended},
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{op: OpLead, ballot: 2, want: ended},
			{op: OpLead, ballot: 1, want: stale}, // a deposed leader's late takeover
			{c: 1, op: OpExpire, ballot: 1, want: stale},
			{c: 1, op: OpExpire, ballot: 2, want: ended, grants: []Grant{{Client: 2, Seq: 1, Name: "a", Token: 2}}},
			{c: 1, op: OpExpire, ballot: 2, want: expired},
		},
		status: `Current Locks: {"a": s2 (token 2)}`,
		gone:   []ClientID{1},
	},
	{
		name: "an expired session's wait is withdrawn",
		steps: []step{
			{op: OpLead, ballot: 1, want: ended},
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 3, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 2, op: OpExpire, ballot: 1, want: ended},
			{c: 1, seq: 2, op: OpUnlock, name: "a", want: released, grants: []Grant{{Client: 3, Seq: 1, Name: "a", Token: 2}}},
		},
		status: `Current Locks: {"a": s3 (token 2)}`,
	},
	{
		name: "a request without the session's tag is refused and changes nothing",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 1, seq: 2, op: OpUnlock, name: "a", forge: true, want: refused},
			{c: 1, seq: 2, op: OpClose, forge: true, want: refused},
			{c: 1, seq: 2, op: OpTryLock, name: "a", want: granted(1)},
		},
		status: `Current Locks: {"a": s1 (token 1)}`,
		known:  []ClientID{1},
	},
	{
		name: "unlock of a lock the caller only waits for withdraws the wait",
		steps: []step{
			{c: 1, seq: 1, op: OpLock, name: "a", want: granted(1)},
			{c: 2, seq: 1, op: OpLock, name: "a", want: queued},
			{c: 2, seq: 2, op: OpUnlock, name: "a", want: notHeld},
		},
		status: `Current Locks: {"a": s1 (token 1)}`,
	},
	{
		name: "a never-opened session is expired",
		steps: []step{
			{c: 9, seq: 1, op: OpLock, name: "a", want: expired},
		},
		status: `Current Locks: {}`,
		gone:   []ClientID{9},
	},
}

var (
	ended   = Result{Status: Ended}
	expired = Result{Status: SessionExpired}
	refused = Result{Status: Refused}
)

// testSecret is session id's secret in these tests.
func testSecret(id ClientID) Key { return Key{0: byte(id), 1: 0x5a} }

// openSessions opens sessions 1..n, with testSecret's secrets.
func openSessions(t *testing.T, s *StateMachine, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		id := ClientID(i)
		r, _ := s.Apply(s.Applied(), Command{Client: NonceBit | id, Op: OpOpen, Arg: 5000, Key: testSecret(id)})
		if r != (Result{Status: Opened, Holder: id, Token: 5000}) {
			t.Fatalf("open %d: %v", i, r)
		}
	}
}

func TestStateMachineScenarios(t *testing.T) {
	for _, sc := range smScenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := NewStateMachine(sc.cfg)
			openSessions(t, s, 4)
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
		if st.op == OpLead || st.op == OpExpire {
			c.Arg, c.Node = st.ballot, 1
		}
		if st.op.Session() {
			secret := testSecret(st.c)
			if st.forge {
				secret[2]++
			}
			c.Sign(secret)
		}
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
	r, err := RestoreStateMachine(s.cfg, s.Snapshot())
	if err != nil {
		t.Fatalf("own snapshot rejected: %v", err)
	}
	for id, sess := range s.sessions {
		if got := r.sessions[id]; got == nil || !slices.Equal(got.held, sess.held) || got.waitName != sess.waitName {
			t.Fatalf("%v: derived fields not rebuilt alike", id)
		}
	}
}

func TestLookup(t *testing.T) {
	s := NewStateMachine(SMConfig{})
	openSessions(t, s, 2)
	s.Apply(1, signed(Command{Client: 1, Seq: 1, Op: OpLock, Name: "a"}))
	s.Apply(2, signed(Command{Client: 2, Seq: 1, Op: OpLock, Name: "a"}))
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

// signed signs c with its session's test secret.
func signed(c Command) Command {
	c.Sign(testSecret(c.Client))
	return c
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
		{[]LockStatus{{Name: "1", Holder: 7, Token: 12, Waiters: []ClientID{9}}}, `Current Locks: {"1": s7 (token 12) waiting [s9]}`},
		{
			[]LockStatus{{Name: "1", Holder: 7, Token: 12}, {Name: "x y", Holder: 2, Token: 3, Waiters: []ClientID{4, 5}}},
			`Current Locks: {"1": s7 (token 12), "x y": s2 (token 3) waiting [s4 s5]}`,
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
		openSessions(t, sm, 2)
		sm.Apply(5, signed(Command{Client: 1, Seq: FirstSeq, Op: OpLock, Name: "a"}))
		sm.Apply(4, signed(Command{Client: 2, Seq: FirstSeq, Op: OpLock, Name: "a"}))
	})
	mustPanic("cancelled waiter missing", func() {
		sm := NewStateMachine(SMConfig{})
		openSessions(t, sm, 2)
		sm.Apply(1, signed(Command{Client: 1, Seq: FirstSeq, Op: OpLock, Name: "a"}))
		sm.Apply(2, signed(Command{Client: 2, Seq: FirstSeq, Op: OpLock, Name: "a"}))
		sm.locks["a"].waiters = nil // corrupt the queue behind the session's back
		sm.Apply(3, signed(Command{Client: 2, Seq: FirstSeq + 1, Op: OpTryLock, Name: "b"}))
	})
	mustPanic("grant token not above the lock's", func() {
		sm := NewStateMachine(SMConfig{})
		openSessions(t, sm, 2)
		sm.Apply(1, signed(Command{Client: 1, Seq: FirstSeq, Op: OpLock, Name: "a"}))
		sm.Apply(2, signed(Command{Client: 2, Seq: FirstSeq, Op: OpLock, Name: "a"}))
		sm.lastToken = 0 // the shared counter goes back
		sm.Apply(3, signed(Command{Client: 1, Seq: FirstSeq + 1, Op: OpUnlock, Name: "a"}))
	})
}
