package taskfarm

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mw-hpc/mw/launch"
)

// launcherStdout returns, for rank 0 under Open MPI's mpirun, mpirun's own stdout (the
// same open file, taken with pidfd_getfd(2)), so that rank 0 writes the tasks' output there
// itself rather than through mpirun's forwarding of its stdout: a pseudo-terminal that
// mpirun reads a few KiB at a time, which carried 150 MB of output at a fifth of the speed
// of a file. The bytes and their order are the same. It returns nil, and rank 0 writes to
// its own stdout as before, wherever that would not be the same: mpirun not its parent
// (another launcher, or rank 0 on another node than mpirun), mpirun asked to change the
// output (--tag-output, --timestamp-output, --xml, --output-filename), MW_STDOUT=forward
// in the environment, or a system that refuses it (no pidfds, or ptrace rules that keep a
// process from its parent's descriptors).
func launcherStdout() *os.File {
	if os.Getenv("MW_STDOUT") == "forward" || launch.FromEnv().By != launch.OpenMPI || mpirunRewritesOutput(os.Getenv) {
		return nil
	}
	ppid := os.Getppid()
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(ppid) + "/comm")
	if err != nil || !isMpirun(strings.TrimSpace(string(comm))) || !forwarded(os.Stdout) {
		return nil
	}
	pidfd, err := unix.PidfdOpen(ppid, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(pidfd)
	if os.Getppid() != ppid {
		return nil // mpirun ended before the pidfd: the pid may be another process's now
	}
	fd, err := unix.PidfdGetfd(pidfd, 1, 0) // close-on-exec, as the call makes every descriptor
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "mpirun's stdout")
}

// mpirunRewritesOutput reports whether mpirun was asked to change its ranks' output (its
// options reach the ranks as these variables): rank 0 must then go through it.
func mpirunRewritesOutput(getenv func(string) string) bool {
	for _, v := range []string{"OMPI_MCA_orte_tag_output", "OMPI_MCA_orte_timestamp_output", "OMPI_MCA_orte_xml_output",
		"OMPI_MCA_orte_output_filename"} {
		if s := getenv(v); s != "" && s != "0" && s != "false" {
			return true
		}
	}
	return false
}

// isMpirun reports whether a process name is Open MPI's launcher's (mpirun, mpiexec,
// orterun, prterun, and their suffixed names such as mpirun.openmpi).
func isMpirun(comm string) bool {
	for _, n := range []string{"mpirun", "mpiexec", "orterun", "prterun"} {
		if comm == n || strings.HasPrefix(comm, n+".") {
			return true
		}
	}
	return false
}

// forwarded reports whether f is what a launcher forwards: a pseudo-terminal or a pipe
// (not a file or a device the process was given some other way).
func forwarded(f *os.File) bool {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	mode := st.Mode & syscall.S_IFMT
	return mode == syscall.S_IFIFO || mode == syscall.S_IFSOCK || mode == syscall.S_IFCHR && isPty(f)
}

// isPty reports whether f is a pseudo-terminal (what Open MPI gives a rank's stdout).
func isPty(f *os.File) bool {
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	return err == nil && strings.HasPrefix(link, "/dev/pts/")
}
