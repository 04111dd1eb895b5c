package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFastSubset is CI's share of the mutation suite: three mutants (one in
// the durability path, one in the state machine, one in the grant order)
// must each be caught by both the seed sweep and the rapid property, with
// small budgets and a fixed rapid seed, so CI is deterministic. The full
// run is `go run ./cmd/mutate`.
func TestFastSubset(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles three copies of the module; skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	for _, name := range []string{"promise-not-persisted", "grant-held-lock", "waiter-out-of-order"} {
		var out, errb bytes.Buffer
		code := run([]string{"-only", name, "-seeds", "50", "-checks", "2000", "-rapid-seed", "1"}, &out, &errb)
		if code != 0 || !strings.Contains(out.String(), "caught") {
			t.Errorf("%s: exit %d\n%s%s", name, code, out.String(), errb.String())
		}
	}
}

func TestParseMutant(t *testing.T) {
	good := "# An example.\nfile a.go\n@@@\nx := 1\n@@@\nx := 2\n@@@\n"
	m, err := parseMutant("ex", good)
	if err != nil || m.about != "An example." || len(m.edits) != 1 || m.edits[0].find != "x := 1" || m.edits[0].replace != "x := 2" {
		t.Fatalf("parse: %+v, %v", m, err)
	}
	for _, bad := range []string{"# nothing\n", "file a.go\nx\n", "file a.go\n@@@\nx\n@@@\ny\n", "frobnicate\n"} {
		if _, err := parseMutant("bad", bad); err == nil {
			t.Errorf("parsed %q without error", bad)
		}
	}
	// Every mutant in the suite parses, and still applies to the tree.
	muts, err := loadMutants("../../testdata/mutants", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range muts {
		for _, e := range m.edits {
			b, err := os.ReadFile(filepath.Join("../..", e.file))
			if err != nil || strings.Count(string(b), e.find) != 1 {
				t.Errorf("%s: edit of %s no longer applies exactly once", m.name, e.file)
			}
		}
	}
}
