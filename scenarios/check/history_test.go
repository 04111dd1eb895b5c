package check

import (
	"slices"
	"testing"

	"github.com/anishathalye/porcupine"

	"paxlock/lockmgr"
)

// TestAbandonedLockEndsAsTheLogDecides: a Lock its client gave up on ends
// granted (a grant applied before or after the client gave up) or
// withdrawn (the client's next request applied first); a read, or a late
// copy of an older request, withdraws nothing.
func TestAbandonedLockEndsAsTheLogDecides(t *testing.T) {
	c1 := lockmgr.ClientID(1)
	lock := func(h *History, client int, at int64) int {
		i := h.Call(client, at, lockmgr.OpLock, "a")
		h.Began(i, c1)
		return i
	}

	var h History
	i := lock(&h, 0, 10)
	h.Abandon(i, 5)
	h.Applied(20, lockmgr.Command{Client: c1, Seq: 4, Op: lockmgr.OpLock, Name: "a"}, false, nil) // an older copy
	h.Applied(21, lockmgr.Command{Client: c1, Seq: lockmgr.ReadSeqBase, Op: opRead}, false, nil)  // a read
	if h.Op(i).Return >= 0 {
		t.Fatalf("ended by an older request or a read: %+v", h.Op(i))
	}
	h.Applied(30, lockmgr.Command{Client: c1, Seq: 6, Op: lockmgr.OpUnlock, Name: "a"}, false, nil)
	if out := h.Op(i).Output.(Output); !out.Withdrawn || h.Op(i).Return != 30 {
		t.Fatalf("after the next request: %+v at %d, want withdrawn at 30", out, h.Op(i).Return)
	}

	var g History
	j := lock(&g, 0, 10)
	g.Applied(15, lockmgr.Command{Client: 2, Seq: 3, Op: lockmgr.OpUnlock, Name: "a"}, false,
		[]lockmgr.Grant{{Client: c1, Seq: 5, Name: "a", Token: 9}}) // granted before it gave up
	g.Abandon(j, 5)
	if out := g.Op(j).Output.(Output); out.Status != lockmgr.Granted || out.Token != 9 || g.Op(j).Return != 15 {
		t.Fatalf("granted before abandon: %+v at %d", out, g.Op(j).Return)
	}

	var k History
	m := lock(&k, 0, 10)
	k.Abandon(m, 5)
	k.Applied(40, lockmgr.Command{Client: 2, Seq: 3, Op: lockmgr.OpUnlock, Name: "a"}, false,
		[]lockmgr.Grant{{Client: c1, Seq: 5, Name: "a", Token: 11}})
	k.Applied(50, lockmgr.Command{Client: c1, Seq: 6, Op: lockmgr.OpUnlock, Name: "a"}, false, nil)
	if out := k.Op(m).Output.(Output); out.Status != lockmgr.Granted || out.Token != 11 || k.Op(m).Return != 40 {
		t.Fatalf("granted after abandon: %+v at %d", out, k.Op(m).Return)
	}
}

// TestSessionEndWithdrawsAbandonedLock: an abandoned Lock whose session
// ends (expiry or close) before any grant was withdrawn; a stale expiry
// that ended nothing leaves it open.
func TestSessionEndWithdrawsAbandonedLock(t *testing.T) {
	var h History
	i := h.Call(0, 10, lockmgr.OpLock, "a")
	h.Began(i, 3)
	h.Abandon(i, 5)
	h.Applied(20, lockmgr.Command{Client: 3, Op: opExpire, Arg: 1, Node: 1}, false, nil)
	if h.Op(i).Return >= 0 {
		t.Fatalf("ended by a stale expiry: %+v", h.Op(i))
	}
	h.Applied(30, lockmgr.Command{Client: 3, Op: opExpire, Arg: 2, Node: 1}, true, nil)
	if out := h.Op(i).Output.(Output); !out.Withdrawn || h.Op(i).Return != 30 {
		t.Fatalf("after the expiry: %+v at %d, want withdrawn at 30", out, h.Op(i).Return)
	}
	j := h.Call(1, 40, lockmgr.OpLock, "a")
	h.Abandon(j, 1) // before its session opened: it never went out
	if out := h.Op(j).Output.(Output); !out.Withdrawn {
		t.Fatalf("abandoned before the open: %+v", out)
	}
}

// TestDropFreeNotHeld: an Unlock answered NotHeld is left out only when
// its session cannot hold the lock anywhere in it; one that says
// something (right after the session's grant) stays, so a wrong NotHeld
// is still caught.
func TestDropFreeNotHeld(t *testing.T) {
	op := func(s lockmgr.ClientID, o lockmgr.Op, out Output, call, ret int64) porcupine.Operation {
		return porcupine.Operation{Input: Input{Client: s, Op: o, Name: "a"}, Output: out, Call: call, Return: ret}
	}
	notHeld := Output{Status: lockmgr.NotHeld}
	ops := []porcupine.Operation{
		op(1, lockmgr.OpLock, Output{Status: lockmgr.Granted, Token: 1}, 0, 10),
		op(2, lockmgr.OpTryLock, Output{Status: lockmgr.Busy, Holder: 1}, 11, 12),
		op(2, lockmgr.OpUnlock, notHeld, 13, 14), // after Busy: free, dropped
		op(3, lockmgr.OpUnlock, notHeld, 15, 16), // no earlier op: free, dropped
		op(1, lockmgr.OpUnlock, notHeld, 17, 18), // right after its grant: kept (and illegal)
		op(4, lockmgr.OpLock, Output{Unknown: true}, 19, 100),
		op(4, lockmgr.OpUnlock, notHeld, 20, 21), // overlaps its own Lock: kept
	}
	got := dropFreeNotHeld(slices.Clone(ops))
	var kept []int64
	for _, o := range got {
		kept = append(kept, o.Call)
	}
	if want := []int64{0, 11, 17, 19, 20}; !slices.Equal(kept, want) {
		t.Fatalf("kept the operations called at %v, want %v", kept, want)
	}
	if porcupine.CheckOperations(Model(), got) {
		t.Fatal("the holder's NotHeld was dropped or accepted")
	}
}
