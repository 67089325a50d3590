package taskfarm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// printfNUL is a program that prints each of its arguments followed by a NUL: how a test
// sees the words a shell made of a line. Its first argument, %, is there so that no
// arguments after it and one empty one differ.
const printfNUL = `/usr/bin/printf '%s\0' %`

// wordsOfShell runs line with /bin/sh and returns the arguments printfNUL was given
// after its %.
func wordsOfShell(t *testing.T, line string) []string {
	t.Helper()
	out, err := exec.Command(shellPath, "-c", line).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", line, err)
	}
	words := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	return words[1:]
}

// FuzzShellQuote: a value composed into a command line, inside a word and alone, comes
// back from a real shell's parse of the line exactly as it was; and mw reads the same words
// from the line without a shell.
func FuzzShellQuote(f *testing.F) {
	for _, v := range trickyValues {
		f.Add(v)
	}
	f.Add("a\nb")
	f.Add("'\"'\"'")
	tm, err := (&options{command: []string{printfNUL, "x{}y", "{}"}, rpl: defaultRplNames()}).commandTemplate(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.IndexByte(v, 0) >= 0 {
			return // no argument holds a NUL
		}
		line := tm.compose(&jobVars{args: []string{v}}, composeMode{quoteValues: true})
		want := []string{"x" + v + "y", v}
		if got := wordsOfShell(t, line); !reflect.DeepEqual(got, want) {
			t.Fatalf("value %q: the shell read %q from %q", v, got, line)
		}
		args, ok := directArgv(line)
		if !ok || !reflect.DeepEqual(args[3:], want) {
			t.Fatalf("value %q: mw read %q (%v) from %q", v, args, ok, line)
		}
	})
}

// FuzzDirectArgv: wherever mw runs a line without a shell, the shell would have run the
// same program with the same arguments.
func FuzzDirectArgv(f *testing.F) {
	for _, s := range []string{"a b", "'a b' c", `"x y"z`, `a\ b`, "''", "a#b", "x~", "-n", `"a'b"`, "'a\nb'", "a\tb", `\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) {
		line := printfNUL + " " + rest
		args, ok := directArgv(line)
		if !ok {
			return
		}
		if strings.IndexByte(line, 0) >= 0 {
			t.Fatalf("%q: a line holding a NUL read as plain words", line)
		}
		if got := wordsOfShell(t, line); !reflect.DeepEqual(got, args[3:]) {
			t.Fatalf("%q: the shell reads %q, mw %q", line, got, args[3:])
		}
	})
}

// hostileValues would run code (create the file PWNED) if a shell ever parsed them as
// anything but data.
var hostileValues = []string{
	"; touch PWNED", "$(touch PWNED)", "`touch PWNED`", "' ; touch PWNED ; '", `" ; touch PWNED ; "`,
	"| touch PWNED", "&& touch PWNED", "|| touch PWNED", "> PWNED", "$(touch${IFS}PWNED)", "*", "~",
	"{}", "{1}", `\`, "'", "''", `a'b"c`, "-n", "--", "$PATH", "!!", "#x", "a\\'; touch PWNED; '",
}

// injectionCase is one way a value reaches a command line, with the stdout it must give.
type injectionCase struct {
	name, stdin string
	args        []string
	want        string // "" not checked
}

// injectionCases are the hostile values through every input form, their files in dir.
func injectionCases(dir string) []injectionCase {
	values := strings.Join(hostileValues, "\n") + "\n"
	file := filepath.Join(dir, "values")
	os.WriteFile(file, []byte(values), 0o644)
	nul := filepath.Join(dir, "values0")
	os.WriteFile(nul, []byte(strings.Join(append(hostileValues, "\ntouch PWNED\n"), "\x00")), 0o644)
	csv := filepath.Join(dir, "values.csv")
	os.WriteFile(csv, []byte(strings.Join(hostileValues, ",")+"\n"), 0o644)
	show := `printf '[%s]\n' `
	oneEach := func(vs []string) string {
		var b strings.Builder
		for _, v := range vs {
			b.WriteString("[" + v + "]\n")
		}
		return b.String()
	}
	want := oneEach(hostileValues)
	last := len(hostileValues) - 1
	return []injectionCase{
		{":::", "", append([]string{show + "{}", ":::"}, hostileValues...), want},
		{"::::", "", []string{show + "{}", "::::", file}, want},
		{"-a", "", []string{"-a", file, show + "{}"}, want},
		{"stdin", values, []string{show + "{}"}, want},
		{"appended", values, []string{show}, want},
		{"-q", values, []string{"-q", "printf", "[%s]\\n"}, want},
		{"-0", "", []string{"-0", "-a", nul, show + "{}"}, oneEach(append(hostileValues, "\ntouch PWNED\n"))},
		{"--colsep", "", []string{"--colsep", ",", "--trim", "n", "-a", csv, show + "{1} {2} {-1}"},
			oneEach([]string{hostileValues[0], hostileValues[1], hostileValues[last]})},
		{"-N2", values, []string{"-N2", show + "{2} {1}"}, oneEach(swapPairs(hostileValues))},
		{"-X", values, []string{"-X", "-j1", show + "{}"}, want},
		{"-m", values, []string{"-m", "-j1", show + "{}"}, want},
		{"two sources", "", []string{show + "{1}", "::::", file, ":::", "x"}, want},
		{"--tag", values, []string{"--tag", "true"}, ""},
		{"--tagstring", values, []string{"--tagstring", "{}", "true"}, ""},
		{"--dry-run", values, []string{"--dry-run", "echo"}, ""},
	}
}

// TestInjection feeds the hostile values through every way a value reaches a command
// line: none runs as code, each is printed as it is.
func TestInjection(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range injectionCases(dir) {
		t.Run(tt.name, func(t *testing.T) {
			got := runInproc(t, 2, tt.stdin, append([]string{"--quiet", "--wd", dir}, tt.args...)...)
			if got.code != 0 || tt.want != "" && got.stdout != tt.want {
				t.Errorf("exit %d, stdout\n%s\nwant\n%s\nstderr %s", got.code, got.stdout, tt.want, got.stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "PWNED")); err == nil {
				t.Fatal("a value ran as code")
			}
		})
	}
	// The paths of --results hold values with / escaped: none leads out of the directory.
	res := filepath.Join(dir, "res")
	got := runInproc(t, 1, "../../x\n..\n/abs\n", "--quiet", "--results", res, "--wd", dir, "true")
	if got.code != 0 {
		t.Fatalf("--results: exit %d: %s", got.code, got.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("--results wrote outside its directory: %d entries in the work directory", len(entries))
	}
	if b, _ := os.ReadFile(filepath.Join(res, "1", `..\_..\_x`, "seq")); !bytes.Equal(b, []byte("1")) {
		t.Errorf("--results: seq of ../../x %q", b)
	}
}

// swapPairs is the values taken two by two, each pair swapped (a last odd one alone).
func swapPairs(vs []string) []string {
	var out []string
	for i := 0; i < len(vs); i += 2 {
		if i+1 < len(vs) {
			out = append(out, vs[i+1])
		}
		out = append(out, vs[i])
	}
	return out
}
