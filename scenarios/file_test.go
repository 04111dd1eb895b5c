package scenarios

import (
	"os"
	"path/filepath"
	"paxlock/scenarios/check"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

const (
	catalogueDir = "../testdata/scenarios"
	badDir       = "../testdata/scenarios-bad"
	replayDir    = "../testdata/scenarios-replay"
)

// TestScenarioFiles runs every scenario file of the catalogue with
// datadriven; -rewrite regenerates their expected output:
//
//	go test ./scenarios -run 'TestScenarioFiles|TestReplayFiles' -rewrite
func TestScenarioFiles(t *testing.T) { runDir(t, catalogueDir) }

// TestReplayFiles runs the exported schedules under scenarios-replay: each
// is one replay command whose expected output is its verdict and trace
// hash, or one explore command whose expected output is its transcript
// (-rewrite regenerates them too).
func TestReplayFiles(t *testing.T) { runDir(t, replayDir) }

// runDir runs every file under dir with datadriven, a fresh script each.
func runDir(t *testing.T, dir string) {
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		s := newScript()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := s.exec(fromDatadriven(d))
			if err != nil {
				t.Fatalf("%s: %v", d.Pos, err)
			}
			return out
		})
	})
}

// TestCatalogue: the catalogue has at least 20 files, each opening with
// comments that say what it shows and ending with a check that passes.
func TestCatalogue(t *testing.T) {
	files := catalogue(t)
	if len(files) < 20 {
		t.Errorf("the catalogue has %d files, want at least 20", len(files))
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		if !strings.HasPrefix(src, "# ") {
			t.Errorf("%s: want it to open with # comments saying what it demonstrates", path)
		}
		if !strings.HasSuffix(strings.TrimSpace(src), "check\n----\nok") {
			t.Errorf("%s: want it to end with check and its expected ok", path)
		}
	}
}

func catalogue(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(catalogueDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestRunFileAgrees: RunFile, the reader paxsim uses outside go test, reads
// the catalogue as datadriven does: every file passes, and its transcript
// is the file itself (what -rewrite would write back).
func TestRunFileAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the catalogue a second time")
	}
	for _, path := range catalogue(t) {
		got, err := RunFile(path, false)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		want, _ := os.ReadFile(path)
		if got != string(want) {
			t.Errorf("%s: the transcript is not the file itself", path)
		}
	}
}

// TestBadFiles: every file under scenarios-bad fails with the error its
// first line announces (`# want: path:line: command: message`, the path
// relative to the repository root).
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(badDir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no bad files")
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		want, ok := strings.CutPrefix(first, "# want: ")
		if !ok {
			t.Errorf("%s: the first line must be # want: <the error>", path)
			continue
		}
		_, err = RunFile(path, false)
		if err == nil {
			t.Errorf("%s: ran without an error, want %s", path, want)
			continue
		}
		got := strings.ReplaceAll(err.Error(), "../testdata/", "testdata/")
		if got != want {
			t.Errorf("%s:\n got: %s\nwant: %s", path, got, want)
		}
	}
}

