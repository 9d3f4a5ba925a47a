package sockets

import (
	"net"
	"syscall"
	"testing"
)

// The socket check sees a non-loopback peer: a UDP socket connected to a
// documentation address (connect sends nothing) in this process's group.
func TestNonLoopbackSocketsDetects(t *testing.T) {
	c, err := net.Dial("udp", "192.0.2.1:9")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if bad := NonLoopback(syscall.Getpgrp()); len(bad) == 0 {
		t.Fatal("the check missed a socket connected to 192.0.2.1")
	}
}
