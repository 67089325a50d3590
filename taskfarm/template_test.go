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
			v := vars{line: tt.in}
			got := []string{value(phBase, v), value(phDir, v), value(phNoExt, v), value(phBaseNoExt, v)}
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
		v := vars{line: line}
		mine := []string{value(phBase, v), value(phDir, v), value(phNoExt, v), value(phBaseNoExt, v)}
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

func TestTemplate(t *testing.T) {
	tests := []struct {
		name    string
		mode    mode
		words   []string
		line    string
		argv    []string
		display string
	}{
		{"append", modeArgv, []string{"echo", "-n"}, "a b", []string{"echo", "-n", "a b"}, "echo -n 'a b'"},
		{"append empty", modeArgv, []string{"echo"}, "", []string{"echo", ""}, "echo ''"},
		{"inside a word", modeArgv, []string{"echo", "[{}]", "x{#}y"}, "v w", []string{"echo", "[v w]", "x7y"}, "echo '[v w]' x7y"},
		{"seq only: no append", modeArgv, []string{"echo", "{#}"}, "line", []string{"echo", "7"}, "echo 7"},
		{"paths", modeArgv, []string{"cp", "{}", "out/{/.}.bak", "{//}", "{.}", "{/}"}, "in/x.txt", []string{"cp", "in/x.txt", "out/x.bak", "in", "in/x", "x.txt"}, "cp in/x.txt out/x.bak in in/x x.txt"},
		{"data is data", modeArgv, []string{"echo", "{}"}, "; rm -rf x", []string{"echo", "; rm -rf x"}, "echo '; rm -rf x'"},
		{"slot", modeArgv, []string{"run", "--slot={%}"}, "l", []string{"run", "--slot=3"}, "run '--slot=3'"},
		{"not a replacement", modeArgv, []string{"echo", "{x}", "{", "}{"}, "l", []string{"echo", "{x}", "{", "}{", "l"}, "echo '{x}' '{' '}{' l"},
		{"shell quotes values", modeShell, []string{"echo {};", "echo", "{#}"}, "; rm -rf x", []string{"/bin/sh", "-c", "echo '; rm -rf x'; echo 7"}, "echo '; rm -rf x'; echo 7"},
		{"shell append", modeShell, []string{"echo"}, "$x", []string{"/bin/sh", "-c", "echo '$x'"}, "echo '$x'"},
		{"tasks", modeTasks, nil, "echo {} $x", []string{"/bin/sh", "-c", "echo {} $x"}, "echo {} $x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := parseTemplate(tt.words, tt.mode)
			v := vars{line: tt.line, seq: 7, slot: 3}
			argv := tm.argv(v)
			if !reflect.DeepEqual(argv, tt.argv) {
				t.Errorf("argv = %q, want %q", argv, tt.argv)
			}
			if d := tm.display(v, argv); d != tt.display {
				t.Errorf("display = %s, want %s", d, tt.display)
			}
		})
	}
}
