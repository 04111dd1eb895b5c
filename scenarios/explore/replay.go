package explore

import (
	"fmt"
	"strings"
	"time"
)

// Replay takes steps from the initial state of cfg, judging every state
// as the search does, and returns the transcript: one line per step (with
// the message it moved, or the operation it started) and a last line
// with the verdict. It stops at the first violation. An error means the
// steps do not fit the configuration (a step that is not enabled).
func Replay(cfg Config, steps []Step) (string, *Violation, error) {
	if err := cfg.Validate(); err != nil {
		return "", nil, err
	}
	w, err := newWorld(&cfg)
	if err != nil {
		return "", nil, err
	}
	s := &searcher{cfg: &cfg, lin: map[uint64]bool{}}
	var b strings.Builder
	if v := s.judge(w, -1); v != nil {
		fmt.Fprintf(&b, "violation before any step: %s: %s\n", v.Kind, oneLine(v.Detail))
		return b.String(), v, nil
	}
	for i, st := range steps {
		what := w.what(st)
		before := w.hist.Completed()
		if err := w.apply(st); err != nil {
			return "", nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		fmt.Fprintf(&b, "%d %v: %s\n", i+1, st, what)
		if v := s.judge(w, before); v != nil {
			v.Path = steps[:i+1]
			fmt.Fprintf(&b, "violation at step %d: %s: %s\n", i+1, v.Kind, oneLine(v.Detail))
			return b.String(), v, nil
		}
	}
	fmt.Fprintf(&b, "ok after %d steps: every check passed\n", len(steps))
	return b.String(), nil, nil
}

// what describes what step s is about to move, for a transcript.
func (w *world) what(s Step) string {
	switch s.Kind {
	case Deliver, Drop, Dup:
		if i := w.find(s.From, s.To, s.N); i >= 0 {
			return describe(w.net[i])
		}
	case Invoke:
		if i := int(s.Proc - clientAddrBase); i < len(w.cls) && w.cls[i].next < len(w.cfg.Clients[i]) {
			return w.cfg.Clients[i][w.cls[i].next].String()
		}
	case Timer:
		if s.Proc >= clientAddrBase {
			if i := int(s.Proc - clientAddrBase); i < len(w.cls) {
				return fmt.Sprintf("in %d ticks", w.cls[i].cl.TicksToTimer())
			}
		} else if int(s.Proc) <= len(w.reps) && s.Proc > 0 && w.reps[s.Proc-1].node != nil {
			return fmt.Sprintf("in %d ticks", w.reps[s.Proc-1].node.TicksToTimer())
		}
	}
	return ""
}

// ParseInput reads the input lines of a scenario's explore command into
// cfg's clients and the steps: "client c1 lock:a unlock:a" lines first,
// then one step per line (as Step.String prints it; text after the step
// is ignored). Blank lines and # comments are skipped.
func ParseInput(cfg *Config, input string) ([]Step, error) {
	var steps []Step
	for i, line := range strings.Split(input, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "client "); ok {
			f := strings.Fields(rest)
			want := fmt.Sprintf("c%d", len(cfg.Clients)+1)
			if len(steps) > 0 || len(f) < 2 || f[0] != want {
				return nil, fmt.Errorf("input line %d: want \"client %s OP...\" (clients in order, before the steps)", i+1, want)
			}
			ops, err := ParseOps(strings.Join(f[1:], ","))
			if err != nil {
				return nil, fmt.Errorf("input line %d: %w", i+1, err)
			}
			cfg.Clients = append(cfg.Clients, ops)
			continue
		}
		st, err := ParseStep(strings.SplitN(line, ":", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("input line %d: %w", i+1, err)
		}
		steps = append(steps, st)
	}
	return steps, nil
}

// Command is the explore command line of a scenario file for cfg (see
// Export and the scenario language's explore command).
func Command(cfg *Config) string {
	b := cfg.Bounds
	return fmt.Sprintf("explore replicas=%d tick=%v snapshot=%d depth=%d drops=%d dups=%d crashes=%d timers=%d",
		cfg.Replicas, time.Duration(cfg.TickNs), cfg.SnapshotSlots, b.Depth, b.Drops, b.Dups, b.Crashes, b.Timers)
}

// Export writes a violation's path as a scenario file that `paxsim
// -scenario` replays: one explore command whose input lines are the
// clients' scripts and the steps, and whose expected output is the
// transcript Replay prints, ending in the violation.
func Export(cfg Config, v *Violation) (string, error) {
	transcript, _, err := Replay(cfg, v.Path)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# A counterexample found by paxsim -explore (bounds %v): %s: %s\n", cfg.Bounds, v.Kind, oneLine(v.Detail))
	if v.Shortest {
		b.WriteString("# The steps are the shortest path to a violation within the bounds;\n")
	} else {
		b.WriteString("# The steps are the path to the violation found depth-first (not known to be the shortest);\n")
	}
	b.WriteString("# `paxsim -scenario FILE` replays them on the real replicas and clients.\n")
	b.WriteString(Command(&cfg) + "\n")
	for i, ops := range cfg.Clients {
		fmt.Fprintf(&b, "client c%d %s\n", i+1, strings.ReplaceAll(FormatOps(ops), ",", " "))
	}
	for _, st := range v.Path {
		b.WriteString(st.String() + "\n")
	}
	b.WriteString("----\n")
	b.WriteString(transcript)
	return b.String(), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
