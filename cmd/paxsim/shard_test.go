package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestShardFlag(t *testing.T) {
	tests := []struct {
		in      string
		i, n    int
		wantErr string
	}{
		{"0/1", 0, 1, ""},
		{"3/4", 3, 4, ""},
		{"0/1000000", 0, 1000000, ""},
		{"4/4", 0, 0, "index 4 out of range 0..3 (shards count from 0)"},
		{"-1/4", 0, 0, "index -1 out of range 0..3"},
		{"0/0", 0, 0, "count 0: want 1..1000000"},
		{"0/1000001", 0, 0, "count 1000001: want 1..1000000"},
		{"2", 0, 0, "want I/N, e.g. 0/4"},
		{"", 0, 0, "want I/N"},
		{"$JOB_COMPLETION_INDEX/8", 0, 0, `index "$JOB_COMPLETION_INDEX" is not a number (an unexpanded variable?)`},
		{"1/${SHARDS}", 0, 0, `count "${SHARDS}" is not a number`},
		{"1/2/3", 0, 0, `count "2/3" is not a number`},
	}
	for _, tt := range tests {
		var f shardFlag
		err := f.Set(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("-shard %q: %v", tt.in, err)
		case tt.wantErr == "" && (f.i != tt.i || f.n != tt.n || !f.set || f.String() != tt.in):
			t.Errorf("-shard %q: got %d/%d (%q)", tt.in, f.i, f.n, f.String())
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("-shard %q: error %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

// TestShardSlicesTile: for every sweep size and shard count (up to a
// bound), the slices are contiguous, in order, differ in size by at most
// one, and cover the sweep exactly; at the top of the seed space too.
func TestShardSlicesTile(t *testing.T) {
	for _, start := range []uint64{0, 1, 1000, math.MaxUint64 - 59} {
		for seeds := 1; seeds <= 60; seeds++ {
			for n := 1; n <= seeds; n++ {
				next, small, big := start, seeds, 0
				for i := 0; i < n; i++ {
					first, count := shardFlag{set: true, i: i, n: n}.slice(start, seeds)
					if first != next || count < 1 {
						t.Fatalf("start %d seeds %d shard %d/%d: %d seeds from %d, want from %d", start, seeds, i, n, count, first, next)
					}
					next += uint64(count)
					small, big = min(small, count), max(big, count)
				}
				if next-start != uint64(seeds) || big-small > 1 {
					t.Fatalf("start %d seeds %d in %d shards: cover %d seeds, sizes %d..%d", start, seeds, n, next-start, small, big)
				}
			}
		}
	}
}

func TestShardFlags(t *testing.T) {
	opt, err := parseFlags([]string{"-shard", "1/3", "-seeds", "62", "-start", "7"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if opt.start != 28 || opt.seeds != 21 || opt.sweepStart != 7 || opt.sweepSeeds != 62 {
		t.Fatalf("shard 1/3 of 7..68: seeds %d..%d of %d..%d, want 28..48 of 7..68",
			opt.start, opt.start+uint64(opt.seeds)-1, opt.sweepStart, opt.sweepStart+uint64(opt.sweepSeeds)-1)
	}
	// A replay line of a shard's failure needs no -shard: it names the seed.
	if got := replayCmd(opt, 30); strings.Contains(got, "shard") {
		t.Fatalf("replay line %q", got)
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"-shard", "0/9", "-seeds", "5"}, "9 shards for 5 seeds would leave some empty"},
		{[]string{"-shard", "0/2", "-seed", "5"}, "-shard slices a sweep: it does not go with -seed"},
		{[]string{"-shard", "0/2", "-scenario", "x.txt"}, "does not go with -scenario"},
		{[]string{"-start", "18446744073709551615", "-seeds", "2"}, "run past the last seed"},
		{[]string{"-merge", "-shard", "0/2"}, "-merge reads finished results: -shard does not apply"},
		{[]string{"-merge", "-replicas", "3"}, "-replicas does not apply"},
		{[]string{"-merge", "-out", "dir"}, "-out does not apply"},
	}
	for _, tt := range bad {
		var errb bytes.Buffer
		if code := run(tt.args, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("paxsim %v: exit %d, %q; want exit 2 mentioning %q", tt.args, code, errb.String(), tt.want)
		}
	}
}

// sweepLines runs a sweep in this process and returns its -json lines,
// in seed order (one worker).
func sweepLines(t *testing.T, args ...string) []string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"-json", "-parallel", "1"}, args...), &out, &errb); code != 0 {
		t.Fatalf("paxsim %v: exit %d: %s", args, code, errb.String())
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

// mergeText runs -merge over the given inputs (each written to a file)
// and returns its exit code, standard output and standard error.
func mergeText(t *testing.T, flags []string, inputs ...[]string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"-merge"}, flags...)
	for i, in := range inputs {
		name := filepath.Join(dir, "in"+string(rune('a'+i)))
		if err := os.WriteFile(name, []byte(strings.Join(in, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, name)
	}
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestMergeFindsWhatIsWrong: missing seeds, seeds of another sweep, two
// lines of one seed that disagree, and lines that are not seed lines.
func TestMergeFindsWhatIsWrong(t *testing.T) {
	lines := sweepLines(t, "-seeds", "6", "-start", "3")
	narrowed := sweepLines(t, "-seeds", "1", "-start", "3", "-replicas", "3")
	rangeFlags := []string{"-seeds", "6", "-start", "3"}

	code, out, _ := mergeText(t, rangeFlags, lines[:2], lines[2:])
	if code != 0 || !strings.Contains(out, "paxsim: 6 seeds (3..8), 0 failures") {
		t.Fatalf("a whole sweep in two parts: exit %d\n%s", code, out)
	}

	// The same lines twice (a retried shard), with a log's other lines.
	code, out, _ = mergeText(t, rangeFlags, lines, append([]string{"paxsim: 6 seeds", ""}, lines[:3]...))
	if code != 0 || !strings.Contains(out, "6 seeds (3..8)") || !strings.Contains(out, "3 duplicates counted once, 2 other lines skipped") {
		t.Fatalf("duplicates: exit %d\n%s", code, out)
	}

	code, out, _ = mergeText(t, rangeFlags, lines[:1], lines[3:5])
	if code != 1 || !strings.Contains(out, "INCOMPLETE: 3 of 6 seeds have no line: 4..5, 8") {
		t.Fatalf("missing seeds: exit %d\n%s", code, out)
	}

	var l map[string]any
	json.Unmarshal([]byte(lines[2]), &l)
	l["trace_hash"] = "0000000000000000"
	changed, _ := json.Marshal(l)
	code, out, _ = mergeText(t, rangeFlags, lines, []string{string(changed)})
	if code != 1 || !strings.Contains(out, "DISAGREE seed 5:") {
		t.Fatalf("a seed that ran differently: exit %d\n%s", code, out)
	}

	bad := []struct {
		name  string
		flags []string
		in    []string
		want  string
	}{
		{"another sweep", []string{"-seeds", "3", "-start", "3"}, lines, "seed 6 is outside the sweep 3..5: give -merge the -seeds and -start the shards were given"},
		{"cut short", rangeFlags, []string{lines[0][:20]}, "ina:1: not JSON"},
		{"older paxsim", rangeFlags, []string{`{"seed":3,"ok":true,"ops":1,"events":1,"trace_hash":"00","virtual_ms":1}`}, `no "virtual_ns" (written by an older paxsim?)`},
		{"not a seed line", rangeFlags, []string{`{"seed":"x"}`}, "not a paxsim -json seed line"},
		{"another swarm", rangeFlags, append(slices.Clone(lines[:2]), narrowed...), `ina:3: seed 3 was drawn with range flags "-replicas 3", the line at `},
	}
	for _, tt := range bad {
		code, _, errs := mergeText(t, tt.flags, tt.in)
		if code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("%s: exit %d, %q; want exit 2 mentioning %q", tt.name, code, errs, tt.want)
		}
	}
	var errb bytes.Buffer
	if code := run([]string{"-merge", filepath.Join(t.TempDir(), "none")}, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "no such file") {
		t.Errorf("a missing file: exit %d, %q", code, errb.String())
	}
}

// TestMergeReportsFailures: a failing seed's line is printed as a sweep
// prints it, with its replay line, and fails the merge.
func TestMergeReportsFailures(t *testing.T) {
	lines := sweepLines(t, "-seeds", "3", "-start", "40")
	var l seedLine
	json.Unmarshal([]byte(lines[1]), &l)
	l.OK, l.Kind, l.Detail, l.Replay = false, "agreement", "slot 3 chosen with two values\nmore", "go run ./cmd/paxsim -seed 41 -v"
	b, _ := json.Marshal(l)
	lines[1] = string(b)
	code, out, _ := mergeText(t, []string{"-seeds", "3", "-start", "40"}, lines)
	want := "FAIL seed 41: agreement: slot 3 chosen with two values\n    replay: go run ./cmd/paxsim -seed 41 -v\npaxsim: 3 seeds (40..42), 1 failures\n"
	if code != 1 || !strings.HasPrefix(out, want) {
		t.Fatalf("exit %d, output\n%s\nwant it to begin\n%s", code, out, want)
	}
}

// TestMergeStdin: without files, -merge reads standard input.
func TestMergeStdin(t *testing.T) {
	lines := sweepLines(t, "-seeds", "2", "-start", "9")
	opt, err := parseFlags([]string{"-merge", "-seeds", "2", "-start", "9"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	opt.stdin = strings.NewReader(strings.Join(lines, "\n"))
	var out bytes.Buffer
	if code := merge(opt, &out, io.Discard); code != 0 || !strings.Contains(out.String(), "2 seeds (9..10), 0 failures") {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
}

// TestTotalsOrderFree: shards' lines come in any order, and so do a
// sweep's from its workers; the totals, the worst figures' seeds included,
// must not show it.
func TestTotalsOrderFree(t *testing.T) {
	lines := []seedLine{
		{Seed: 5, OK: true, Ops: 3, Events: 10, VirtualNs: 7, RecoveryNs: 40, MaxWaitNs: 9},
		{Seed: 2, OK: false, Ops: 1, Events: 4, VirtualNs: 2, RecoveryNs: 40, MaxWaitNs: 9},
		{Seed: 9, OK: true, Ops: 2, Events: 6, VirtualNs: 1, RecoveryNs: -1, MaxWaitNs: 0},
		{Seed: 3, OK: true, Ops: 4, Events: 1, VirtualNs: 5, RecoveryNs: 12, MaxWaitNs: 9},
	}
	var first totals
	for k := range 24 { // every order of the four lines
		order, rest := []int{}, []int{0, 1, 2, 3}
		for f, n := k, 4; n > 0; n-- {
			order, rest = append(order, rest[f%n]), append(rest[:f%n:f%n], rest[f%n+1:]...)
			f /= n
		}
		var tot totals
		for _, i := range order {
			tot.add(&lines[i])
		}
		if k == 0 {
			first = tot
		} else if tot != first {
			t.Fatalf("order %v: %+v, order 0: %+v", order, tot, first)
		}
	}
	if first.maxRecoverySeed != 2 || first.maxWaitSeed != 2 || first.seeds != 4 || first.failures != 1 || first.ops != 10 {
		t.Fatalf("totals %+v: want the worst figures at seed 2 (the lowest of equals)", first)
	}
}
