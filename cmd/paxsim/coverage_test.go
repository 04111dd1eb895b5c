package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"paxlock/scenarios"
)

// TestDefaultSweepHitsEveryMark: the default sweep of 2,000 seeds reaches
// every coverage mark, so a change that makes the swarm stop reaching a
// situation (a leader crashing in phase 1, a snapshot cut off in flight)
// fails here instead of leaving every later sweep clean and meaningless.
// It also checks that the per-seed JSON maps sum to what the table says.
// About 12 s on 2 cores before issue 18's speedups; CI runs it.
func TestDefaultSweepHitsEveryMark(t *testing.T) {
	const seeds = 2000
	var out, errb bytes.Buffer
	if code := run([]string{"-seeds", fmt.Sprint(seeds), "-coverage", "-json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
	reg := scenarios.Coverage()
	sum := map[string]uint64{}
	lines := 0
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l seedLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		lines++
		for k, n := range l.Coverage {
			sum[k] += n
		}
	}
	if lines != seeds {
		t.Fatalf("%d JSON lines, want %d", lines, seeds)
	}
	counts, err := reg.FromMap(sum)
	if err != nil {
		t.Fatal(err)
	}
	var unhit []string
	for i, m := range reg.Marks() {
		if counts[i] == 0 {
			unhit = append(unhit, m.Name)
		}
	}
	if len(unhit) > 0 {
		t.Errorf("the default sweep of %d seeds never hit %d marks: %s\n%s", seeds, len(unhit), strings.Join(unhit, ", "), errb.String())
	}
	want := fmt.Sprintf("coverage: %d of %d marks hit over %d runs\n", reg.Len(), reg.Len(), seeds)
	if !strings.Contains(errb.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, errb.String())
	}
	// The table's totals are the JSON maps' sums.
	for i, m := range reg.Marks() {
		row := fmt.Sprintf("  %s ", m.Name)
		at := strings.Index(errb.String(), row)
		if at < 0 {
			t.Errorf("no row for %s", m.Name)
			continue
		}
		fields := strings.Fields(errb.String()[at:])
		if fields[1] != fmt.Sprint(counts[i]) {
			t.Errorf("%s: table says %s hits, JSON lines sum to %d", m.Name, fields[1], counts[i])
		}
	}
}

// TestCoverageOffByDefault: without -coverage, no seed line carries a
// coverage field and the summary has no table.
func TestCoverageOffByDefault(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-seeds", "3", "-json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
	if strings.Contains(out.String(), `"coverage"`) || strings.Contains(errb.String(), "coverage:") {
		t.Errorf("coverage reported without -coverage:\n%s\n%s", out.String(), errb.String())
	}
}
