// Command mutate proves the harness finds bugs: it applies each known-bug
// variant ("mutant") under testdata/mutants/ to a scratch copy of the module, never
// to the tree itself, runs the random seed sweep against it, and reports
// per mutant whether it was caught, after how many seeds, and by which
// checker.
//
//	go run ./cmd/mutate                      every mutant, up to 3000 seeds each
//	go run ./cmd/mutate -only no-dedup -v    one mutant
//	go run ./cmd/mutate -results testdata/mutants/RESULTS.md
//
// A mutant file holds a description (# lines) and one or more edits:
//
//	file paxos/acceptor.go
//	@@@
//	<exact lines to find, once>
//	@@@
//	<lines to put instead>
//	@@@
//
// The exit code is 1 if any mutant survives both the sweep and the rapid
// property, or no longer applies.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	dir       string
	only      string
	seeds     int
	checks    int
	rapidSeed uint64
	parallel  int
	results   string
	verbose   bool
	explore   string // a file of paxsim -explore configurations: search instead of sweeping (explore.go)
}

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var o options
	fl.StringVar(&o.dir, "dir", "testdata/mutants", "directory of *.mut files")
	fl.StringVar(&o.only, "only", "", "run only the mutants whose name contains this")
	fl.IntVar(&o.seeds, "seeds", 3000, "seeds to sweep per mutant before calling it a survivor")
	fl.IntVar(&o.checks, "checks", 2000, "rapid schedules to try per mutant (0: skip the rapid property)")
	fl.Uint64Var(&o.rapidSeed, "rapid-seed", 0, "rapid's seed (0: a random one each run)")
	fl.IntVar(&o.parallel, "parallel", runtime.NumCPU(), "seeds run at once")
	fl.StringVar(&o.results, "results", "", "write the result table (markdown) to this file")
	fl.BoolVar(&o.verbose, "v", false, "print each mutant's paxsim output")
	fl.StringVar(&o.explore, "explore", "", "run paxsim -explore with each configuration of this file instead of the sweep and rapid")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	muts, err := loadMutants(o.dir, o.only)
	if err != nil {
		fmt.Fprintf(stderr, "mutate: %v\n", err)
		return 2
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "mutate: %v\n", err)
		return 2
	}
	if o.explore != "" {
		return runExploreMutants(root, muts, &o, stdout, stderr)
	}
	var rows []result
	bad := false
	for _, m := range muts {
		t0 := time.Now()
		r := try(root, m, &o, stderr)
		r.wall = time.Since(t0)
		rows = append(rows, r)
		fmt.Fprintln(stdout, r.line())
		if !r.caught && !r.rapid.caught || r.problem != "" {
			bad = true // survived both the sweep and the rapid property
		}
	}
	table := renderTable(rows, &o)
	fmt.Fprint(stdout, "\n"+table)
	if o.results != "" {
		head := fmt.Sprintf("# Mutation suite: last result\n\n"+
			"Each mutant is a known bug applied to a scratch copy of the module (never to the\n"+
			"tree); the seed sweep then runs until a checker fails (`-failfast`), and the rapid\n"+
			"schedule property runs (its kept fail files under scenarios/testdata/rapid replay\n"+
			"first, then fresh schedules). A mutant is caught if either catches it.\n\n"+
			"Command: `go run ./cmd/mutate -seeds %d -checks %d -results %s`  \nRun: %s, %s/%s, %d CPUs\n\n",
			o.seeds, o.checks, o.results, time.Now().UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
		if err := os.WriteFile(o.results, []byte(head+table), 0o644); err != nil {
			fmt.Fprintf(stderr, "mutate: %v\n", err)
			return 2
		}
	}
	if bad {
		return 1
	}
	return 0
}

// mutant is one known-bug variant.
type mutant struct {
	name  string
	about string
	edits []edit
}

type edit struct {
	file, find, replace string
}

func loadMutants(dir, only string) ([]mutant, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.mut"))
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	var out []mutant
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".mut")
		if only != "" && !strings.Contains(name, only) {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		m, err := parseMutant(name, string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no mutants in %s matching %q", dir, only)
	}
	return out, nil
}

// parseMutant reads the format in the package comment.
func parseMutant(name, text string) (mutant, error) {
	m := mutant{name: name}
	lines := strings.Split(text, "\n")
	var about []string
	i := 0
	for ; i < len(lines) && strings.HasPrefix(lines[i], "#"); i++ {
		about = append(about, strings.TrimSpace(strings.TrimPrefix(lines[i], "#")))
	}
	m.about = strings.Join(about, " ")
	for i < len(lines) {
		l := strings.TrimSpace(lines[i])
		i++
		if l == "" {
			continue
		}
		file, ok := strings.CutPrefix(l, "file ")
		if !ok {
			return m, fmt.Errorf("line %d: want `file PATH`, got %q", i, l)
		}
		var blocks [2][]string
		if i >= len(lines) || lines[i] != "@@@" {
			return m, fmt.Errorf("line %d: want @@@ after file", i+1)
		}
		i++
		for b := 0; b < 2; b++ {
			for i < len(lines) && lines[i] != "@@@" {
				blocks[b] = append(blocks[b], lines[i])
				i++
			}
			if i >= len(lines) {
				return m, fmt.Errorf("unterminated @@@ block in %s", file)
			}
			i++
		}
		m.edits = append(m.edits, edit{file: strings.TrimSpace(file),
			find: strings.Join(blocks[0], "\n"), replace: strings.Join(blocks[1], "\n")})
	}
	if len(m.edits) == 0 {
		return m, errors.New("no edits")
	}
	return m, nil
}

