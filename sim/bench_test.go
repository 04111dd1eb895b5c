package sim_test

import (
	"testing"

	"paxlock/sim"
)

// relay forwards every packet it receives to a random process, so a fixed
// population of packets circulates for ever; Start injects its share.
type relay struct {
	n, inject int
}

func (r *relay) Start(env sim.Env) {
	for i := 0; i < r.inject; i++ {
		env.Send(sim.Addr(1+env.Rand().IntN(r.n)), make([]byte, 64))
	}
}

func (r *relay) Receive(env sim.Env, _ sim.Addr, data []byte) {
	// The relay owns data once delivered, so it may pass it on unchanged.
	env.Send(sim.Addr(1+env.Rand().IntN(r.n)), data)
}

// Tick tops the population up, a quarter of the initial share per tick,
// so that a lossy network does not drain it.
func (r *relay) Tick(env sim.Env) {
	for i := 0; i < r.inject/4; i++ {
		env.Send(sim.Addr(1+env.Rand().IntN(r.n)), make([]byte, 64))
	}
}

// benchWorld is 8 relays with 16 packets each in flight over net.
func benchWorld(b *testing.B, net sim.NetConfig) *sim.World {
	const n, inject = 8, 16
	w, err := sim.NewWorld(1, sim.Config{Net: net})
	if err != nil {
		b.Fatal(err)
	}
	for a := sim.Addr(1); a <= n; a++ {
		if err := w.AddProcess(a, 10*ms, func() sim.Process { return &relay{n: n, inject: inject} }); err != nil {
			b.Fatal(err)
		}
	}
	w.RunFor(10 * ms) // boot and warm the queue's free lists
	return w
}

func runDelivered(b *testing.B, w *sim.World) {
	before := w.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Step()
	}
	b.StopTimer()
	st := w.Stats()
	b.ReportMetric(float64(st.Delivered-before.Delivered)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDeliveredEvents measures delivered packets per second on one
// core (target: at least 2,000,000; see BENCHMARKS.md).
// With every fault knob at zero nearly every event is a delivery.
func BenchmarkDeliveredEvents(b *testing.B) {
	runDelivered(b, benchWorld(b, sim.NetConfig{LatencyMinNs: 50_000, LatencyMaxNs: 500_000}))
}

// BenchmarkDeliveredEventsFaulty is the same under the default faults,
// where the population lives on the relays' top-ups.
func BenchmarkDeliveredEventsFaulty(b *testing.B) {
	runDelivered(b, benchWorld(b, sim.DefaultConfig().Net))
}
