package scenarios

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Commands that let a file state what it tests: wait until the clients are
// done, assert on what the run measured, repeat a block, and draw values
// from the file's own seed.

// cmdIdle runs until every client has finished every operation it was
// given, and fails the file if that has not happened within max= (default
// 10s).
//
// Example:
//
//	idle max=5s
//	----
//	t=95.004ms c1 lock("7") -> granted #3
func (s *script) cmdIdle(a *args) error {
	limit := a.dur("max", 10_000_000_000)
	if err := a.done(); err != nil {
		return err
	}
	w := s.c.World()
	end := w.Now() + limit
	for s.c.Err() == nil && !s.c.Idle() && w.Now() < end {
		s.c.RunFor(min(s.c.TickNs(), end-w.Now()))
	}
	if s.c.Err() == nil && !s.c.Idle() {
		return fmt.Errorf("idle: still busy after %s:%s", fmtDur(limit), s.pending())
	}
	return nil
}

// pending lists the operations the clients have not finished.
func (s *script) pending() string {
	var b strings.Builder
	for i, ops := range s.clients {
		for _, op := range ops[s.done[i]:] {
			if !op.done {
				fmt.Fprintf(&b, " %s", op)
			}
		}
	}
	return b.String()
}

// figure is one measured quantity an assertion can name.
type figure struct {
	name, about string
	dur         bool // a duration in ns, else a number
	value       func(f Figures) float64
}

var figures = []figure{
	{"max-wait", "the longest an operation waited for its answer (queued time aside)", true,
		func(f Figures) float64 { return float64(f.MaxWaitNs) }},
	{"elections", "leaders established", false, func(f Figures) float64 { return float64(f.Elections) }},
	{"messages", "replica messages sent", false, func(f Figures) float64 { return float64(f.Messages) }},
	{"messages-per-op", "replica messages per answered operation", false, func(f Figures) float64 {
		return float64(f.Messages) / float64(max(1, f.Completed))
	}},
	{"ops", "operations answered", false, func(f Figures) float64 { return float64(f.Completed) }},
	{"log-bytes", "the largest replica log on disk", false, func(f Figures) float64 { return float64(f.LogBytes) }},
}

