//go:build cgo

package pool_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/mpitest/mpirun"
	"github.com/mw-hpc/mw/internal/mwtest"
)

// launch runs argv[0] with the rest as arguments, under the launcher with np ranks when
// np > 0, within mwtest.Deadline (a run past it is a hang, and fails the test).
func launch(t *testing.T, np int, argv ...string) ran {
	t.Helper()
	if np > 0 {
		l := mpirun.Current()
		argv = append(append([]string{l.Command}, l.Args(np, mpirun.Options{})...), argv...)
	}
	r := mwtest.Command(t, nil, argv[0], argv[1:]...)
	return ran{stdout: string(r.Stdout), stderr: string(r.Stderr), code: r.Code}
}

type ran struct {
	stdout, stderr string
	code           int
}

// build builds the package at dir (relative to pool/) for the launcher's MPI.
func build(t *testing.T, dir, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no mpirun runs")
	}
	if _, err := exec.LookPath(mpirun.Current().Command); err != nil {
		t.Skip(mpirun.Current().Command + " is not installed")
	}
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-tags", mpirun.Current().Tags, "-o", bin, dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// lines are the lines of stderr that the program printed (not the launcher's).
func lines(stderr, prog string) []string {
	var own []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, prog+": ") {
			own = append(own, l)
		}
	}
	return own
}

func TestUnderMPIRunEveryCallGivesTheSameBytes(t *testing.T) {
	bin := build(t, "./internal/scenario", "scenario")
	alone := launch(t, 0, bin)
	require.Equal(t, 0, alone.code, alone.stderr)
	require.Equal(t, "[one four nine     ]\n332833500 1000\nelement 4 is odd: true\n[MW 5 true]\n", alone.stdout)
	for _, np := range []int{1, 3} {
		r := launch(t, np, bin)
		require.Equal(t, 0, r.code, "np %d: %s", np, r.stderr)
		require.Equal(t, alone.stdout, r.stdout, "np %d", np)
	}
}

// A rank that leaves the sequence ends the job with one line naming it and what it did.
func TestUnderMPIRunARankOutOfStepEndsTheJob(t *testing.T) {
	bin := build(t, "./internal/scenario", "scenario")
	cases := []struct {
		name string
		line string // the line rank 0 prints, as a regular expression
		code int    // the launcher's exit code; -1: not 0 (after a panic, which exits 2, launchers differ: Open MPI gives the first rank's code, MPICH ORs them)
	}{
		{"early-return", `^scenario: rank 1 on [^ ]+ returned from pool.Main's body after 0 collective calls, while rank 0 called pool.Map\[int, int\]\(main.square\) at main.go:\d+$`, 1},
		{"rank0-early", `^scenario: rank 1 on [^ ]+ called pool.Map\[int, int\]\(main.square\) at main.go:\d+, after rank 0 returned from pool.Main's body \(0 collective calls\)$`, 1},
		{"worker-panic", `^scenario: rank 1 on [^ ]+ panicked outside a task \(boom\) at main.go:\d+, after 0 collective calls, while rank 0 called pool.Map\[int, int\]\(main.square\) at main.go:\d+$`, -1},
		{"other-call", `^scenario: rank 2 on [^ ]+ called pool.Broadcast\[string\] at main.go:\d+, while rank 0 called pool.Map\[int, int\]\(main.square\) at main.go:\d+$`, 1},
		{"worker-error", `^scenario: rank 2 on [^ ]+: custom failure$`, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := launch(t, 3, bin, "-case", c.name)
			if c.code < 0 {
				require.NotEqual(t, 0, r.code, r.stderr)
			} else {
				require.Equal(t, c.code, r.code, r.stderr)
			}
			own := lines(r.stderr, "scenario")
			require.Len(t, own, 1, r.stderr)
			require.Regexp(t, regexp.MustCompile(c.line), own[0])
		})
	}
	t.Run("rank0-panic", func(t *testing.T) {
		r := launch(t, 3, bin, "-case", "rank0-panic")
		require.NotEqual(t, 0, r.code)
		require.Contains(t, r.stderr, "panic: rank 0 gives up [recovered by pool.Main on rank 0]\n\ngoroutine ")
	})
	t.Run("no-main", func(t *testing.T) {
		r := launch(t, 3, bin, "-case", "no-main")
		require.Equal(t, 1, r.code)
		// Each rank says so at once (the launcher may end the others before they print).
		require.Regexp(t, `(?m)^rank (\d): pool.Map called outside pool.Main in rank (\d) of an MPI job: wrap main's body in pool.Main`, r.stderr)
	})
}
