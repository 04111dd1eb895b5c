package main

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// A shell command line as the deploy tests read one: just enough of POSIX
// sh to take apart the lines that run paxsim (words, quotes, variables)
// and to refuse what it does not understand rather than guess.

// shellLine is one simple command: its words, and the file its standard
// output goes to (a plain `>`), if any.
type shellLine struct {
	words  []string
	stdout string
}

// scriptLines splits a script into logical lines (joining backslash
// continuations) and drops blank ones and comments.
func scriptLines(script string) []string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var out []string
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// parseShell reads one simple command. Variables ($X, ${X}) are looked up;
// one lookup does not know is an error, and so are command substitution
// and anything after a pipe, `;` or `&` (the tests want a command they can
// judge whole).
func parseShell(line string, lookup func(string) (string, bool)) (shellLine, error) {
	var (
		sl       shellLine
		word     strings.Builder
		inWord   bool
		redirect string // "", ">" (to stdout), "other"
	)
	flush := func() {
		if !inWord {
			return
		}
		w := word.String()
		switch redirect {
		case ">":
			sl.stdout = w
		case "":
			sl.words = append(sl.words, w)
		}
		word.Reset()
		inWord, redirect = false, ""
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			flush()
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j >= len(rs) {
				return sl, fmt.Errorf("unclosed ' in %q", line)
			}
			word.WriteString(string(rs[i+1 : j]))
			i = j
			inWord = true
		case c == '"':
			i++
			for ; i < len(rs) && rs[i] != '"'; i++ {
				switch {
				case rs[i] == '\\' && i+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[i+1]):
					i++
					word.WriteRune(rs[i])
				case rs[i] == '$':
					if err := expandVar(rs, &i, lookup, &word); err != nil {
						return sl, fmt.Errorf("%v in %q", err, line)
					}
				default:
					word.WriteRune(rs[i])
				}
			}
			if i >= len(rs) {
				return sl, fmt.Errorf(`unclosed " in %q`, line)
			}
			inWord = true
		case c == '\\' && i+1 < len(rs):
			i++
			word.WriteRune(rs[i])
			inWord = true
		case c == '$':
			if err := expandVar(rs, &i, lookup, &word); err != nil {
				return sl, fmt.Errorf("%v in %q", err, line)
			}
			inWord = true
		case c == '>' || c == '<':
			// "2>" or "1>": the digits were read as a word of their own.
			fd := ""
			if inWord && isDigits(word.String()) && redirect == "" {
				fd = word.String()
				word.Reset()
				inWord = false
			} else {
				flush()
			}
			if c == '>' && (fd == "" || fd == "1") {
				redirect = ">"
			} else {
				redirect = "other"
			}
			if i+1 < len(rs) && rs[i+1] == '>' {
				i++ // >> appends: the same stream
			}
		case c == '|' || c == ';' || c == '&' || c == '`':
			return sl, fmt.Errorf("%q: a pipe, list or substitution; want one simple command", line)
		case c == '#' && !inWord:
			flush()
			return sl, nil
		default:
			word.WriteRune(c)
			inWord = true
		}
	}
	flush()
	if redirect != "" {
		return sl, fmt.Errorf("redirection without a file in %q", line)
	}
	return sl, nil
}

// expandVar reads $NAME or ${NAME} at rs[*i] into w, leaving *i on its
// last rune.
func expandVar(rs []rune, i *int, lookup func(string) (string, bool), w *strings.Builder) error {
	j := *i + 1
	braced := j < len(rs) && rs[j] == '{'
	if braced {
		j++
	}
	if j < len(rs) && rs[j] == '(' {
		return fmt.Errorf("command substitution $(...)")
	}
	k := j
	for k < len(rs) && (rs[k] == '_' || unicode.IsLetter(rs[k]) || k > j && unicode.IsDigit(rs[k])) {
		k++
	}
	name := string(rs[j:k])
	if name == "" {
		return fmt.Errorf("a lone $")
	}
	if braced {
		if k >= len(rs) || rs[k] != '}' {
			return fmt.Errorf("${%s: want a plain ${NAME}", name)
		}
		k++
	}
	v, ok := lookup(name)
	if !ok {
		return fmt.Errorf("unknown variable $%s", name)
	}
	w.WriteString(v)
	*i = k - 1
	return nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// paxsimArgs: if the command runs paxsim (a binary named paxsim, or
// `go run ./cmd/paxsim`), its arguments.
func paxsimArgs(words []string) ([]string, bool) {
	switch {
	case len(words) >= 1 && (words[0] == "paxsim" || strings.HasSuffix(words[0], "/paxsim")):
		return words[1:], true
	case len(words) >= 3 && words[0] == "go" && words[1] == "run" && strings.TrimSuffix(words[2], "/") == "./cmd/paxsim":
		return words[3:], true
	}
	return nil, false
}

func TestParseShell(t *testing.T) {
	env := map[string]string{"N": "8", "DIR": "a b"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		line, words, stdout, err string
	}{
		{`./paxsim -shard "3/$N" -x '$N' > "out-${N}.jsonl"`, `["./paxsim" "-shard" "3/8" "-x" "$N"]`, "out-8.jsonl", ""},
		{`paxsim -merge a.jsonl 2> err.txt >> sum.txt # note`, `["paxsim" "-merge" "a.jsonl"]`, "sum.txt", ""},
		{`cmd "$DIR" x\ y`, `["cmd" "a b" "x y"]`, "", ""},
		{`cmd $M`, "", "", "unknown variable $M"},
		{`cmd $(date)`, "", "", "command substitution"},
		{`cmd | tee x`, "", "", "a pipe"},
		{`cmd "open`, "", "", `unclosed "`},
		{`cmd >`, "", "", "redirection without a file"},
	}
	for _, tt := range tests {
		sl, err := parseShell(tt.line, lookup)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want %q", tt.line, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.line, err)
		case tt.err == "" && (fmt.Sprintf("%q", sl.words) != tt.words || sl.stdout != tt.stdout):
			t.Errorf("%s: words %q stdout %q, want %s and %q", tt.line, sl.words, sl.stdout, tt.words, tt.stdout)
		}
	}
}
