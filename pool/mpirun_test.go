//go:build cgo

package pool_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mw-hpc/mw/internal/mpitest/mpirun"
)

// runDeadline bounds each run of a program: a run past it is a hang, and fails the test.
const runDeadline = 60 * time.Second

type ran struct {
	stdout, stderr string
	code           int
}

// launch runs argv (under the launcher when np > 0) and fails the test if it outlives
// runDeadline.
func launch(t *testing.T, np int, argv ...string) ran {
	t.Helper()
	l := mpirun.Current()
	ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
	defer cancel()
	if np > 0 {
		argv = append(append([]string{l.Command}, l.Args(np, mpirun.Options{})...), argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = l.Env(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%v hung (killed after %v); stderr:\n%s", argv, runDeadline, se.String())
	r := ran{stdout: so.String(), stderr: se.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return r
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
		for rk := range 3 {
			require.Contains(t, r.stderr, "rank "+strconv.Itoa(rk)+": pool.Map called outside pool.Main in rank "+strconv.Itoa(rk)+" of an MPI job")
		}
	})
}
