package paxos

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// testCluster is a tiny deterministic network for the replica's own tests:
// every message is encoded with the wire codec, queued, and delivered in an
// order drawn from a seeded source, with optional loss. It checks agreement
// after every event. (The full simulator lives in package sim; this keeps
// the replica's tests free of it.)
type testCluster struct {
	t       *testing.T
	rng     *rand.Rand
	ids     []ID
	reps    map[ID]*Replica
	disk    map[ID][]Record // durable records per replica
	cfgs    map[ID]Config
	queue   []queued
	cut     map[[2]ID]bool
	dropP   float64
	applied map[ID][]Entry
	next    map[ID]uint64       // the slot each host applies next
	chosen  map[uint64][][]byte // agreement: slot -> the one chosen value
	sent    int
	snapAt  uint64 // compact every snapAt applied slots (0: never)
	// stepDuring is the chance that a replica's host, like a pipelined
	// one waiting for its sync, takes in messages and a tick between
	// writing a Ready and Advance.
	stepDuring float64
	steppedIn  int // messages so taken
}

type queued struct {
	from, to ID
	pkt      []byte
}

func newTestCluster(t *testing.T, n int, seed uint64) *testCluster {
	c := &testCluster{
		t: t, rng: rand.New(rand.NewPCG(seed, 99)),
		reps: map[ID]*Replica{}, disk: map[ID][]Record{}, cfgs: map[ID]Config{},
		cut: map[[2]ID]bool{}, applied: map[ID][]Entry{}, chosen: map[uint64][][]byte{}, next: map[ID]uint64{},
	}
	for i := 1; i <= n; i++ {
		c.ids = append(c.ids, ID(i))
	}
	for _, id := range c.ids {
		cfg := DefaultConfig(id, c.ids)
		cfg.Rand = rand.New(rand.NewPCG(seed, uint64(id)))
		c.cfgs[id] = cfg
		r, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.reps[id] = r
	}
	return c
}

// drain runs every replica's Ready loop until quiet.
func (c *testCluster) drain() {
	for progress := true; progress; {
		progress = false
		for _, id := range c.ids {
			r := c.reps[id]
			for r != nil && r.HasReady() {
				c.handleReady(id, r)
				progress = true
				c.checkAgreement()
			}
		}
	}
}

func (c *testCluster) handleReady(id ID, r *Replica) {
	rd := r.Ready()
	if rd.Rewrite {
		c.disk[id] = slices.Clone(r.DurableState())
	} else {
		c.disk[id] = append(c.disk[id], rd.Records...)
	}
	// A pipelined host may take in packets as soon as the records are
	// written, before it sends, installs and applies what the Ready says.
	if c.stepDuring > 0 && c.rng.Float64() < c.stepDuring {
		c.stepWhileSyncing(id, r)
	}
	for i := range rd.Messages {
		m := &rd.Messages[i]
		pkt := AppendMessage(nil, m)
		c.sent++
		c.queue = append(c.queue, queued{from: id, to: m.To, pkt: pkt})
	}
	if rd.Snapshot != nil {
		c.applied[id] = c.applied[id][:0]
		c.next[id] = rd.Snapshot.Slot
	}
	for _, e := range rd.Committed {
		// The host applies slots in order, each once, from where its
		// state (the snapshot, or the slot before) left off.
		if e.Slot != c.next[id] {
			c.t.Fatalf("replica %d: Ready hands out slot %d to apply, but the host's state is at slot %d", id, e.Slot, c.next[id])
		}
		c.next[id]++
		c.applied[id] = append(c.applied[id], Entry{Slot: e.Slot, Cmds: e.Cmds})
	}
	r.Advance()
	if c.snapAt > 0 && r.Applied()-r.SnapshotSlot() >= c.snapAt {
		if err := r.Compact(r.Applied(), []byte(fmt.Sprintf("snap@%d", r.Applied()))); err != nil {
			c.t.Fatal(err)
		}
	}
}

