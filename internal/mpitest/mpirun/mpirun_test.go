package mpirun

import (
	"slices"
	"testing"
)

func TestArgs(t *testing.T) {
	o := Options{TagOutput: true, Unbound: true, Export: []string{"A"}}
	if got, want := openMPI.Args(3, o), []string{"-np", "3", "--oversubscribe", "--bind-to", "none", "--tag-output", "-x", "A"}; !slices.Equal(got, want) {
		t.Errorf("Open MPI: %q, want %q", got, want)
	}
	if got, want := mpich.Args(3, o), []string{"-n", "3", "-prepend-rank"}; !slices.Equal(got, want) {
		t.Errorf("MPICH: %q, want %q", got, want)
	}
	if got := mpich.Args(1, Options{}); !slices.Equal(got, []string{"-n", "1"}) {
		t.Errorf("MPICH untagged: %q", got)
	}
	if got := openMPI.Args(2, Options{}); !slices.Equal(got, []string{"-np", "2", "--oversubscribe"}) {
		t.Errorf("Open MPI, bound: %q", got)
	}
}

func TestEnv(t *testing.T) {
	base := []string{"HOME=/root"}
	if got := openMPI.Env(base); len(got) != 4 || !slices.Contains(got, "OMPI_ALLOW_RUN_AS_ROOT=1") {
		t.Errorf("Open MPI: %q", got)
	}
	if got := mpich.Env(base); !slices.Equal(got, base) {
		t.Errorf("MPICH: %q", got)
	}
	if len(base) != 1 {
		t.Errorf("Env changed its argument: %q", base)
	}
}

func TestUntag(t *testing.T) {
	for _, tt := range []struct {
		l        Launcher
		in, want string
	}{
		{openMPI, "[1,0]<stdout>:PASS", "PASS"},
		{openMPI, "[1,12]<stderr>:--- FAIL: [x] y", "--- FAIL: [x] y"},
		{openMPI, "PASS", "PASS"},
		{mpich, "[0] PASS", "PASS"},
		{mpich, "[12] [x] y", "[x] y"},
		{mpich, "[oops", "[oops"},
	} {
		if got := tt.l.Untag(tt.in); got != tt.want {
			t.Errorf("%s: Untag(%q) = %q, want %q", tt.l.MPI, tt.in, got, tt.want)
		}
	}
}
