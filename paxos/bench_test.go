package paxos

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkReplicaRound drives a 3-replica group in memory, without the
// codec or a network: each iteration proposes one command at the leader
// and runs every replica's Ready/Advance loop until the group is quiet.
// It measures the replica's own cost per command (handlers, outbox,
// assertions).
func BenchmarkReplicaRound(b *testing.B) {
	ids := []ID{1, 2, 3}
	reps := map[ID]*Replica{}
	for _, id := range ids {
		cfg := DefaultConfig(id, ids)
		cfg.Rand = rand.New(rand.NewPCG(1, uint64(id)))
		r, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		reps[id] = r
	}
	var inbox []Message
	drain := func() {
		for busy := true; busy; {
			busy = false
			for _, id := range ids {
				r := reps[id]
				for r.HasReady() {
					busy = true
					rd := r.Ready()
					inbox = append(inbox, rd.Messages...)
					r.Advance()
				}
			}
			for len(inbox) > 0 {
				busy = true
				m := inbox[0]
				inbox = inbox[1:]
				reps[m.To].Step(&m)
			}
		}
	}
	for reps[1].Role() != Leader {
		for _, id := range ids {
			reps[id].Tick()
		}
		drain()
	}
	cmd := []byte("lock a")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := reps[1].Propose(cmd); err != nil {
			b.Fatal(err)
		}
		drain()
		if i%64 == 63 {
			for _, id := range ids {
				r := reps[id]
				_ = r.Compact(r.Applied(), nil)
				for r.HasReady() {
					r.Ready()
					r.Advance()
				}
			}
		}
	}
}
