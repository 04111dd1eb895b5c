package scenarios

import (
	"fmt"
	"strings"
)

// The command line of a scenario file, in the syntax of
// cockroachdb/datadriven: `cmd key=val key=(v1, v2) bare ...`. The
// package reads it itself rather than through the library, whose import
// registers -rewrite on the program's default flag set; go test still runs
// the catalogue through the library (TestScenarioFiles), and
// TestLineParserAgrees holds this reader to the library's on every line of
// the catalogue.

// cmdArg is one argument: a bare word (no Vals), key=val (one) or
// key=(v1, v2, ...) (several).
type cmdArg struct {
	Key  string
	Vals []string
}

func (a cmdArg) String() string {
	switch len(a.Vals) {
	case 0:
		return a.Key
	case 1:
		return a.Key + "=" + a.Vals[0]
	}
	return a.Key + "=(" + strings.Join(a.Vals, ", ") + ")"
}

// command is one command of a file: where it is, its line, its input
// lines and the output the file expects of it.
type command struct {
	Pos      string // file:line
	Cmd      string
	Args     []cmdArg
	Input    string
	Expected string
}

// FullCmd is the command line as the file wrote it (normalized).
func (c *command) FullCmd() string {
	var b strings.Builder
	b.WriteString(c.Cmd)
	for _, a := range c.Args {
		b.WriteByte(' ')
		b.WriteString(a.String())
	}
	return b.String()
}

// parseLine splits a command line into the command and its arguments. A
// blank line gives cmd "". Values in parentheses may nest parentheses;
// a comma at the top level separates values, and spaces after it are
// skipped.
func parseLine(line string) (cmd string, out []cmdArg, err error) {
	rest := strings.TrimSpace(line)
	if rest == "" {
		return "", nil, nil
	}
	bad := func() (string, []cmdArg, error) {
		col := len(strings.TrimSpace(line)) - len(rest) + 1
		return "", nil, fmt.Errorf("cannot parse directive at column %d: %s", col, strings.TrimSpace(line))
	}
	cmd, rest = cutAt(rest, " ")
	rest = strings.TrimSpace(rest)
	for rest != "" {
		var a cmdArg
		if a.Key, rest = cutAt(rest, " ="); a.Key == "" {
			return bad()
		}
		if strings.HasPrefix(rest, "=") {
			rest = rest[1:]
			switch {
			case rest == "" || rest[0] == ' ':
				a.Vals = []string{""}
			case rest[0] != '(':
				var v string
				v, rest = cutAt(rest, " ")
				a.Vals = []string{v}
			default:
				vals, after, ok := splitParens(rest)
				if !ok {
					return bad()
				}
				a.Vals, rest = vals, after
			}
		}
		out = append(out, a)
		rest = strings.TrimSpace(rest)
	}
	return cmd, out, nil
}

// cutAt splits s before the first of the given bytes (or at its end).
func cutAt(s, chars string) (before, after string) {
	i := strings.IndexAny(s, chars)
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// splitParens reads "(v1, v2, ...)" off the front of s, which starts with
// '('. It reports false if the parentheses do not close.
func splitParens(s string) (vals []string, rest string, ok bool) {
	depth, start := 0, 1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return append(vals, s[start:i]), s[i+1:], true
			}
		case ',':
			if depth == 1 {
				vals = append(vals, s[start:i])
				for i+1 < len(s) && s[i+1] == ' ' {
					i++
				}
				start = i + 1
			}
		}
	}
	return nil, "", false
}
