package sim_test

import (
	"testing"

	"paxlock/sim"
)

// A process that sleeps gets callbacks only at the ticks it asks for, while
// Ticks keeps counting the ticks it skipped, on the same schedule as a
// process that never sleeps.
func TestWakeAtTickSkipsTicks(t *testing.T) {
	w := newWorld(t, 1, sim.Config{})
	var seen []int64 // Ticks() at each callback
	p := add(t, w, 1, 10*ms, func(*probe) *proc {
		return &proc{onTick: func(env sim.Env) {
			n := env.Ticks()
			seen = append(seen, n)
			env.WakeAtTick(n + 7)
		}}
	})
	ref := add(t, w, 2, 10*ms, plain) // same period, never sleeps
	w.RunUntil(1000 * ms)
	if len(seen) == 0 || seen[0] != 1 {
		t.Fatalf("first callback at tick %v, want 1", seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] != seen[i-1]+7 {
			t.Fatalf("callbacks at ticks %v: want every 7th", seen)
		}
	}
	if p.ticks != len(seen) || p.ticks > ref.ticks/7+1 {
		t.Fatalf("sleeper had %d callbacks, the ticking process %d", p.ticks, ref.ticks)
	}
	// The sleeper's callbacks fall on its own tick schedule: tick k at
	// first + (k-1)*period.
	first := p.tickTimes[0]
	for i, at := range p.tickTimes {
		if want := first + (seen[i]-1)*10*ms; at != want {
			t.Fatalf("callback %d (tick %d) at %d ns, want %d", i, seen[i], at, want)
		}
	}
}

// Outside a Tick callback, WakeAtTick brings the next callback closer but
// never pushes it away; Ticks counts what came due in between.
func TestWakeAtTickFromReceive(t *testing.T) {
	w := newWorld(t, 2, sim.Config{Net: sim.NetConfig{LatencyMinNs: ms, LatencyMaxNs: ms}})
	var atRecv, atTick []int64
	add(t, w, 1, 10*ms, func(*probe) *proc {
		q := &proc{onTick: func(env sim.Env) {
			atTick = append(atTick, env.Ticks())
			env.WakeAtTick(1 << 40) // sleep "forever"
		}}
		q.onRecv = func(env sim.Env) {
			n := env.Ticks()
			atRecv = append(atRecv, n)
			env.WakeAtTick(n + 2)
			env.WakeAtTick(n + 50) // later than pending: no effect
		}
		return q
	})
	add(t, w, 2, tickBig, plain)
	w.RunUntil(55 * ms)
	if err := w.Invoke(2, func(_ sim.Process, env sim.Env) { env.Send(1, []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	w.RunUntil(1000 * ms)
	if len(atTick) != 2 || len(atRecv) != 1 {
		t.Fatalf("ticks at %v, receives at %v: want the first tick, one receive, one tick after it", atTick, atRecv)
	}
	if atTick[0] != 1 || atTick[1] != atRecv[0]+2 || atRecv[0] < 5 {
		t.Fatalf("ticks at %v, receive at %v", atTick, atRecv)
	}
}

// A pause stops the tick count; a restart starts it again from zero.
func TestTicksPauseAndRestart(t *testing.T) {
	w := newWorld(t, 3, sim.Config{})
	var env1 sim.Env
	add(t, w, 1, 10*ms, func(*probe) *proc {
		return &proc{onStart: func(env sim.Env) { env1 = env }, onTick: func(env sim.Env) { env.WakeAtTick(1 << 40) }}
	})
	w.RunUntil(100 * ms)
	before := env1.Ticks()
	if before < 9 || before > 10 {
		t.Fatalf("Ticks after 100ms of 10ms ticks = %d", before)
	}
	w.Pause(1)
	w.RunUntil(500 * ms)
	if got := env1.Ticks(); got != before {
		t.Fatalf("Ticks moved from %d to %d while paused", before, got)
	}
	w.Resume(1)
	w.RunUntil(600 * ms)
	if got := env1.Ticks(); got < before+9 || got > before+10 {
		t.Fatalf("Ticks = %d 100ms after resume, was %d", got, before)
	}
	w.Crash(1)
	w.Restart(1)
	if got := env1.Ticks(); got != 0 {
		t.Fatalf("fresh incarnation: Ticks = %d, want 0", got)
	}
}

// A drift change moves a far wake-up with the new period.
func TestWakeAtTickFollowsDrift(t *testing.T) {
	w := newWorld(t, 4, sim.Config{})
	var woke []int64
	var wokeAt []int64
	add(t, w, 1, 10*ms, func(*probe) *proc {
		return &proc{onTick: func(env sim.Env) {
			woke = append(woke, env.Ticks())
			wokeAt = append(wokeAt, env.Now())
			env.WakeAtTick(env.Ticks() + 10)
		}}
	})
	w.RunUntil(5 * ms)
	w.RunUntil(wokeAtOr(t, w, &wokeAt) + ms)
	w.SetDrift(1, 2) // 20ms ticks from the one after the next
	w.RunUntil(1000 * ms)
	if len(woke) < 3 || woke[1] != woke[0]+10 {
		t.Fatalf("woke at ticks %v", woke)
	}
	// Tick woke[0]+1 keeps its old time (10ms on); the nine after it come
	// 20ms apart.
	if got, want := wokeAt[1]-wokeAt[0], 10*ms+9*20*ms; got != want {
		t.Fatalf("after the drift change the wake-up came %d ns later, want %d", got, want)
	}
}

func wokeAtOr(t *testing.T, w *sim.World, at *[]int64) int64 {
	t.Helper()
	for len(*at) == 0 && w.Step() {
	}
	if len(*at) == 0 {
		t.Fatal("no tick")
	}
	return (*at)[0]
}

// A resumed process gets a tick one period after Resume, however long it
// had asked to sleep: things may have changed while it was frozen.
func TestResumeWakesASleeper(t *testing.T) {
	w := newWorld(t, 5, sim.Config{})
	p := add(t, w, 1, 10*ms, func(*probe) *proc {
		return &proc{onTick: func(env sim.Env) { env.WakeAtTick(1 << 40) }}
	})
	w.RunUntil(100 * ms)
	if p.ticks != 1 {
		t.Fatalf("%d tick callbacks before the pause, want the first only", p.ticks)
	}
	w.Pause(1)
	w.RunUntil(200 * ms)
	w.Resume(1)
	w.RunUntil(215 * ms)
	if p.ticks != 2 || p.tickTimes[1] != 210*ms {
		t.Fatalf("tick callbacks at %v: want one 10ms after the resume at 200ms", p.tickTimes)
	}
}