// cmdAssert checks figures the run measured so far against bounds, each
// written NAME<VALUE or NAME>VALUE (durations like 2s for max-wait). It
// prints each figure with its bound, and fails the file if one is out.
// Figures: max-wait, elections, messages, messages-per-op, ops, log-bytes.
//
// Example:
//
//	assert max-wait<2s elections<3
//	----
//	max-wait=231.4ms (< 2s) elections=1 (< 3)
func (s *script) cmdAssert(a *args) error {
	conds := a.bare()
	if err := a.done(); err != nil {
		return err
	}
	if len(conds) == 0 {
		return fmt.Errorf("assert: want conditions like max-wait<2s elections<3")
	}
	f := s.c.Figures()
	var shown, failed []string
	for _, cond := range conds {
		i := strings.IndexAny(cond, "<>")
		if i <= 0 {
			return fmt.Errorf("assert: %q: want NAME<VALUE or NAME>VALUE", cond)
		}
		name, op, bound := cond[:i], cond[i], cond[i+1:]
		fig, ok := findFigure(name)
		if !ok {
			var names []string
			for _, f := range figures {
				names = append(names, f.name)
			}
			return fmt.Errorf("assert: unknown figure %q (want one of %s)", name, strings.Join(names, ", "))
		}
		limit, err := parseBound(fig, bound)
		if err != nil {
			return fmt.Errorf("assert: %s: %w", cond, err)
		}
		v := fig.value(f)
		text := fmt.Sprintf("%s=%s (%c %s)", name, fig.format(v), op, bound)
		shown = append(shown, text)
		if op == '<' && !(v < limit) || op == '>' && !(v > limit) {
			failed = append(failed, text)
		}
	}
	s.line("%s", strings.Join(shown, " "))
	if len(failed) > 0 {
		return fmt.Errorf("assert failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

func findFigure(name string) (figure, bool) {
	for _, f := range figures {
		if f.name == name {
			return f, true
		}
	}
	return figure{}, false
}

func parseBound(f figure, v string) (float64, error) {
	if f.dur {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s is a duration: want a bound like 2s", f.name)
		}
		return float64(d), nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is a number: want a bound like 40", f.name)
	}
	return x, nil
}

func (f figure) format(v float64) string {
	if f.dur {
		return fmtDur(int64(v))
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// repeatMax bounds a repeat block's count.
const repeatMax = 10_000

// cmdRepeat runs the command lines below it (its input) n= times, in
// order, printing what they print. Blocks do not nest.
//
// Example:
//
//	repeat n=3
//	partition rand
//	run for=200ms
//	heal
//	----
//	t=1002.000ms partition {1,3}|{2}
//	...
func (s *script) cmdRepeat(a *args, body string) error {
	n := a.reqNum("n", "how many times", 1, repeatMax)
	if err := a.done(); err != nil {
		return err
	}
	var lines []*command
	for _, line := range strings.Split(body, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cmd, args, err := parseLine(line)
		if err != nil {
			return fmt.Errorf("repeat: %q: %w", line, err)
		}
		if cmd == "repeat" || cmd == "cluster" || cmd == "replay" || cmd == "explore" {
			return fmt.Errorf("repeat: %s cannot be repeated", cmd)
		}
		lines = append(lines, &command{Pos: a.cmd, Cmd: cmd, Args: args})
	}
	if len(lines) == 0 {
		return fmt.Errorf("repeat: no commands below it (write them before the ----)")
	}
	for k := 0; k < n && s.c.Err() == nil; k++ {
		for _, d := range lines {
			d := &command{Pos: d.Pos, Cmd: d.Cmd, Args: d.Args}
			if err := s.precheck(d); err != nil {
				return fmt.Errorf("repeat: %w", err)
			}
			if err := s.draw(d); err != nil {
				return fmt.Errorf("repeat: %w", err)
			}
			if err := s.dispatch(d); err != nil {
				return fmt.Errorf("repeat (round %d): %w", k+1, err)
			}
			if s.c.Err() != nil {
				return nil
			}
		}
	}
	return nil
}

// draw replaces every value written rand:LO..HI by a number drawn
// uniformly from [LO, HI] (durations too, like rand:100ms..2s), from the
// file's own random stream: seeded by the cluster's seed, so a file draws
// the same values on every run.
func (s *script) draw(d *command) error {
	for i := range d.Args {
		for j, v := range d.Args[i].Vals {
			spec, ok := strings.CutPrefix(v, "rand:")
			if !ok {
				continue
			}
			if s.rng == nil {
				return fmt.Errorf("%s: rand: needs the cluster's seed: build the cluster first", d.Cmd)
			}
			lo, hi, ok := strings.Cut(spec, "..")
			if !ok {
				return fmt.Errorf("%s: %s: want rand:LO..HI", d.Cmd, v)
			}
			got, err := drawBetween(s.rng, lo, hi)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", d.Cmd, v, err)
			}
			d.Args[i].Vals = append([]string(nil), d.Args[i].Vals...)
			d.Args[i].Vals[j] = got
		}
	}
	return nil
}

func drawBetween(rng *rand.Rand, lo, hi string) (string, error) {
	if a, err := strconv.ParseInt(lo, 10, 64); err == nil {
		b, err := strconv.ParseInt(hi, 10, 64)
		if err != nil || b < a {
			return "", fmt.Errorf("want two whole numbers, the first not above the second")
		}
		return strconv.FormatInt(a+rng.Int64N(b-a+1), 10), nil
	}
	a, err1 := time.ParseDuration(lo)
	b, err2 := time.ParseDuration(hi)
	if err1 != nil || err2 != nil || b < a {
		return "", fmt.Errorf("want two numbers or two durations, the first not above the second")
	}
	return time.Duration(int64(a) + rng.Int64N(int64(b-a)+1)).String(), nil
}
