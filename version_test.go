package main

import (
	"bytes"
	"regexp"
	"runtime/debug"
	"testing"

	"github.com/mw-hpc/mw/mpi"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tt := range []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build information", nil, false, "dev"},
		{"go build in a clean checkout", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207175012-29630be1a2b3"},
			Settings: vcs("29630be1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7", "false")}, true, "29630be"},
		{"go build with changes", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207175012-29630be1a2b3+dirty"},
			Settings: vcs("29630be1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7", "true")}, true, "29630be-dirty"},
		{"go install mw@v1.2.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, true, "v1.2.0"},
		{"no version control", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "dev"},
	} {
		if got := buildVersion(tt.bi, tt.ok); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestPrintVersion: mw's version, then the library's own words, which name the MPI this
// binary was built against.
func TestPrintVersion(t *testing.T) {
	var b bytes.Buffer
	printVersion(&b)
	want := map[mpi.Impl]string{mpi.OpenMPI: "Open MPI", mpi.MPICH: "MPICH"}[mpi.Implementation()]
	re := "^mw \\S+\n.*" + want + ".*\n"
	if !regexp.MustCompile(re).Match(b.Bytes()) {
		t.Errorf("printVersion wrote %q, want it to match %q", b.String(), re)
	}
}