// TestMismatchIsAFailure: output other than the file's is an error with a
// diff naming the file, line and command.
func TestMismatchIsAFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.txt")
	src := "cluster replicas=1 clients=1\n----\nreplicas 1 (quorum 1), clients c1 at address 1000\n\n" +
		"lock c=1 k=a\n----\nt=9.999ms c1 lock(\"a\") -> granted #7\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := RunFile(path, false)
	if err == nil || !strings.Contains(err.Error(), path+":5: lock c=1 k=a: output differs") ||
		!strings.Contains(err.Error(), `-t=9.999ms c1 lock("a") -> granted #7`) {
		t.Fatalf("got %v, want a diff for line 5", err)
	}
	got, err := RunFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != got || strings.Contains(got, "#7") {
		t.Fatalf("rewrite wrote %q", b)
	}
	if _, err := RunFile(path, false); err != nil {
		t.Fatalf("after rewrite: %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"lock", "lock", 0}, {"lokc", "lock", 1}, {"lck", "lock", 1}, {"crsh", "crash", 1},
		{"stabilise", "stabilize", 1}, {"xyz", "lock", 4},
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// runScript runs src through a fresh script and returns its transcript.
func runScript(t *testing.T, s *script, src string) string {
	t.Helper()
	out, diffs, err := runTranscript("inline", src, s.exec)
	if err != nil {
		t.Fatal(err)
	}
	_ = diffs // the inline sources below carry no expected output
	return out
}

// TestCheckerFailureShown: a checker failure is printed, with its time,
// by the command running when it happens, once; check reports it; and
// later commands leave the stopped world alone.
func TestCheckerFailureShown(t *testing.T) {
	s := newScript()
	runScript(t, s, "cluster replicas=3 clients=1\n----\n\nrun for=10ms\n----\n")
	s.c.r.fail(check.FailAgreement, "slot 3 chosen with two values")
	out := runScript(t, s, "run for=10ms\n----\n\ncrash n=1\n----\n\nrun for=10ms\n----\n\ncheck\n----\n")
	want := "run for=10ms\n----\nt=10.000ms FAILED agreement: slot 3 chosen with two values\n\n" +
		"crash n=1\n----\n\nrun for=10ms\n----\n\ncheck\n----\nagreement: slot 3 chosen with two values\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if !s.c.World().Up(1) {
		t.Error("crash ran after the failure")
	}
}

// TestGuardTurnsPanicIntoFailure: a panic inside a command (an assertion in
// a replica) becomes a checker failure of kind panic, not a crashed run.
func TestGuardTurnsPanicIntoFailure(t *testing.T) {
	s := newScript()
	runScript(t, s, "cluster replicas=1 clients=1\n----\n")
	s.c.Guard(func() { panic("paxos: replica 1: promise 1.1 below promised 2.1") })
	if err := s.c.Err(); err == nil || !strings.HasPrefix(err.Error(), "panic: paxos: replica 1: promise") {
		t.Fatalf("Err() = %v, want the panic as a failure", err)
	}
}

// fromDatadriven is the library's view of a command as the package's own.
func fromDatadriven(d *datadriven.TestData) *command {
	c := &command{Pos: d.Pos, Cmd: d.Cmd, Input: d.Input, Expected: d.Expected}
	for _, a := range d.CmdArgs {
		c.Args = append(c.Args, cmdArg{Key: a.Key, Vals: a.Vals})
	}
	return c
}

// TestLineParserAgrees: the package's own line parser reads every command
// line of every scenario file, and a set of awkward lines, exactly as
// datadriven's does.
func TestLineParserAgrees(t *testing.T) {
	lines := []string{
		"", "   ", "cmd", "cmd a", "cmd a=", "cmd a= b=2", "cmd a=1 b=(x, y,  z) c",
		"cmd k=((1,2), (3)) t=(a,b)c", "cmd k=(unclosed", "cmd =x", "cmd k=(a) b=(c,d)",
		"partition {1,2,c1} {3,4,5}", "cmd k=(é, ü) x=ß",
	}
	for _, dir := range []string{catalogueDir, badDir, replayDir} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, strings.Split(string(b), "\n")...)
		}
	}
	for _, line := range lines {
		wantCmd, wantArgs, wantErr := datadriven.ParseLine(line)
		cmd, args, err := parseLine(line)
		if cmd != wantCmd || (err == nil) != (wantErr == nil) || len(args) != len(wantArgs) {
			t.Fatalf("%q: got %q %v %v, datadriven %q %v %v", line, cmd, args, err, wantCmd, wantArgs, wantErr)
		}
		if err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("%q: error %q, datadriven %q", line, err, wantErr)
		}
		for i := range args {
			if args[i].Key != wantArgs[i].Key || !slices.Equal(args[i].Vals, wantArgs[i].Vals) {
				t.Fatalf("%q: argument %d is %v, datadriven %v", line, i, args[i], wantArgs[i])
			}
		}
	}
}
