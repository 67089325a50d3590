//go:build !linux

package taskfarm

import "syscall"

// sysProcAttr puts a task in its own process group (so that --timeout and a stopping job
// kill all of it).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// process is a started task.
type process struct{ pid int }

// startProcess starts a task with syscall.ForkExec.
func startProcess(path string, argv []string, attr *syscall.ProcAttr) (process, error) {
	pid, err := syscall.ForkExec(path, argv, attr)
	return process{pid: pid}, err
}

// wait waits for the task to end and reaps it.
func (p process) wait() (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	_, err := wait4(p.pid, &ws, 0)
	return ws, err
}
