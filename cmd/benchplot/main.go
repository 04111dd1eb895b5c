// Command benchplot turns a CSV of load-test results into a self-contained
// SVG chart: throughput (pairs/s) and p50 latency (ms) against clients on a
// log2 axis, one line per replica count.
//
//	go run ./cmd/benchplot -in testdata/bench/scaling.csv -out testdata/bench/scaling.svg \
//	    -ref 2300 -ref-label "etcd 3.5, 64 clients" \
//	    -target 25000 -target-label "target, 64 clients"
//
// The CSV needs a header row naming at least replicas, clients, pairs_per_s
// and p50_ms, in any order; p99_ms is checked if present and other columns
// are ignored. p50_ms and p99_ms cells may be empty. Lines starting with #
// are comments. Exit status is 2 for usage errors and 1 for bad input.
package main

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

type row struct {
	replicas, clients int
	pairs, p50        float64 // p50 is NaN when its cell is empty
}

type series struct {
	replicas int
	rows     []row // sorted by clients
}

type refLine struct {
	v            float64 // 0: none
	label, class string
}

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchplot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "input CSV `file` (required)")
	out := fs.String("out", "", "output SVG `file` (required)")
	title := fs.String("title", "Throughput and p50 latency vs clients", "chart title")
	ref := refLine{class: "ref"}
	target := refLine{class: "target"}
	fs.Float64Var(&ref.v, "ref", 0, "throughput of a dashed reference line (0: none)")
	fs.StringVar(&ref.label, "ref-label", "reference", "label of the -ref line")
	fs.Float64Var(&target.v, "target", 0, "throughput of a dashed target line (0: none)")
	fs.StringVar(&target.label, "target-label", "target", "label of the -target line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "benchplot:", msg)
		fs.Usage()
		return 2
	}
	switch {
	case *in == "" || *out == "":
		return usage("-in and -out are required")
	case fs.NArg() > 0:
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case !(ref.v >= 0 && ref.v < math.Inf(1)) || !(target.v >= 0 && target.v < math.Inf(1)):
		return usage("-ref and -target must be finite and not negative")
	}
	ss, err := load(*in)
	if err != nil {
		fmt.Fprintln(stderr, "benchplot:", err)
		return 1
	}
	if err := os.WriteFile(*out, render(ss, *title, []refLine{ref, target}), 0o644); err != nil {
		fmt.Fprintln(stderr, "benchplot:", err)
		return 1
	}
	return 0
}

var required = []string{"replicas", "clients", "pairs_per_s", "p50_ms"}

// load reads and checks the CSV at path; errors name the file, line and column.
func load(path string) ([]series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, want a header row (%s,...)", path, strings.Join(required, ","))
	} else if err != nil {
		return nil, csvErr(path, err)
	}
	hline, _ := r.FieldPos(0)
	col := map[string]int{}
	for i, h := range header {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			if _, seen := col[h]; !seen {
				col[h] = i
			}
		}
	}
	for _, name := range required {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("%s:%d: missing required column %q", path, hline, name)
		}
	}
	firstLine := map[[2]int]int{}
	bySeries := map[int][]row{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, csvErr(path, err)
		}
		line, _ := r.FieldPos(0)
		// cell parses column name: empty is NaN if allowed; whole wants a positive integer.
		cell := func(name string, emptyOK, whole bool) (float64, error) {
			i, ok := col[name]
			if !ok {
				return math.NaN(), nil
			}
			s := strings.TrimSpace(rec[i])
			if s == "" && emptyOK {
				return math.NaN(), nil
			}
			v, err := strconv.ParseFloat(s, 64)
			switch {
			case whole && (err != nil || v < 1 || v > 1<<30 || v != math.Trunc(v)):
				return 0, fmt.Errorf("%s:%d: column %s: %q is not a positive whole number", path, line, name, s)
			case err != nil || !(v >= 0 && v < math.Inf(1)):
				return 0, fmt.Errorf("%s:%d: column %s: %q is not a non-negative number", path, line, name, s)
			}
			return v, nil
		}
		var vals [5]float64
		for i, name := range []string{"replicas", "clients", "pairs_per_s", "p50_ms", "p99_ms"} {
			if vals[i], err = cell(name, i >= 3, i < 2); err != nil {
				return nil, err
			}
		}
		rw := row{replicas: int(vals[0]), clients: int(vals[1]), pairs: vals[2], p50: vals[3]}
		key := [2]int{rw.replicas, rw.clients}
		if first, dup := firstLine[key]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate row for replicas=%d clients=%d (first on line %d)", path, line, rw.replicas, rw.clients, first)
		}
		firstLine[key] = line
		bySeries[rw.replicas] = append(bySeries[rw.replicas], rw)
	}
	if len(bySeries) == 0 {
		return nil, fmt.Errorf("%s:%d: no data rows after the header", path, hline)
	}
	var ss []series
	for _, k := range slices.Sorted(maps.Keys(bySeries)) {
		rows := bySeries[k]
		slices.SortFunc(rows, func(a, b row) int { return a.clients - b.clients })
		ss = append(ss, series{k, rows})
	}
	return ss, nil
}

func csvErr(path string, err error) error {
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe) && pe.Err == csv.ErrFieldCount:
		return fmt.Errorf("%s:%d: wrong number of fields (not as many as the header)", path, pe.Line)
	case errors.As(err, &pe):
		return fmt.Errorf("%s:%d: character %d: %v", path, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %v", path, err)
}

