package sim_test

import (
	"slices"
	"testing"

	"paxlock/sim"
)

// linkWorld hosts 1, 2 and 3 with a fixed 5 ms latency, records every
// event, and returns the world and the probes of 2 and 3.
func linkWorld(t *testing.T) (*sim.World, *probe, *probe, *[]sim.Event) {
	t.Helper()
	w := newWorld(t, 40, sim.Config{Net: sim.NetConfig{LatencyMinNs: 5 * ms, LatencyMaxNs: 5 * ms}})
	add(t, w, 1, tickBig, plain)
	p2 := add(t, w, 2, tickBig, plain)
	p3 := add(t, w, 3, tickBig, plain)
	var evs []sim.Event
	w.OnEvent(func(ev *sim.Event) {
		if ev.Kind != sim.KindTick {
			evs = append(evs, *ev)
		}
	})
	w.RunFor(1) // boot
	return w, p2, p3, &evs
}

// send makes from send one stamped packet with sequence number seq to to.
func send(t *testing.T, w *sim.World, from, to sim.Addr, seq uint64) {
	t.Helper()
	if err := w.Invoke(from, func(_ sim.Process, env sim.Env) { env.Send(to, stamped(env.Now(), seq)) }); err != nil {
		t.Fatal(err)
	}
}

func seqs(rs []recvd) []uint64 {
	var out []uint64
	for _, r := range rs {
		out = append(out, r.seq)
	}
	return out
}

func TestDropInFlight(t *testing.T) {
	w, p2, p3, evs := linkWorld(t)
	send(t, w, 1, 2, 1)
	send(t, w, 1, 3, 2) // another link: untouched
	send(t, w, 2, 1, 3) // the reverse link: untouched
	w.RunFor(ms)
	send(t, w, 1, 2, 4)
	if got := w.InFlight(1, 2); got != 2 {
		t.Fatalf("InFlight(1,2) = %d, want 2", got)
	}
	*evs = nil
	if n := w.DropInFlight(1, 2); n != 2 {
		t.Fatalf("DropInFlight = %d, want 2", n)
	}
	if got := w.InFlight(1, 2); got != 0 {
		t.Errorf("InFlight(1,2) after the drop = %d, want 0", got)
	}
	var dropped []uint64
	for _, ev := range *evs {
		if ev.Kind != sim.KindDrop || ev.Reason != sim.DropHarness || ev.From != 1 || ev.To != 2 || ev.Len != 16 {
			t.Fatalf("event %s, want a harness drop 1->2", ev.String())
		}
		dropped = append(dropped, stampSeq(ev.Data))
	}
	if !slices.Equal(dropped, []uint64{1, 4}) {
		t.Errorf("dropped packets %v, want [1 4] in arrival order", dropped)
	}
	send(t, w, 1, 2, 5) // later packets pass
	w.RunFor(20 * ms)
	if got := seqs(p2.recv); !slices.Equal(got, []uint64{5}) {
		t.Errorf("2 received %v, want [5]", got)
	}
	if got := seqs(p3.recv); !slices.Equal(got, []uint64{2}) {
		t.Errorf("3 received %v, want [2]", got)
	}
	if st := w.Stats(); st.DroppedHarness != 2 || st.Dropped != 2 {
		t.Errorf("DroppedHarness, Dropped = %d, %d; want 2, 2", st.DroppedHarness, st.Dropped)
	}
}

func stampSeq(b []byte) uint64 {
	if len(b) < 16 {
		return 0
	}
	return uint64(b[8]) | uint64(b[9])<<8 | uint64(b[10])<<16 | uint64(b[11])<<24
}

