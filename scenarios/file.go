package scenarios

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Scenario files are transcripts in the format of cockroachdb/datadriven,
// as etcd's raft uses it: a command line `command arg=val ...`, optional
// input lines, `----`, and the output the command is expected to print;
// `#` lines are comments that tell the story. Under go test the library
// itself runs them (TestScenarioFiles; -rewrite regenerates the expected
// output for review). RunFile runs one outside go test, for paxsim: the
// library's runner needs a *testing.T, so this file reads the same format
// with the library's own line parser and the same rules (comments,
// backslash continuations, input up to ----, output up to a blank line or
// between ---- ---- pairs), and writes back exactly what -rewrite writes.
// TestRunFileAgrees keeps the two readers honest on the whole catalogue.
//
// The commands are in script.go (the dispatch) and cmd_*.go.

// RunFile runs the scenario file at path and returns its transcript: the
// file as it would be with every command's actual output. A command's
// output that differs from the file's is an error carrying a diff per
// command; with rewrite the file is rewritten with the actual output
// instead. A bad command (a typo, an unknown replica, a missing argument)
// stops the run with an error naming the file, line and command.
func RunFile(path string, rewrite bool) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := newScript()
	transcript, diffs, err := runTranscript(path, string(src), s.exec)
	if err != nil {
		return transcript, err
	}
	if rewrite {
		if transcript != string(src) {
			if err := os.WriteFile(path, []byte(transcript), 0o644); err != nil {
				return transcript, err
			}
		}
		return transcript, nil
	}
	if len(diffs) > 0 {
		return transcript, fmt.Errorf("%d command(s) printed something else than the file expects "+
			"(rewrite with paxsim -scenario %s -rewrite, or go test ./scenarios -run TestScenarioFiles -rewrite, and review the diff):\n%s",
			len(diffs), path, strings.Join(diffs, "\n"))
	}
	return transcript, nil
}

// runTranscript reads a datadriven file, runs every command through exec
// and returns the transcript and one diff per command whose output
// differs from the expected output.
func runTranscript(name, src string, exec func(*command) (string, error)) (string, []string, error) {
	r := &transcriptReader{name: name, lines: splitLines(src)}
	var diffs []string
	for {
		d, ok, err := r.next()
		if err != nil || !ok {
			return r.finish(), diffs, err
		}
		actual, err := exec(d)
		if err != nil {
			return r.finish(), diffs, fmt.Errorf("%s: %w", d.Pos, err)
		}
		if actual != "" && !strings.HasSuffix(actual, "\n") {
			actual += "\n"
		}
		r.emitOutput(actual)
		if actual != d.Expected {
			diffs = append(diffs, outputDiff(d, actual))
		}
	}
}

// splitLines splits like bufio.ScanLines: no empty last line for a final
// newline, and a trailing \r dropped.
func splitLines(src string) []string {
	src = strings.TrimSuffix(src, "\n")
	if src == "" {
		return nil
	}
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// transcriptReader walks a file the way datadriven's reader does and
// builds the rewritten file as it goes.
type transcriptReader struct {
	name  string
	lines []string
	i     int // lines consumed; the last one read is line i (1-based)
	out   strings.Builder
}

func (r *transcriptReader) read() (string, bool) {
	if r.i >= len(r.lines) {
		return "", false
	}
	r.i++
	return r.lines[r.i-1], true
}

func (r *transcriptReader) emit(s string) {
	r.out.WriteString(s)
	r.out.WriteByte('\n')
}

// next returns the next command with its input and expected output.
func (r *transcriptReader) next() (*command, bool, error) {
	for {
		line, ok := r.read()
		if !ok {
			return nil, false, nil
		}
		r.emit(line)
		pos := fmt.Sprintf("%s:%d", r.name, r.i)
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		for strings.HasSuffix(line, `\`) {
			more, ok := r.read()
			if !ok {
				break
			}
			r.emit(more)
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(more)
		}
		cmd, args, err := parseLine(line)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %v", pos, err)
		}
		if cmd == "" {
			continue
		}
		d := &command{Pos: pos, Cmd: cmd, Args: args}
		var in strings.Builder
		sep := false
		for {
			l, ok := r.read()
			if !ok {
				break
			}
			if l == "----" {
				sep = true
				break
			}
			r.emit(l)
			in.WriteString(l)
			in.WriteByte('\n')
		}
		d.Input = strings.TrimSpace(in.String())
		if sep {
			if d.Expected, err = r.expected(); err != nil {
				return nil, false, fmt.Errorf("%s: %v", pos, err)
			}
		}
		return d, true, nil
	}
}

// expected reads the expected output after ----: up to a blank line, or
// between a second ---- and a closing ---- ---- pair.
func (r *transcriptReader) expected() (string, error) {
	var b strings.Builder
	line, _ := r.read()
	if line != "----" {
		for strings.TrimSpace(line) != "" {
			b.WriteString(line + "\n")
			var ok bool
			if line, ok = r.read(); !ok {
				break
			}
		}
		return b.String(), nil
	}
	for {
		line, ok := r.read()
		if !ok {
			return b.String(), nil
		}
		if line == "----" {
			line2, ok := r.read()
			if ok && line2 == "----" {
				if l, ok := r.read(); ok && l != "" {
					return "", errors.New("non-blank line after end of double ---- separator section")
				}
				return b.String(), nil
			}
			if ok {
				b.WriteString(line + "\n" + line2 + "\n")
				continue
			}
		}
		b.WriteString(line + "\n")
	}
}

var blankLine = regexp.MustCompile(`(?m)^[\t ]*\n`)

// emitOutput writes ---- and a command's output as datadriven's rewrite
// does: between ---- ---- pairs if it holds a blank line.
func (r *transcriptReader) emitOutput(actual string) {
	r.emit("----")
	if blankLine.MatchString(actual) {
		r.emit("----")
		r.out.WriteString(actual)
		r.emit("----")
		r.emit("----")
		r.emit("")
		return
	}
	r.emit(actual) // actual ends in a newline (or is empty): a blank line follows
}

// finish returns the transcript, without the trailing blank line the last
// command's output leaves (as datadriven's rewrite does).
func (r *transcriptReader) finish() string {
	s := r.out.String()
	if strings.HasSuffix(s, "\n\n") {
		s = s[:len(s)-1]
	}
	return s
}

func outputDiff(d *command, actual string) string {
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(d.Expected), B: difflib.SplitLines(actual),
		FromFile: "expected", ToFile: "actual", Context: 3,
	})
	if err != nil {
		diff = fmt.Sprintf("expected:\n%sactual:\n%s", d.Expected, actual)
	}
	return fmt.Sprintf("%s: %s: output differs:\n%s", d.Pos, d.FullCmd(), diff)
}
