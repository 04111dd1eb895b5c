package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadInput(t *testing.T) {
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-nosuchflag"}, "flag provided but not defined"},
		{[]string{"-seeds", "0"}, "-seeds 0"},
		{[]string{"-replicas", "3,x"}, `"x" is not a cluster size`},
		{[]string{"-replicas", "11"}, "not a cluster size"},
		{[]string{"-drop-max", "1.5"}, "DropMax = 1.5"},
		{[]string{"-clients-min", "5", "-clients-max", "2"}, "Clients 5..2"},
		{[]string{"-out", filepath.Join(file, "sub")}, "-out"},
		{[]string{"stray"}, `unexpected argument "stray"`},
	}
	if os.Geteuid() != 0 { // root can write anywhere
		tests = append(tests, struct {
			args []string
			want string
		}{[]string{"-out", ro}, "not writable"})
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("paxsim %v: exit %d, stderr %q; want exit 2 mentioning %q", tt.args, code, errb.String(), tt.want)
		}
	}
}

func TestSweepJSONAndReplay(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-seeds", "4", "-start", "10", "-json", "-parallel", "2"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d JSON lines, want 4:\n%s", len(lines), out.String())
	}
	hashes := map[uint64]string{}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("bad JSON %q: %v", l, err)
		}
		for _, k := range []string{"seed", "ok", "ops", "events", "virtual_ms", "trace_hash"} {
			if _, ok := v[k]; !ok {
				t.Fatalf("line %q lacks %q", l, k)
			}
		}
		hashes[uint64(v["seed"].(float64))] = v["trace_hash"].(string)
	}
	if !strings.Contains(errb.String(), "paxsim: 4 seeds (10..13), 0 failures") {
		t.Fatalf("summary missing: %s", errb.String())
	}
	// Replaying a seed gives the same trace hash as the sweep did.
	out.Reset()
	if code := run([]string{"-seed", "12", "-json"}, &out, &errb); code != 0 {
		t.Fatalf("replay exit %d", code)
	}
	var v map[string]any
	json.Unmarshal(out.Bytes(), &v)
	if v["trace_hash"] != hashes[12] {
		t.Fatalf("replay trace hash %v, sweep %v", v["trace_hash"], hashes[12])
	}
}

// TestReplayLineCarriesRanges: a failure found under narrowed ranges must
// print a replay line that regenerates the same scenario.
func TestReplayLineCarriesRanges(t *testing.T) {
	var errb bytes.Buffer
	opt, err := parseFlags([]string{"-replicas", "5", "-drop-max", "0.3", "-seeds", "7"}, &errb)
	if err != nil {
		t.Fatal(err)
	}
	got := replayCmd(opt, 42)
	if got != "go run ./cmd/paxsim -seed 42 -v -drop-max 0.3 -replicas 5" {
		t.Fatalf("replay line %q", got)
	}
	if _, err := parseFlags([]string{"-seed", "18446744073709551615"}, &errb); err != nil {
		t.Fatalf("largest uint64 seed refused: %v", err)
	}
	if _, err := parseFlags([]string{"-seed", "-1"}, &errb); err == nil {
		t.Fatal("negative seed accepted")
	}
}