// TestDropInFlightClogAndPause: what a clog holds back and what a paused
// receiver holds are in flight too.
func TestDropInFlightClogAndPause(t *testing.T) {
	w, p2, _, _ := linkWorld(t)
	w.Clog(1, 2, w.Now()+time100ms)
	send(t, w, 1, 2, 1)
	w.RunFor(10 * ms) // arrived at the clog, re-queued
	w.Pause(3)
	send(t, w, 1, 3, 2)
	send(t, w, 2, 3, 3)
	w.RunFor(10 * ms) // arrived at 3, held
	if n := w.DropInFlight(1, 2); n != 1 {
		t.Errorf("DropInFlight(1,2) with a clog = %d, want 1", n)
	}
	if n := w.DropInFlight(1, 3); n != 1 {
		t.Errorf("DropInFlight(1,3) to a paused receiver = %d, want 1", n)
	}
	if got := w.InFlight(2, 3); got != 1 {
		t.Errorf("InFlight(2,3) = %d, want 1 (still held)", got)
	}
	w.Resume(3)
	w.RunFor(200 * ms)
	if len(p2.recv) != 0 {
		t.Errorf("2 received %v after the drop", seqs(p2.recv))
	}
}

const time100ms = 100 * ms

func TestDeliverInFlight(t *testing.T) {
	w, p2, p3, evs := linkWorld(t)
	send(t, w, 1, 2, 1)
	w.RunFor(ms)
	send(t, w, 1, 2, 2)
	send(t, w, 1, 3, 3)
	at := w.Now()
	*evs = nil
	if n := w.DeliverInFlight(1, 2); n != 2 {
		t.Fatalf("DeliverInFlight = %d, want 2", n)
	}
	if got := seqs(p2.recv); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("2 received %v, want [1 2] at once", got)
	}
	for _, r := range p2.recv {
		if r.atNs != at {
			t.Errorf("packet %d arrived at %d, want now (%d)", r.seq, r.atNs, at)
		}
	}
	for _, ev := range *evs {
		if ev.Kind != sim.KindDeliver || ev.Flags&sim.FlagEarly == 0 {
			t.Errorf("event %s, want an early delivery", ev.String())
		}
	}
	w.RunFor(20 * ms)
	if len(p2.recv) != 2 || len(p3.recv) != 1 {
		t.Errorf("received %v at 2 and %v at 3: delivered twice or lost", seqs(p2.recv), seqs(p3.recv))
	}
	if got := w.InFlight(1, 2); got != 0 {
		t.Errorf("InFlight(1,2) = %d, want 0", got)
	}
}

// TestDeliverInFlightRules: an early arrival skips the clog, but a cut
// link still loses it and a paused receiver still holds it.
func TestDeliverInFlightRules(t *testing.T) {
	w, p2, p3, _ := linkWorld(t)
	w.Clog(1, 2, w.Now()+time100ms)
	send(t, w, 1, 2, 1)
	send(t, w, 1, 3, 2)
	w.RunFor(10 * ms)
	if n := w.DeliverInFlight(1, 2); n != 1 || len(p2.recv) != 1 {
		t.Fatalf("DeliverInFlight through a clog = %d, received %v; want 1 and [1]", n, seqs(p2.recv))
	}
	send(t, w, 1, 2, 3) // the clog still holds later packets
	w.RunFor(10 * ms)
	if len(p2.recv) != 1 {
		t.Errorf("a packet sent after DeliverInFlight passed the clog")
	}
	p3.recv = nil
	send(t, w, 1, 3, 4)
	w.Cut(1, 3)
	if n := w.DeliverInFlight(1, 3); n != 1 || len(p3.recv) != 0 {
		t.Errorf("DeliverInFlight on a cut link = %d, received %v; want 1 taken, none received", n, seqs(p3.recv))
	}
	w.Heal()
	w.Pause(3)
	send(t, w, 1, 3, 5)
	w.DeliverInFlight(1, 3)
	if len(p3.recv) != 0 || w.InFlight(1, 3) != 1 {
		t.Errorf("paused receiver: received %v, in flight %d; want it held", seqs(p3.recv), w.InFlight(1, 3))
	}
	w.Resume(3)
	w.RunFor(ms)
	if got := seqs(p3.recv); !slices.Equal(got, []uint64{5}) {
		t.Errorf("after resume 3 received %v, want [5]", got)
	}
}