type result struct {
	m       mutant
	rapid   rapidResult
	caught  bool
	seed    uint64 // first failing seed
	seeds   int    // seeds until caught (or swept)
	kind    string
	detail  string
	problem string // the mutant no longer applies or does not build
	wall    time.Duration
}

func (r result) line() string {
	switch {
	case r.problem != "":
		return fmt.Sprintf("%-28s BROKEN   %s", r.m.name, r.problem)
	case r.caught:
		return fmt.Sprintf("%-28s caught   after %d seeds (seed %d) by %s; rapid: %s", r.m.name, r.seeds, r.seed, r.kind, r.rapid)
	}
	return fmt.Sprintf("%-28s SURVIVED %d seeds; rapid: %s", r.m.name, r.seeds, r.rapid)
}

// mutated returns a scratch copy of the module at root with m applied;
// the caller removes it.
func mutated(root string, m mutant) (string, error) {
	tmp, err := os.MkdirTemp("", "paxlock-mutant-")
	if err != nil {
		return "", err
	}
	if err := copyModule(root, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	for _, e := range m.edits {
		if err := apply(tmp, e); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	return tmp, nil
}

// try applies m to a scratch copy of the module and sweeps it.
func try(root string, m mutant, o *options, stderr io.Writer) result {
	r := result{m: m}
	tmp, err := mutated(root, m)
	if err != nil {
		r.problem = err.Error()
		return r
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "run", "./cmd/paxsim", "-json", "-failfast",
		"-seeds", fmt.Sprint(o.seeds), "-parallel", fmt.Sprint(o.parallel))
	cmd.Dir = tmp
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if o.verbose {
		io.Copy(stderr, &errb)
	}
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		r.problem = fmt.Sprintf("paxsim did not run: %v: %s", err, lastLine(errb.String()))
		return r
	}
	r = scan(r, &out)
	if o.checks > 0 {
		r.rapid = tryRapid(tmp, o.checks, o.rapidSeed)
	}
	return r
}

// rapidResult is what the rapid property made of a mutant.
type rapidResult struct {
	ran      bool
	caught   bool
	steps    int // shrunk schedule: steps drawn
	commands int // and commands in its scenario file
	err      string
}

var shrunkRe = regexp.MustCompile(`schedule: (\d+) steps, (\d+) commands`)

// tryRapid runs the rapid schedule property in the mutant copy; a failure
// is a catch, and the size of the minimized schedule is read from its
// message (the last one printed is the minimized case).
func tryRapid(dir string, checks int, seed uint64) rapidResult {
	cmd := exec.Command("go", "test", "./scenarios", "-count=1", "-run", "^TestRapidSchedules$",
		fmt.Sprintf("-rapid.checks=%d", checks), fmt.Sprintf("-rapid.seed=%d", seed), "-rapid.nofailfile")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	r := rapidResult{ran: true}
	if err == nil {
		return r
	}
	m := shrunkRe.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		r.err = lastLine(string(out))
		return r
	}
	last := m[len(m)-1]
	r.caught = true
	fmt.Sscan(string(last[1]), &r.steps)
	fmt.Sscan(string(last[2]), &r.commands)
	return r
}

// scan reads paxsim's JSON lines: the lowest failing seed is the catch
// (with -failfast every lower seed was already handed out and finished).
func scan(r result, out *bytes.Buffer) result {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Seed   uint64 `json:"seed"`
			OK     bool   `json:"ok"`
			Kind   string `json:"failure"`
			Detail string `json:"detail"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		r.seeds++
		// A porcupine timeout is no verdict: it does not count as a catch.
		if !l.OK && l.Kind != "check-timeout" && (!r.caught || l.Seed < r.seed) {
			r.caught, r.seed, r.kind, r.detail = true, l.Seed, l.Kind, l.Detail
		}
	}
	if r.caught {
		r.seeds = int(r.seed) // seeds start at 1
	}
	return r
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// copyModule copies the source tree (not .git, not build output).
func copyModule(root, dst string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == ".git" || rel == "paxsim-out" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

func apply(dir string, e edit) error {
	p := filepath.Join(dir, e.file)
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if n := strings.Count(string(b), e.find); n != 1 {
		return fmt.Errorf("%s: the text to replace occurs %d times, want exactly once (mutant is stale)", e.file, n)
	}
	return os.WriteFile(p, []byte(strings.Replace(string(b), e.find, e.replace, 1)), 0o644)
}

func (r rapidResult) String() string {
	switch {
	case !r.ran:
		return "not run"
	case r.caught:
		return fmt.Sprintf("caught, shrunk to %d steps (%d commands)", r.steps, r.commands)
	case r.err != "":
		return "error: " + r.err
	}
	return "not caught"
}

func renderTable(rows []result, o *options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| mutant | the bug | caught | seeds until caught | checker | rapid (%d schedules) | what it printed |\n|---|---|---|---|---|---|---|\n", o.checks)
	for _, r := range rows {
		caught, seeds := "no", fmt.Sprintf("survived %d", r.seeds)
		if r.caught {
			caught, seeds = "yes", fmt.Sprint(r.seeds)
		}
		if r.problem != "" {
			caught, seeds = "BROKEN", r.problem
		}
		detail := strings.ReplaceAll(firstLine(r.detail), "|", "\\|")
		if len(detail) > 140 {
			detail = detail[:140] + "..."
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.m.name, r.m.about, caught, seeds, r.kind, r.rapid, detail)
	}
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
