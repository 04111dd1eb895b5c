package paxos

import (
	"fmt"
	"testing"
)

// TestMessagesPerCommand measures steady-state message cost per chosen
// command with 5 replicas: one command at a time (unbatched), and 640
// commands offered at once (batched by the leader). Heartbeats are not
// counted: no tick happens while the commands are in flight.
func TestMessagesPerCommand(t *testing.T) {
	const n = 5
	for _, tc := range []struct {
		name    string
		perStep int
		want    float64 // upper bound, messages per command
	}{
		{"unbatched", 1, 3 * n},
		{"batched", 640, 1},
	} {
		c := newTestCluster(t, n, 11)
		c.run(5)
		for c.deliverOne() {
		}
		sent0, commit0 := c.sent, c.reps[1].Commit()
		cmds := 0
		for round := 0; round < 20; round++ {
			for i := 0; i < tc.perStep; i++ {
				if err := c.reps[1].Propose([]byte(fmt.Sprintf("cmd-%d-%d", round, i))); err != nil {
					t.Fatal(err)
				}
				cmds++
			}
			c.drain()
			for c.deliverOne() {
			}
		}
		for _, id := range c.ids {
			if got := len(c.appliedCmds(id)); got != cmds {
				t.Fatalf("%s: replica %d applied %d of %d", tc.name, id, got, cmds)
			}
		}
		per := float64(c.sent-sent0) / float64(cmds)
		t.Logf("%s: %d commands in %d slots, %.2f messages per command (n=%d)",
			tc.name, cmds, c.reps[1].Commit()-commit0, per, n)
		if per > tc.want {
			t.Errorf("%s: %.2f messages per command, want <= %.2f", tc.name, per, tc.want)
		}
	}
}
