package sim_test

import (
	"bytes"
	"math"
	"math/bits"
	"slices"
	"testing"

	"paxlock/sim"
)

// blast runs a world where 1 sends total stamped packets to 2, 100 per
// millisecond tick, and returns 2's probe and the stats.
func blast(t *testing.T, seed uint64, net sim.NetConfig, total int) (*probe, sim.Stats) {
	t.Helper()
	w := newWorld(t, seed, sim.Config{Net: net})
	add(t, w, 1, ms, blaster(2, 100, total))
	p := add(t, w, 2, tickBig, plain)
	w.RunFor(int64(total/100+10)*ms + net.TailMaxNs + net.LatencyMaxNs + net.ReorderJitterNs)
	return p, w.Stats()
}

// within reports whether got is within tol of want.
func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestDropRate(t *testing.T) {
	for _, p := range []float64{0, 0.1, 0.5, 1} {
		const n = 20000
		r, st := blast(t, 7, sim.NetConfig{DropProb: p, LatencyMaxNs: ms}, n)
		got := 1 - float64(len(r.recv))/n
		// 4 standard deviations of a binomial proportion, plus slack at 0/1.
		tol := 4*math.Sqrt(p*(1-p)/n) + 1e-9
		if !within(got, p, tol) {
			t.Errorf("DropProb=%v: dropped fraction %v, want within %v", p, got, tol)
		}
		if st.DroppedRandom != uint64(n-len(r.recv)) || st.Delivered != uint64(len(r.recv)) {
			t.Errorf("DropProb=%v: stats %+v disagree with %d received of %d", p, st, len(r.recv), n)
		}
	}
}

func TestDupRate(t *testing.T) {
	const n, p = 20000, 0.2
	r, st := blast(t, 8, sim.NetConfig{DupProb: p, LatencyMaxNs: ms}, n)
	seen := map[uint64]int{}
	first := map[uint64]*byte{}
	for _, x := range r.recv {
		seen[x.seq]++
		if f, ok := first[x.seq]; ok && f == &x.data[0] {
			t.Fatalf("packet %d: the duplicate shares the original's bytes", x.seq)
		}
		first[x.seq] = &x.data[0]
	}
	if len(seen) != n {
		t.Fatalf("distinct packets received = %d, want %d (no loss configured)", len(seen), n)
	}
	dups := len(r.recv) - n
	got := float64(dups) / n
	if tol := 4 * math.Sqrt(p*(1-p)/n); !within(got, p, tol) {
		t.Errorf("duplicate fraction %v, want %v±%v", got, p, tol)
	}
	for s, c := range seen {
		if c > 2 {
			t.Fatalf("packet %d delivered %d times, want at most 2", s, c)
		}
	}
	if st.Duplicated != uint64(dups) {
		t.Errorf("Stats.Duplicated = %d, want %d", st.Duplicated, dups)
	}
}

func TestLatencyBounds(t *testing.T) {
	cases := []struct {
		name             string
		net              sim.NetConfig
		lo, hi           int64
		wantAboveBodyMin float64 // fraction of deliveries beyond LatencyMaxNs
		wantAboveBodyMax float64
	}{
		{"fixed", sim.NetConfig{LatencyMinNs: 3 * ms, LatencyMaxNs: 3 * ms}, 3 * ms, 3 * ms, 0, 0},
		{"uniform", sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: 5 * ms}, ms, 5 * ms, 0, 0},
		{"tail", sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: 2 * ms, TailProb: 0.1, TailMaxNs: 50 * ms},
			ms, 50 * ms, 0.08, 0.12},
		{"reorder", sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: ms, ReorderProb: 0.3, ReorderJitterNs: 4 * ms},
			ms, 5 * ms, 0.25, 0.35},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const n = 10000
			r, _ := blast(t, 9, c.net, n)
			if len(r.recv) != n {
				t.Fatalf("received %d, want %d", len(r.recv), n)
			}
			above := 0
			for _, x := range r.recv {
				d := x.atNs - x.sentNs
				if d < c.lo || d > c.hi {
					t.Fatalf("packet %d latency %d ns, want in [%d,%d]", x.seq, d, c.lo, c.hi)
				}
				if d > c.net.LatencyMaxNs {
					above++
				}
			}
			f := float64(above) / n
			if f < c.wantAboveBodyMin || f > c.wantAboveBodyMax {
				t.Errorf("fraction beyond the body = %v, want in [%v,%v]", f, c.wantAboveBodyMin, c.wantAboveBodyMax)
			}
		})
	}
}

