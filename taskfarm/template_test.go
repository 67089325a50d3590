package taskfarm

import (
	"bytes"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// trickyValues are input lines that break naive quoting and path splitting.
var trickyValues = []string{
	"", "a", "a b", " lead", "trail ", "it's", `"dq"`, `$HOME`, "$(echo no)", "`echo no`",
	"a;b && c | d > e", "; rm -rf x", "ünïcødé ✓ 日本語", `back\slash`, "tab\tin", "*glob?[x]",
	"''", "'", "a'b'c", "-n", "--", "~", "{}", "a.b.c", "/", "//", "///a//", "a/", "/a", "a/b/",
	"a//b///", ".", "..", ".bashrc", "dir.d/file", "dir.d/file.tar.gz", "/x/y.z/", "a.", "a/.b",
	"sub.dir/bar", "foo.jpg", "subdir/foo.jpg", "sub.dir/foo.jpg", "\r", "x\ry",
	"a/b\nc/d", "ab\nc/d", "a.b\n", "x/y.z\nw", "\n/", "a\n\n/b",
}

// paths applies {/}, {//}, {.} and {/.} to a value.
func paths(s string) []string {
	v := &jobVars{}
	return []string{replaceValue(rplBase, s, v, false), replaceValue(rplDir, s, v, false),
		replaceValue(rplNoExt, s, v, false), replaceValue(rplBaseNoExt, s, v, false)}
}

func TestPathReplacements(t *testing.T) {
	// Expected values from GNU parallel's definitions (see TestPathReplacementsPerl for the
	// same against Perl itself).
	tests := []struct{ in, base, dir, noext, basenoext string }{
		{"foo.jpg", "foo.jpg", ".", "foo", "foo"},
		{"subdir/foo.jpg", "foo.jpg", "subdir", "subdir/foo", "foo"},
		{"sub.dir/foo.jpg", "foo.jpg", "sub.dir", "sub.dir/foo", "foo"},
		{"sub.dir/bar", "bar", "sub.dir", "sub.dir/bar", "bar"},
		{"", "", ".", "", ""},
		{"a/", "", ".", "a/", ""},
		{"/a", "a", "/", "/a", "a"},
		{"/", "", "/", "/", ""},
		{"//a", "a", "/", "//a", "a"},
		{"a/b/", "", "a", "a/b/", ""},
		{"a//b///", "", "a", "a//b///", ""},
		{".bashrc", ".bashrc", ".", "", ""},
		{"a/.b", ".b", "a", "a/", ""},
		{"x.tar.gz", "x.tar.gz", ".", "x.tar", "x.tar"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := paths(tt.in)
			want := []string{tt.base, tt.dir, tt.noext, tt.basenoext}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("{/} {//} {.} {/.} of %q = %q, want %q", tt.in, got, want)
			}
		})
	}
}

