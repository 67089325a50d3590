//go:build cgo

package mpitransport

import (
	"slices"
	"testing"

	"github.com/mw-hpc/mw/launch"
	"github.com/mw-hpc/mw/mpi"
)

// TestNoticeWanted: only rank 0 of a job with workers, started by Open MPI's mpirun with
// recovery on, in a build for Open MPI, watches for the launcher's notice.
func TestNoticeWanted(t *testing.T) {
	on := func(string) string { return "1" }
	off := func(string) string { return "" }
	openMPI := mpi.Implementation() == mpi.OpenMPI
	for _, tt := range []struct {
		name       string
		by         launch.Launcher
		rank, size int
		env        func(string) string
		want       bool
	}{
		{"rank 0 with recovery", launch.OpenMPI, 0, 3, on, openMPI},
		{"a worker", launch.OpenMPI, 1, 3, on, false},
		{"no workers", launch.OpenMPI, 0, 1, on, false},
		{"without recovery", launch.OpenMPI, 0, 3, off, false},
		{"srun --mpi=pmix", launch.PMIx, 0, 3, on, false},
		{"hydra", launch.PMI, 0, 3, on, false},
	} {
		if got := noticeWanted(launch.Info{By: tt.by}, tt.rank, tt.size, tt.env); got != tt.want {
			t.Errorf("%s: noticeWanted = %v, want %v", tt.name, got, tt.want)
		}
	}
	for v, want := range map[string]bool{"1": true, "true": true, " Yes": true, "enabled": true, "0": false, "": false, "false": false, "2": false} {
		if got := recoveryOn(v); got != want {
			t.Errorf("recoveryOn(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestNoticesTake: ranks added by the watch's goroutine come out of take once each, in
// order, however the calls interleave (run with -race).
func TestNoticesTake(t *testing.T) {
	var n notices
	const count = 1000
	go func() {
		for r := range count {
			n.add(r)
		}
	}()
	var got []int
	for len(got) < count {
		got = append(got, n.take()...)
	}
	want := make([]int, count)
	for r := range want {
		want[r] = r
	}
	if !slices.Equal(got, want) {
		t.Errorf("took %d ranks, not 0 to %d in order", len(got), count-1)
	}
	if rs := n.take(); rs != nil {
		t.Errorf("take after all: %v", rs)
	}
}