// inversions counts adjacent deliveries out of send order.
func inversions(r []recvd) int {
	n := 0
	for i := 1; i < len(r); i++ {
		if r[i].seq < r[i-1].seq {
			n++
		}
	}
	return n
}

func TestReorder(t *testing.T) {
	fixed := sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: ms}
	r, _ := blast(t, 10, fixed, 2000)
	if got := inversions(r.recv); got != 0 {
		t.Errorf("fixed latency, no ReorderProb: %d inversions, want 0", got)
	}
	fixed.ReorderProb, fixed.ReorderJitterNs = 0.2, 3*ms
	r, _ = blast(t, 10, fixed, 2000)
	if got := inversions(r.recv); got == 0 {
		t.Errorf("ReorderProb=0.2: no inversions, want some")
	}
	r, _ = blast(t, 10, sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: 3 * ms}, 2000)
	if got := inversions(r.recv); got == 0 {
		t.Errorf("random latency: no inversions, want reordering to fall out of it")
	}
}

func TestCorruption(t *testing.T) {
	const n, p = 20000, 0.1
	pattern := bytes.Repeat([]byte{0xa5}, 24)
	var sent [][]byte
	w := newWorld(t, 11, sim.Config{Net: sim.NetConfig{CorruptProb: p, LatencyMaxNs: ms}})
	add(t, w, 1, ms, func(*probe) *proc {
		return &proc{onTick: func(env sim.Env) {
			for i := 0; i < 100 && len(sent) < n; i++ {
				b := bytes.Clone(pattern)
				sent = append(sent, b)
				env.Send(2, b)
			}
		}}
	})
	r := add(t, w, 2, tickBig, plain)
	w.RunFor(300 * ms)
	if len(r.recv) != n {
		t.Fatalf("received %d, want %d", len(r.recv), n)
	}
	corrupted := 0
	for _, x := range r.recv {
		if d := bitDistance(x.data, pattern); d > 0 {
			corrupted++
			if d > 3 {
				t.Fatalf("delivery differs in %d bits, want 1..3", d)
			}
		}
	}
	for i, b := range sent {
		if !bytes.Equal(b, pattern) {
			t.Fatalf("sender's buffer %d was modified", i)
		}
	}
	got := float64(corrupted) / n
	if tol := 4 * math.Sqrt(p*(1-p)/n); !within(got, p, tol) {
		t.Errorf("corrupted fraction %v, want %v±%v", got, p, tol)
	}
	if st := w.Stats(); st.Corrupted != uint64(corrupted) {
		t.Errorf("Stats.Corrupted = %d, want %d", st.Corrupted, corrupted)
	}
}

func bitDistance(a, b []byte) int {
	d := 0
	for i := range a {
		d += bits.OnesCount8(a[i] ^ b[i])
	}
	return d
}

// mesh hosts n processes at 1..n; each sends one packet to every process
// (itself included) whenever send is called, and records receptions.
type mesh struct {
	w      *sim.World
	probes map[sim.Addr]*probe
	addrs  []sim.Addr
}

func newMesh(t *testing.T, addrs ...sim.Addr) *mesh {
	m := &mesh{w: newWorld(t, 12, sim.Config{Net: sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: ms}}),
		probes: map[sim.Addr]*probe{}, addrs: addrs}
	for _, a := range addrs {
		m.probes[a] = add(t, m.w, a, tickBig, plain)
	}
	m.w.RunFor(1) // boot
	return m
}

