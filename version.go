package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/mw-hpc/mw/mpi"
)

// version is mw's version when the build sets it (make: -ldflags "-X
// main.version=$(git describe --always --dirty)"); otherwise Go's build information gives it.
var version string

// printVersion writes `mw version`'s answer: mw's version on the first line, then the MPI
// library's description of itself (MPI_Get_library_version; no MPI_Init needed).
func printVersion(w io.Writer) {
	v := version
	if v == "" {
		bi, ok := debug.ReadBuildInfo()
		v = buildVersion(bi, ok)
	}
	fmt.Fprintf(w, "mw %s\n", v)
	lib := mpi.LibraryVersion()
	if lib == "" {
		major, minor, release := mpi.Version()
		lib = fmt.Sprintf("%v %d.%d.%d (mpi.h; the library did not say its version)", mpi.Implementation(), major, minor, release)
	}
	fmt.Fprintln(w, lib)
}

// buildVersion is mw's version from Go's build information: the module's version when go
// install fetched one (mw@v1.2.0), else the commit it was built from, as `git describe
// --always --dirty` names it (the first 7 hex digits, "-dirty" with uncommitted changes),
// else "dev".
func buildVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "dev"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		return "dev"
	}
	rev = rev[:min(len(rev), 7)]
	if modified == "true" {
		rev += "-dirty"
	}
	return rev
}