func TestDropNext(t *testing.T) {
	w, p2, _, evs := linkWorld(t)
	*evs = nil
	w.DropNext(1, 2, 2)
	if len(*evs) != 1 || (*evs)[0].String() != "t=0.000ms dropnext 1->2 n=2" {
		t.Fatalf("events %v, want one dropnext", *evs)
	}
	for s := uint64(1); s <= 4; s++ {
		send(t, w, 1, 2, s)
	}
	w.RunFor(10 * ms)
	if got := seqs(p2.recv); !slices.Equal(got, []uint64{3, 4}) {
		t.Errorf("received %v, want [3 4]", got)
	}
	w.DropNext(1, 2, 5)
	w.Heal() // cancels it
	send(t, w, 1, 2, 5)
	w.RunFor(10 * ms)
	if got := seqs(p2.recv); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Errorf("after Heal received %v, want [3 4 5]", got)
	}
	if st := w.Stats(); st.DroppedHarness != 2 {
		t.Errorf("DroppedHarness = %d, want 2", st.DroppedHarness)
	}
}

func TestLinkOpsBadCalls(t *testing.T) {
	w, _, _, _ := linkWorld(t)
	before := w.Stats().Ignored
	if w.DropInFlight(1, 9) != 0 || w.DeliverInFlight(9, 1) != 0 || w.InFlight(9, 9) != 0 {
		t.Error("unknown address: want 0")
	}
	w.DropNext(9, 1, 1)
	w.DropNext(1, 2, -1)
	w.OnEvent(func(ev *sim.Event) {
		if ev.Kind == sim.KindTick {
			w.DropInFlight(1, 2)
			w.DeliverInFlight(1, 2)
			w.DropNext(1, 2, 1)
		}
	})
	w.RunFor(tickBig + ms) // one tick of each process
	if got := w.Stats().Ignored - before; got < 7 {
		t.Errorf("Ignored grew by %d, want every bad call counted", got)
	}
}

// TestLinkOpsDeterministic: the same calls on the same seed give the same
// trace.
func TestLinkOpsDeterministic(t *testing.T) {
	run := func() uint64 {
		cfg := sim.DefaultConfig()
		cfg.Net.DropProb = 0
		w := newWorld(t, 41, cfg)
		for a := sim.Addr(1); a <= 3; a++ {
			add(t, w, a, ms, blaster(a%3+1, 3, 300))
		}
		for i := 0; i < 20; i++ {
			w.RunFor(ms / 3)
			w.DropInFlight(1, 2)
			w.DeliverInFlight(2, 3)
			w.DropNext(3, 1, i%3)
		}
		w.RunFor(50 * ms)
		return w.TraceHash()
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("trace hash %016x then %016x", a, b)
	}
}

// TestDuplicateInFlight: each packet on its way on the link gets one copy,
// flagged as a duplicate; the originals arrive too, and other links are
// untouched.
func TestDuplicateInFlight(t *testing.T) {
	w, p2, p3, evs := linkWorld(t)
	send(t, w, 1, 2, 1)
	send(t, w, 1, 2, 2)
	send(t, w, 1, 3, 3)
	*evs = nil
	if n := w.DuplicateInFlight(1, 2); n != 2 {
		t.Fatalf("DuplicateInFlight = %d, want 2", n)
	}
	if got := w.InFlight(1, 2); got != 4 {
		t.Fatalf("InFlight(1,2) = %d, want 4", got)
	}
	w.RunFor(20 * ms)
	got := seqs(p2.recv)
	slices.Sort(got)
	if !slices.Equal(got, []uint64{1, 1, 2, 2}) || len(p3.recv) != 1 {
		t.Fatalf("received %v at 2 and %v at 3, want each packet to 2 twice", got, seqs(p3.recv))
	}
	dups := 0
	for _, ev := range *evs {
		if ev.Kind == sim.KindDeliver && ev.Flags&sim.FlagDup != 0 {
			dups++
		}
	}
	if dups != 2 {
		t.Errorf("%d deliveries flagged as duplicates, want 2", dups)
	}
}