// round sends every ordered pair one packet and returns the pairs that
// arrived, as "from->to" in sorted order.
func (m *mesh) round(t *testing.T) []string {
	t.Helper()
	for _, a := range m.addrs {
		m.probes[a].recv = nil
	}
	for _, from := range m.addrs {
		for _, to := range m.addrs {
			if err := m.w.Invoke(from, func(_ sim.Process, env sim.Env) { env.Send(to, []byte{1}) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	m.w.RunFor(10 * ms)
	var got []string
	for _, to := range m.addrs {
		for _, r := range m.probes[to].recv {
			got = append(got, pair(r.from, to))
		}
	}
	slices.Sort(got)
	return got
}

func pair(from, to sim.Addr) string { return string(rune('0'+from)) + "->" + string(rune('0'+to)) }

// pairs lists the ordered pairs of addrs for which ok holds, sorted.
func pairs(addrs []sim.Addr, ok func(from, to sim.Addr) bool) []string {
	var out []string
	for _, f := range addrs {
		for _, to := range addrs {
			if ok(f, to) {
				out = append(out, pair(f, to))
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestPartitionCutIsolateHeal(t *testing.T) {
	addrs := []sim.Addr{1, 2, 3, 4, 5, 6}
	group := map[sim.Addr]int{1: 1, 2: 1, 3: 2, 4: 2, 5: 2} // 6 is in no group
	all := func(f, t sim.Addr) bool { return true }
	cases := []struct {
		name  string
		fault func(w *sim.World)
		want  func(f, t sim.Addr) bool
	}{
		{"none", func(*sim.World) {}, all},
		{"partition", func(w *sim.World) { w.Partition([]sim.Addr{1, 2}, []sim.Addr{3, 4, 5}) },
			func(f, t sim.Addr) bool { return group[f] == 0 || group[t] == 0 || group[f] == group[t] }},
		{"cut one way", func(w *sim.World) { w.Cut(1, 2) },
			func(f, t sim.Addr) bool { return !(f == 1 && t == 2) }},
		{"isolate", func(w *sim.World) { w.Isolate(3) },
			func(f, t sim.Addr) bool { return f == t || (f != 3 && t != 3) }},
		{"partition replaces cuts", func(w *sim.World) { w.Cut(6, 1); w.Partition([]sim.Addr{1}, []sim.Addr{2}) },
			func(f, t sim.Addr) bool { return !(f == 1 && t == 2) && !(f == 2 && t == 1) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMesh(t, addrs...)
			c.fault(m.w)
			if got, want := m.round(t), pairs(addrs, c.want); !slices.Equal(got, want) {
				t.Errorf("arrived:\n got %v\nwant %v", got, want)
			}
			m.w.Heal()
			if got, want := m.round(t), pairs(addrs, all); !slices.Equal(got, want) {
				t.Errorf("after Heal:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestCutDropsPacketsInFlight(t *testing.T) {
	m := newMesh(t, 1, 2)
	if err := m.w.Invoke(1, func(_ sim.Process, env sim.Env) { env.Send(2, []byte{1}) }); err != nil {
		t.Fatal(err)
	}
	m.w.Cut(1, 2) // before the 1ms latency elapses
	m.w.RunFor(10 * ms)
	if n := len(m.probes[2].recv); n != 0 {
		t.Errorf("received %d packets sent before the cut, want 0", n)
	}
	if st := m.w.Stats(); st.DroppedCut != 1 {
		t.Errorf("DroppedCut = %d, want 1", st.DroppedCut)
	}
}

func TestClog(t *testing.T) {
	m := newMesh(t, 1, 2)
	start := m.w.Now()
	until := start + 20*ms
	m.w.Clog(1, 2, until)
	for i := 0; i < 3; i++ {
		seq := uint64(i + 1)
		m.w.Invoke(1, func(_ sim.Process, env sim.Env) { env.Send(2, stamped(env.Now(), seq)) })
		m.w.Invoke(2, func(_ sim.Process, env sim.Env) { env.Send(1, stamped(env.Now(), seq)) })
		m.w.RunFor(ms / 2)
	}
	m.w.RunFor(30 * ms)
	for i, r := range m.probes[2].recv {
		if r.atNs != until || r.seq != uint64(i+1) {
			t.Errorf("clogged delivery %d: at %d seq %d, want at %d seq %d", i, r.atNs, r.seq, until, i+1)
		}
	}
	if len(m.probes[2].recv) != 3 {
		t.Errorf("clogged link delivered %d, want 3", len(m.probes[2].recv))
	}
	for _, r := range m.probes[1].recv {
		if r.atNs-r.sentNs != ms {
			t.Errorf("reverse link delivery after %d ns, want %d (unclogged)", r.atNs-r.sentNs, ms)
		}
	}
	if len(m.probes[1].recv) != 3 {
		t.Errorf("reverse link delivered %d, want 3", len(m.probes[1].recv))
	}
}

func TestInflightBound(t *testing.T) {
	w := newWorld(t, 13, sim.Config{Net: sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: ms, InflightPerLinkMax: 5}})
	add(t, w, 1, tickBig, func(*probe) *proc {
		return &proc{onStart: func(env sim.Env) {
			for i := 0; i < 20; i++ {
				env.Send(2, []byte{byte(i)})
			}
			env.Send(3, []byte{0}) // another link has its own bound
		}}
	})
	r2 := add(t, w, 2, tickBig, plain)
	r3 := add(t, w, 3, tickBig, plain)
	w.RunFor(10 * ms)
	if len(r2.recv) != 5 || len(r3.recv) != 1 {
		t.Errorf("received %d on 1->2 and %d on 1->3, want 5 and 1", len(r2.recv), len(r3.recv))
	}
	if st := w.Stats(); st.DroppedOverflow != 15 {
		t.Errorf("DroppedOverflow = %d, want 15", st.DroppedOverflow)
	}
}

func TestSendToUnknownAddress(t *testing.T) {
	w := newWorld(t, 14, sim.Config{})
	add(t, w, 1, tickBig, func(*probe) *proc {
		return &proc{onStart: func(env sim.Env) { env.Send(99, []byte{1}) }}
	})
	w.RunFor(ms)
	if st := w.Stats(); st.DroppedUnknown != 1 {
		t.Errorf("DroppedUnknown = %d, want 1", st.DroppedUnknown)
	}
}

func TestSetNet(t *testing.T) {
	w := newWorld(t, 15, sim.Config{})
	if err := w.SetNet(sim.NetConfig{DropProb: 2}); err == nil {
		t.Error("SetNet(DropProb=2) succeeded, want an error")
	}
	if err := w.SetNet(sim.NetConfig{DropProb: 1}); err != nil {
		t.Fatal(err)
	}
	if got := w.Net(); got.DropProb != 1 || got.InflightPerLinkMax != 1024 {
		t.Errorf("Net() = %+v, want DropProb 1 and the default in-flight bound", got)
	}
	r := add(t, w, 2, tickBig, plain)
	add(t, w, 1, ms, blaster(2, 10, 1000))
	w.RunFor(20 * ms)
	if len(r.recv) != 0 {
		t.Errorf("DropProb=1 delivered %d", len(r.recv))
	}
	w.SetNet(sim.NetConfig{})
	w.RunFor(20 * ms)
	if len(r.recv) == 0 {
		t.Error("nothing delivered after SetNet to a perfect network")
	}
}

// TestCutAtSendLosesPacket checks that a packet sent on a cut link is lost
// even if the link heals before it would have arrived.
func TestCutAtSendLosesPacket(t *testing.T) {
	m := newMesh(t, 1, 2)
	m.w.Cut(1, 2)
	if err := m.w.Invoke(1, func(_ sim.Process, env sim.Env) { env.Send(2, []byte{1}) }); err != nil {
		t.Fatal(err)
	}
	m.w.Heal()
	m.w.RunFor(10 * ms)
	if n := len(m.probes[2].recv); n != 0 {
		t.Errorf("received %d packets sent while the link was cut, want 0", n)
	}
}
