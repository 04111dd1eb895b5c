package check

import (
	"testing"

	"paxlock/lockmgr"
)

// TestAbandonedLockEndsAsTheLogDecides: a Lock its client gave up on ends
// granted (a grant applied before or after the client gave up) or
// withdrawn (the client's next request applied first); a read, or a late
// copy of an older request, withdraws nothing.
func TestAbandonedLockEndsAsTheLogDecides(t *testing.T) {
	lock := func(h *History, client int, at int64) int { return h.Call(client, at, lockmgr.OpLock, "a") }
	c1 := lockmgr.ClientID(1)

	var h History
	i := lock(&h, 0, 10)
	h.Abandon(i, 5)
	h.Applied(20, lockmgr.Command{Client: c1, Seq: 4, Op: lockmgr.OpLock, Name: "a"}, nil) // an older copy
	h.Applied(21, lockmgr.Command{Client: c1, Seq: lockmgr.ReadSeqBase, Op: opRead}, nil)  // a read
	if h.Op(i).Return >= 0 {
		t.Fatalf("ended by an older request or a read: %+v", h.Op(i))
	}
	h.Applied(30, lockmgr.Command{Client: c1, Seq: 6, Op: lockmgr.OpUnlock, Name: "a"}, nil)
	if out := h.Op(i).Output.(Output); !out.Withdrawn || h.Op(i).Return != 30 {
		t.Fatalf("after the next request: %+v at %d, want withdrawn at 30", out, h.Op(i).Return)
	}

	var g History
	j := lock(&g, 0, 10)
	g.Applied(15, lockmgr.Command{Client: 2, Seq: 3, Op: lockmgr.OpUnlock, Name: "a"},
		[]lockmgr.Grant{{Client: c1, Seq: 5, Name: "a", Token: 9}}) // granted before it gave up
	g.Abandon(j, 5)
	if out := g.Op(j).Output.(Output); out.Status != lockmgr.Granted || out.Token != 9 || g.Op(j).Return != 15 {
		t.Fatalf("granted before abandon: %+v at %d", out, g.Op(j).Return)
	}

	var k History
	m := lock(&k, 0, 10)
	k.Abandon(m, 5)
	k.Applied(40, lockmgr.Command{Client: 2, Seq: 3, Op: lockmgr.OpUnlock, Name: "a"},
		[]lockmgr.Grant{{Client: c1, Seq: 5, Name: "a", Token: 11}})
	k.Applied(50, lockmgr.Command{Client: c1, Seq: 6, Op: lockmgr.OpUnlock, Name: "a"}, nil)
	if out := k.Op(m).Output.(Output); out.Status != lockmgr.Granted || out.Token != 11 || k.Op(m).Return != 40 {
		t.Fatalf("granted after abandon: %+v at %d", out, k.Op(m).Return)
	}
}
