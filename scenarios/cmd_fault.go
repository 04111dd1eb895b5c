package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"paxlock/sim"
)

// Process and network faults. Each prints the simulator's trace line for
// it. A fault that cannot apply (crashing a replica that is down, resuming
// one that is not paused) is a mistake in the file, reported as an error
// rather than ignored the way the simulator ignores it.

// cmdProcess crashes, restarts, pauses or resumes replica n. A crash loses
// memory and unsynced disk writes (torn= of cluster: the chance a torn
// prefix survives); restart boots a fresh instance from the disk; pause
// stops ticks and holds arriving packets until resume. n may be a client
// too (n=c2): a crashed client is dead for good (its session must expire),
// and a paused one stops as in a long GC pause.
//
// Example:
//
//	crash n=1
//	----
//	t=52.000ms crash 1
func (s *script) cmdProcess(a *args) error {
	n := a.endpoint("n")
	if err := a.done(); err != nil {
		return err
	}
	w := s.c.World()
	client := s.c.r.clientIndex(n)
	var bad string
	switch {
	case client >= 0 && a.cmd == "restart":
		return fmt.Errorf("restart: clients do not restart (a crashed client is dead for good)")
	case client < 0 && (n < 1 || int(n) > len(s.c.r.peers)):
		return fmt.Errorf("%s: no process %d", a.cmd, n)
	case a.cmd == "crash" && !w.Up(n):
		bad = "is already down"
	case a.cmd == "restart" && w.Up(n):
		bad = "is up (crash it first)"
	case (a.cmd == "pause" || a.cmd == "resume") && !w.Up(n):
		bad = "is down"
	case a.cmd == "pause" && w.Paused(n):
		bad = "is already paused"
	case a.cmd == "resume" && !w.Paused(n):
		bad = "is not paused"
	}
	if bad != "" {
		what := "replica"
		if client >= 0 {
			what = "client"
		}
		return fmt.Errorf("%s: %s %s %s", a.cmd, what, addrName(n), bad)
	}
	return s.apply(a.cmd, func() {
		switch a.cmd {
		case "crash":
			w.Crash(n)
			if client >= 0 {
				s.c.r.clientDied(client)
			}
		case "restart":
			w.Restart(n)
		case "pause":
			w.Pause(n)
		case "resume":
			w.Resume(n)
		}
	})
}

// cmdLoseDisk destroys replica n's disk, crashing it first if it is up:
// everything it promised, accepted and learned is gone. It stays down;
// the next restart brings it back as paxosd -rejoin would, rebuilding as
// a non-voting member until a slot chosen after the loss carries its own
// rejoin command (the output says when it votes again). A group needs a
// majority of voters besides the rebuilding replica for that.
//
// Example:
//
//	lose-disk n=3
//	----
//	t=80.000ms crash 3
//	t=80.000ms diskloss 3
func (s *script) cmdLoseDisk(a *args) error {
	n := a.endpoint("n")
	if err := a.done(); err != nil {
		return err
	}
	if n < 1 || int(n) > len(s.c.r.peers) {
		return fmt.Errorf("lose-disk: %s is not a replica (only a replica has a disk)", addrName(n))
	}
	return s.apply("lose-disk", func() { s.c.r.loseDisk(n) })
}

// apply runs a world call and turns a call the simulator refused into an
// error (a pause before the replica has booted, say). After a checker
// failure the world stands still (it may be stuck inside the event that
// failed), and the call is skipped.
func (s *script) apply(cmd string, fn func()) error {
	if s.c.Err() != nil {
		return nil
	}
	w := s.c.World()
	before := w.Stats().Ignored
	fn()
	if w.Stats().Ignored != before {
		return fmt.Errorf("%s: the simulator refused it now (has the cluster run yet? try tick first)", cmd)
	}
	return nil
}

// cmdDrift sets replica n's tick period to factor times the normal one
// (0.5 ticks twice as fast, 2 half as fast): its timeouts, heartbeats and
// resends run faster or slower than its peers'.
//
// Example:
//
//	drift n=2 factor=0.25
//	----
//	t=40.000ms drift 2 x0.2500
func (s *script) cmdDrift(a *args) error {
	n := a.replica("n")
	f := a.factor("factor", 0)
	if err := a.done(); err != nil {
		return err
	}
	return s.apply(a.cmd, func() { s.c.World().SetDrift(n, f) })
}

