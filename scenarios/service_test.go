package scenarios

import (
	"fmt"
	"paxlock/scenarios/check"
	"testing"

	"paxlock/lockmgr"
	"paxlock/paxos"
	"paxlock/sim"
)

// Targeted tests of the lock service under the simulator: the at-most-once
// behaviour (ARCHITECTURE.md, lock semantics) with duplicated packets, lost replies and a leader
// change under a waiting Lock.

func newCluster(t *testing.T, seed uint64, replicas, clients int, net sim.NetConfig) *Cluster {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Net = net
	scn := Scenario{Seed: seed, Replicas: replicas, Sim: cfg, TickNs: 1_000_000,
		Clients: make([]ClientScript, clients), SafetyNs: 0, LivenessNs: 1}
	c, err := NewCluster(scn)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type applied struct {
	results map[string][]lockmgr.Result // "c1#3" -> results of each application, on replica 1's order
	grants  map[lockmgr.ClientID][]lockmgr.Grant
}

// watch records what one replica applies.
func watch(c *Cluster, replica paxos.ID) *applied {
	a := &applied{results: map[string][]lockmgr.Result{}, grants: map[lockmgr.ClientID][]lockmgr.Grant{}}
	c.OnApply(func(id paxos.ID, slot uint64, cmd lockmgr.Command, res lockmgr.Result, grants []lockmgr.Grant) {
		if id != replica {
			return
		}
		k := fmt.Sprintf("%v#%d", cmd.Client, cmd.Seq)
		a.results[k] = append(a.results[k], res)
		for _, g := range grants {
			a.grants[g.Client] = append(a.grants[g.Client], g)
		}
	})
	return a
}

func mustIdle(t *testing.T, c *Cluster, limitNs int64) {
	t.Helper()
	ok, err := c.RunUntilIdle(limitNs)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("clients not done after %s", fmtMs(limitNs))
	}
}

// TestDuplicatedRequestAppliedOnce: every packet is duplicated, and copies
// arrive up to 150 ms late, so the same request is proposed into the log
// more than once. Every later application of a (client, seq) must answer
// what the first final one did (or Stale, once the client has moved on),
// and the history must stay linearizable.
func TestDuplicatedRequestAppliedOnce(t *testing.T) {
	net := sim.NetConfig{DupProb: 1, LatencyMinNs: 100_000, LatencyMaxNs: 500_000, ReorderProb: 0.5, ReorderJitterNs: 150_000_000}
	c := newCluster(t, 1, 3, 3, net)
	a := watch(c, 1)
	for i := 0; i < 3; i++ {
		for k := 0; k < 8; k++ {
			c.Start(i, lockmgr.OpLock, "a")
			c.Start(i, lockmgr.OpUnlock, "a")
		}
	}
	mustIdle(t, c, 60e9)
	c.RunFor(1e9)
	dups := 0
	for k, rs := range a.results {
		if len(rs) > 1 {
			dups++
		}
		var final *lockmgr.Result
		for i := range rs {
			switch {
			case rs[i].Status == lockmgr.Queued && final == nil:
			case final == nil:
				final = &rs[i]
			case rs[i].Status == lockmgr.Stale:
				// The client moved on to a newer request: an old copy
				// changes nothing and is answered Stale.
			case rs[i] != *final:
				t.Errorf("%s applied again with %+v after %+v", k, rs[i], *final)
			}
		}
	}
	if dups == 0 {
		t.Fatal("no request reached the log twice: the test exercised nothing")
	}
	t.Logf("%d of %d requests reached the log more than once", dups, len(a.results))
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestLostReplyRetry: the Lock is applied but every reply to the client is
// lost, so it retries at other replicas; once replies get through, it must
// get the token of the first application, and it must really hold the lock.
func TestLostReplyRetry(t *testing.T) {
	c := newCluster(t, 2, 3, 1, sim.NetConfig{LatencyMinNs: 100_000, LatencyMaxNs: 300_000})
	a := watch(c, 1)
	w := c.World()
	c.RunFor(50e6)                           // elect a leader first
	c.Start(0, lockmgr.OpTryLock, "warm-up") // opens the session, as s1
	mustIdle(t, c, 1e9)
	c.Done()
	for id := sim.Addr(1); id <= 3; id++ {
		w.Cut(id, ClientAddrBase)
	}
	c.Start(0, lockmgr.OpLock, "a")
	c.RunFor(500e6)
	first := a.results["s1#2"]
	if len(first) == 0 || first[0].Status != lockmgr.Granted {
		t.Fatalf("lock not applied while replies were lost: %+v", first)
	}
	if len(c.Done()) != 0 {
		t.Fatal("client got a reply through a cut link")
	}
	w.Heal()
	mustIdle(t, c, 10e9)
	done := c.Done()
	out := done[0].Output.(check.Output)
	if out.Status != lockmgr.Granted || out.Token != first[0].Token {
		t.Fatalf("retry answered %+v, first application %+v", out, first[0])
	}
	c.Start(0, lockmgr.OpUnlock, "a")
	mustIdle(t, c, 10e9)
	if out := c.Done()[0].Output.(check.Output); out.Status != lockmgr.Released {
		t.Fatalf("unlock after retried lock: %v, want released", out.Status)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestLeaderChangeWhileLockWaits: c2's Lock waits behind c1; the leader
// dies; after a new leader, c1 unlocks and c2 must be granted exactly once.
func TestLeaderChangeWhileLockWaits(t *testing.T) {
	c := newCluster(t, 3, 5, 2, sim.NetConfig{LatencyMinNs: 100_000, LatencyMaxNs: 1_000_000})
	w := c.World()
	c.RunFor(50e6)
	c.Start(0, lockmgr.OpLock, "a")
	mustIdle(t, c, 5e9)
	c.Start(1, lockmgr.OpLock, "a")
	c.RunFor(200e6)
	if len(c.Done()) != 1 {
		t.Fatal("c2's lock did not wait behind c1")
	}
	var leader paxos.ID
	for id := paxos.ID(1); id <= 5; id++ {
		if s := c.Server(id); s != nil && s.Replica().Role() == paxos.Leader {
			leader = id
		}
	}
	if leader == 0 {
		t.Fatal("no leader")
	}
	w.Crash(sim.Addr(leader))
	watcher := leader%5 + 1
	a := watch(c, watcher)
	c.RunFor(1e9)
	c.Start(0, lockmgr.OpUnlock, "a")
	mustIdle(t, c, 20e9)
	c.RunFor(1e9)
	if g := a.grants[2]; len(g) != 1 {
		t.Fatalf("replica %d granted c2 %d times: %+v", watcher, len(g), g)
	}
	var got []check.Output
	for _, op := range c.Done() {
		got = append(got, op.Output.(check.Output))
	}
	if len(got) != 2 {
		t.Fatalf("completions %+v", got)
	}
	for _, o := range got {
		if o.Status == lockmgr.Granted && o.Token != a.grants[2][0].Token {
			t.Fatalf("c2 got token %d, the grant carried %d", o.Token, a.grants[2][0].Token)
		}
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}
