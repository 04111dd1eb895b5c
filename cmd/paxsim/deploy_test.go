package main

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The files that run sweeps on engines this repository does not control
// (GitHub Actions, Kubernetes) are checked here the only way that does not
// need those engines: they must parse, and every paxsim command line they
// run must be accepted by paxsim's own flag parser, with shards that tile
// the sweep exactly and a merge that expects that same sweep. Each check
// is shown to fail on a broken copy (TestDeployChecksFail).

const (
	workflowPath   = "../../.github/workflows/nightly-sweep.yml"
	jobPath        = "deploy/job.yaml"
	dockerfilePath = "deploy/Dockerfile"
)

func TestNightlyWorkflow(t *testing.T) {
	if err := checkWorkflow(readFile(t, workflowPath)); err != nil {
		t.Fatalf("%s: %v", workflowPath, err)
	}
}

func TestIndexedJob(t *testing.T) {
	if err := checkJob(readFile(t, jobPath), readFile(t, dockerfilePath)); err != nil {
		t.Fatalf("%s: %v", jobPath, err)
	}
}

func TestDockerfile(t *testing.T) {
	if err := checkDockerfile(readFile(t, dockerfilePath), readFile(t, "../../go.mod")); err != nil {
		t.Fatalf("%s: %v", dockerfilePath, err)
	}
}

