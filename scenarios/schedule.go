package scenarios

import (
	"fmt"
	"strings"

	"paxlock/lockmgr"
)

// A Schedule is a fault schedule in which every nondeterministic choice is
// an explicit step: which client issues which operation, how long time
// runs, which link's in-flight packets are delivered early or dropped,
// which replica crashes, restarts or pauses, which partition forms and
// heals. The network itself is quiet and FIFO (fixed latency, no random
// loss), so everything that goes wrong is a step, and rapid can shrink a
// failing schedule towards fewer faults, fewer operations and plain FIFO
// delivery.
//
// A Schedule is run by rendering it as a scenario file and running that,
// so the minimized failure rapid prints is exactly what was run.
type Schedule struct {
	Replicas int
	Clients  int
	// SnapshotSlots: replicas compact every this many slots (0: the
	// default, 64). Small values bring compaction and snapshot transfer
	// within reach of a short schedule.
	SnapshotSlots int
	GroupCommit   bool // the replicas' hosts group-commit, as on UDP
	Steps         []Step
}

// StepKind names a schedule step. The order matters for shrinking: rapid
// shrinks a kind towards 0, so the benign steps come first.
type StepKind uint8

const (
	StepRun       StepKind = iota // let time pass: Ms milliseconds
	StepOp                        // client A starts Op on lock Name
	StepWorkload                  // client A queues Ms lock/unlock pairs of lock Name
	StepDeliver                   // deliver what is in flight on A -> B now
	StepDup                       // duplicate what is in flight on A -> B
	StepDrop                      // drop what is in flight on A -> B
	StepDropNext                  // drop the next packet sent on A -> B
	StepClog                      // hold A -> B for Ms milliseconds
	StepCut                       // cut A -> B (one way) until the next heal
	StepPartition                 // split replicas by bit mask A
	StepHeal                      // remove every cut
	StepPause                     // pause replica A
	StepResume                    // resume replica A
	StepCrash                     // crash replica A
	StepRestart                   // restart replica A
	StepLoseDisk                  // replica A loses its disk (crashing); a restart rebuilds it
	stepKinds
)

// Step is one schedule entry; which fields matter depends on Kind.
type Step struct {
	Kind StepKind
	A, B int
	Ms   int
	Op   lockmgr.Op
	Name string
}

// Render writes the schedule as a scenario file (commands only; running it
// fills in the output). The file ends with the liveness phase: heal
// everything, bring every replica back, let the clients finish, check.
func (s *Schedule) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# A fault schedule drawn by rapid (see scenarios/schedule.go).\n")
	snap := ""
	if s.SnapshotSlots > 0 {
		snap = fmt.Sprintf(" snapshot=%d", s.SnapshotSlots)
	}
	if s.GroupCommit {
		snap += " group-commit=true"
	}
	fmt.Fprintf(&b, "cluster replicas=%d clients=%d seed=1 latency=(200us, 200us)%s\n----\n\n", s.Replicas, s.Clients, snap)
	b.WriteString("# Boot: every process has started.\ntick\n----\n\n")
	down, paused := map[int]bool{}, map[int]bool{}
	for _, st := range s.Steps {
		if line := s.renderStep(st, down, paused); line != "" {
			fmt.Fprintf(&b, "%s\n----\n\n", line)
		}
	}
	b.WriteString("# Liveness phase: every fault healed, every replica back.\nheal\n----\n\n")
	for n := 1; n <= s.Replicas; n++ {
		if down[n] {
			fmt.Fprintf(&b, "restart n=%d\n----\n\n", n)
		}
		if paused[n] {
			fmt.Fprintf(&b, "resume n=%d\n----\n\n", n)
		}
	}
	b.WriteString("# Every client lets go, so no Lock waits forever on a holder\n# whose script ended.\n")
	for c := 1; c <= s.Clients; c++ {
		fmt.Fprintf(&b, "unlock c=%d k=a wait=false\n----\n\nunlock c=%d k=b wait=false\n----\n\n", c, c)
	}
	// Healed, the group must serve everything within a bound: a new
	// leader, a client's longest retry, a queue of the schedule's few
	// operations (ScheduleIdleBound).
	fmt.Fprintf(&b, "idle max=%s\n----\n\nstabilize\n----\n\ncheck\n----\n", fmtDur(ScheduleIdleBoundNs))
	return b.String()
}

// ScheduleIdleBoundNs: once a schedule's faults are healed, every client
// must be done within this long.
const ScheduleIdleBoundNs = 3_000_000_000

