package paxos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"paxlock/sim"
)

// Replicas hosted in the simulator (package sim) with its full fault model:
// loss, duplication, corruption (the codec must reject it), long-tail
// latency, partitions, clogs, pauses, drift, and crashes that tear unsynced
// disk writes. Agreement is checked after every simulator event.

const simLog = "log"

// simReplica hosts one Replica as a sim.Process, persisting records in the
// codec's format and syncing before messages leave.
type simReplica struct {
	h       *simHarness
	id      ID
	rep     *Replica
	checked uint64 // agreement: slots below this were compared
}

func (p *simReplica) Start(env sim.Env) {
	raw := env.Disk().Read(simLog)
	var recs []Record
	off := 0
	for off < len(raw) {
		r, n, err := DecodeRecord(raw[off:])
		if err != nil {
			break // a torn tail: drop it before appending again
		}
		recs = append(recs, r)
		off += n
	}
	if off < len(raw) {
		env.Disk().Replace(simLog, raw[:off])
	}
	cfg := DefaultConfig(p.id, p.h.ids)
	cfg.Rand = env.Rand()
	r, err := Restore(cfg, recs)
	if err != nil {
		p.h.fail(err)
		return
	}
	p.rep = r
	p.h.reps[p.id] = p
	p.drive(env)
}

func (p *simReplica) Receive(env sim.Env, from sim.Addr, data []byte) {
	if p.rep == nil {
		return
	}
	var m Message
	if err := DecodeMessage(data, &m); err != nil {
		p.h.rejected++
		if !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) &&
			!errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrUnknownType) {
			p.h.fail(fmt.Errorf("decode error without a sentinel: %v", err))
		}
		return
	}
	if ID(from) != m.From {
		return
	}
	p.rep.Step(&m)
	p.drive(env)
}

func (p *simReplica) Tick(env sim.Env) {
	if p.rep == nil {
		return
	}
	p.rep.Tick()
	p.drive(env)
}

func (p *simReplica) drive(env sim.Env) {
	for p.rep.HasReady() {
		rd := p.rep.Ready()
		if rd.Rewrite {
			var b []byte
			for _, r := range p.rep.DurableState() {
				b = AppendRecord(b, &r)
			}
			env.Disk().Replace(simLog, b)
		} else if len(rd.Records) > 0 {
			var b []byte
			for i := range rd.Records {
				b = AppendRecord(b, &rd.Records[i])
			}
			env.Disk().Append(simLog, b)
		}
		if rd.Sync {
			env.Disk().Sync(simLog)
		}
		for i := range rd.Messages {
			env.Send(sim.Addr(rd.Messages[i].To), AppendMessage(nil, &rd.Messages[i]))
		}
		for _, e := range rd.Committed {
			p.h.applied[p.id] += len(e.Cmds)
		}
		p.rep.Advance()
		if p.rep.Applied()-p.rep.SnapshotSlot() >= 16 {
			p.rep.Compact(p.rep.Applied(), []byte(fmt.Sprintf("upto%d", p.rep.Applied())))
		}
	}
}

type simHarness struct {
	t        *testing.T
	w        *sim.World
	ids      []ID
	reps     map[ID]*simReplica
	chosen   map[uint64]string
	applied  map[ID]int
	rejected int
	err      error
}

func (h *simHarness) fail(err error) {
	if h.err == nil {
		h.err = err
	}
}

