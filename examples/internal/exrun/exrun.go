// Package exrun builds an example program and runs it alone and under the MPI launcher
// this build of mw uses, for the examples' tests: each run is bounded (mwtest.Deadline),
// and one past its deadline fails the test as a hang.
package exrun

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mw-hpc/mw/internal/mpitest/mpirun"
	"github.com/mw-hpc/mw/internal/mwtest"
)

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

// Run runs bin with args: alone when np is 0, else under the launcher with np ranks
// (within mwtest.Deadline).
func Run(t *testing.T, np int, bin string, args ...string) mwtest.Result {
	t.Helper()
	if np == 0 {
		return mwtest.Command(t, nil, bin, args...)
	}
	l := mpirun.Current()
	return mwtest.Command(t, nil, l.Command, append(append(l.Args(np, mpirun.Options{}), bin), args...)...)
}
