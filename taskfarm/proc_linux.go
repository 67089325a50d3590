package taskfarm

import (
	"os"
	"sync/atomic"
	"syscall"
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

// wait waits for the task to end and reaps it.
func (p process) wait() (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	if p.pidfd == nil {
		_, err := wait4(p.pid, &ws, 0)
		return ws, err
	}
	defer p.pidfd.Close()
	var werr error
	polled := false
	rerr := func() error {
		rc, err := p.pidfd.SyscallConn()
		if err != nil {
			return err
		}
		// Read calls the function, and again each time the pidfd turns readable, until it
		// returns true. The first call must look: the task may have ended already.
		return rc.Read(func(uintptr) bool {
			if !polled {
				polled = true
				wpid, err := wait4(p.pid, &ws, syscall.WNOHANG)
				werr = err
				return wpid != 0 || err != nil
			}
			// Readable: the task has ended (were it not so, blocking is still right).
			_, werr = wait4(p.pid, &ws, 0)
			return true
		})
	}()
	if rerr != nil {
		// The pidfd cannot be polled (a kernel older than 5.3): block, as before.
		_, werr = wait4(p.pid, &ws, 0)
	}
	return ws, werr
}
