package core

import (
	"syscall"
)

// BrowserProcAttr puts a browser corscheck starts in its own process group
// (so Close ends its helper processes too) and has the kernel kill it if
// corscheck dies, SIGKILL included.
func BrowserProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
