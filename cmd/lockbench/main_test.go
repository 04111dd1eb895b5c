package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-clients", "0"}, {"-start", "12"}, {"-duration", "0s"}, {"-locks", "-1"}, {"stray"}, {"-nosuch"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("lockbench %v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-config", "/nonexistent/config.json", "-duration", "1s"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "nonexistent") {
		t.Errorf("missing config: exit %d, %q", code, errb.String())
	}
}

// TestShortRun drives an in-process group briefly: the summary line has
// every field and some pairs completed without errors.
func TestShortRun(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-start", "3", "-clients", "4", "-locks", "2", "-duration", "700ms", "-warmup", "200ms", "-q"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	line := strings.TrimSpace(out.String())
	re := regexp.MustCompile(`^lockbench: replicas=3 clients=4 locks=2 duration=\S+ pairs=(\d+) pairs/s=[\d.]+ p50=[\d.]+ms p99=[\d.]+ms p999=[\d.]+ms errors=0$`)
	if m := re.FindStringSubmatch(line); m == nil || m[1] == "0" {
		t.Fatalf("summary %q", line)
	}
}

// TestMemAndCSV: -mem samples memory and reports it, -csv prints the row
// benchplot reads; the summary stays the last line.
func TestMemAndCSV(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-start", "3", "-clients", "2", "-duration", "600ms", "-warmup", "100ms", "-q", "-mem", "200ms", "-csv"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want memory, csv and summary lines, got %q", lines)
	}
	if !regexp.MustCompile(`^lockbench: memory over \S+ \((\d+) samples\): live heap [\d.]+ -> [\d.]+ MiB \(peak [\d.]+\), rss [\d.]+ -> [\d.]+ MiB \(peak [\d.]+\)$`).MatchString(lines[0]) {
		t.Errorf("memory line %q", lines[0])
	}
	if !regexp.MustCompile(`^3,2,\d+,[\d.]+,[\d.]+$`).MatchString(lines[1]) {
		t.Errorf("csv row %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "lockbench: replicas=3 clients=2 ") {
		t.Errorf("summary %q", lines[2])
	}
}