func newSimHarness(t *testing.T, seed uint64, n int, cfg sim.Config) *simHarness {
	w, err := sim.NewWorld(seed, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &simHarness{t: t, w: w, reps: map[ID]*simReplica{}, chosen: map[uint64]string{}, applied: map[ID]int{}}
	for i := 1; i <= n; i++ {
		h.ids = append(h.ids, ID(i))
	}
	for _, id := range h.ids {
		if err := w.AddProcess(sim.Addr(id), 1_000_000, func() sim.Process { return &simReplica{h: h, id: id} }); err != nil {
			t.Fatal(err)
		}
	}
	w.OnEvent(func(*sim.Event) { h.checkAgreement() })
	return h
}

// checkAgreement compares every newly chosen slot of every live replica's
// chosen prefix with the first value seen chosen for it.
func (h *simHarness) checkAgreement() {
	for _, id := range h.ids {
		p := h.reps[id]
		if p == nil || p.rep == nil || !h.w.Up(sim.Addr(id)) {
			continue
		}
		for n := max(p.checked, p.rep.FirstSlot()); n < p.rep.Commit(); n++ {
			st, e := p.rep.Slot(n)
			if st != SlotChosen {
				continue
			}
			v := fmt.Sprintf("%q", e.Cmds)
			if prev, seen := h.chosen[n]; seen && prev != v {
				h.fail(fmt.Errorf("agreement: slot %d: replica %d chose %s, earlier %s", n, id, v, prev))
			} else if !seen {
				h.chosen[n] = v
			}
		}
		p.checked = p.rep.Commit()
	}
}

// propose hands a command to replica id at the current time.
func (h *simHarness) propose(id ID, cmd string) {
	h.w.Invoke(sim.Addr(id), func(sp sim.Process, env sim.Env) {
		p := sp.(*simReplica)
		if p.rep != nil && p.rep.Propose([]byte(cmd)) == nil {
			p.drive(env)
		}
	})
}

func (h *simHarness) leader() ID {
	for _, id := range h.ids {
		if p := h.reps[id]; p != nil && p.rep != nil && h.w.Up(sim.Addr(id)) && p.rep.Role() == Leader {
			return id
		}
	}
	return 0
}

// TestSimRandomFaults: proposals at random replicas under every fault the
// simulator has; agreement after every event; after healing, every replica
// converges on the same chosen prefix and keeps making progress.
func TestSimRandomFaults(t *testing.T) {
	seeds := 20
	if testing.Short() {
		seeds = 10
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		n := []int{3, 5, 1, 7}[seed%4]
		cfg := sim.DefaultConfig()
		cfg.Net.DropProb, cfg.Net.DupProb, cfg.Net.CorruptProb = 0.1, 0.05, 0.02
		h := newSimHarness(t, seed, n, cfg)
		rng := rand.New(rand.NewPCG(seed, 3))
		for k := 0; k < 300; k++ {
			at := int64(k) * 5_000_000
			cmd := fmt.Sprintf("c%d", k)
			target := ID(1 + rng.IntN(n))
			h.w.At(at, func() { h.propose(target, cmd) })
			if n > 1 && rng.IntN(10) == 0 {
				victim := sim.Addr(1 + rng.IntN(n))
				switch rng.IntN(4) {
				case 0:
					h.w.At(at, func() { h.w.Crash(victim) })
					h.w.At(at+int64(rng.IntN(200))*1_000_000, func() { h.w.Restart(victim) })
				case 1:
					h.w.At(at, func() { h.w.Isolate(victim) })
					h.w.At(at+int64(rng.IntN(300))*1_000_000, func() { h.w.Heal() })
				case 2:
					h.w.At(at, func() { h.w.Pause(victim) })
					h.w.At(at+int64(rng.IntN(100))*1_000_000, func() { h.w.Resume(victim) })
				default:
					k := 1 + rng.IntN(n-1)
					var a, b []sim.Addr
					for i := 1; i <= n; i++ {
						if i <= k {
							a = append(a, sim.Addr(i))
						} else {
							b = append(b, sim.Addr(i))
						}
					}
					h.w.At(at, func() { h.w.Partition(a, b) })
					h.w.At(at+int64(rng.IntN(300))*1_000_000, func() { h.w.Heal() })
				}
			}
		}
		h.w.RunUntil(1_600_000_000)
		// Heal everything and restart the dead, then require convergence
		// and progress.
		h.w.Heal()
		net := h.w.Net()
		net.DropProb, net.DupProb, net.CorruptProb = 0, 0, 0
		h.w.SetNet(net)
		for _, id := range h.ids {
			if !h.w.Up(sim.Addr(id)) {
				h.w.Restart(sim.Addr(id))
			}
			h.w.Resume(sim.Addr(id))
		}
		h.w.RunFor(3_000_000_000)
		l := h.leader()
		if l == 0 {
			t.Fatalf("seed %d: no leader after healing", seed)
		}
		h.propose(l, "final")
		h.w.RunFor(1_000_000_000)
		if h.err != nil {
			t.Fatalf("seed %d: %v", seed, h.err)
		}
		commit := h.reps[1].rep.Commit()
		for _, id := range h.ids {
			if got := h.reps[id].rep.Commit(); got != commit || got == 0 {
				t.Fatalf("seed %d: replica %d commit %d, replica 1 %d", seed, id, got, commit)
			}
		}
		if st := h.w.Stats(); st.Corrupted > 0 && h.rejected == 0 {
			t.Fatalf("seed %d: %d corrupted packets, none rejected", seed, st.Corrupted)
		}
	}
}

// TestSimMinorityNoProgress: with 5 replicas split 2|3, the side with the
// old leader chooses nothing while the majority elects a leader and goes on.
func TestSimMinorityNoProgress(t *testing.T) {
	cfg := sim.DefaultConfig()
	h := newSimHarness(t, 9, 5, cfg)
	h.w.RunFor(200_000_000)
	if h.leader() != 1 {
		t.Fatalf("leader %d, want 1", h.leader())
	}
	h.w.Partition([]sim.Addr{1, 2}, []sim.Addr{3, 4, 5})
	before := h.reps[1].rep.Commit()
	for i := 0; i < 10; i++ {
		h.propose(1, fmt.Sprintf("m%d", i))
		h.propose(2, fmt.Sprintf("n%d", i))
		h.w.RunFor(50_000_000)
	}
	if c1, c2 := h.reps[1].rep.Commit(), h.reps[2].rep.Commit(); c1 != before || c2 != before {
		t.Fatalf("minority advanced its commit: %d, %d (was %d)", c1, c2, before)
	}
	l := h.leader()
	if l < 3 {
		t.Fatalf("majority leader %d", l)
	}
	h.propose(l, "maj")
	h.w.RunFor(200_000_000)
	for _, id := range []ID{3, 4, 5} {
		if h.applied[id] == 0 {
			t.Fatalf("majority replica %d applied nothing", id)
		}
	}
	if h.err != nil {
		t.Fatal(h.err)
	}
}
