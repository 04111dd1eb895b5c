package sim_test

import (
	"slices"
	"testing"

	"paxlock/sim"
)

// chaos runs five chatty processes under the default faults and a schedule
// of every fault kind, and returns the world.
func chaos(t *testing.T, seed uint64, keep bool) *sim.World {
	cfg := sim.DefaultConfig()
	cfg.TraceKeep = keep
	cfg.TraceHashPayload = true
	w := newWorld(t, seed, cfg)
	for a := sim.Addr(1); a <= 5; a++ {
		add(t, w, a, 10*ms, func(*probe) *proc {
			return &proc{echo: true, onTick: func(env sim.Env) {
				to := sim.Addr(1 + env.Rand().IntN(5))
				b := make([]byte, 1+env.Rand().IntN(40))
				env.Disk().Append("log", b[:1])
				if env.Rand().IntN(2) == 0 {
					env.Disk().Sync("log")
				}
				env.Send(to, b)
			}}
		})
	}
	w.AtLabel(50*ms, "crash 2", func() { w.Crash(2) })
	w.At(80*ms, func() { w.Partition([]sim.Addr{1, 2}, []sim.Addr{3, 4, 5}) })
	w.At(90*ms, func() { w.Restart(2); w.Pause(4) })
	w.At(120*ms, func() { w.Clog(1, 3, 150*ms); w.Cut(5, 1); w.SetDrift(3, 1.1) })
	w.At(140*ms, func() { w.Heal(); w.Resume(4); w.Isolate(5) })
	w.At(160*ms, func() { w.Heal(); w.SetNet(sim.NetConfig{LatencyMaxNs: ms}) })
	w.RunFor(250 * ms)
	return w
}

func traceStrings(w *sim.World) []string {
	var out []string
	for i := range w.Trace() {
		out = append(out, w.Trace()[i].String())
	}
	return out
}

func TestSameSeedSameTrace(t *testing.T) {
	a, b := chaos(t, 42, true), chaos(t, 42, true)
	if a.TraceHash() != b.TraceHash() {
		t.Errorf("same seed: hashes %x and %x differ", a.TraceHash(), b.TraceHash())
	}
	sa, sb := traceStrings(a), traceStrings(b)
	if !slices.Equal(sa, sb) {
		t.Errorf("same seed: traces differ")
	}
	if len(sa) < 200 {
		t.Errorf("trace has %d events, want a busy scenario", len(sa))
	}
	if c := chaos(t, 42, false); c.TraceHash() != a.TraceHash() || len(c.Trace()) != 0 {
		t.Errorf("TraceKeep changed the hash or kept events when off")
	}
	if d := chaos(t, 43, false); d.TraceHash() == a.TraceHash() {
		t.Errorf("seeds 42 and 43 gave the same hash %x", a.TraceHash())
	}
	kinds := map[sim.Kind]bool{}
	for _, ev := range a.Trace() {
		kinds[ev.Kind] = true
	}
	for k := sim.KindDeliver; k <= sim.KindNet; k++ {
		if !kinds[k] {
			t.Errorf("the chaos scenario produced no %v event", k)
		}
	}
}