// stepWhileSyncing hands replica id up to three of the messages queued for
// it, and maybe a tick, while its Ready is written but not yet advanced.
func (c *testCluster) stepWhileSyncing(id ID, r *Replica) {
	for k := 0; k < 3; k++ {
		i := slices.IndexFunc(c.queue, func(q queued) bool { return q.to == id })
		if i < 0 {
			break
		}
		q := c.queue[i]
		c.queue = slices.Delete(c.queue, i, i+1)
		if c.cut[[2]ID{q.from, q.to}] || c.rng.Float64() < c.dropP {
			continue
		}
		var m Message
		if err := DecodeMessage(q.pkt, &m); err != nil {
			c.t.Fatalf("decode: %v", err)
		}
		r.Step(&m)
		c.steppedIn++
	}
	if c.rng.IntN(4) == 0 {
		r.Tick()
	}
}

// checkAgreement: no slot is ever chosen with two different values.
func (c *testCluster) checkAgreement() {
	for _, id := range c.ids {
		r := c.reps[id]
		if r == nil {
			continue
		}
		last, ok := r.LastSlot()
		if !ok {
			continue
		}
		for n := r.FirstSlot(); n <= last; n++ {
			st, e := r.Slot(n)
			if st != SlotChosen {
				continue
			}
			if v, ok := c.chosen[n]; ok && !sameCmds(v, e.Cmds) {
				c.t.Fatalf("agreement violated at slot %d: replica %d has %q, earlier %q", n, id, e.Cmds, v)
			} else if !ok {
				c.chosen[n] = e.Cmds
			}
		}
	}
}

// deliverOne delivers (or drops) one queued message chosen at random.
func (c *testCluster) deliverOne() bool {
	if len(c.queue) == 0 {
		return false
	}
	i := c.rng.IntN(len(c.queue))
	q := c.queue[i]
	c.queue[i] = c.queue[len(c.queue)-1]
	c.queue = c.queue[:len(c.queue)-1]
	r := c.reps[q.to]
	if r == nil || c.cut[[2]ID{q.from, q.to}] || c.rng.Float64() < c.dropP {
		return true
	}
	var m Message
	if err := DecodeMessage(q.pkt, &m); err != nil {
		c.t.Fatalf("decode: %v", err)
	}
	r.Step(&m)
	c.drain()
	return true
}

// tick ticks every live replica once and delivers some messages.
func (c *testCluster) tick() {
	for _, id := range c.ids {
		if r := c.reps[id]; r != nil {
			r.Tick()
		}
	}
	c.drain()
	for k := len(c.queue); k > 0 && c.deliverOne(); k-- {
	}
}

func (c *testCluster) run(ticks int) {
	for i := 0; i < ticks; i++ {
		c.tick()
	}
}

func (c *testCluster) crash(id ID) { c.reps[id] = nil }

func (c *testCluster) restart(id ID) {
	r, err := Restore(c.cfgs[id], c.disk[id])
	if err != nil {
		c.t.Fatal(err)
	}
	c.reps[id] = r
	c.applied[id] = nil
	c.next[id] = 0 // the snapshot, if any, says where the state starts
	c.drain()
}

func (c *testCluster) partition(a, b []ID) {
	for _, x := range a {
		for _, y := range b {
			c.cut[[2]ID{x, y}] = true
			c.cut[[2]ID{y, x}] = true
		}
	}
}

func (c *testCluster) heal() { c.cut = map[[2]ID]bool{} }

func (c *testCluster) leader() ID {
	var l ID
	for _, id := range c.ids {
		if r := c.reps[id]; r != nil && r.Role() == Leader {
			if l != 0 {
				return 0 // two believe they lead (possible briefly): none stable
			}
			l = id
		}
	}
	return l
}

func (c *testCluster) propose(id ID, cmd string) error {
	err := c.reps[id].Propose([]byte(cmd))
	c.drain()
	return err
}

// appliedCmds flattens what a replica applied, skipping no-ops.
func (c *testCluster) appliedCmds(id ID) []string {
	var out []string
	for _, e := range c.applied[id] {
		for _, cmd := range e.Cmds {
			out = append(out, string(cmd))
		}
	}
	return out
}

func (c *testCluster) hasApplied(id ID, cmd string) bool {
	for _, e := range c.applied[id] {
		for _, x := range e.Cmds {
			if bytes.Equal(x, []byte(cmd)) {
				return true
			}
		}
	}
	return false
}
