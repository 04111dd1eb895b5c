package udphost

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"paxlock/lockmgr"
)

func TestGroupLocks(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	a, b := newTestClient(t, g.cfg), newTestClient(t, g.cfg)
	got := do(t, a, lockmgr.OpLock, "1")
	if got.Result.Status != lockmgr.Granted || got.Result.Token == 0 {
		t.Fatalf("lock 1: %v", got.Result)
	}
	if r := do(t, b, lockmgr.OpTryLock, "1").Result; r.Status != lockmgr.Busy || r.Holder != a.ID() {
		t.Fatalf("trylock 1 by another client: %v, want busy(%v)", r, a.ID())
	}
	st := do(t, b, lockmgr.OpStatus, "")
	if len(st.Locks) != 1 || st.Locks[0].Holder != a.ID() || st.Locks[0].Token != got.Result.Token {
		t.Fatalf("status: %s", lockmgr.FormatStatus(st.Locks))
	}
	if len(st.Counters) != int(lockmgr.NumCounters) {
		t.Fatalf("status carries %d counters, want %d", len(st.Counters), int(lockmgr.NumCounters))
	}
	if r := do(t, a, lockmgr.OpUnlock, "1").Result; r.Status != lockmgr.Released {
		t.Fatalf("unlock 1: %v", r)
	}
	if r := do(t, b, lockmgr.OpUnlock, "1").Result; r.Status != lockmgr.NotHeld {
		t.Fatalf("unlock 1 by a non-holder: %v", r)
	}
	r := do(t, b, lockmgr.OpLock, "1").Result
	if r.Status != lockmgr.Granted || r.Token <= got.Result.Token {
		t.Fatalf("second grant %v after token %d", r, got.Result.Token)
	}
}

// TestBlockingLockQueues: a Lock on a held lock waits and is granted by
// the holder's Unlock.
func TestBlockingLockQueues(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	a, b := newTestClient(t, g.cfg), newTestClient(t, g.cfg)
	do(t, a, lockmgr.OpLock, "q")
	res := make(chan lockmgr.Result, 1)
	go func() { res <- do(t, b, lockmgr.OpLock, "q").Result }()
	time.Sleep(100 * time.Millisecond)
	select {
	case r := <-res:
		t.Fatalf("lock q granted while held: %v", r)
	default:
	}
	do(t, a, lockmgr.OpUnlock, "q")
	if r := <-res; r.Status != lockmgr.Granted {
		t.Fatalf("queued lock q: %v", r)
	}
}

// TestQueuedNoAnswer: a Lock that gives up while queued behind another
// holder says so. (Not how long it waited: it measures from its first
// send, a little after the timeout started, so it may say 1.998s.)
func TestQueuedNoAnswer(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	a, b := newTestClient(t, g.cfg), newTestClient(t, g.cfg)
	do(t, a, lockmgr.OpLock, "q")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // ample to hear Queued
	defer cancel()
	_, err := b.Do(ctx, lockmgr.OpLock, "q")
	var na *NoAnswerError
	if !errors.As(err, &na) || !na.Heard || !na.Queued ||
		!strings.HasPrefix(na.Error(), "still queued behind another holder after ") {
		t.Fatalf("lock q while a holds it: err = %v, want a NoAnswerError, queued", err)
	}
}

// TestRestartKeepsLocks: every node is stopped and started again from its
// data directory; the lock table and the tokens survive.
func TestRestartKeepsLocks(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	a := newTestClient(t, g.cfg)
	var tokens []uint64
	for _, name := range []string{"x", "y", "z"} {
		tokens = append(tokens, do(t, a, lockmgr.OpLock, name).Result.Token)
	}
	for _, id := range g.cfg.Peers() {
		g.stop(id)
	}
	for _, id := range g.cfg.Peers() {
		g.start(id)
		if g.nodes[id-1].Recovery().Records == 0 {
			t.Fatalf("node %d recovered no records", id)
		}
	}
	// The lock that answers may relearn the last slots from the others, so
	// wait for the table to fill.
	var st lockmgr.Completion
	eventually(t, "three locks held after restarting every node", 5*time.Second, func() bool {
		st = do(t, a, lockmgr.OpStatus, "")
		return len(st.Locks) == 3
	})
	for i, l := range st.Locks {
		if l.Holder != a.ID() || l.Token != tokens[i] {
			t.Fatalf("after restart lock %q: %v #%d, want %v #%d", l.Name, l.Holder, l.Token, a.ID(), tokens[i])
		}
	}
	if r := do(t, a, lockmgr.OpLock, "x").Result; r.Status != lockmgr.Granted || r.Token != tokens[0] {
		t.Fatalf("re-entrant lock x after restart: %v, want granted #%d", r, tokens[0])
	}
}

// TestGroupCommit: many clients at once; the leader's log takes far fewer
// fsyncs than records.
func TestGroupCommit(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, nil))
	const clients, pairs = 16, 30
	var wg sync.WaitGroup
	for i := range clients {
		c := newTestClient(t, g.cfg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := string(rune('a' + i))
			for range pairs {
				do(t, c, lockmgr.OpLock, name)
				do(t, c, lockmgr.OpUnlock, name)
			}
		}()
	}
	wg.Wait()
	var recs, syncs uint64
	for _, id := range g.cfg.Peers() {
		st := g.stats(id)
		recs += st.Log.Records
		syncs += st.Log.Syncs
	}
	t.Logf("%d pairs: %d records, %d fsyncs over 3 replicas", clients*pairs, recs, syncs)
	if syncs*2 > recs {
		t.Fatalf("%d fsyncs for %d records: want group commit (at least two records per fsync)", syncs, recs)
	}
}

// TestSnapshotBoundsLog: with frequent snapshots the log is rewritten and
// stays small however many operations run.
func TestSnapshotBoundsLog(t *testing.T) {
	g := startGroup(t, testConfig(t, 3, map[string]any{"snapshot_slots": 16}))
	c := newTestClient(t, g.cfg)
	for range 150 {
		do(t, c, lockmgr.OpLock, "s")
		do(t, c, lockmgr.OpUnlock, "s")
	}
	for _, id := range g.cfg.Peers() {
		st := g.stats(id)
		if st.Log.Rewrites == 0 || st.Log.Bytes > 16<<10 {
			t.Fatalf("node %d after 300 operations: %+v: want rewrites and a small log", id, st.Log)
		}
	}
	// A node restarted from its compacted log starts from the snapshot and
	// catches up with the rest (it may have stopped a slot or two behind).
	g.stop(2)
	g.start(2)
	if rec := g.nodes[1].Recovery(); rec.Records > 40 {
		t.Fatalf("node 2 replayed %d records after compaction every 16 slots", rec.Records)
	}
	eventually(t, "node 2 catches up after restart", 5*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		rep, err := c.NodeStatus(ctx, 2)
		return err == nil && len(rep.Locks) == 0
	})
}
