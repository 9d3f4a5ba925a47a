package suite_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuSplit is CPU time (user + system) so far: this process (corscheck's
// Go side and the demo target it serves), and every live process it
// started, directly or not, with the processes they reaped (the browser's
// processes, renderers that ended included). Linux only: zero elsewhere.
func cpuSplit() (self, browser time.Duration) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := map[int]int{}
	used := map[int]time.Duration{}
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended
		}
		// pid (comm) state ppid ... utime stime: comm may hold spaces.
		s := string(data)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s[:end])[0])
		f := strings.Fields(s[end+1:])
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		// utime, stime, and the children's it reaped (Chrome's zygote
		// reaps the renderer of every page it navigated away from).
		ticks := 0
		for _, k := range []int{11, 12, 13, 14} {
			n, _ := strconv.Atoi(f[k])
			ticks += n
		}
		parent[pid] = ppid
		used[pid] = time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	me := os.Getpid()
	for pid, d := range used {
		if pid == me {
			self = d
			continue
		}
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == me {
				browser += d
				break
			}
		}
	}
	return self, browser
}
