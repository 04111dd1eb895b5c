package scenarios

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"paxlock/lockmgr"
	"paxlock/lockmgr/simhost"
	"paxlock/paxos"
	"paxlock/sim"
)

// fileSimConfig is a scenario file's network unless its knobs say
// otherwise: a clean LAN (the simulator's default latency body, no loss,
// duplication, corruption, tail or reordering) and no clock drift, so that
// a file shows only the faults it asks for.
func fileSimConfig() sim.Config {
	d := sim.DefaultConfig()
	return sim.Config{
		Net: sim.NetConfig{
			LatencyMinNs:       d.Net.LatencyMinNs,
			LatencyMaxNs:       d.Net.LatencyMaxNs,
			InflightPerLinkMax: d.Net.InflightPerLinkMax,
		},
		DiskTornProb: d.DiskTornProb,
	}
}

// cmdCluster builds the cluster every later command drives: replicas
// 1..N and clients c1..cM (at simulator addresses 1000, 1001, ...), all
// booting at time 0. No time passes. Knobs: seed=, tick= (the replicas'
// tick period, 1ms), client-tick= (the clients', default the same), think=
// (a client's pause between queued operations, 0), the
// network's drop=, dup=, corrupt=, latency=(min, max), tail=(p, max),
// reorder=(p, max extra), inflight=, the disk's torn= (the chance a crash
// leaves a torn write), drift=(factor per replica), and the replicas'
// snapshot= (compact every this many slots, default 64), batch= (the
// most commands in one slot) and group-commit=true (a replica's host syncs
// once per tick for every packet since, as on UDP); writes= makes every
// holder write that many times to a fenced resource after each grant,
// each after up to work= of work (the store's refusals are printed).
//
// Example:
//
//	cluster replicas=3 clients=2 seed=7 drop=0.1 latency=(100us, 2ms)
//	----
//	replicas 1..3 (quorum 2), clients c1..c2 at addresses 1000..1001
func (s *script) cmdCluster(a *args, pos string) error {
	if s.c != nil {
		return fmt.Errorf("cluster: the cluster is already built (at %s)", s.clusterAt)
	}
	n := a.reqNum("replicas", "the cluster size, 1..9", 1, 9)
	clients := a.num("clients", 1, 1, 500)
	var seed uint64 = 1
	if v, ok := a.value("seed"); ok {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			a.fail("seed=%s: want a whole number", v)
		}
	}
	tick := a.dur("tick", 1_000_000)
	if tick == 0 {
		a.fail("tick=0: want a period above zero")
	}
	clientTick := a.dur("client-tick", 0)
	think := a.dur("think", 0)
	snapshot := a.num("snapshot", 0, 1, 1<<20)
	batch := a.num("batch", 0, 1, 4096)
	groupCommit := a.boolean("group-commit", false)
	writes := a.num("writes", 0, 0, 100)
	work := a.dur("work", 0)
	cfg := fileSimConfig()
	a.netKnobs(&cfg.Net)
	cfg.DiskTornProb = a.prob("torn", cfg.DiskTornProb)
	var drift []float64
	if vals, ok := a.values("drift"); ok {
		if len(vals) != n {
			a.fail("drift has %d factors for %d replicas: want one per replica", len(vals), n)
		}
		for _, v := range vals {
			drift = append(drift, a.parseFactor("drift", v))
		}
	}
	if err := a.done(); err != nil {
		return err
	}
	scn := Scenario{Seed: seed, Replicas: n, Sim: cfg, Drift: drift, TickNs: tick, ClientTickNs: clientTick, ThinkNs: think,
		SnapshotSlots: uint64(snapshot), BatchCmdsMax: batch, GroupCommit: groupCommit, Writes: writes, WorkNs: work,
		Clients: make([]ClientScript, clients), LivenessNs: 1}
	c, err := NewCluster(scn)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	s.c, s.clusterAt = c, pos
	s.rng = rand.New(rand.NewPCG(seed, 0xf11e))
	s.clients = make([][]*scriptOp, clients)
	s.done = make([]int, clients)
	s.roles = make([]roleView, n)
	c.Observe(s.observe)
	c.OnWrite(func(now int64, w simhost.Write, accepted bool) {
		if accepted {
			s.line("t=%s %v wrote %q with token %d", fmtT(now), w.Session, w.Resource, w.Token)
		} else {
			s.line("t=%s the store refused %v's write to %q: token %d is below one it took", fmtT(now), w.Session, w.Resource, w.Token)
		}
	})
	c.OnRebuilt(func(id paxos.ID) {
		s.line("t=%s replica %d rebuilt: votes again", fmtT(s.c.World().Now()), id)
	})
	ended := map[lockmgr.ClientID]bool{}
	c.OnApply(func(id paxos.ID, slot uint64, cmd lockmgr.Command, res lockmgr.Result, grants []lockmgr.Grant) {
		if res.Status != lockmgr.Ended || ended[cmd.Client] || cmd.Op != lockmgr.OpExpire && cmd.Op != lockmgr.OpClose {
			return
		}
		ended[cmd.Client] = true
		how := "closed"
		if cmd.Op == lockmgr.OpExpire {
			how = fmt.Sprintf("expired (by the leader of ballot %d.%d)", cmd.Arg, cmd.Node)
		}
		s.line("t=%s %v %s", fmtT(s.c.World().Now()), cmd.Client, how)
	})
	addrs := fmt.Sprintf("address %d", ClientAddrBase)
	if clients > 1 {
		addrs = fmt.Sprintf("addresses %d..%d", ClientAddrBase, ClientAddrBase+sim.Addr(clients-1))
	}
	s.line("replicas %s (quorum %d), clients %s at %s", span("", n), n/2+1, span("c", clients), addrs)
	return nil
}

// cmdNet changes network knobs from now on (those not given stay); the
// packets in flight keep the fate already drawn.
//
// Example:
//
//	net drop=0.3
//	----
//	t=120.000ms net drop=0.3 dup=0 corrupt=0 lat=[0.050ms,0.500ms] tail=0/0.000ms reorder=0/0.000ms inflight=1024
func (s *script) cmdNet(a *args) error {
	n := s.c.World().Net()
	a.netKnobs(&n)
	if err := a.done(); err != nil {
		return err
	}
	if err := s.c.World().SetNet(n); err != nil {
		return fmt.Errorf("net: %w", err)
	}
	return nil
}