const (
	width, height    = 720, 420
	plotTop, plotBot = 64.0, 350.0
)

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

type panel struct {
	id, ylabel, unit string
	x0, x1           float64
	y                func(row) float64
	refs             []refLine
}

func render(ss []series, title string, refs []refLine) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`+"\n", width/2, esc(title))
	const entry = 96.0
	lx := float64(width)/2 - entry*float64(len(ss))/2
	for i, s := range ss {
		x, c := lx+entry*float64(i), palette[i%len(palette)]
		fmt.Fprintf(&b, `<line x1="%.1f" y1="40" x2="%.1f" y2="40" stroke="%s" stroke-width="2"/><circle cx="%.1f" cy="40" r="3" fill="%s"/>`+"\n", x, x+20, c, x+10, c)
		fmt.Fprintf(&b, `<text class="legend" x="%.1f" y="44">%d replicas</text>`+"\n", x+26, s.replicas)
	}
	var xs []int
	for _, s := range ss {
		for _, r := range s.rows {
			xs = append(xs, r.clients)
		}
	}
	slices.Sort(xs)
	xs = slices.Compact(xs)
	lo, hi := math.Log2(float64(xs[0])), math.Log2(float64(xs[len(xs)-1]))
	if lo == hi {
		lo, hi = lo-1, hi+1
	}
	drawPanel(&b, panel{"throughput", "throughput (pairs/s)", "pairs/s", 72, 342, func(r row) float64 { return r.pairs }, refs}, ss, xs, lo, hi)
	drawPanel(&b, panel{"latency", "p50 latency (ms)", "ms", 432, 702, func(r row) float64 { return r.p50 }, nil}, ss, xs, lo, hi)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func drawPanel(b *bytes.Buffer, p panel, ss []series, xs []int, lo, hi float64) {
	top := 0.0
	for _, s := range ss {
		for _, r := range s.rows {
			if v := p.y(r); v > top {
				top = v
			}
		}
	}
	for _, r := range p.refs {
		top = max(top, r.v)
	}
	if top == 0 {
		top = 1
	}
	step, n := niceScale(top * 1.05)
	top = step * float64(n)
	dec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	px := func(c int) float64 { return p.x0 + (math.Log2(float64(c))-lo)/(hi-lo)*(p.x1-p.x0) }
	py := func(v float64) float64 { return plotBot - v/top*(plotBot-plotTop) }
	fmt.Fprintf(b, "<g id=%q>\n", p.id)
	for i := 0; i <= n; i++ {
		v := step * float64(i)
		y := py(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", p.x0, y, p.x1, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", p.x0-6, y+4, group(strconv.FormatFloat(v, 'f', dec, 64)))
	}
	for _, c := range xs {
		x := px(c)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", x, plotTop, x, plotBot)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`+"\n", x, plotBot+16, c)
	}
	fmt.Fprintf(b, `<path d="M%.1f %.1fV%.1fH%.1f" fill="none" stroke="#444"/>`+"\n", p.x0, plotTop, plotBot, p.x1)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">clients (log2 scale)</text>`+"\n", (p.x0+p.x1)/2, plotBot+36)
	fmt.Fprintf(b, `<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", p.x0-52, (plotTop+plotBot)/2, esc(p.ylabel))
	for _, r := range p.refs {
		if r.v == 0 {
			continue
		}
		y, stroke, dash := py(r.v), "#777", "3 3"
		if r.class == "target" {
			stroke, dash = "#222", "8 4"
		}
		fmt.Fprintf(b, `<line class=%q x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="%s"/>`+"\n", r.class, p.x0, y, p.x1, y, stroke, dash)
		// The label goes on the side of the line away from the data at its right end.
		ty := y - 4
		if y+13 < plotBot && !slices.ContainsFunc(ss, func(s series) bool { return p.y(s.rows[len(s.rows)-1]) <= r.v }) {
			ty = y + 12
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" font-size="10" fill="%s">%s: %s</text>`+"\n", p.x1-4, ty, stroke, esc(r.label), group(strconv.FormatFloat(r.v, 'f', -1, 64)))
	}
	for i, s := range ss {
		var pts []string
		var dots bytes.Buffer
		c := palette[i%len(palette)]
		for _, r := range s.rows {
			v := p.y(r)
			if math.IsNaN(v) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(r.clients), py(v)))
			fmt.Fprintf(&dots, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%d replicas, %d clients: %s %s</title></circle>`+"\n",
				px(r.clients), py(v), c, s.replicas, r.clients, group(strconv.FormatFloat(v, 'f', -1, 64)), p.unit)
		}
		if len(pts) > 0 {
			fmt.Fprintf(b, `<polyline class="r%d" points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", s.replicas, strings.Join(pts, " "), c)
			b.Write(dots.Bytes())
		}
	}
	b.WriteString("</g>\n")
}

// niceScale picks the smallest 1-2-5 step that covers [0, top] in at most 8 steps.
func niceScale(top float64) (step float64, n int) {
	for e := math.Floor(math.Log10(top)) - 2; ; e++ {
		for _, m := range []float64{1, 2, 5} {
			step = m * math.Pow(10, e)
			if n := math.Ceil(top/step - 1e-9); n <= 8 {
				return step, int(n)
			}
		}
	}
}

// group puts thousands separators into a formatted non-negative number.
func group(s string) string {
	intPart, frac, _ := strings.Cut(s, ".")
	var out []byte
	for i := range len(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, intPart[i])
	}
	if frac != "" {
		return string(out) + "." + frac
	}
	return string(out)
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
