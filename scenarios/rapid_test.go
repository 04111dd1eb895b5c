package scenarios

import (
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
		s := ScheduleGen(40).Draw(t, "schedule")
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
