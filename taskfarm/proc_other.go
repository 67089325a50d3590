//go:build !linux

package taskfarm

import "syscall"

// sysProcAttr puts a task in its own process group (so that --timeout and a stopping job
// kill all of it).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// process is a started task.
type process struct {
	pid int
	ws  syscall.WaitStatus
}

// startProcess starts a task with syscall.ForkExec.
func startProcess(path string, argv []string, attr *syscall.ProcAttr) (process, error) {
	pid, err := syscall.ForkExec(path, argv, attr)
	return process{pid: pid}, err
}

// exited waits for the task to end. Here it reaps it too (reap then reports the status):
// without waitid's WNOWAIT, a group signal after this may reach a reused process group id.
func (p *process) exited() error {
	_, err := wait4(p.pid, &p.ws, 0)
	return err
}

// reap reports the status exited collected.
func (p *process) reap() (syscall.WaitStatus, error) { return p.ws, nil }
