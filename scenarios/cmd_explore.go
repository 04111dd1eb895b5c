package scenarios

import (
	"fmt"

	"paxlock/scenarios/explore"
)

// cmdExplore replays a path that paxsim -explore found (see
// explore.Export): the configuration in its arguments, the clients'
// scripts and the steps in its input lines. It prints one line per step
// and the verdict. Like replay, it needs no cluster and leaves the file's
// cluster alone.
//
// Example:
//
//	explore replicas=1 tick=10ms snapshot=0 depth=40 drops=0 dups=0 crashes=0 timers=2
//	client c1 lock:a
//	timer 1
//	invoke c1
//	deliver c1->1 #0
//	----
//	1 timer 1: in 1 ticks
//	2 invoke c1: lock a
//	3 deliver c1->1 #0: c1->1 request open(nonce ..., 1000 ms)
//	ok after 3 steps: every check passed
func (s *script) cmdExplore(a *args, input string) error {
	cfg := explore.Config{Replicas: a.reqNum("replicas", "the cluster size", 1, explore.ReplicasMax),
		TickNs: a.reqDur("tick"), SnapshotSlots: uint64(a.num("snapshot", 0, 0, 1<<20))}
	b := &cfg.Bounds
	b.Depth = a.reqNum("depth", "the step bound", 1, explore.DepthMax)
	b.Drops = a.num("drops", 0, 0, explore.DepthMax)
	b.Dups = a.num("dups", 0, 0, explore.DepthMax)
	b.Crashes = a.num("crashes", 0, 0, explore.DepthMax)
	b.Timers = a.num("timers", 0, 0, explore.DepthMax)
	if err := a.done(); err != nil {
		return err
	}
	steps, err := explore.ParseInput(&cfg, input)
	if err != nil {
		return fmt.Errorf("explore: %w", err)
	}
	transcript, _, err := explore.Replay(cfg, steps)
	if err != nil {
		return fmt.Errorf("explore: %w", err)
	}
	s.out.WriteString(transcript)
	return nil
}
