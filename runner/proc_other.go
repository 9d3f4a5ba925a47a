//go:build !linux

package runner

import "syscall"

// browserProcAttr puts a browser corscheck starts in its own process group
// (so Close ends its helper processes too). Only Linux has a parent-death
// signal; elsewhere Close and the lost connection end the browser.
func browserProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
