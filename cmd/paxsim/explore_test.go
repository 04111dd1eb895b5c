package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestExploreBadInput(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-explore", "-replicas", "7"}, "replicas=7"},
		{[]string{"-explore", "-clients", "lock"}, "needs a lock name"},
		{[]string{"-explore", "-clients", "fly:a"}, "unknown operation"},
		{[]string{"-explore", "-clients", "lock:a,lock:a,lock:a,lock:a"}, "4 operations"},
		{[]string{"-explore", "-depth", "0"}, "depth=0"},
		{[]string{"-explore", "-drops", "-1"}, "must be >= 0"},
		{[]string{"-explore", "-tick", "0s"}, "tick=0ns"},
		{[]string{"-explore", "stray"}, `unexpected argument "stray"`},
		{[]string{"-explore", "-seeds", "3"}, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("paxsim %v: exit %d, stderr %q; want 2 and %q", tt.args, code, errb.String(), tt.want)
		}
	}
}

// TestExploreJSON exhausts a tiny configuration through the command line.
func TestExploreJSON(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-explore", "-json", "-quiet", "-replicas", "1", "-clients", "trylock:a", "-timers", "1", "-depth", "20"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep struct {
		Unique    int64  `json:"unique"`
		Exhausted bool   `json:"exhausted"`
		Bounds    string `json:"bounds"`
		Goals     int64  `json:"goals"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if !rep.Exhausted || rep.Unique < 5 || rep.Goals == 0 || !strings.Contains(rep.Bounds, "timers<=1") {
		t.Fatalf("report %+v: want an exhausted search that reached its goal, with its bounds", rep)
	}
	if !strings.Contains(errb.String(), "bounds depth<=20") {
		t.Fatalf("stderr does not state the bounds: %q", errb.String())
	}
}
