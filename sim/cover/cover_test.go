package cover

import (
	"strings"
	"testing"
)

func TestRegistryRefusesBadNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lists [][]Mark
		want  string
	}{
		{"duplicate", [][]Mark{{{Name: "a"}}, {{Name: "a"}}}, `mark "a" registered twice`},
		{"empty", [][]Mark{{{Name: ""}}}, `mark ""`},
		{"space", [][]Mark{{{Name: "a b"}}}, `mark "a b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRegistry(tc.lists...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestMapRoundTripAndUnknownName(t *testing.T) {
	r, err := NewRegistry([]Mark{{Name: "a"}, {Name: "b"}}, []Mark{{Name: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	c := Counts{3, 0, 1}
	m := r.Map(c)
	if len(m) != 2 || m["a"] != 3 || m["c"] != 1 {
		t.Fatalf("Map = %v, want only the marks hit", m)
	}
	back, err := r.FromMap(m)
	if err != nil || back[0] != 3 || back[1] != 0 || back[2] != 1 {
		t.Fatalf("FromMap = %v, %v", back, err)
	}
	if _, err := r.FromMap(map[string]uint64{"zz": 1}); err == nil || !strings.Contains(err.Error(), `unknown mark "zz"`) {
		t.Errorf("FromMap of an unknown name: %v", err)
	}
}

// TestTableListsUnhitFirst: marks never hit come first, in registry
// order, then the others from the fewest runs to the most.
func TestTableListsUnhitFirst(t *testing.T) {
	r, err := NewRegistry([]Mark{{Name: "often", Doc: "d1"}, {Name: "never1"}, {Name: "rare"}, {Name: "never2"}})
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewSweep()
	s.Add(Counts{5, 0, 1, 0})
	s.Add(Counts{2, 0, 0, 0})
	o := r.NewSweep()
	o.Add(Counts{1, 0, 0, 0})
	s.Merge(o)
	var b strings.Builder
	if err := r.WriteTable(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, "coverage: 2 of 4 marks hit over 3 runs (2 NEVER HIT, listed first)\n") {
		t.Errorf("header:\n%s", out)
	}
	var order []string
	for _, l := range strings.Split(out, "\n")[2:] {
		if f := strings.Fields(l); len(f) > 0 {
			order = append(order, f[0]+"/"+f[1]+"/"+f[2])
		}
	}
	want := []string{"never1/0/NEVER", "never2/0/NEVER", "rare/1/1", "often/8/3"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("rows %v, want %v", order, want)
	}
	if got := r.Unhit(s); strings.Join(got, ",") != "never1,never2" {
		t.Errorf("Unhit = %v", got)
	}
}
