package sim_test

import (
	"math"
	"strings"
	"testing"

	"paxlock/sim"
)

func TestCrashStopsTicksAndPackets(t *testing.T) {
	w := newWorld(t, 20, sim.Config{Net: sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: ms}})
	add(t, w, 1, ms, blaster(2, 1, 1000))
	p := add(t, w, 2, ms, plain)
	w.RunFor(10 * ms)
	w.Crash(2)
	ticks, recv := p.ticks, len(p.recv)
	w.RunFor(10 * ms)
	if p.ticks != ticks || len(p.recv) != recv {
		t.Errorf("while down: ticks %d->%d, received %d->%d, want no change", ticks, p.ticks, recv, len(p.recv))
	}
	if w.Up(2) || w.Instance(2) != nil {
		t.Error("crashed process reported up")
	}
	if st := w.Stats(); st.DroppedDown == 0 {
		t.Error("no packets counted as dropped for a down receiver")
	}
}

func TestRestartStartsFreshInstance(t *testing.T) {
	w := newWorld(t, 21, sim.Config{})
	var instances []*proc
	p := &probe{}
	err := w.AddProcess(1, ms, func() sim.Process {
		q := &proc{p: p}
		instances = append(instances, q)
		return q
	})
	if err != nil {
		t.Fatal(err)
	}
	w.RunFor(10*ms + 1)
	old := instances[0]
	if p.starts != 1 || old.ticks < 9 {
		t.Fatalf("before crash: starts=%d ticks=%d, want 1 and about 10", p.starts, old.ticks)
	}
	w.Crash(1)
	w.Restart(1)
	if p.starts != 2 || len(instances) != 2 { // one built by AddProcess, one by Restart
		t.Fatalf("after restart: starts=%d instances=%d, want 2 and 2", p.starts, len(instances))
	}
	fresh := instances[1]
	if w.Instance(1) != sim.Process(fresh) || fresh.ticks != 0 {
		t.Errorf("restart did not install a fresh instance")
	}
	ticksOld := old.ticks
	w.RunFor(5 * ms)
	if old.ticks != ticksOld || fresh.ticks == 0 {
		t.Errorf("old instance ticked %d times after crash, fresh %d; want 0 and >0", old.ticks-ticksOld, fresh.ticks)
	}
}

func TestStaleEnvCannotSend(t *testing.T) {
	w := newWorld(t, 22, sim.Config{})
	var kept sim.Env
	add(t, w, 1, tickBig, func(*probe) *proc {
		return &proc{onStart: func(env sim.Env) { kept = env }}
	})
	r := add(t, w, 2, tickBig, plain)
	w.RunFor(ms)
	old := kept
	w.Crash(1)
	old.Send(2, []byte{1})
	w.Restart(1)
	old.Send(2, []byte{2})
	w.RunFor(ms)
	if len(r.recv) != 0 || w.Stats().Sent != 0 {
		t.Errorf("a crashed incarnation's Env sent %d packets", len(r.recv))
	}
}

func TestPauseResume(t *testing.T) {
	w := newWorld(t, 23, sim.Config{Net: sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: 2 * ms}})
	add(t, w, 1, ms, blaster(2, 1, 1000))
	p := add(t, w, 2, ms, plain)
	w.RunFor(5 * ms)
	w.Pause(2)
	if !w.Paused(2) || !w.Up(2) {
		t.Fatal("paused process not reported paused and up")
	}
	ticks, recv := p.ticks, len(p.recv)
	w.RunFor(20 * ms)
	if p.ticks != ticks || len(p.recv) != recv {
		t.Fatalf("while paused: ticks %d->%d, received %d->%d, want no change", ticks, p.ticks, recv, len(p.recv))
	}
	w.Resume(2)
	w.RunFor(0) // nothing runs until the clock moves or Step is called
	w.RunUntil(w.Now())
	held := len(p.recv) - recv
	if held < 15 {
		t.Errorf("on resume %d held packets delivered, want about 20", held)
	}
	for _, r := range p.recv[recv:] {
		if r.atNs != w.Now() {
			t.Fatalf("held packet delivered at %d, want at resume time %d", r.atNs, w.Now())
		}
	}
	w.RunFor(10 * ms)
	if p.ticks == ticks {
		t.Error("no ticks after resume")
	}
	if st := w.Stats(); st.Dropped != 0 {
		t.Errorf("%d packets dropped; a pause should hold them all", st.Dropped)
	}
}

