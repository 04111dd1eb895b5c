package explore

import (
	"testing"
	"time"
)

func TestProfTmp(t *testing.T) {
	ops, _ := ParseOps("trylock:a")
	cfg := Config{Replicas: 3, Clients: [][]Op{ops}, Bounds: Bounds{Depth: 19, Timers: 1}, TickNs: int64(10 * time.Millisecond), PruneDone: true, Order: DepthFirst}
	r, err := Search(cfg, Meter{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d unique %v", r.Unique, r.Seconds)
}
