package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// paxsimBinary builds paxsim once for the tests that run it as a process,
// without cgo as the Dockerfile builds it (not with its -trimpath, which
// would compile every package anew instead of reusing go test's builds).
func paxsimBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "paxsim-bin-*")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "paxsim")
		cmd := exec.Command("go", "build", "-o", buildBin, "paxlock/cmd/paxsim")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build paxlock/cmd/paxsim: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// TestShardsAsProcesses is the local proof of -shard and -merge: a sweep
// run as 3 shards, each its own process, gives exactly the seeds of the
// sweep run once (each seed once, with the same trace hash and figures),
// and -merge of the shards prints what the single run printed.
func TestShardsAsProcesses(t *testing.T) {
	bin := paxsimBinary(t)
	dir := t.TempDir()
	sweep := []string{"-seeds", "62", "-start", "7"} // 21 + 21 + 20 seeds
	const shards = 3

	oneOut, oneErr := runProcess(t, bin, nil, append([]string{"-json", "-coverage", "-parallel", "2"}, sweep...)...)
	one := filepath.Join(dir, "one.jsonl")
	if err := os.WriteFile(one, oneOut, 0o644); err != nil {
		t.Fatal(err)
	}

	// The shards run at once, as separate machines would.
	files := make([]string, shards)
	var wg sync.WaitGroup
	errs := make([]error, shards)
	for i := range shards {
		files[i] = filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Create(files[i])
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			cmd := exec.Command(bin, append([]string{"-shard", fmt.Sprintf("%d/%d", i, shards), "-json", "-coverage", "-parallel", "1"}, sweep...)...)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = f, &stderr
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("shard %d: %v\n%s", i, err, stderr.String())
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// Each shard is one contiguous block; together they are the sweep,
	// each seed once, and every seed ran as it did in the single run.
	want := seedsOf(t, oneOut)
	got := map[uint64]seedLine{}
	var blocks [][2]uint64
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := seedsOf(t, b)
		keys := sortedSeeds(lines)
		if len(keys) == 0 || keys[len(keys)-1]-keys[0] != uint64(len(keys)-1) {
			t.Fatalf("%s: seeds %v are not one block", name, keys)
		}
		blocks = append(blocks, [2]uint64{keys[0], keys[len(keys)-1]})
		for s, l := range lines {
			if _, dup := got[s]; dup {
				t.Fatalf("seed %d ran in two shards", s)
			}
			got[s] = l
		}
	}
	if fmt.Sprint(blocks) != "[[7 27] [28 48] [49 68]]" {
		t.Fatalf("shards swept %v, want [[7 27] [28 48] [49 68]]", blocks)
	}
	if len(got) != len(want) || len(want) != 62 {
		t.Fatalf("shards ran %d seeds, the single run %d, want 62", len(got), len(want))
	}
	for s, w := range want {
		if g, ok := got[s]; !ok || deterministicSum(g) != deterministicSum(w) {
			t.Fatalf("seed %d:\n shards %+v\n single %+v", s, g, w)
		}
	}

	// -merge of the shards prints what the single run printed, and its
	// JSON summary is the single run's merged.
	shardJSON, shardText := runProcess(t, bin, nil, append(append([]string{"-merge", "-json"}, sweep...), files...)...)
	oneJSON, _ := runProcess(t, bin, nil, append(append([]string{"-merge", "-json"}, sweep...), one)...)
	if a, b := summaryJSON(t, shardJSON), summaryJSON(t, oneJSON); a != b {
		t.Fatalf("merged summaries differ:\n shards %s\n single %s", a, b)
	}
	if !strings.Contains(string(shardJSON), `"complete":true`) || !strings.Contains(string(shardJSON), `"ran":62`) ||
		!strings.Contains(string(shardJSON), `"coverage":{"`) {
		t.Fatalf("merged summary %s", shardJSON)
	}
	if a, b := countsBlock(string(shardText)), countsBlock(string(oneErr)); a == "" || a != b {
		t.Fatalf("merged summary text\n%s\nthe single run's\n%s", a, b)
	}
	// The coverage table too: the shards' merged is the single run's.
	if a, b := coverageBlock(string(shardText)), coverageBlock(string(oneErr)); a == "" || a != b {
		t.Fatalf("merged coverage\n%s\nthe single run's\n%s", a, b)
	}
}

// runProcess runs bin with args and stdin, and returns its standard output
// and error; it fails the test unless bin exits 0.
func runProcess(t *testing.T, bin string, stdin []byte, args ...string) ([]byte, []byte) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("paxsim %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes(), errb.Bytes()
}

// seedsOf parses -json lines by seed, without their wall times (which
// differ from run to run by nature).
func seedsOf(t *testing.T, b []byte) map[uint64]seedLine {
	t.Helper()
	out := map[uint64]seedLine{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var s seedLine
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if _, dup := out[s.Seed]; dup {
			t.Fatalf("seed %d twice", s.Seed)
		}
		s.WallMs, s.WallUs = 0, 0
		out[s.Seed] = s
	}
	return out
}

func sortedSeeds(m map[uint64]seedLine) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// summaryJSON is a -merge -json summary without the summed wall time.
func summaryJSON(t *testing.T, b []byte) string {
	t.Helper()
	var s mergedSummary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	s.SeedWallUs = 0
	out, _ := json.Marshal(s)
	return string(out)
}

// coverageBlock is the coverage table of a printed summary.
func coverageBlock(text string) string {
	if i := strings.Index(text, "coverage: "); i >= 0 {
		return text[i:]
	}
	return ""
}

// countsBlock is the part of a printed summary that depends on the seeds
// alone: from the "paxsim:" line through "max wait".
func countsBlock(text string) string {
	i := strings.Index(text, "paxsim: ")
	j := strings.Index(text, "  max wait")
	if i < 0 || j < i {
		return ""
	}
	end := strings.IndexByte(text[j:], '\n')
	if end < 0 {
		return ""
	}
	return text[i : j+end+1]
}