func TestDriftScalesTicks(t *testing.T) {
	w := newWorld(t, 24, sim.Config{})
	fast := add(t, w, 1, ms, plain)
	slow := add(t, w, 2, ms, plain)
	base := add(t, w, 3, ms, plain)
	w.SetDrift(1, 0.5)
	w.SetDrift(2, 2)
	w.RunFor(1000 * ms)
	check := func(name string, p *probe, want float64) {
		if math.Abs(float64(p.ticks)-want) > 2 {
			t.Errorf("%s: %d ticks in 1s, want %v±2", name, p.ticks, want)
		}
	}
	check("factor 0.5", fast, 2000)
	check("factor 2", slow, 500)
	check("factor 1", base, 1000)
}

func TestDriftMaxDrawsFactors(t *testing.T) {
	w := newWorld(t, 25, sim.Config{DriftMax: 0.1})
	for a := sim.Addr(1); a <= 20; a++ {
		add(t, w, a, ms, plain)
		if f := w.Drift(a); f < 0.9 || f > 1.1 || f == 1 {
			t.Errorf("Drift(%d) = %v, want a draw in [0.9,1.1]", a, f)
		}
	}
}

func TestEnvRandPerIncarnation(t *testing.T) {
	draws := func(seed uint64) []uint64 {
		w := newWorld(t, seed, sim.Config{})
		var got []uint64
		add(t, w, 1, tickBig, func(*probe) *proc {
			return &proc{onStart: func(env sim.Env) { got = append(got, env.Rand().Uint64()) }}
		})
		w.RunFor(1)
		w.Crash(1)
		w.Restart(1)
		return got
	}
	a, b := draws(1), draws(1)
	if a[0] != b[0] || a[1] != b[1] {
		t.Errorf("same seed gave different streams: %v %v", a, b)
	}
	if a[0] == a[1] {
		t.Errorf("restart reused the previous incarnation's stream")
	}
	if c := draws(2); c[0] == a[0] {
		t.Errorf("different seeds gave the same stream")
	}
}

func TestInvoke(t *testing.T) {
	w := newWorld(t, 26, sim.Config{})
	add(t, w, 1, tickBig, plain)
	w.RunFor(1)
	if err := w.Invoke(9, func(sim.Process, sim.Env) {}); err == nil {
		t.Error("Invoke on an unknown address succeeded")
	}
	w.Crash(1)
	if err := w.Invoke(1, func(sim.Process, sim.Env) {}); err == nil {
		t.Error("Invoke on a crashed process succeeded")
	}
}

func TestCallsFromCallbacksAndObserversAreRefused(t *testing.T) {
	w := newWorld(t, 27, sim.Config{})
	var errInvoke error
	add(t, w, 1, ms, func(*probe) *proc {
		return &proc{onTick: func(env sim.Env) {
			w.Crash(1)
			errInvoke = w.Invoke(1, func(sim.Process, sim.Env) {})
		}}
	})
	w.OnEvent(func(ev *sim.Event) {
		if ev.Kind == sim.KindTick {
			w.Partition([]sim.Addr{1})
			w.At(w.Now()+1, func() { w.Pause(1) }) // scheduling is allowed
		}
	})
	w.RunFor(ms + ms/2)
	if !w.Up(1) || errInvoke == nil {
		t.Errorf("calls from a callback took effect: up=%v invoke err=%v", w.Up(1), errInvoke)
	}
	if !w.Paused(1) {
		t.Error("an action scheduled by an observer did not run")
	}
	if st := w.Stats(); st.Ignored < 2 {
		t.Errorf("Ignored = %d, want the refused calls counted", st.Ignored)
	}
}

