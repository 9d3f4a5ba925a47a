// Package sockets lets tests check that a browser's processes reach
// nothing beyond loopback: the sockets of a process group, from /proc.
package sockets

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// NonLoopback lists the sockets of pid's process group (Firefox and
// its content processes) whose remote address is not loopback.
func NonLoopback(pgid int) []string {
	inodes := map[string]bool{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Field 5 of /proc/PID/stat is the process group.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 3 || fields[2] != fmt.Sprint(pgid) {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		for _, fd := range fds {
			l, _ := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name()))
			if m := regexp.MustCompile(`^socket:\[(\d+)\]$`).FindStringSubmatch(l); m != nil {
				inodes[m[1]] = true
			}
		}
	}
	var bad []string
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		data, _ := os.ReadFile("/proc/net/" + table)
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			ip := hexIP(strings.Split(f[2], ":")[0])
			if ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
				continue
			}
			bad = append(bad, table+" "+ip.String())
		}
	}
	return bad
}

// hexIP decodes /proc/net's little-endian-per-word hex address.
func hexIP(h string) net.IP {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b)
}
