package runner

import "syscall"

// browserProcAttr puts a browser corscheck starts in its own process group
// (so Close ends its helper processes too) and has the kernel kill it if
// corscheck dies, SIGKILL included.
func browserProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
