package runner_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// descendants lists the process ids whose ancestry includes pid.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 {
			parent[p], _ = strconv.Atoi(fields[1])
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// peakRSS is the largest VmHWM (peak resident set, MiB) among a browser's
// processes.
func peakRSS(pid int) int {
	peak := 0
	for _, p := range append(descendants(pid), pid) {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				peak = max(peak, kb/1024)
			}
		}
		f.Close()
	}
	return peak
}

var _ = Describe("Faults: the browser or the target misbehaves", func() {
	It("notices a crashed renderer from its event, not a deadline, and tries its probes again on a fresh tab", func() {
		b, err := runner.Start(context.Background(), runner.Options{LoopbackOnly: true})
		Expect(err).NotTo(HaveOccurred())
		defer b.Close()
		var hold atomic.Bool
		hold.Store(true)
		arrived := make(chan struct{}, 1)
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hold.Load() {
				select {
				case arrived <- struct{}{}:
				default:
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		}))
		defer srv.Close()
		defer close(release)
		var probes []runner.Probe
		for range 8 {
			probes = append(probes, runner.Probe{Origin: app, Fetches: []runner.Fetch{{URL: srv.URL + "/x", Method: "GET"}}})
		}
		done := make(chan [][]scenarios.Observation, 1)
		go func() {
			defer GinkgoRecover()
			obs, err := b.Run(context.Background(), probes, runner.RunOptions{Timeout: 60 * time.Second})
			Expect(err).NotTo(HaveOccurred())
			done <- obs
		}()
		Eventually(arrived).WithTimeout(10 * time.Second).Should(Receive())
		killed := 0
		for _, p := range descendants(b.(interface{ PID() int }).PID()) {
			if strings.Contains(cmdline(p), "--type=renderer") {
				Expect(syscall.Kill(p, syscall.SIGKILL)).To(Succeed())
				killed++
			}
		}
		Expect(killed).To(BeNumerically(">", 0), "no renderer found: the test would prove nothing")
		hold.Store(false) // the retry finds a working target
		start := time.Now()
		var obs [][]scenarios.Observation
		Eventually(done).WithTimeout(20 * time.Second).Should(Receive(&obs))
		noticed := time.Since(start)
		GinkgoWriter.Printf("renderer crash noticed and probes retried in %s (timeout 60s)\n", noticed)
		Expect(noticed).To(BeNumerically("<", 5*time.Second))
		for _, o := range obs {
			Expect(o[0].Outcome).To(Equal(scenarios.Allowed), "%+v", o[0])
		}
	})

	It("never buffers a body it does not need: a 1 GiB body leaves the browser's peak memory flat, and the fetch is allowed", func() {
		b, err := runner.Start(context.Background(), runner.Options{LoopbackOnly: true})
		Expect(err).NotTo(HaveOccurred())
		defer b.Close()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			size := int64(1 << 30)
			if r.URL.Path == "/small" {
				size = 10
			}
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			chunk := make([]byte, 1<<20)
			for sent := int64(0); sent < size; sent += int64(len(chunk)) {
				n := min(int64(len(chunk)), size-sent)
				if _, err := w.Write(chunk[:n]); err != nil {
					return
				}
			}
		}))
		defer srv.Close()
		pid := b.(interface{ PID() int }).PID()
		small, err := b.Run(context.Background(), []runner.Probe{{Origin: app, Fetches: []runner.Fetch{{URL: srv.URL + "/small", Method: "GET"}}}}, runner.RunOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(small[0][0].Body.Complete).To(BeTrue())
		before := peakRSS(pid)
		obs, err := b.Run(context.Background(), []runner.Probe{{Origin: app, Fetches: []runner.Fetch{{URL: srv.URL + "/huge", Method: "GET"}}}}, runner.RunOptions{Timeout: 20 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		after := peakRSS(pid)
		o := obs[0][0]
		Expect(o.Outcome).To(Equal(scenarios.Allowed))
		Expect(o.Body.Capped).To(BeTrue())
		Expect(o.Body.Complete).To(BeFalse())
		GinkgoWriter.Printf("peak browser RSS: %d MiB after a 10-byte body, %d MiB after a 1 GiB body\n", before, after)
		Expect(after-before).To(BeNumerically("<", 64), "peak memory grew by %d MiB", after-before)
	})

	It("records a truncated body on an allowed fetch without changing the verdict", func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			w.Write([]byte("only ten b"))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}))
		defer srv.Close()
		o := probe(app, 5*time.Second, runner.Fetch{URL: srv.URL + "/t", Method: "GET"})[0]
		Expect(o.Outcome).To(Equal(scenarios.Allowed))
		Expect(o.Body).NotTo(BeNil())
		Expect(o.Body.Complete).To(BeFalse())
		Expect(o.Body.Bytes).To(BeNumerically("<", 1000))
		Expect(o.Body.Error).NotTo(BeEmpty())
	})

	It("ends a fetch whose body never finishes at the timeout, which covers the body", func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			w.Write([]byte("slow"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}))
		defer srv.Close()
		start := time.Now()
		o := probe(app, time.Second, runner.Fetch{URL: srv.URL + "/slow", Method: "GET"})[0]
		Expect(time.Since(start)).To(BeNumerically("<", 4*time.Second))
		Expect(o.Outcome).To(Equal(scenarios.Allowed), "the CORS verdict came with the headers")
		Expect(o.Body.Complete).To(BeFalse())
		Expect(o.Body.Error).To(ContainSubstring("timed out"))
	})
})
