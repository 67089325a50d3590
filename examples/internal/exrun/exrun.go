// Package exrun builds an example program and runs it alone and under the MPI launcher
// this build of mw uses, for the examples' tests: each run is bounded, and one past its
// deadline fails the test as a hang.
package exrun

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mw-hpc/mw/internal/mpitest/mpirun"
)

// Deadline bounds each run.
const Deadline = 60 * time.Second

// Result is what a run printed and how it ended.
type Result struct {
	Stdout, Stderr []byte
	Code           int
}

// Build builds the main package in the test's directory as name and returns its path. It
// skips the test in -short mode.
func Build(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no runs of the built program")
	}
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-tags", mpirun.Current().Tags, "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// MPI reports whether runs under the launcher are possible here (the launcher is installed,
// and Go builds with cgo, so with MPI); it logs why not.
func MPI(t *testing.T) bool {
	t.Helper()
	if _, err := exec.LookPath(mpirun.Current().Command); err != nil {
		t.Log(mpirun.Current().Command, "is not installed: no runs under it")
		return false
	}
	out, err := exec.Command("go", "env", "CGO_ENABLED").Output()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Log("built without cgo, so without MPI: no runs under the launcher")
		return false
	}
	return true
}

// Run runs bin with args: alone when np is 0, else under the launcher with np ranks.
func Run(t *testing.T, np int, bin string, args ...string) Result {
	t.Helper()
	l := mpirun.Current()
	argv := append([]string{bin}, args...)
	if np > 0 {
		argv = append(append([]string{l.Command}, l.Args(np, mpirun.Options{})...), argv...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = l.Env(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after %v (a hang); stderr:\n%s", argv, Deadline, se.Bytes())
	}
	r := Result{Stdout: so.Bytes(), Stderr: se.Bytes()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", argv, err)
	}
	return r
}