func TestEventString(t *testing.T) {
	net := sim.NetConfig{DropProb: 0.5, LatencyMaxNs: ms, InflightPerLinkMax: 8}
	cases := []struct {
		ev   sim.Event
		want string
	}{
		{sim.Event{TimeNs: 12_345_678, Kind: sim.KindDeliver, From: 1, To: 3, Len: 57}, "t=12.345ms deliver 1->3 len=57"},
		{sim.Event{Kind: sim.KindDeliver, From: 1, To: 3, Len: 5, Flags: sim.FlagDup | sim.FlagCorrupt}, "t=0.000ms deliver 1->3 len=5 dup corrupt"},
		{sim.Event{TimeNs: ms, Kind: sim.KindDrop, From: 2, To: 1, Len: 9, Reason: sim.DropCut}, "t=1.000ms drop 2->1 len=9 cut"},
		{sim.Event{Kind: sim.KindDrop, From: 2, To: 1, Len: 9, Reason: sim.DropHarness}, "t=0.000ms drop 2->1 len=9 harness"},
		{sim.Event{Kind: sim.KindDeliver, From: 1, To: 3, Len: 5, Flags: sim.FlagEarly}, "t=0.000ms deliver 1->3 len=5 early"},
		{sim.Event{Kind: sim.KindDropNext, From: 1, To: 2, Len: 3}, "t=0.000ms dropnext 1->2 n=3"},
		{sim.Event{Kind: sim.KindCrash, Proc: 2}, "t=0.000ms crash 2"},
		{sim.Event{Kind: sim.KindTick, Proc: 1001}, "t=0.000ms tick 1001"},
		{sim.Event{Kind: sim.KindPartition, Groups: [][]sim.Addr{{1, 2}, {3, 4, 5}}}, "t=0.000ms partition {1,2}|{3,4,5}"},
		{sim.Event{Kind: sim.KindCut, From: 1, To: 2}, "t=0.000ms cut 1->2"},
		{sim.Event{Kind: sim.KindClog, From: 1, To: 2, UntilNs: 5 * ms}, "t=0.000ms clog 1->2 until=5.000ms"},
		{sim.Event{Kind: sim.KindDrift, Proc: 3, Factor: 1.1}, "t=0.000ms drift 3 x1.1000"},
		{sim.Event{Kind: sim.KindHeal}, "t=0.000ms heal"},
		{sim.Event{Kind: sim.KindAction, Label: "lock 7 c2"}, "t=0.000ms action lock 7 c2"},
		{sim.Event{Kind: sim.KindNet, Net: &net}, "t=0.000ms net drop=0.5 dup=0 corrupt=0 lat=[0.000ms,1.000ms] tail=0/0.000ms reorder=0/0.000ms inflight=8"},
	}
	for _, c := range cases {
		if got := c.ev.String(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

func TestObserverSeesEveryEvent(t *testing.T) {
	w := newWorld(t, 50, sim.Config{TraceKeep: true, Net: sim.NetConfig{DropProb: 0.3, LatencyMaxNs: ms}})
	var seen []string
	w.OnEvent(func(ev *sim.Event) { seen = append(seen, ev.String()) })
	add(t, w, 1, ms, blaster(2, 3, 100))
	add(t, w, 2, ms, func(*probe) *proc { return &proc{echo: true} })
	w.RunFor(50 * ms)
	if !slices.Equal(seen, traceStrings(w)) {
		t.Error("the observer's events differ from the trace")
	}
	if st := w.Stats(); uint64(len(seen)) != st.Events || st.Events != st.Delivered+st.Dropped+st.Ticks+st.Starts {
		t.Errorf("observer saw %d events; stats %+v", len(seen), st)
	}
	for i, ev := range w.Trace() {
		if ev.Seq != uint64(i+1) || (i > 0 && ev.TimeNs < w.Trace()[i-1].TimeNs) {
			t.Fatalf("event %d: seq %d time %d out of order", i, ev.Seq, ev.TimeNs)
		}
	}
}

func TestStepAndRunUntil(t *testing.T) {
	w := newWorld(t, 51, sim.Config{})
	if w.Step() {
		t.Error("Step on an empty world ran something")
	}
	var ran []int64
	w.At(5*ms, func() { ran = append(ran, w.Now()) })
	w.At(2*ms, func() { ran = append(ran, w.Now()) })
	w.RunUntil(3 * ms)
	if w.Now() != 3*ms || !slices.Equal(ran, []int64{2 * ms}) {
		t.Errorf("RunUntil(3ms): now %d ran %v", w.Now(), ran)
	}
	w.RunUntil(ms) // the clock never goes back
	if w.Now() != 3*ms {
		t.Errorf("RunUntil into the past moved the clock to %d", w.Now())
	}
	w.At(0, func() { ran = append(ran, w.Now()) }) // in the past: runs now
	first, second, third := w.Step(), w.Step(), w.Step()
	if !first || !second || third {
		t.Error("Step did not run exactly the two queued actions")
	}
	if !slices.Equal(ran, []int64{2 * ms, 3 * ms, 5 * ms}) {
		t.Errorf("actions ran at %v", ran)
	}
}

// TestStepSkipsCancelledEvents checks that a crashed process's pending tick
// is not an event: Step runs the next real one.
func TestStepSkipsCancelledEvents(t *testing.T) {
	w := newWorld(t, 52, sim.Config{TraceKeep: true})
	add(t, w, 1, ms, plain)
	w.Step() // boot
	w.Crash(1)
	w.At(10*ms, func() {})
	if !w.Step() || w.Now() != 10*ms {
		t.Errorf("Step ran to %d, want the action at 10ms", w.Now())
	}
	if w.Step() {
		t.Error("the cancelled tick ran")
	}
}

// TestHashCoversTiming runs the same exchange at two fixed latencies: the
// same events in the same order, only later, must hash differently.
func TestHashCoversTiming(t *testing.T) {
	hash := func(latNs int64) uint64 {
		w := newWorld(t, 53, sim.Config{Net: sim.NetConfig{LatencyMinNs: latNs, LatencyMaxNs: latNs}})
		add(t, w, 1, tickBig, func(*probe) *proc {
			return &proc{onStart: func(env sim.Env) { env.Send(2, []byte{1}) }}
		})
		add(t, w, 2, tickBig, plain)
		w.RunFor(10 * ms)
		return w.TraceHash()
	}
	if hash(ms) == hash(2*ms) {
		t.Error("the trace hash ignores event times")
	}
}