func TestBadCallsDoNotPanic(t *testing.T) {
	w := newWorld(t, 28, sim.Config{})
	add(t, w, 1, ms, plain)
	calls := []func(){
		func() { w.Crash(7) }, func() { w.Restart(7) }, func() { w.Restart(1) },
		func() { w.Pause(7) }, func() { w.Resume(7) }, func() { w.Resume(1) },
		func() { w.SetDrift(7, 1) }, func() { w.SetDrift(1, -1) }, func() { w.SetDrift(1, math.NaN()) },
		func() { w.Cut(1, 7) }, func() { w.Isolate(7) }, func() { w.Clog(7, 1, 5) },
		func() { w.Partition([]sim.Addr{7, 8}, nil) }, func() { w.At(-5, nil) },
		func() { w.RunUntil(-1) }, func() { w.RunFor(-1) },
	}
	for _, c := range calls {
		c()
	}
	if w.Up(7) || w.Disk(7) != nil || w.Instance(7) != nil {
		t.Error("unknown address reported as present")
	}
	if st := w.Stats(); st.Ignored < 13 {
		t.Errorf("Ignored = %d, want every refused call counted", st.Ignored)
	}
	for w.Step() {
		if w.Now() > 3*ms {
			break
		}
	}
}

func TestAddProcessErrors(t *testing.T) {
	w := newWorld(t, 29, sim.Config{})
	mk := func() sim.Process { return &proc{p: &probe{}} }
	cases := []struct {
		name    string
		addr    sim.Addr
		tickNs  int64
		factory func() sim.Process
		want    string
	}{
		{"zero tick", 1, 0, mk, "tickNs = 0"},
		{"negative tick", 1, -5, mk, "tickNs = -5"},
		{"nil factory", 1, ms, nil, "factory is nil"},
		{"factory returns nil", 1, ms, func() sim.Process { return nil }, "factory returned nil"},
	}
	for _, c := range cases {
		if err := w.AddProcess(c.addr, c.tickNs, c.factory); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
	if err := w.AddProcess(1, ms, mk); err != nil {
		t.Fatal(err)
	}
	if err := w.AddProcess(1, ms, mk); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("duplicate address: err = %v", err)
	}
	if err := w.AddProcess(70000, ms, mk); err != nil {
		t.Errorf("large address: %v", err)
	}
}

// TestLoseDisk: a disk loss takes every file, durable or not, of a process
// that is down; the next instance starts from nothing. It is refused while
// the process is up, and traced.
func TestLoseDisk(t *testing.T) {
	w := newWorld(t, 22, sim.Config{TraceKeep: true})
	p := &probe{}
	if err := w.AddProcess(1, ms, func() sim.Process {
		return &proc{p: p, onStart: func(env sim.Env) {
			env.Disk().Append("log", []byte("promise"))
			env.Disk().Sync("log")
		}}
	}); err != nil {
		t.Fatal(err)
	}
	w.RunFor(2 * ms)
	w.LoseDisk(1)
	if w.Stats().Ignored != 1 || w.Stats().DiskLosses != 0 || w.Disk(1).Size("log") < 0 {
		t.Fatalf("LoseDisk of a running process: ignored %d, losses %d", w.Stats().Ignored, w.Stats().DiskLosses)
	}
	w.Crash(1)
	w.LoseDisk(1)
	if files := w.Disk(1).Files(); len(files) != 0 || w.Stats().DiskLosses != 1 {
		t.Fatalf("after the loss: files %v, losses %d", files, w.Stats().DiskLosses)
	}
	if last := w.Trace()[len(w.Trace())-1]; last.Kind != sim.KindDiskLoss || last.Proc != 1 || last.String() == "" {
		t.Fatalf("last event %v, want the disk loss of 1", last)
	}
	w.Restart(1)
	if len(p.startDisk) != 0 {
		t.Fatalf("the restarted instance saw %v", p.startDisk)
	}
}
