//go:build !linux

package core

import (
	"syscall"
)

// BrowserProcAttr puts a browser corscheck starts in its own process group
// (so Close ends its helper processes too). Only Linux has a parent-death
// signal; elsewhere Close and the lost connection end the browser.
func BrowserProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