// RunSchedule renders s as a scenario file and runs it. It fails if a
// checker failed (agreement, fencing, durability, linearizability, state
// hashes, an assertion) or if, after the liveness phase, a client still has
// an operation unanswered. A rendering the runner refuses is a bug here,
// reported as such.
func RunSchedule(s *Schedule) (transcript string, failure error) {
	text := s.Render()
	sc := newScript()
	transcript, _, err := runTranscript("schedule", text, sc.exec)
	if err != nil && strings.Contains(err.Error(), "idle: still busy") {
		return transcript, fmt.Errorf("%s: %w", FailLiveness, err)
	}
	if err != nil {
		return transcript, fmt.Errorf("schedule did not run (a bug in Render): %w", err)
	}
	if err := sc.c.Check(); err != nil {
		return transcript, err
	}
	if !sc.c.Idle() {
		return transcript, fmt.Errorf("%s: operations unanswered after the liveness phase", FailLiveness)
	}
	return transcript, nil
}

// Commands counts the commands of the rendered file.
func (s *Schedule) Commands() int { return strings.Count(s.Render(), "\n----\n") }

// renderStep returns one command, or "" for a step that makes no sense in
// the state the schedule reached (crashing a crashed replica, delivering on
// a loop link), which is skipped so that shrinking never produces a file
// that errors.
func (s *Schedule) renderStep(st Step, down, paused map[int]bool) string {
	switch st.Kind {
	case StepRun:
		return fmt.Sprintf("run for=%dms", st.Ms)
	case StepOp:
		if !st.Op.Named() {
			return fmt.Sprintf("%s c=%d wait=false", st.Op, st.A)
		}
		return fmt.Sprintf("%s c=%d k=%s wait=false", st.Op, st.A, st.Name)
	case StepWorkload:
		return fmt.Sprintf("workload c=%d k=%s pairs=%d wait=false", st.A, st.Name, max(1, st.Ms))
	case StepDeliver, StepDup, StepDrop, StepDropNext, StepCut, StepClog:
		from, to := s.endpoint(st.A), s.endpoint(st.B)
		if from == to || (st.A > s.Replicas && st.B > s.Replicas) {
			return "" // a loop, or client to client: no such link
		}
		switch st.Kind {
		case StepDeliver:
			return fmt.Sprintf("deliver from=%s to=%s", from, to)
		case StepDup:
			return fmt.Sprintf("dup from=%s to=%s", from, to)
		case StepDrop:
			return fmt.Sprintf("drop from=%s to=%s", from, to)
		case StepDropNext:
			return fmt.Sprintf("drop from=%s to=%s next=1", from, to)
		case StepCut:
			return fmt.Sprintf("cut from=%s to=%s", from, to)
		}
		return fmt.Sprintf("clog from=%s to=%s for=%dms", from, to, st.Ms)
	case StepPartition:
		var in, out []string
		for n := 1; n <= s.Replicas; n++ {
			if st.A&(1<<(n-1)) != 0 {
				in = append(in, fmt.Sprint(n))
			} else {
				out = append(out, fmt.Sprint(n))
			}
		}
		if len(in) == 0 || len(out) == 0 {
			return ""
		}
		return fmt.Sprintf("partition {%s} {%s}", strings.Join(in, ","), strings.Join(out, ","))
	case StepHeal:
		return "heal"
	case StepCrash, StepRestart:
		if down[st.A] == (st.Kind == StepCrash) {
			return ""
		}
		down[st.A] = st.Kind == StepCrash
		if st.Kind == StepCrash {
			paused[st.A] = false
			return fmt.Sprintf("crash n=%d", st.A)
		}
		return fmt.Sprintf("restart n=%d", st.A)
	case StepLoseDisk:
		// One loss per schedule, in a group of three or more: a rebuild
		// needs a majority of voters besides the rebuilding replica, and
		// two losses at once may lose what was chosen. down[0] records
		// that the schedule had its loss.
		if s.Replicas < 3 || down[0] {
			return ""
		}
		down[0], down[st.A], paused[st.A] = true, true, false
		return fmt.Sprintf("lose-disk n=%d", st.A)
	case StepPause, StepResume:
		if down[st.A] || paused[st.A] == (st.Kind == StepPause) {
			return ""
		}
		paused[st.A] = st.Kind == StepPause
		if st.Kind == StepPause {
			return fmt.Sprintf("pause n=%d", st.A)
		}
		return fmt.Sprintf("resume n=%d", st.A)
	}
	return ""
}

// endpoint names link endpoint k: replica k, or client k-N.
func (s *Schedule) endpoint(k int) string {
	if k > s.Replicas {
		return fmt.Sprintf("c%d", k-s.Replicas)
	}
	return fmt.Sprint(k)
}