// cmdPartition cuts every link between different groups, both ways,
// replacing the cuts made before (clogs stay). Members are replicas and
// clients (c1). Every replica must be named, so that none is silently left
// connected to every side; a client named in no group keeps all its links
// (clients usually reach both sides). Write groups without spaces.
// `partition rand` draws a random majority of the replicas, cut off from
// the rest (from the file's own seed), with the clients reaching both.
//
// Example:
//
//	partition {1,2,c1} {3,4,5}
//	----
//	t=30.000ms partition {1,2,1000}|{3,4,5}
func (s *script) cmdPartition(a *args) error {
	var groups [][]sim.Addr
	var seen []sim.Addr
	bare := a.bare()
	if len(bare) == 1 && bare[0] == "rand" {
		if err := a.done(); err != nil {
			return err
		}
		return s.apply(a.cmd, func() { s.c.World().Partition(s.randomMajority()...) })
	}
	for _, g := range bare {
		members, err := parseGroup(a, g)
		if err != nil {
			return err
		}
		for _, m := range members {
			if slices.Contains(seen, m) {
				return fmt.Errorf("partition: %s is in two groups", addrName(m))
			}
			seen = append(seen, m)
		}
		groups = append(groups, members)
	}
	if err := a.done(); err != nil {
		return err
	}
	if len(groups) < 2 {
		return fmt.Errorf("partition: want at least two groups, like partition {1,2} {3,4,5}")
	}
	for n := 1; n <= s.c.Replicas(); n++ {
		if !slices.Contains(seen, sim.Addr(n)) {
			return fmt.Errorf("partition: replica %d is in no group: name every replica (one left out would stay connected to every side)", n)
		}
	}
	return s.apply(a.cmd, func() { s.c.World().Partition(groups...) })
}

// randomMajority splits the replicas into a random majority and the rest.
func (s *script) randomMajority() [][]sim.Addr {
	n := s.c.Replicas()
	p := make([]sim.Addr, n)
	for i := range p {
		p[i] = sim.Addr(i + 1)
	}
	s.rng.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return [][]sim.Addr{p[:n/2+1], p[n/2+1:]}
}

// parseGroup reads {1,2,c1}.
func parseGroup(a *args, g string) ([]sim.Addr, error) {
	in, ok := strings.CutPrefix(g, "{")
	if ok {
		in, ok = strings.CutSuffix(in, "}")
	}
	if !ok || in == "" {
		return nil, fmt.Errorf("%s: %q: want groups like {1,2} {3,4,5,c1} (no spaces inside a group)", a.cmd, g)
	}
	var out []sim.Addr
	for _, m := range strings.Split(in, ",") {
		out = append(out, a.parseEndpoint("group", strings.TrimSpace(m)))
	}
	return out, a.err
}

// addrName prints a simulator address as a file writes it: 3 or c1.
func addrName(a sim.Addr) string {
	if a >= ClientAddrBase {
		return fmt.Sprintf("c%d", a-ClientAddrBase+1)
	}
	return fmt.Sprint(a)
}

// cmdCut cuts the one-way link from -> to (replicas or clients); packets
// on it are lost from now on, those in flight included. Cuts add up.
//
// Example:
//
//	cut from=1 to=3
//	----
//	t=20.000ms cut 1->3
func (s *script) cmdCut(a *args) error {
	from, to := a.endpoint("from"), a.endpoint("to")
	if err := a.done(); err != nil {
		return err
	}
	return s.apply(a.cmd, func() { s.c.World().Cut(from, to) })
}

// cmdIsolate cuts every link to and from n (a replica or a client),
// adding to the cuts in place.
//
// Example:
//
//	isolate n=3
//	----
//	t=20.000ms isolate 3
func (s *script) cmdIsolate(a *args) error {
	n := a.endpoint("n")
	if err := a.done(); err != nil {
		return err
	}
	return s.apply(a.cmd, func() { s.c.World().Isolate(n) })
}

// cmdHeal removes every cut, clog and pending drop: the network is whole
// (its random knobs aside; see net).
//
// Example:
//
//	heal
//	----
//	t=900.000ms heal
func (s *script) cmdHeal(a *args) error {
	if err := a.done(); err != nil {
		return err
	}
	return s.apply(a.cmd, func() { s.c.World().Heal() })
}
