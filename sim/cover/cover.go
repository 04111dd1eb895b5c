// Package cover counts coverage marks: named situations a run reached
// (a leader crashed during phase 1, a fenced write was refused, ...). A
// clean sweep proves something only about the situations it reached; the
// marks say which those were.
//
// It is a registry and a counter, nothing more: it does not know what a
// mark means, and it holds no global state. The code that reaches a
// situation reports it through a hook its host sets (nil, the default,
// counts nothing); each run counts into Counts of its own, so runs on
// different goroutines never share a counter. Counts are indexed like the
// Registry they belong to, and every output is in registry order or
// sorted, never in map order.
package cover

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Mark names one situation and says what it is, in a line.
type Mark struct {
	Name string
	Doc  string
}

// Registry is a fixed, ordered list of marks with unique names.
type Registry struct {
	marks []Mark
	index map[string]int
}

// NewRegistry joins lists of marks, in order; a duplicate or empty name
// is an error.
func NewRegistry(lists ...[]Mark) (*Registry, error) {
	r := &Registry{index: map[string]int{}}
	for _, l := range lists {
		for _, m := range l {
			if m.Name == "" || strings.ContainsAny(m.Name, " \t\n") {
				return nil, fmt.Errorf("cover: mark %q: want a non-empty name without spaces", m.Name)
			}
			if _, dup := r.index[m.Name]; dup {
				return nil, fmt.Errorf("cover: mark %q registered twice", m.Name)
			}
			r.index[m.Name] = len(r.marks)
			r.marks = append(r.marks, m)
		}
	}
	return r, nil
}

// Len is the number of marks.
func (r *Registry) Len() int { return len(r.marks) }

// Marks returns the marks, in registry order.
func (r *Registry) Marks() []Mark { return slices.Clone(r.marks) }

// Index returns the position of the mark called name.
func (r *Registry) Index(name string) (int, bool) {
	i, ok := r.index[name]
	return i, ok
}

// New returns zero counts for this registry.
func (r *Registry) New() Counts { return make(Counts, len(r.marks)) }

// Counts holds hits per mark, indexed like its registry.
type Counts []uint64

// Add adds o (of the same registry) into c.
func (c Counts) Add(o Counts) {
	for i, n := range o {
		c[i] += n
	}
}

// Map returns the marks hit (count > 0) by name, for JSON: a consumer
// sums maps, and a mark absent from every map was never hit.
func (r *Registry) Map(c Counts) map[string]uint64 {
	m := map[string]uint64{}
	for i, n := range c {
		if n > 0 {
			m[r.marks[i].Name] = n
		}
	}
	return m
}

// FromMap is the inverse of Map. An unknown name is an error (a JSON line
// written by another version of the registry), never silently dropped.
func (r *Registry) FromMap(m map[string]uint64) (Counts, error) {
	c := r.New()
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		i, ok := r.index[name]
		if !ok {
			return nil, fmt.Errorf("cover: unknown mark %q", name)
		}
		c[i] = m[name]
	}
	return c, nil
}

// Sweep sums the counts of many runs, and how many runs hit each mark.
type Sweep struct {
	Runs int
	Hits Counts // total hits per mark
	Seen Counts // runs that hit the mark at least once
}

// NewSweep returns an empty sweep over r's marks.
func (r *Registry) NewSweep() *Sweep { return &Sweep{Hits: r.New(), Seen: r.New()} }

// Add counts one run.
func (s *Sweep) Add(c Counts) {
	s.Runs++
	for i, n := range c {
		if n > 0 {
			s.Hits[i] += n
			s.Seen[i]++
		}
	}
}

// Merge adds another sweep over the same registry (a shard of the same
// seed range, say).
func (s *Sweep) Merge(o *Sweep) {
	s.Runs += o.Runs
	s.Hits.Add(o.Hits)
	s.Seen.Add(o.Seen)
}

// Unhit returns the names of the marks no run hit, in registry order.
func (r *Registry) Unhit(s *Sweep) []string {
	var out []string
	for i, n := range s.Hits {
		if n == 0 {
			out = append(out, r.marks[i].Name)
		}
	}
	return out
}

// WriteTable prints the sweep as a table: the marks never hit first (in
// registry order), then the rest from the fewest runs that hit them to
// the most, so what the sweep barely reached is read before what it
// reached everywhere.
func (r *Registry) WriteTable(w io.Writer, s *Sweep) error {
	order := make([]int, len(r.marks))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := boolCmp(s.Hits[a] > 0, s.Hits[b] > 0); c != 0 {
			return c
		}
		return cmp.Compare(s.Seen[a], s.Seen[b])
	})
	width := len("mark")
	for _, m := range r.marks {
		width = max(width, len(m.Name))
	}
	var b strings.Builder
	unhit := len(r.Unhit(s))
	fmt.Fprintf(&b, "coverage: %d of %d marks hit over %d runs", len(r.marks)-unhit, len(r.marks), s.Runs)
	if unhit > 0 {
		fmt.Fprintf(&b, " (%d NEVER HIT, listed first)", unhit)
	}
	fmt.Fprintf(&b, "\n  %-*s %10s %7s  %s\n", width, "mark", "hits", "runs", "situation")
	for _, i := range order {
		runs := fmt.Sprint(s.Seen[i])
		if s.Hits[i] == 0 {
			runs = "NEVER"
		}
		fmt.Fprintf(&b, "  %-*s %10d %7s  %s\n", width, r.marks[i].Name, s.Hits[i], runs, r.marks[i].Doc)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// boolCmp orders false before true.
func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
