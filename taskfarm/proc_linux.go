package taskfarm

import "syscall"

// sysProcAttr puts a task in its own process group (so that --timeout and a stopping job
// kill all of it) and kills it if its worker rank dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
