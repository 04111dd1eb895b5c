package scenarios

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"paxlock/lockmgr"
	"paxlock/sim"
)

// TestExportParseRoundTrip: every generated scenario (every knob, fault
// kind and script shape) survives ExportScenario and ParseScenario
// exactly.
func TestExportParseRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		scn := Generate(seed, DefaultRanges())
		text := ExportScenario(&scn, nil)
		got, err := ParseScenario(text)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, text)
		}
		if !reflect.DeepEqual(*got, scn) {
			t.Fatalf("seed %d: parsed back\n%+v\nwant\n%+v\nfrom\n%s", seed, *got, scn, text)
		}
	}
}

// failingSchedule is a schedule whose run must fail: every replica is cut
// off from every other for the whole safety phase, so no operation
// completes, and the liveness phase is far too short for an election.
func failingSchedule() Scenario {
	cfg := fileSimConfig()
	return Scenario{
		Seed: 424242, Replicas: 3, Sim: cfg, TickNs: 1_000_000,
		Clients: []ClientScript{
			{Ops: []OpSpec{{lockmgr.OpLock, "a"}, {lockmgr.OpUnlock, "a"}}},
			{Ops: []OpSpec{{lockmgr.OpTryLock, "a b"}, {lockmgr.OpUnlock, `q"x`}}},
		},
		Faults: []Fault{
			{AtNs: 0, Kind: FaultPartition, Groups: [][]sim.Addr{{1}, {2}, {3}}},
			{AtNs: 120_000_001, Kind: FaultCrash, Node: 2},
			{AtNs: 250_000_000, Kind: FaultRestart, Node: 2},
		},
		SafetyNs: 300_000_000, LivenessNs: 2_000_000,
	}
}

// TestExportReproducesFailure: a failing schedule exported as a scenario
// file, run on its own, gives the same failure and the same trace hash;
// so does a failing generated seed (faults of every kind). A changed
// schedule does not pass as the same run.
func TestExportReproducesFailure(t *testing.T) {
	scns := []Scenario{failingSchedule()}
	r := DefaultRanges()
	r.LivenessNs = 1_000_000 // too short for anything outstanding at the heal
	for seed := uint64(1); len(scns) < 2 && seed < 50; seed++ {
		if scn := Generate(seed, r); len(scn.Faults) > 3 && !Run(scn, Options{}).OK {
			scns = append(scns, scn)
		}
	}
	if len(scns) < 2 {
		t.Fatal("no failing generated seed among 1..49")
	}
	for _, scn := range scns {
		res := Run(scn, Options{})
		if res.OK || res.Kind != FailLiveness {
			t.Fatalf("seed %d: %s, want a liveness failure", scn.Seed, res.Summary())
		}
		text := ExportScenario(&scn, &res)
		path := filepath.Join(t.TempDir(), "scenario.txt")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := RunFile(path, false)
		if err != nil {
			t.Fatalf("seed %d: the exported file does not reproduce the run: %v", scn.Seed, err)
		}
		if !strings.Contains(out, "\nliveness: ") || !strings.Contains(out, res.Summary()[:20]) {
			t.Fatalf("seed %d: transcript lacks the failure:\n%s", scn.Seed, out)
		}
		parsed, err := ParseScenario(text)
		if err != nil {
			t.Fatal(err)
		}
		again := Run(*parsed, Options{})
		if again.Kind != res.Kind || again.TraceHash != res.TraceHash || again.Detail != res.Detail {
			t.Fatalf("seed %d: rerun from the file gave %s (%016x), want %s (%016x)",
				scn.Seed, again.Summary(), again.TraceHash, res.Summary(), res.TraceHash)
		}
	}
	// One fault a microsecond later is another run: the file says so.
	scn := scns[0]
	res := Run(scn, Options{})
	text := strings.Replace(ExportScenario(&scn, &res), "crash at=120.000001ms", "crash at=120.000002ms", 1)
	path := filepath.Join(t.TempDir(), "changed.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RunFile(path, false); err == nil || !strings.Contains(err.Error(), "trace_hash") {
		t.Fatalf("a changed schedule passed as the same run: %v", err)
	}
}

// TestWriteArtifactsScenarioFile: a failure's artifacts include
// scenario.txt, which reproduces it.
func TestWriteArtifactsScenarioFile(t *testing.T) {
	scn := failingSchedule()
	res := Run(scn, Options{KeepTrace: true})
	dir := t.TempDir()
	if err := WriteArtifacts(dir, &scn, &res); err != nil {
		t.Fatal(err)
	}
	if _, err := RunFile(filepath.Join(dir, "scenario.txt"), false); err != nil {
		t.Fatalf("scenario.txt does not reproduce the failure: %v", err)
	}
}

// TestParseScenarioErrors: a bad schedule names the line and what was
// expected.
func TestParseScenarioErrors(t *testing.T) {
	head := "replay seed=1 replicas=3 tick=1ms safety=1s liveness=1s\n"
	cases := []struct{ in, want string }{
		{head + "crash at=1ms n=4\n----\n", "input line 1: crash: unknown replica 4 (cluster has 1..3)"},
		{head + "cut at=1ms from=1\n----\n", "input line 1: cut: missing argument to="},
		{head + "client c2 lock(\"a\")\n----\n", "input line 1: client: c2 out of order: want c1"},
		{head + "client c1 lock(\"a\"\n----\n", `client: c1: lock("a": want )`},
		{head + "net drop=2\n----\n", "input line 1: net: drop=2: want a probability in [0,1]"},
		{head + "clog at=1ms from=1 to=2\n----\n", "clog: missing argument until="},
		{"replay replicas=3 tick=1ms safety=1s liveness=1s\n----\n", "replay: missing argument seed="},
		{"cluster replicas=3\n----\n", "no replay command"},
	}
	for _, c := range cases {
		_, err := ParseScenario(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseScenario(%q) = %v, want an error with %q", c.in, err, c.want)
		}
	}
}
