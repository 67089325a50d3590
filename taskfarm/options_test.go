package taskfarm

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mw-hpc/mw/internal/mwtest"
)

// parallelOptionNames reads the option names from the installed GNU parallel's option
// table (its options_completion_hash): every name and alias, long and short.
func parallelOptionNames(t *testing.T) []string {
	b, err := os.ReadFile("/usr/bin/parallel")
	if err != nil {
		t.Skip("GNU parallel is not installed at /usr/bin/parallel")
	}
	src := string(b)
	start := strings.Index(src, "sub options_completion_hash")
	end := strings.Index(src, "sub get_options_from_array")
	if start < 0 || end < start {
		t.Fatal("no option table found in /usr/bin/parallel")
	}
	// A key starts a string: its names joined by |, then =s, :s, =i or =f, then its help
	// in [] or the end of the string.
	key := regexp.MustCompile(`["']([A-Za-z0-9_][A-Za-z0-9_|-]*)(?:[=:][sif])?(?:\[|["'])`)
	var names []string
	for _, m := range key.FindAllStringSubmatch(src[start:end], -1) {
		names = append(names, strings.Split(m[1], "|")...)
	}
	if len(names) < 200 {
		t.Fatalf("found only %d option names in GNU parallel's table", len(names))
	}
	return names
}

// TestEveryParallelOptionKnown: every option GNU parallel knows is either supported or
// refused by name, never unknown to mw exec (so it can never be taken for the command or
// silently ignored).
func TestEveryParallelOptionKnown(t *testing.T) {
	p := &parser{o: &options{}, table: optionTable(), set: map[string]bool{}}
	for _, n := range parallelOptionNames(t) {
		if n == "" {
			continue // an empty alternative of Perl's own
		}
		if len(n) == 1 {
			if p.lookupShort(n[0]) == nil {
				t.Errorf("-%s: unknown to mw exec", n)
			}
			continue
		}
		if _, canon, err := p.lookupLong(n); err != nil || canon != strings.ToLower(n) {
			t.Errorf("--%s: %v (found %q)", n, err, canon)
		}
	}
}

// TestOptionTable: no name is given twice, and every refused option has a hint.
func TestOptionTable(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range optionTable() {
		names := append([]string(nil), o.long...)
		if o.short != 0 {
			names = append(names, "-"+string(o.short))
		}
		for _, n := range names {
			if seen[n] {
				t.Errorf("%s is in the table twice", n)
			}
			seen[n] = true
		}
		if o.apply == nil && o.refuse == "" {
			t.Errorf("%v: refused without a hint", names)
		}
	}
}

// TestRefusedByName: an option mw does not support ends mw exec with GNU parallel's status
// 255 and one line naming it, before anything runs, never taken for the command.
func TestRefusedByName(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-S", "server", "touch", dir + "/ran"},
		{"--sshlogin=server", "touch", dir + "/ran"},
		{"--plus", "touch", dir + "/ran", ":::", "x"},
		{"--round-robin", "--pipe", "touch", dir + "/ran"},
		{"-kvS", "s", "touch", dir + "/ran"},
		{"--csv", "touch", dir + "/ran"},
		{"touch", dir + "/ran{= $_ =}", ":::", "x"},
		{"--no-such-option", "touch", dir + "/ran"},
	} {
		r := mwtest.Run(t, nil, append([]string{"exec", "--quiet"}, args...)...)
		lines := strings.Split(strings.TrimSuffix(string(r.Stderr), "\n"), "\n")
		if r.Code != 255 || len(lines) != 2 || !strings.HasPrefix(lines[0], "mw: exec: ") || lines[1] != "Run 'mw exec -h' for help." {
			t.Errorf("%q: exit %d, stderr %q; want 255 and one line naming the option", args, r.Code, r.Stderr)
		}
		if _, err := os.Stat(dir + "/ran"); err == nil {
			t.Fatalf("%q: the command ran", args)
		}
	}
}
