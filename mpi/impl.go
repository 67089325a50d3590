package mpi

// What differs between MPI implementations, all in this file: which library mpi.h belongs
// to, its version, and its tuning parameters. Which library the package is built against is
// chosen by build tag (see lib_openmpi.go, lib_mpich.go); everything else in the package is
// standard MPI-3.

/*
#include <mpi.h>

#if defined(OPEN_MPI)
#define MW_IMPL 1
#define MW_MAJOR OMPI_MAJOR_VERSION
#define MW_MINOR OMPI_MINOR_VERSION
#define MW_RELEASE OMPI_RELEASE_VERSION
#elif defined(MPICH_NUMVERSION)
// MPICH and the libraries built on it (Intel MPI, Cray MPICH, MVAPICH): MPICH_NUMVERSION is
// MAJOR*10^7 + MINOR*10^5 + REVISION*10^3 + release type and patch.
#define MW_IMPL 2
#define MW_MAJOR (MPICH_NUMVERSION / 10000000)
#define MW_MINOR (MPICH_NUMVERSION / 100000 % 100)
#define MW_RELEASE (MPICH_NUMVERSION / 1000 % 100)
#else
#define MW_IMPL 0
#define MW_MAJOR 0
#define MW_MINOR 0
#define MW_RELEASE 0
#endif

static int mw_library_version(char *buf, int *n) { return MPI_Get_library_version(buf, n); }
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// Impl names the family of MPI implementations this package was built against.
type Impl int

// The families mw knows. MPICH's family shares MPICH's mpi.h and ABI: Intel MPI, Cray MPICH,
// MVAPICH and MPICH itself are MPICH here.
const (
	OtherMPI Impl = iota // an mpi.h that is neither
	OpenMPI              // Open MPI (OPEN_MPI in mpi.h)
	MPICH                // MPICH or an MPICH derivative (MPICH_NUMVERSION in mpi.h)
)

// String returns "Open MPI", "MPICH" or "other MPI".
func (i Impl) String() string {
	switch i {
	case OpenMPI:
		return "Open MPI"
	case MPICH:
		return "MPICH"
	}
	return "other MPI"
}

// Implementation returns the family of the MPI this package was compiled against, from its
// mpi.h. Safe from any goroutine at any time.
func Implementation() Impl { return Impl(C.MW_IMPL) }

// Version is the version of the MPI this package was compiled against, from mpi.h: Open
// MPI's (OMPI_MAJOR_VERSION and the rest), or for MPICH's family the MPICH version its
// mpi.h declares (MPICH_NUMVERSION; a derivative such as Intel MPI reports the MPICH it
// derives from). 0, 0, 0 for another MPI. Safe from any goroutine at any time.
func Version() (major, minor, release int) {
	return int(C.MW_MAJOR), int(C.MW_MINOR), int(C.MW_RELEASE)
}

var libraryVersion = sync.OnceValue(func() string {
	buf := make([]C.char, C.MPI_MAX_LIBRARY_VERSION_STRING+1)
	var n C.int
	if C.mw_library_version(&buf[0], &n) != C.MPI_SUCCESS {
		return ""
	}
	v, _, _ := strings.Cut(C.GoStringN(&buf[0], n), "\x00") // Open MPI counts the NUL
	return strings.TrimSpace(v)
})

// LibraryVersion returns the MPI library's own description of itself
// (MPI_Get_library_version), such as "Open MPI v4.1.4, package: Debian OpenMPI, ...", or
// MPICH's several lines ("MPICH Version: 4.0.2", its device, its configure options...). It
// is the library found at run time, which may differ from the mpi.h of Version. It may be
// called at any time, before Start and after Stop, from any goroutine; "" if MPI fails.
func LibraryVersion() string { return libraryVersion() }

// SetParamDefault sets Open MPI's MCA parameter name (such as "btl_vader_eager_limit") to
// value for this process, unless the environment sets it already (mpirun --mca name v and
// OMPI_MCA_name=v both do), and reports whether it did. It works through the environment,
// which Open MPI reads in MPI_Init: call it before Start (after, it returns an error), and
// not beside other goroutines' use of the environment. The environment outranks Open MPI's
// parameter files, so a value set only in such a file gives way to this default.
//
// MCA parameters are Open MPI's: built against another MPI (see Implementation), it sets
// nothing and reports false, so a default meant for Open MPI leaves other MPIs alone.
func SetParamDefault(name, value string) (set bool, err error) {
	if state.Load() != stateIdle {
		return false, fmt.Errorf("mpi: set default of %s: MPI was started", name)
	}
	if Implementation() != OpenMPI {
		return false, nil
	}
	key := "OMPI_MCA_" + name
	if _, ok := os.LookupEnv(key); ok {
		return false, nil
	}
	if err := os.Setenv(key, value); err != nil {
		return false, fmt.Errorf("mpi: set default of %s: %w", name, err)
	}
	return true, nil
}

// SharedMemoryBTL is the name of Open MPI's shared-memory transport, the prefix of its
// parameters (btl_<name>_eager_limit and the rest): "vader" before Open MPI 5, "sm" from 5 on
// (where "vader" remains as a deprecated alias); "" when built against another MPI.
func SharedMemoryBTL() string {
	if Implementation() != OpenMPI {
		return ""
	}
	if major, _, _ := Version(); major >= 5 {
		return "sm"
	}
	return "vader"
}
