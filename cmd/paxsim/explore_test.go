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
		{[]string{"-explore", "-order", "sideways"}, `order "sideways": want bfs or dfs`},
	} {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("paxsim %v: exit %d, stderr %q; want 2 and %q", tt.args, code, errb.String(), tt.want)
		}
	}
}

// TestExploreJSON exhausts a tiny configuration through the command line,
// depth-first (the default) and breadth-first: the same states.
func TestExploreJSON(t *testing.T) {
	var unique [2]int64
	for i, order := range []string{"dfs", "bfs"} {
		var out, errb bytes.Buffer
		args := []string{"-explore", "-json", "-quiet", "-replicas", "1", "-clients", "trylock:a", "-timers", "1", "-depth", "20"}
		if order == "bfs" {
			args = append(args, "-order", "bfs")
		}
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var rep struct {
			Unique    int64   `json:"unique"`
			Exhausted bool    `json:"exhausted"`
			Bounds    string  `json:"bounds"`
			Order     string  `json:"order"`
			Goals     int64   `json:"goals"`
			Kept      float64 `json:"kept_bytes_per_state"`
			Peak      float64 `json:"bytes_per_state"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if !rep.Exhausted || rep.Unique < 5 || rep.Goals == 0 || !strings.Contains(rep.Bounds, "timers<=1") || rep.Order != order ||
			rep.Kept <= 0 || rep.Peak <= 0 {
			t.Fatalf("report %+v: want an exhausted %s search that reached its goal, with its bounds", rep, order)
		}
		if !strings.Contains(errb.String(), "bounds depth<=20") || !strings.Contains(errb.String(), "order "+order) {
			t.Fatalf("stderr does not state the bounds and the order: %q", errb.String())
		}
		unique[i] = rep.Unique
	}
	if unique[0] != unique[1] {
		t.Fatalf("depth-first found %d states, breadth-first %d", unique[0], unique[1])
	}
}