// TestPathReplacementsPerl checks {/}, {//}, {.} and {/.} against the Perl code GNU parallel
// runs for them, on every tricky value.
func TestPathReplacementsPerl(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("no perl")
	}
	script := `use File::Basename; $/ = "\0";
while (my $l = <STDIN>) { chomp $l;
  my @r;
  $_ = $l; s:.*/::; push @r, $_;
  $_ = $l; $_ = dirname($_); push @r, $_;
  $_ = $l; s:\.[^/.]*$::; push @r, $_;
  $_ = $l; s:.*/::; s:\.[^/.]*$::; push @r, $_;
  print join("\0", @r), "\0"; }`
	var in bytes.Buffer
	for _, v := range trickyValues {
		in.WriteString(v + "\x00")
	}
	cmd := exec.Command("perl", "-e", script)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != 4*len(trickyValues) {
		t.Fatalf("perl gave %d values for %d lines", len(got), len(trickyValues))
	}
	for i, line := range trickyValues {
		mine := paths(line)
		if !reflect.DeepEqual(mine, got[4*i:4*i+4]) {
			t.Errorf("{/} {//} {.} {/.} of %q = %q, perl says %q", line, mine, got[4*i:4*i+4])
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"abc", "abc"},
		{"a-b_c.d+e/f", "a-b_c.d+e/f"},
		{"a b", "'a b'"},
		{"$x", "'$x'"},
		{"it's", `'it'"'"'s'`},
		{"'a", `"'"'a'`},
		{"a'", `'a'"'"`},
		{"'", `"'"`},
		{"ü", "'ü'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestShellQuoteRoundTrip has /bin/sh read back every quoted tricky value unchanged.
func TestShellQuoteRoundTrip(t *testing.T) {
	var script strings.Builder
	for _, v := range trickyValues {
		script.WriteString("printf '%s\\0' " + shellQuote(v) + "\n")
	}
	out, err := exec.Command(shellPath, "-c", script.String()).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !reflect.DeepEqual(got, trickyValues) {
		t.Errorf("sh read back\n%q\nwant\n%q", got, trickyValues)
	}
}

// TestCompose composes command lines as GNU parallel does (each checked against parallel
// --dry-run by the comparison table too).
func TestCompose(t *testing.T) {
	tests := []struct {
		name  string
		words []string
		args  []string
		mode  composeMode
		noArg bool
		want  string
	}{
		{"append", []string{"echo", "-n"}, []string{"a b"}, composeMode{quoteValues: true}, false, "echo -n 'a b'"},
		{"append empty", []string{"echo"}, []string{""}, composeMode{quoteValues: true}, false, "echo ''"},
		{"words joined, not quoted", []string{"printf", `[%s]\n`}, []string{"a"}, composeMode{quoteValues: true}, false, `printf [%s]\n a`},
		{"inside a word", []string{"echo", "[{}]", "x{#}y"}, []string{"v w"}, composeMode{quoteValues: true}, false, "echo ['v w'] x7y"},
		{"{} of two sources", []string{"echo", "x{}y"}, []string{"a", "b c"}, composeMode{quoteValues: true}, false, "echo xa 'b c'y"},
		{"positional", []string{"echo", "{2}", "{-1}", "{1.}", "{3}"}, []string{"a.x", "b"}, composeMode{quoteValues: true}, false, "echo b b a "},
		{"paths", []string{"cp", "{}", "out/{/.}.bak", "{//}", "{.}", "{/}"}, []string{"in/x.txt"}, composeMode{quoteValues: true}, false, "cp in/x.txt out/x.bak in in/x x.txt"},
		{"data is data", []string{"echo", "{}"}, []string{"; rm -rf x"}, composeMode{quoteValues: true}, false, "echo '; rm -rf x'"},
		{"slot", []string{"run", "--slot={%}"}, []string{"l"}, composeMode{quoteValues: true}, false, "run --slot=3"},
		{"not a replacement", []string{"echo", "{x}", "{", "}{"}, []string{"l"}, composeMode{quoteValues: true}, false, "echo {x} { }{ l"},
		{"command is a value", []string{"{}", "x"}, []string{"echo a"}, composeMode{}, false, "echo a x"},
		{"-q", []string{"printf", `[%s]\n`, "{}"}, []string{"a b"}, composeMode{quoteWords: true}, false, `printf '[%s]\n' 'a b'`},
		{"-q empty word", []string{"echo", "", "{}"}, []string{"x"}, composeMode{quoteWords: true}, false, "echo '' x"},
		{"-X", []string{"echo", "pre-{}-post"}, []string{"A", "B"}, composeMode{quoteValues: true, context: true}, false, "echo pre-A-post pre-B-post"},
		{"-X keeps a tab", []string{"echo", "a{}b\tc{}"}, []string{"1", "2"}, composeMode{quoteValues: true, context: true}, false, "echo a1b a2b\tc1 \tc2"},
		{"-X positional once", []string{"echo", "{1}", "x{}"}, []string{"a", "b"}, composeMode{quoteValues: true, context: true}, false, "echo a xa xb"},
		{"-m", []string{"echo", "pre-{}-post"}, []string{"A", "B"}, composeMode{quoteValues: true}, false, "echo pre-A B-post"},
		{"-N0", []string{"echo", "hi", "{}"}, nil, composeMode{quoteValues: true}, true, "echo hi "},
		{"spaces kept", []string{"echo", "   "}, []string{"1"}, composeMode{quoteValues: true}, false, "echo     1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := (&options{command: tt.words, rpl: defaultRplNames()}).commandTemplate(nil)
			if err != nil {
				t.Fatal(err)
			}
			v := &jobVars{args: tt.args, seq: 7, slot: 3, noArg: tt.noArg}
			if got := tm.compose(v, tt.mode); got != tt.want {
				t.Errorf("compose = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := parseTemplate([]string{"echo", "{= s/a/b/ =}"}, defaultRplNames()); err == nil {
		t.Error("{= perl =} accepted")
	}
	names := defaultRplNames()
	names.rename(rplValue, ",,")
	tm, _ := parseTemplate([]string{"echo", ",,", "{}", "{1}", "{.}"}, names)
	if got := tm.compose(&jobVars{args: []string{"a.b"}}, composeMode{quoteValues: true}); got != "echo a.b {} {1} a" {
		t.Errorf("-I ,,: %q", got)
	}
}

func TestDirectArgv(t *testing.T) {
	tests := []struct {
		line string
		argv []string // nil: needs the shell
	}{
		{"true 1", []string{"true", "1"}},
		{"true --help", nil},
		{"gzip -9 'a b' c", []string{"gzip", "-9", "a b", "c"}},
		{`cat "x y" a\ b ''`, []string{"cat", "x y", "a b", ""}},
		{"echo a b", []string{"echo", "a", "b"}},
		{"echo -n a", nil},
		{`echo 'a\tb'`, nil},
		{"/usr/bin/printf %s", []string{"/usr/bin/printf", "%s"}},
		{"printf %s x", nil},
		{"cd /", nil},
		{"A=1 env", nil},
		{"env", nil},
		{"env A=1 true", []string{"env", "A=1", "true"}},
		{"echo $HOME", nil},
		{`echo "$HOME"`, nil},
		{"echo a > f", nil},
		{"echo a; echo b", nil},
		{"echo a | cat", nil},
		{"ls *.c", nil},
		{"echo ~", nil},
		{"echo a~", []string{"echo", "a~"}},
		{"echo #x", nil},
		{"echo a#x", []string{"echo", "a#x"}},
		{"echo {a,b}", nil},
		{"echo 'a\nb'", []string{"echo", "a\nb"}},
		{"echo a\\\nb", nil},
		{"if true", nil},
		{"echo 'unterminated", nil},
		{"", nil},
		{"''", nil},
	}
	for _, tt := range tests {
		args, ok := directArgv(tt.line)
		if ok != (tt.argv != nil) || ok && !reflect.DeepEqual(args, tt.argv) {
			t.Errorf("directArgv(%q) = %q, %v; want %q", tt.line, args, ok, tt.argv)
		}
	}
}
