package scenarios

import (
	"paxlock/lockmgr"
	"testing"

	"pgregory.net/rapid"
)

// TestRapidSchedules: rapid draws fault schedules in which every choice is
// a step (which client does what, which link's packets are delivered early
// or dropped, who crashes, restarts or pauses, which partition forms and
// heals) and runs each as a scenario file under every checker. A failure
// shrinks towards the fewest steps, faults and operations, and is printed
// as the scenario file that replays it. Fail files that rapid keeps under
// testdata/rapid/TestRapidSchedules replay first on every run, as
// regressions. Replay one with -rapid.failfile=FILE (or -rapid.seed=N);
// widen the search with -rapid.checks=N.
func TestRapidSchedules(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := ScheduleGen(60).Draw(t, "schedule")
		if _, err := RunSchedule(&s); err != nil {
			t.Fatalf("%v\nschedule: %d steps, %d commands; as a scenario file:\n%s", err, len(s.Steps), s.Commands(), s.Render())
		}
	})
}

// TestScheduleRendersEveryStep: every kind of step renders to a command
// the runner accepts, on every cluster size the generator draws.
func TestScheduleRendersEveryStep(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		s := Schedule{Replicas: n, Clients: 2}
		for k := StepKind(0); k < stepKinds; k++ {
			st := Step{Kind: k, A: 1, B: n, Ms: 5, Op: 1, Name: "a"}
			if k == StepPartition {
				st.A = 1
			}
			s.Steps = append(s.Steps, st, Step{Kind: StepRun, Ms: 20})
		}
		s.Steps = append(s.Steps, Step{Kind: StepRestart, A: 1}, Step{Kind: StepResume, A: 1})
		if _, err := RunSchedule(&s); err != nil {
			t.Fatalf("%d replicas: %v\n%s", n, err, s.Render())
		}
	}
}

// ScheduleGen draws schedules of up to maxSteps steps.
func ScheduleGen(maxSteps int) *rapid.Generator[Schedule] {
	return rapid.Custom(func(t *rapid.T) Schedule {
		s := Schedule{
			Replicas: rapid.SampledFrom([]int{3, 5, 1}).Draw(t, "replicas"),
			Clients:  rapid.IntRange(1, 4).Draw(t, "clients"),
			// Shrinks towards the default interval; small ones make
			// replicas compact and ship snapshots within a few steps.
			SnapshotSlots: rapid.SampledFrom([]int{0, 4, 8}).Draw(t, "snapshot"),
			GroupCommit:   rapid.Bool().Draw(t, "group-commit"),
		}
		s.Steps = rapid.SliceOfN(stepGen(s.Replicas, s.Clients), 1, maxSteps).Draw(t, "steps")
		return s
	})
}

func stepGen(replicas, clients int) *rapid.Generator[Step] {
	return rapid.Custom(func(t *rapid.T) Step {
		k := StepKind(rapid.IntRange(0, int(stepKinds)-1).Draw(t, "kind"))
		node := func(label string) int { return rapid.IntRange(1, replicas).Draw(t, label) }
		// A link endpoint is a replica 1..N or, above N, a client, so that
		// requests and replies can be lost or hurried too.
		end := func(label string) int { return rapid.IntRange(1, replicas+clients).Draw(t, label) }
		st := Step{Kind: k}
		switch k {
		case StepRun:
			st.Ms = rapid.IntRange(1, 200).Draw(t, "ms")
		case StepOp:
			// Blocking Locks only ever take lock "a", so clients cannot
			// deadlock each other (a holder's own Lock is re-entrant);
			// "b" sees TryLock and Unlock.
			st.A = rapid.IntRange(1, clients).Draw(t, "client")
			st.Op = rapid.SampledFrom([]lockmgr.Op{lockmgr.OpLock, lockmgr.OpUnlock, lockmgr.OpLock, lockmgr.OpTryLock, lockmgr.OpRead}).Draw(t, "op")
			st.Name = "a"
			if st.Op == lockmgr.OpRead {
				st.Name = ""
			} else if st.Op != lockmgr.OpLock {
				st.Name = rapid.SampledFrom([]string{"a", "b"}).Draw(t, "name")
			}
		case StepWorkload:
			// Lock "a" only, like a blocking Lock step: a holder's next
			// operation is its unlock, so nobody waits forever.
			st.A = rapid.IntRange(1, clients).Draw(t, "client")
			st.Ms = rapid.IntRange(1, 8).Draw(t, "pairs")
			st.Name = "a"
		case StepDeliver, StepDup, StepDrop, StepDropNext:
			st.A, st.B = end("from"), end("to")
		case StepCut:
			st.A, st.B = node("from"), node("to")
		case StepClog:
			st.A, st.B = end("from"), end("to")
			st.Ms = rapid.IntRange(1, 500).Draw(t, "ms")
		case StepPartition:
			if replicas > 1 {
				st.A = rapid.IntRange(1, 1<<replicas-2).Draw(t, "mask")
			}
		case StepPause, StepResume, StepCrash, StepRestart, StepLoseDisk:
			st.A = node("node")
		}
		return st
	})
}
