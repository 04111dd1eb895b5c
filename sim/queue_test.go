package sim

import (
	"math/rand/v2"
	"testing"
)

// TestQueueOrder checks the heap against the (time, seq) order under a mix
// of pushes and pops, including many equal times.
func TestQueueOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q queue
	var lastAt int64
	var lastSeq uint64
	now := int64(0)
	popped := 0
	for i := 0; i < 20000; i++ {
		if q.len() == 0 || r.IntN(3) > 0 {
			q.push(now+r.Int64N(5), item{sentNs: int64(q.seq + 1)})
			continue
		}
		k, _ := q.peek()
		at, it := q.pop()
		if at != k.at || at < lastAt || (at == lastAt && uint64(it.sentNs) <= lastSeq) {
			t.Fatalf("pop %d: (%d, seq %d) after (%d, seq %d)", popped, at, it.sentNs, lastAt, lastSeq)
		}
		lastAt, lastSeq, now = at, uint64(it.sentNs), at
		popped++
	}
	if len(q.items) > q.len()+len(q.free) || len(q.items) < q.len() {
		t.Errorf("slab %d, heap %d, free %d: leaked slots", len(q.items), q.len(), len(q.free))
	}
}

// BenchmarkQueueHold is the classic hold model: pop the earliest event and
// push one a random delay later, with a steady population of 128.
func BenchmarkQueueHold(b *testing.B) {
	r := rand.NewPCG(3, 4)
	var q queue
	for i := 0; i < 128; i++ {
		q.push(int64(r.Uint64()%500_000), item{})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at, it := q.pop()
		q.push(at+50_000+int64(r.Uint64()%450_000), it)
	}
}
