package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// mutate -explore FILE: instead of the seed sweep and rapid, run paxsim
// -explore on each mutant, once per configuration line of FILE (paxsim
// -explore flags; # comments), cheapest first, until one finds it. The
// exported counterexample is replayed with paxsim -scenario in the
// mutant's copy, so a catch is a schedule that reproduces. The table puts
// the seed sweep's figure (from RESULTS.md beside FILE) next to it.

// exploreResult is what paxsim -explore made of one mutant.
type exploreResult struct {
	m        mutant
	found    bool
	config   int // 1-based line of the configuration that found it
	kind     string
	detail   string
	steps    int   // the counterexample's length
	shortest bool  // no shorter counterexample within the configuration's bounds
	unique   int64 // states searched, over every configuration tried
	seconds  float64
	replayed bool // paxsim -scenario reproduced the exported file
	problem  string
}

// exploreReport is the part of paxsim -explore -json that matters here.
type exploreReport struct {
	Unique    int64   `json:"unique"`
	Seconds   float64 `json:"seconds"`
	Exhausted bool    `json:"exhausted"`
	Scenario  string  `json:"scenario"`
	Violation *struct {
		Kind     string `json:"kind"`
		Detail   string `json:"detail"`
		Steps    []string
		Shortest bool `json:"shortest"`
	} `json:"violation"`
}

func loadExploreConfigs(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no configurations", path)
	}
	return out, nil
}

func runExploreMutants(root string, muts []mutant, o *options, stdout, stderr io.Writer) int {
	configs, err := loadExploreConfigs(o.explore)
	if err != nil {
		fmt.Fprintf(stderr, "mutate: %v\n", err)
		return 2
	}
	seeds := sweepFigures(filepath.Join(o.dir, "RESULTS.md"))
	var rows []exploreResult
	for _, m := range muts {
		r := tryExplore(root, m, configs)
		rows = append(rows, r)
		fmt.Fprintln(stdout, r.line())
	}
	table := renderExploreTable(rows, configs, seeds)
	fmt.Fprint(stdout, "\n"+table)
	if o.results != "" {
		head := fmt.Sprintf("# Mutation suite under paxsim -explore\n\n"+
			"Each mutant is applied to a scratch copy of the module; `paxsim -explore` then\n"+
			"searches the configurations below in order until one finds a violation, and the\n"+
			"exported counterexample is replayed with `paxsim -scenario` in that copy.\n"+
			"The search is depth-first; a violation it finds is looked for again\n"+
			"breadth-first, bounded at its depth, so a counterexample marked shortest has no\n"+
			"shorter one within that configuration's bounds (unmarked: its time or state\n"+
			"limit ran out first). \"Sweep seeds\" is the random seed sweep's figure from RESULTS.md, for\n"+
			"comparison.\n\n"+
			"Command: `go run ./cmd/mutate -explore %s -results %s`  \nRun: %s, %s/%s, %d CPUs\n\nConfigurations (`paxsim -explore` flags):\n\n",
			o.explore, o.results, time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
		for i, c := range configs {
			head += fmt.Sprintf("%d. `%s`\n", i+1, c)
		}
		if err := os.WriteFile(o.results, []byte(head+"\n"+table), 0o644); err != nil {
			fmt.Fprintf(stderr, "mutate: %v\n", err)
			return 2
		}
	}
	return 0
}

func tryExplore(root string, m mutant, configs []string) exploreResult {
	r := exploreResult{m: m}
	tmp, err := mutated(root, m)
	if err != nil {
		r.problem = err.Error()
		return r
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "paxsim.bin")
	if out, err := runIn(tmp, "go", "build", "-o", bin, "./cmd/paxsim"); err != nil {
		r.problem = "does not build: " + lastLine(out)
		return r
	}
	for i, c := range configs {
		args := append([]string{"-explore", "-json", "-quiet", "-out", tmp}, strings.Fields(c)...)
		out, err := runIn(tmp, bin, args...)
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
			r.problem = fmt.Sprintf("paxsim -explore did not run: %v: %s", err, lastLine(out))
			return r
		}
		var rep exploreReport
		if err := json.Unmarshal([]byte(firstJSON(out)), &rep); err != nil {
			r.problem = fmt.Sprintf("paxsim -explore printed no report: %s", lastLine(out))
			return r
		}
		r.unique += rep.Unique
		r.seconds += rep.Seconds
		if rep.Violation == nil {
			continue
		}
		r.found, r.config = true, i+1
		r.kind, r.detail, r.steps = rep.Violation.Kind, rep.Violation.Detail, len(rep.Violation.Steps)
		r.shortest = rep.Violation.Shortest
		if rep.Scenario != "" {
			_, err := runIn(tmp, bin, "-scenario", rep.Scenario)
			r.replayed = err == nil
		}
		return r
	}
	return r
}

func runIn(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// firstJSON is the first line of out that looks like a JSON object.
func firstJSON(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "{") {
			return line
		}
	}
	return ""
}

func (r exploreResult) line() string {
	switch {
	case r.problem != "":
		return fmt.Sprintf("%-28s BROKEN   %s", r.m.name, r.problem)
	case r.found:
		return fmt.Sprintf("%-28s found    by config %d in %d steps (%s), %d states, %.1f s; replayed: %v", r.m.name, r.config, r.steps, r.kind, r.unique, r.seconds, r.replayed)
	}
	return fmt.Sprintf("%-28s not found within the bounds (%d states, %.1f s)", r.m.name, r.unique, r.seconds)
}

var sweepRowRe = regexp.MustCompile(`^\| ([a-z0-9-]+) \| .* \| (yes|no|BROKEN) \| ([^|]+) \| ([^|]*) \|`)

// sweepFigures reads the seed sweep's "seeds until caught" per mutant
// from RESULTS.md (missing file or rows: no figure).
func sweepFigures(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := sweepRowRe.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = strings.TrimSpace(m[3]) + " (" + strings.TrimSpace(m[4]) + ")"
		}
	}
	return out
}

func renderExploreTable(rows []exploreResult, configs []string, seeds map[string]string) string {
	var b strings.Builder
	b.WriteString("| mutant | found | config | counterexample (steps) | checker | states searched | seconds | replays | sweep seeds (checker) | what it printed |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		found, config, steps, replays := "no", "-", "-", "-"
		if r.found {
			found, config, steps, replays = "yes", fmt.Sprint(r.config), fmt.Sprint(r.steps), fmt.Sprint(r.replayed)
			if r.shortest {
				steps += " (shortest)"
			}
		}
		if r.problem != "" {
			found = "BROKEN: " + strings.ReplaceAll(r.problem, "|", "\\|")
		}
		detail := strings.ReplaceAll(firstLine(r.detail), "|", "\\|")
		if len(detail) > 120 {
			detail = detail[:120] + "..."
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %.1f | %s | %s | %s |\n", r.m.name, found, config, steps, r.kind,
			r.unique, r.seconds, replays, seeds[r.m.name], detail)
	}
	return b.String()
}