// TestStaticBinary: built as the Dockerfile builds it, paxsim needs no
// dynamic loader or shared library, so it runs in an empty (scratch) image.
func TestStaticBinary(t *testing.T) {
	f, err := elf.Open(paxsimBinary(t))
	if err != nil {
		t.Skipf("not an ELF system: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary asks for a dynamic loader (PT_INTERP): not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("the binary needs shared libraries %v", libs)
	}
}

// TestDeployChecksFail: each check catches the mistake it is there for,
// made in a copy of the real file.
func TestDeployChecksFail(t *testing.T) {
	wf, job, df, gomod := readFile(t, workflowPath), readFile(t, jobPath), readFile(t, dockerfilePath), readFile(t, "../../go.mod")
	tests := []struct {
		name, file, old, new, want string
	}{
		{"workflow: not YAML", "wf", "jobs:", "jobs:\n\t- x", "yaml"},
		{"workflow: misspelt key", "wf", "runs-on:", "runs_on:", "runs_on"},
		{"workflow: unknown flag", "wf", "-json -coverage -out failures", "-jsn -coverage -out failures", "flag provided but not defined: -jsn"},
		{"workflow: shard past N", "wf", "shard: [0, 1, 2, 3, 4, 5, 6, 7]", "shard: [1, 2, 3, 4, 5, 6, 7, 8]", "index 8 out of range"},
		{"workflow: a shard missing", "wf", "shard: [0, 1, 2, 3, 4, 5, 6, 7]", "shard: [0, 1, 2, 3, 4, 5, 6]", "shards 0..6 of 8"},
		{"workflow: N not the matrix", "wf", `SHARDS: "8"`, `SHARDS: "9"`, "of 9"},
		{"workflow: unknown variable", "wf", `-start "$START" -json`, `-start "$STRAT" -json`, "unknown variable $STRAT"},
		{"workflow: unknown expression", "wf", `shard-${{ matrix.shard }}.jsonl"`, `shard-${{ matrix.shards }}.jsonl"`, "matrix.shards"},
		{"workflow: merge of another sweep", "wf", `-merge -json -seeds "$SEEDS"`, `-merge -json -seeds 5`, "merge expects"},
		{"workflow: merge rejects a flag", "wf", `-merge -json`, `-merge -json -parallel 2`, "-parallel does not apply"},
		{"workflow: no merge", "wf", `./paxsim -merge -json`, `./paxsim -json`, `unexpected argument "shards/*.jsonl"`},
		{"workflow: a sweep without -shard", "wf", `./paxsim -shard "${{ matrix.shard }}/$SHARDS"`, `./paxsim`, "without -shard"},
		{"workflow: failures not uploaded", "wf", "path: failures/", "path: failure/", "failures"},
		{"workflow: shard lines not merged", "wf", "pattern: shard-*", "pattern: shards-*", "not downloaded"},
		{"workflow: same seeds every night", "wf", "(GITHUB_RUN_NUMBER - 1) * SEEDS + 1", "1", "run 2"},
		{"job: N not completions", "job", "completions: 16", "completions: 17", "index 16 out of range"},
		{"job: fewer completions than N", "job", "completions: 16", "completions: 15", "shards 0..14 of 16"},
		{"job: wrong mode", "job", "completionMode: Indexed", "completionMode: NonIndexed", "Indexed"},
		{"job: unknown flag", "job", `"-parallel", "2"`, `"-paralel", "2"`, "-paralel"},
		{"job: unset variable", "job", "$(JOB_COMPLETION_INDEX)/16", "$(JOB_INDEX)/16", "$(JOB_INDEX)"},
		{"job: not the image's binary", "job", `command: ["/paxsim"]`, `command: ["/bin/paxsim"]`, "ENTRYPOINT"},
		{"job: policy names no container", "job", "containerName: paxsim", "containerName: sim", `"sim"`},
		{"dockerfile: Go version", "df", "FROM golang:1.26 AS build", "FROM golang:1.25 AS build", "go.mod"},
		{"dockerfile: not static", "df", "CGO_ENABLED=0 ", "", "CGO_ENABLED=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := map[string]string{"wf": wf, "job": job, "df": df}[tt.file]
			if !strings.Contains(src, tt.old) {
				t.Fatalf("the real file no longer holds %q: update this case", tt.old)
			}
			broken := strings.Replace(src, tt.old, tt.new, 1)
			var err error
			switch tt.file {
			case "wf":
				err = checkWorkflow(broken)
			case "job":
				err = checkJob(broken, df)
			case "df":
				err = checkDockerfile(broken, gomod)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// decodeStrict decodes YAML into v, refusing keys v does not name, so a
// misspelt key in the parts modelled here is an error.
func decodeStrict(src string, v any) error {
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// ---- GitHub Actions ----

// The parts of a workflow the nightly sweep uses. Unmodelled keys are
// errors: add them here when the workflow needs them.
type ghWorkflow struct {
	Name        string            `yaml:"name"`
	On          ghOn              `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Defaults    map[string]any    `yaml:"defaults"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]*ghJob `yaml:"jobs"`
}

type ghOn struct {
	Schedule []struct {
		Cron string `yaml:"cron"`
	} `yaml:"schedule"`
	WorkflowDispatch struct {
		Inputs map[string]struct {
			Description string `yaml:"description"`
			Default     string `yaml:"default"`
		} `yaml:"inputs"`
	} `yaml:"workflow_dispatch"`
}

type ghJob struct {
	Needs    yaml.Node         `yaml:"needs"`
	If       string            `yaml:"if"`
	RunsOn   string            `yaml:"runs-on"`
	Timeout  int               `yaml:"timeout-minutes"`
	Outputs  map[string]string `yaml:"outputs"`
	Env      map[string]string `yaml:"env"`
	Strategy struct {
		FailFast *bool            `yaml:"fail-fast"`
		Matrix   map[string][]any `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []ghStep `yaml:"steps"`
}

type ghStep struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
}

// ghRun is the workflow evaluated for one scheduled run: its run number,
// the matrix value of the job being read, and the outputs of jobs.
type ghRun struct {
	wf      *ghWorkflow
	number  int
	matrix  map[string]string
	jobEnv  map[string]string
	outputs map[string]string // needs.JOB.outputs.NAME, once run
}

var ghExpr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// expand replaces ${{ }} expressions as GitHub does, before any shell
// sees the text. It knows the few forms the workflow uses; anything else
// is an error.
func (r *ghRun) expand(s string) (string, error) {
	var err error
	out := ghExpr.ReplaceAllStringFunc(s, func(m string) string {
		v, e := r.eval(ghExpr.FindStringSubmatch(m)[1])
		if e != nil && err == nil {
			err = e
		}
		return v
	})
	return out, err
}

func (r *ghRun) eval(expr string) (string, error) {
	for _, alt := range strings.Split(expr, "||") {
		v, err := r.operand(strings.TrimSpace(alt))
		if err != nil || v != "" {
			return v, err
		}
	}
	return "", nil
}

func (r *ghRun) operand(x string) (string, error) {
	f := strings.Split(x, ".")
	switch {
	case len(x) >= 2 && x[0] == '\'' && x[len(x)-1] == '\'':
		return x[1 : len(x)-1], nil
	case len(f) == 2 && f[0] == "inputs":
		// A scheduled run has no inputs; a dispatched one defaults to the
		// same values (checked in checkWorkflow).
		if _, ok := r.wf.On.WorkflowDispatch.Inputs[f[1]]; !ok {
			return "", fmt.Errorf("${{ %s }}: no such input", x)
		}
		return "", nil
	case len(f) == 2 && f[0] == "matrix":
		if v, ok := r.matrix[f[1]]; ok {
			return v, nil
		}
	case len(f) == 2 && f[0] == "env":
		if v, ok := r.env()[f[1]]; ok {
			return v, nil
		}
	case len(f) == 4 && f[0] == "needs" && f[2] == "outputs":
		if v, ok := r.outputs[x]; ok {
			return v, nil
		}
		v, err := r.jobOutput(f[1], f[3])
		if err == nil {
			r.outputs[x] = v
		}
		return v, err
	}
	return "", fmt.Errorf("${{ %s }}: not an expression this test knows", x)
}

// env is the workflow's env, then the current job's, expanded.
func (r *ghRun) env() map[string]string {
	env := map[string]string{}
	for k, v := range r.wf.Env {
		env[k] = v
	}
	for k, v := range r.jobEnv {
		env[k] = v
	}
	return env
}

// jobOutput runs the step of job that sets output out, in bash, as the
// runner would, and returns what it wrote to GITHUB_OUTPUT.
func (r *ghRun) jobOutput(job, out string) (string, error) {
	j, ok := r.wf.Jobs[job]
	if !ok {
		return "", fmt.Errorf("needs.%s: no such job", job)
	}
	m := regexp.MustCompile(`^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$`).FindStringSubmatch(j.Outputs[out])
	if m == nil {
		return "", fmt.Errorf("jobs.%s.outputs.%s: want ${{ steps.ID.outputs.NAME }}", job, out)
	}
	for _, st := range j.Steps {
		if st.ID != m[1] {
			continue
		}
		sub := &ghRun{wf: r.wf, number: r.number, outputs: r.outputs}
		env, err := sub.stepEnv(j, st)
		if err != nil {
			return "", err
		}
		script, err := sub.expand(st.Run)
		if err != nil {
			return "", err
		}
		dir, err := os.MkdirTemp("", "paxsim-gh-*")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		outFile := filepath.Join(dir, "output")
		cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", script)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GITHUB_RUN_NUMBER=" + strconv.Itoa(r.number),
			"GITHUB_OUTPUT=" + outFile, "GITHUB_STEP_SUMMARY=" + filepath.Join(dir, "summary")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("jobs.%s step %s: %v: %s", job, st.ID, err, msg)
		}
		b, _ := os.ReadFile(outFile)
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok && k == m[2] {
				return v, nil
			}
		}
		return "", fmt.Errorf("jobs.%s step %s wrote no %s to GITHUB_OUTPUT", job, st.ID, m[2])
	}
	return "", fmt.Errorf("jobs.%s: no step with id %s", job, m[1])
}

// stepEnv: the environment a step of job j runs in (workflow, job, step).
func (r *ghRun) stepEnv(j *ghJob, st ghStep) (map[string]string, error) {
	r.jobEnv = map[string]string{}
	env := map[string]string{}
	for _, layer := range []map[string]string{r.wf.Env, j.Env, st.Env} {
		for k, v := range layer {
			x, err := r.expand(v)
			if err != nil {
				return nil, fmt.Errorf("env %s: %v", k, err)
			}
			env[k] = x
		}
		for k, v := range env {
			r.jobEnv[k] = v
		}
	}
	return env, nil
}

// ghCommand is a paxsim command a step runs, with its options as paxsim
// parsed them.
type ghCommand struct {
	job, stdout string
	opt         *options
	uploads     map[string]string // path -> artifact name, of the same job
}

// commands runs through job j for one matrix value and returns the paxsim
// commands its steps run.
func (r *ghRun) commands(name string, j *ghJob) ([]ghCommand, error) {
	var out []ghCommand
	uploads := map[string]string{}
	for _, st := range j.Steps {
		if strings.HasPrefix(st.Uses, "actions/upload-artifact@") {
			p, err1 := r.expand(st.With["path"])
			n, err2 := r.expand(st.With["name"])
			if err := firstErr(err1, err2); err != nil {
				return nil, fmt.Errorf("jobs.%s: %v", name, err)
			}
			for _, f := range strings.Fields(p) {
				uploads[strings.TrimSuffix(f, "/")] = n
			}
		}
		if st.Run == "" {
			continue
		}
		env, err := r.stepEnv(j, st)
		if err != nil {
			return nil, fmt.Errorf("jobs.%s: %v", name, err)
		}
		script, err := r.expand(st.Run)
		if err != nil {
			return nil, fmt.Errorf("jobs.%s: %v", name, err)
		}
		for _, line := range scriptLines(script) {
			if !strings.Contains(line, "paxsim") {
				continue
			}
			sl, err := parseShell(line, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				return nil, fmt.Errorf("jobs.%s: %v", name, err)
			}
			args, ok := paxsimArgs(sl.words)
			if !ok {
				continue
			}
			opt, err := parseFlags(args, io.Discard)
			if err != nil {
				return nil, fmt.Errorf("jobs.%s: paxsim %s: %v", name, strings.Join(args, " "), err)
			}
			out = append(out, ghCommand{job: name, stdout: sl.stdout, opt: opt, uploads: uploads})
		}
	}
	return out, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func checkWorkflow(src string) error {
	var wf ghWorkflow
	if err := decodeStrict(src, &wf); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	if len(wf.On.Schedule) == 0 {
		return fmt.Errorf("no schedule: the sweep is nightly")
	}
	var starts []uint64
	seeds := 0
	for _, number := range []int{1, 2} {
		sweep, merges, err := workflowCommands(&wf, number)
		if err != nil {
			return err
		}
		start, err := checkShards(sweep)
		if err != nil {
			return fmt.Errorf("run %d: %v", number, err)
		}
		starts = append(starts, start)
		seeds = sweep[0].opt.sweepSeeds
		if len(merges) != 1 {
			return fmt.Errorf("run %d: %d paxsim -merge commands, want 1", number, len(merges))
		}
		mo, so := merges[0].opt, sweep[0].opt
		if mo.start != so.sweepStart || mo.seeds != so.sweepSeeds {
			return fmt.Errorf("run %d: the merge expects seeds %d..%d, the shards sweep %d..%d", number,
				mo.start, mo.start+uint64(mo.seeds)-1, so.sweepStart, so.sweepStart+uint64(so.sweepSeeds)-1)
		}
		if err := checkArtifacts(&wf, sweep); err != nil {
			return err
		}
	}
	if starts[1] != starts[0]+uint64(seeds) {
		return fmt.Errorf("run 1 sweeps from seed %d and run 2 from %d: want the next %d seeds (a fresh range each night)", starts[0], starts[1], seeds)
	}
	// A dispatched run with its inputs left as they are sweeps what a
	// scheduled one does.
	for name, in := range wf.On.WorkflowDispatch.Inputs {
		if name == "seeds" && in.Default != strconv.Itoa(seeds) {
			return fmt.Errorf("workflow_dispatch input seeds defaults to %q, a scheduled run sweeps %d", in.Default, seeds)
		}
	}
	return nil
}

// workflowCommands evaluates every job for run number, once per matrix
// value, and sorts the paxsim commands into shards and merges.
func workflowCommands(wf *ghWorkflow, number int) (sweep, merges []ghCommand, err error) {
	outputs := map[string]string{}
	names := make([]string, 0, len(wf.Jobs))
	for n := range wf.Jobs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		j := wf.Jobs[name]
		values := []map[string]string{{}}
		if len(j.Strategy.Matrix) > 0 {
			values = nil
			for _, v := range j.Strategy.Matrix["shard"] {
				values = append(values, map[string]string{"shard": fmt.Sprint(v)})
			}
			if len(values) == 0 || len(j.Strategy.Matrix) != 1 {
				return nil, nil, fmt.Errorf("jobs.%s: want a matrix of one dimension, shard", name)
			}
		}
		for _, m := range values {
			r := &ghRun{wf: wf, number: number, matrix: m, outputs: outputs}
			cmds, err := r.commands(name, j)
			if err != nil {
				return nil, nil, err
			}
			for _, c := range cmds {
				if c.opt.merge {
					merges = append(merges, c)
				} else {
					sweep = append(sweep, c)
				}
			}
		}
	}
	return sweep, merges, nil
}

// checkShards: the sweep commands are the shards 0..N-1 of one sweep, each
// printing JSON lines, and their slices tile the sweep. It returns the
// sweep's first seed.
func checkShards(cmds []ghCommand) (uint64, error) {
	opts := make([]*options, len(cmds))
	for i, c := range cmds {
		opts[i] = c.opt
		if !c.opt.json {
			return 0, fmt.Errorf("jobs.%s: a shard without -json leaves nothing to merge", c.job)
		}
	}
	if err := checkTiling(opts); err != nil {
		return 0, err
	}
	return opts[0].sweepStart, nil
}

// checkTiling: opts are shards 0..N-1 of one sweep (N = len(opts)), and
// their slices are disjoint and cover it.
func checkTiling(opts []*options) error {
	if len(opts) == 0 {
		return fmt.Errorf("no paxsim -shard command")
	}
	first := opts[0]
	n := first.shard.n
	seen := make([]bool, n)
	for _, o := range opts {
		switch {
		case !o.shard.set:
			return fmt.Errorf("a sweep without -shard runs the whole range on every machine")
		case o.shard.n != n || o.sweepStart != first.sweepStart || o.sweepSeeds != first.sweepSeeds:
			return fmt.Errorf("shards of different sweeps: -shard %s of %d seeds from %d, -shard %s of %d from %d",
				first.shard.String(), first.sweepSeeds, first.sweepStart, o.shard.String(), o.sweepSeeds, o.sweepStart)
		case seen[o.shard.i]:
			return fmt.Errorf("shard %d of %d runs twice", o.shard.i, n)
		}
		seen[o.shard.i] = true
	}
	if len(opts) != n {
		return fmt.Errorf("shards 0..%d of %d run: want all %d", len(opts)-1, n, n)
	}
	sorted := slices.Clone(opts)
	slices.SortFunc(sorted, func(a, b *options) int { return a.shard.i - b.shard.i })
	next := first.sweepStart
	for _, o := range sorted {
		if o.start != next || o.seeds < 1 {
			return fmt.Errorf("shard %s sweeps %d seeds from %d, want from %d", o.shard.String(), o.seeds, o.start, next)
		}
		next = o.start + uint64(o.seeds)
	}
	if next != first.sweepStart+uint64(first.sweepSeeds) {
		return fmt.Errorf("the shards end before seed %d", next)
	}
	return nil
}

// checkArtifacts: each shard uploads its JSON lines under a name the merge
// downloads, and its -out directory for the failures.
func checkArtifacts(wf *ghWorkflow, sweep []ghCommand) error {
	var patterns []string
	for _, j := range wf.Jobs {
		for _, st := range j.Steps {
			if strings.HasPrefix(st.Uses, "actions/download-artifact@") {
				patterns = append(patterns, st.With["pattern"])
			}
		}
	}
	for _, c := range sweep {
		name, ok := c.uploads[c.stdout]
		if c.stdout == "" || !ok {
			return fmt.Errorf("jobs.%s: shard %s: its JSON lines (%q) are not uploaded", c.job, c.opt.shard.String(), c.stdout)
		}
		if !slices.ContainsFunc(patterns, func(p string) bool { ok, _ := path.Match(p, name); return ok }) {
			return fmt.Errorf("jobs.%s: artifact %q is not downloaded by the merge (patterns %q)", c.job, name, patterns)
		}
		if c.opt.out == "" {
			return fmt.Errorf("jobs.%s: shard %s: no -out, so no failure artifacts", c.job, c.opt.shard.String())
		}
		if _, ok := c.uploads[strings.TrimSuffix(c.opt.out, "/")]; !ok {
			return fmt.Errorf("jobs.%s: the failures written to -out %s are not uploaded", c.job, c.opt.out)
		}
	}
	return nil
}

// ---- Kubernetes ----

// The parts of an Indexed Job that make a sweep; the rest of the manifest
// was checked against the Kubernetes API types when it was written.
type k8sJob struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Spec       struct {
		CompletionMode   string `yaml:"completionMode"`
		Completions      int    `yaml:"completions"`
		Parallelism      int    `yaml:"parallelism"`
		PodFailurePolicy struct {
			Rules []struct {
				Action      string `yaml:"action"`
				OnExitCodes *struct {
					ContainerName string `yaml:"containerName"`
				} `yaml:"onExitCodes"`
			} `yaml:"rules"`
		} `yaml:"podFailurePolicy"`
		Template struct {
			Spec struct {
				RestartPolicy string `yaml:"restartPolicy"`
				Containers    []struct {
					Name    string   `yaml:"name"`
					Command []string `yaml:"command"`
					Args    []string `yaml:"args"`
					Env     []struct {
						Name string `yaml:"name"`
					} `yaml:"env"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// k8sVar is Kubernetes' $(VAR) in command and args.
var k8sVar = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkJob(src, dockerfile string) error {
	var job k8sJob
	if err := yaml.Unmarshal([]byte(src), &job); err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	s := job.Spec
	switch {
	case job.APIVersion != "batch/v1" || job.Kind != "Job":
		return fmt.Errorf("%s %s: want a batch/v1 Job", job.APIVersion, job.Kind)
	case s.CompletionMode != "Indexed":
		return fmt.Errorf("completionMode %q: want Indexed (JOB_COMPLETION_INDEX is set only then)", s.CompletionMode)
	case s.Completions < 1:
		return fmt.Errorf("completions %d", s.Completions)
	case s.Template.Spec.RestartPolicy != "Never":
		return fmt.Errorf("restartPolicy %q: a pod failure policy needs Never", s.Template.Spec.RestartPolicy)
	case len(s.Template.Spec.Containers) != 1:
		return fmt.Errorf("%d containers, want 1", len(s.Template.Spec.Containers))
	}
	c := s.Template.Spec.Containers[0]
	for _, r := range s.PodFailurePolicy.Rules {
		if r.OnExitCodes != nil && r.OnExitCodes.ContainerName != c.Name {
			return fmt.Errorf("podFailurePolicy: container %q, the container is %q", r.OnExitCodes.ContainerName, c.Name)
		}
	}
	entry, err := dockerEntrypoint(dockerfile)
	if err != nil {
		return err
	}
	if len(c.Command) != 1 || c.Command[0] != entry {
		return fmt.Errorf("command %q: want the image's ENTRYPOINT [%q]", c.Command, entry)
	}
	defined := map[string]bool{"JOB_COMPLETION_INDEX": true} // set by the Job controller
	for _, e := range c.Env {
		defined[e.Name] = true
	}
	var opts []*options
	for i := 0; i < s.Completions; i++ {
		args := make([]string, len(c.Args))
		for k, a := range c.Args {
			var bad string
			args[k] = k8sVar.ReplaceAllStringFunc(a, func(m string) string {
				name := k8sVar.FindStringSubmatch(m)[1]
				if !defined[name] {
					bad = m
				}
				if name == "JOB_COMPLETION_INDEX" {
					return strconv.Itoa(i)
				}
				return m
			})
			if bad != "" {
				return fmt.Errorf("args: %s is not set in the pod (Kubernetes would pass it on as it stands)", bad)
			}
		}
		opt, err := parseFlags(args, io.Discard)
		if err != nil {
			return fmt.Errorf("index %d: paxsim %s: %v", i, strings.Join(args, " "), err)
		}
		if !opt.json {
			return fmt.Errorf("no -json: the logs would hold nothing to merge")
		}
		opts = append(opts, opt)
	}
	return checkTiling(opts)
}

// ---- Dockerfile ----

// dockerEntrypoint is the ENTRYPOINT (exec form) of the last stage.
func dockerEntrypoint(src string) (string, error) {
	var entry []string
	for _, l := range strings.Split(src, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "ENTRYPOINT "); ok {
			entry = nil
			if err := json.Unmarshal([]byte(rest), &entry); err != nil || len(entry) != 1 {
				return "", fmt.Errorf("Dockerfile ENTRYPOINT %s: want the exec form with the binary alone", rest)
			}
		}
	}
	if entry == nil {
		return "", fmt.Errorf("Dockerfile has no ENTRYPOINT")
	}
	return entry[0], nil
}

// checkDockerfile: the build stage uses go.mod's Go, builds paxsim without
// cgo (a static binary, which a scratch image needs), and the last stage
// starts what was built.
func checkDockerfile(src, gomod string) error {
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if m == nil {
		return fmt.Errorf("go.mod has no go directive")
	}
	if !strings.Contains(src, "FROM golang:"+m[1]+" ") {
		return fmt.Errorf("the build stage is not FROM golang:%s, the Go of go.mod", m[1])
	}
	build := regexp.MustCompile(`(?m)^RUN .*go build .*-o (\S+) \./cmd/paxsim\s*$`).FindStringSubmatch(src)
	if build == nil {
		return fmt.Errorf("no RUN ... go build ... -o FILE ./cmd/paxsim")
	}
	if !strings.Contains(build[0], "CGO_ENABLED=0") {
		return fmt.Errorf("the build does not set CGO_ENABLED=0: the binary would not be static")
	}
	entry, err := dockerEntrypoint(src)
	if err != nil {
		return err
	}
	copyLine := fmt.Sprintf("COPY --from=build %s %s", build[1], entry)
	if !strings.Contains(src, copyLine) || !regexp.MustCompile(`(?m)^FROM scratch\s*$`).MatchString(src) {
		return fmt.Errorf("want a last stage FROM scratch with %q", copyLine)
	}
	return nil
}
