package taskfarm

import (
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcAttr puts a task in its own process group (so that --timeout and a stopping job
// kill all of it) and kills it if its worker rank dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// process is a started task.
type process struct {
	pid   int
	pidfd *os.File // readable once the task has ended, on the poller; nil without pidfds
}

// startProcess starts a task with syscall.ForkExec (a vfork on Linux) and asks for a
// pidfd, so that waiting for the task parks its goroutine on the poller rather than
// blocking a thread in wait4: with the goroutines of every P in wait4, sysmon hands the
// Ps to other threads and keeps polling every 20µs (twice the context switches per task).
func startProcess(path string, argv []string, attr *syscall.ProcAttr) (process, error) {
	pidfd := -1
	if !noPidfd.Load() {
		attr.Sys.PidFD = &pidfd
	}
	pid, err := syscall.ForkExec(path, argv, attr)
	if attr.Sys.PidFD != nil && (err == syscall.EINVAL || err == syscall.EPERM || err == syscall.ENOSYS) {
		// Maybe a clone refused for its CLONE_PIDFD (a kernel or an emulator without
		// pidfds, a seccomp filter): try without, as os.StartProcess does after its own
		// check. A failed start ran nothing of the task: trying again is harmless.
		attr.Sys.PidFD, pidfd = nil, -1
		if pid, err = syscall.ForkExec(path, argv, attr); err == nil {
			noPidfd.Store(true)
		}
	}
	if err != nil {
		return process{}, err
	}
	p := process{pid: pid}
	if pidfd >= 0 {
		if syscall.SetNonblock(pidfd, true) == nil {
			p.pidfd = os.NewFile(uintptr(pidfd), "pidfd") // non-blocking: on the poller
		} else {
			syscall.Close(pidfd)
		}
	}
	return p, nil
}

// noPidfd is set once a start failed with a pidfd and worked without.
var noPidfd atomic.Bool

// exited waits for the task to end without reaping it: until reap, its zombie keeps its
// pid, and with it the task's process group id, from being reused, so that signalling
// the group (groupKill, shutdown) cannot reach another process.
func (p process) exited() error {
	if p.pidfd != nil {
		var werr error
		rerr := func() error {
			rc, err := p.pidfd.SyscallConn()
			if err != nil {
				return err
			}
			// Read calls the function, and again each time the pidfd turns readable, until
			// it returns true. Each call looks (WNOHANG): the task may have ended before
			// the first, and returning before it has ended would cancel its --timeout.
			return rc.Read(func(uintptr) bool {
				var ended bool
				ended, werr = waitExited(p.pid, unix.WNOHANG)
				return ended || werr != nil
			})
		}()
		if rerr == nil {
			return werr
		}
		// The pidfd cannot be polled (a kernel older than 5.3): block, as without one.
	}
	_, err := waitExited(p.pid, 0)
	return err
}

// reap collects the status of the task, which has ended (exited), and closes its pidfd.
func (p process) reap() (syscall.WaitStatus, error) {
	if p.pidfd != nil {
		p.pidfd.Close()
	}
	var ws syscall.WaitStatus
	_, err := wait4(p.pid, &ws, 0)
	return ws, err
}

// waitExited is waitid(P_PID, pid, WEXITED|WNOWAIT|options), retried on EINTR: it reports
// whether the process has ended (always, unless options has WNOHANG) and leaves it
// unreaped.
func waitExited(pid, options int) (bool, error) {
	for {
		var info unix.Siginfo // zeroed: with WNOHANG and nothing to report, Signo stays 0
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT|options, nil)
		if err != unix.EINTR {
			if err != nil {
				return false, os.NewSyscallError("waitid", err)
			}
			return info.Signo != 0, nil
		}
	}
}
