package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `replicas,clients,pairs_per_s,p50_ms,p99_ms
3,1,1149,0.83,
3,16,7108,2.1,
3,64,15250,3.9,11.7
3,256,23349,9.9,
5,1,569,1.7,
5,16,4783,3.1,
5,64,12012,4.9,
5,256,17725,13.2,
7,1,504,1.9,
7,16,3676,4.0,
7,64,11142,5.3,
7,256,16578,14.2,
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// plot runs the command on csv with extra flags and returns the SVG.
func plot(t *testing.T, csv string, extra ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.svg")
	var stderr bytes.Buffer
	args := append([]string{"-in", writeFile(t, "in.csv", csv), "-out", out}, extra...)
	if code := run(args, &stderr); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr.String())
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return svg
}

type chart struct {
	polylines map[string]int      // by panel id
	points    map[string][]string // polyline points by panel id + class
	texts     []string
	lines     map[string]int // <line> by class
}

// parse decodes the whole SVG as XML, failing the test on any error.
func parse(t *testing.T, svg []byte) chart {
	t.Helper()
	c := chart{polylines: map[string]int{}, points: map[string][]string{}, lines: map[string]int{}}
	d := xml.NewDecoder(bytes.NewReader(svg))
	var panels []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG does not parse as XML: %v", err)
		}
		attr := func(e xml.StartElement, name string) string {
			for _, a := range e.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "g":
				panels = append(panels, attr(tok, "id"))
			case "polyline":
				if len(panels) == 0 {
					t.Fatal("polyline outside a panel")
				}
				p := panels[len(panels)-1]
				c.polylines[p]++
				c.points[p+"/"+attr(tok, "class")] = strings.Fields(attr(tok, "points"))
			case "line":
				c.lines[attr(tok, "class")]++
			}
		case xml.EndElement:
			if tok.Name.Local == "g" {
				panels = panels[:len(panels)-1]
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(tok)); s != "" {
				c.texts = append(c.texts, s)
			}
		}
	}
	return c
}

func hasText(c chart, s string) bool {
	for _, t := range c.texts {
		if t == s {
			return true
		}
	}
	return false
}

func TestChart(t *testing.T) {
	svg := plot(t, sample, "-ref", "2300", "-ref-label", "etcd 3.5, 64 clients <&>",
		"-target", "25000", "-target-label", "target, 64 clients", "-title", "Scaling")
	c := parse(t, svg)
	for _, p := range []string{"throughput", "latency"} {
		if c.polylines[p] != 3 {
			t.Errorf("panel %s: %d polylines, want 3", p, c.polylines[p])
		}
		for _, r := range []string{"r3", "r5", "r7"} {
			if n := len(c.points[p+"/"+r]); n != 4 {
				t.Errorf("panel %s series %s: %d points, want 4", p, r, n)
			}
		}
	}
	for _, s := range []string{"3 replicas", "5 replicas", "7 replicas", "Scaling",
		"etcd 3.5, 64 clients <&>: 2,300", "target, 64 clients: 25,000", "1", "16", "64", "256", "25,000"} {
		if !hasText(c, s) {
			t.Errorf("no text %q in SVG", s)
		}
	}
	if c.lines["ref"] != 1 || c.lines["target"] != 1 {
		t.Errorf("ref/target lines: %d/%d, want 1/1", c.lines["ref"], c.lines["target"])
	}
	if bytes.Contains(svg, []byte("<script")) || bytes.Contains(svg, []byte("@import")) || bytes.Contains(svg, []byte("href")) {
		t.Error("SVG is not self-contained")
	}
}

func TestNoRefLinesUnlessAsked(t *testing.T) {
	c := parse(t, plot(t, sample))
	if c.lines["ref"] != 0 || c.lines["target"] != 0 {
		t.Errorf("ref/target lines: %d/%d, want none", c.lines["ref"], c.lines["target"])
	}
}

func TestEmptyLatencyCells(t *testing.T) {
	csv := "clients,replicas,extra,pairs_per_s,p50_ms\n1,3,x,100,\n2,3,y,200,1.5\n4,3,z,300,2\n1,5,w,50,\n"
	c := parse(t, plot(t, csv))
	if n := len(c.points["throughput/r3"]); n != 3 {
		t.Errorf("throughput r3: %d points, want 3", n)
	}
	if n := len(c.points["latency/r3"]); n != 2 {
		t.Errorf("latency r3: %d points, want 2 (one p50 empty)", n)
	}
	if c.polylines["throughput"] != 2 || c.polylines["latency"] != 1 {
		t.Errorf("polylines %v, want 2 throughput and 1 latency (r5 has no p50)", c.polylines)
	}
}

func TestDeterministic(t *testing.T) {
	a := plot(t, sample, "-ref", "2300")
	b := plot(t, sample, "-ref", "2300")
	if !bytes.Equal(a, b) {
		t.Fatal("two runs on the same input differ")
	}
	// Same data, rows reversed and columns reordered: same chart.
	lines := strings.Split(strings.TrimSpace(sample), "\n")
	var sb strings.Builder
	sb.WriteString("p99_ms,p50_ms,pairs_per_s,clients,replicas\n")
	for i := len(lines) - 1; i > 0; i-- {
		f := strings.Split(lines[i], ",")
		sb.WriteString(strings.Join([]string{f[4], f[3], f[2], f[1], f[0]}, ",") + "\n")
	}
	if c := plot(t, sb.String(), "-ref", "2300"); !bytes.Equal(a, c) {
		t.Fatal("row and column order changed the chart")
	}
}

func TestBadInput(t *testing.T) {
	const h = "replicas,clients,pairs_per_s,p50_ms,p99_ms\n"
	for _, tc := range []struct {
		name, csv string
		want      []string // substrings of the one-line error
	}{
		{"empty file", "", []string{"bad.csv:", "empty file"}},
		{"empty table", h, []string{"bad.csv:1:", "no data rows"}},
		{"missing column", "replicas,clients,p50_ms\n3,1,0.8\n", []string{"bad.csv:1:", `missing required column "pairs_per_s"`}},
		{"non-numeric throughput", h + "3,1,1149,0.8,\n3,2,fast,0.9,\n", []string{"bad.csv:3:", "column pairs_per_s", `"fast"`}},
		{"non-numeric p50", h + "3,1,1149,abc,\n", []string{"bad.csv:2:", "column p50_ms", `"abc"`}},
		{"non-numeric p99", h + "3,1,1149,1,NaN\n", []string{"bad.csv:2:", "column p99_ms"}},
		{"empty throughput", h + "3,1,,1,\n", []string{"bad.csv:2:", "column pairs_per_s"}},
		{"fractional replicas", h + "3.5,1,1149,1,\n", []string{"bad.csv:2:", "column replicas", "whole number"}},
		{"zero clients", h + "3,0,1149,1,\n", []string{"bad.csv:2:", "column clients"}},
		{"duplicate", h + "3,1,1149,1,\n# note\n5,1,569,1.7,\n3,1,1150,1,\n", []string{"bad.csv:5:", "duplicate", "replicas=3 clients=1", "line 2"}},
		{"short row", h + "3,1,1149\n", []string{"bad.csv:2:", "wrong number of fields"}},
		{"bad quote", h + "3,1,\"11\"49,1,\n", []string{"bad.csv:2:", "character", "quote"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := writeFile(t, "bad.csv", tc.csv)
			out := filepath.Join(t.TempDir(), "out.svg")
			var stderr bytes.Buffer
			if code := run([]string{"-in", in, "-out", out}, &stderr); code != 1 {
				t.Fatalf("exit %d, want 1; stderr %q", code, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("output written despite bad input")
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	in := filepath.Join(t.TempDir(), "nope.csv")
	var stderr bytes.Buffer
	if code := run([]string{"-in", in, "-out", filepath.Join(t.TempDir(), "o.svg")}, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if msg := stderr.String(); !strings.Contains(msg, "nope.csv") || strings.Count(msg, "\n") != 1 {
		t.Errorf("error %q should be one line naming the file", msg)
	}
}

func TestUsage(t *testing.T) {
	in := writeFile(t, "in.csv", sample)
	out := filepath.Join(t.TempDir(), "o.svg")
	for _, args := range [][]string{
		{},
		{"-in", in},
		{"-out", out},
		{"-in", in, "-out", out, "extra"},
		{"-in", in, "-out", out, "-bogus"},
		{"-in", in, "-out", out, "-ref", "lots"},
		{"-in", in, "-out", out, "-ref", "-5"},
		{"-in", in, "-out", out, "-target", "Inf"},
	} {
		if code := run(args, io.Discard); code != 2 {
			t.Errorf("run(%q): exit %d, want 2", args, code)
		}
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct {
		top, step float64
		n         int
	}{{26250, 5000, 6}, {24516, 5000, 5}, {14.91, 2, 8}, {1.05, 0.2, 6}, {0.9, 0.2, 5}, {7, 1, 7}} {
		step, n := niceScale(tc.top)
		if n != tc.n || step < tc.step*0.999 || step > tc.step*1.001 {
			t.Errorf("niceScale(%v) = %v, %d; want %v, %d", tc.top, step, n, tc.step, tc.n)
		}
	}
	if g := group("1234567.25"); g != "1,234,567.25" {
		t.Errorf("group = %q", g)
	}
}
