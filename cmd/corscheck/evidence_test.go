package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
)

// badActualTarget answers preflights correctly and does something bad to
// every actual request: "reset" (a TCP reset), "garbage" (bytes that are
// not HTTP), "slowloris" (the status line one byte at a time, never done).
func badActualTarget(t *testing.T, mode string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					origin := req.Header.Get("Origin")
					if req.Method == http.MethodOptions {
						c.Write([]byte("HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: " + origin +
							"\r\nAccess-Control-Allow-Credentials: true\r\nAccess-Control-Allow-Methods: GET, POST, PUT, DELETE\r\nAccess-Control-Allow-Headers: Content-Type, Authorization, X-Request-ID\r\nAccess-Control-Max-Age: 600\r\n\r\n"))
						continue
					}
					switch mode {
					case "reset":
						if tc, ok := c.(*net.TCPConn); ok {
							tc.SetLinger(0)
						}
					case "garbage":
						c.Write([]byte("\x00\x01garbage that is not HTTP\r\n\r\n"))
					case "slowloris":
						for _, b := range []byte("HTTP/1.1 200 OK\r\nX-Drip: ") {
							select {
							case <-done:
								return
							case <-time.After(400 * time.Millisecond):
							}
							c.Write([]byte{b})
						}
						<-done
					}
					return
				}
			}(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

// Whatever the target does to the actual requests (resets, garbage, a
// slowloris drip), the run writes results.json, junit.xml and report.html
// with every case that ran (errors as errors) and says why it stopped,
// exit 2; a single transient error is retried once before it counts.
func TestEvidenceSurvivesABadTarget(t *testing.T) {
	for _, mode := range []string{"reset", "garbage", "slowloris"} {
		t.Run(mode, func(t *testing.T) {
			target := badActualTarget(t, mode)
			out := t.TempDir()
			r := corscheck(t, nil, "run", "--policy", "../../fixtures/policies/sample.yaml", "--target", target+"/api",
				"--timeout", "2s", "--label-filter", "origin:allowed", "--out", out)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			res, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil {
				t.Fatalf("no results.json after a %s target: %v\n%s", mode, err, r.stderr)
			}
			if res.Stopped == "" || !strings.Contains(lastLine(r.stderr), strings.SplitN(res.Stopped, ":", 2)[0]) {
				t.Errorf("results.json does not say why the run stopped as the terminal did: %q\n%s", res.Stopped, r.stderr)
			}
			for _, n := range []string{"junit.xml", "report.html"} {
				if _, err := os.Stat(filepath.Join(out, n)); err != nil {
					t.Errorf("%s missing: %v", n, err)
				}
			}
			if mode == "slowloris" {
				return // nothing answered: the one fetch that proves the target answers timed out
			}
			if res.Summary.Total == 0 || res.Summary.Errored == 0 {
				t.Fatalf("the cases that ran are not in results.json: %+v", res.Summary)
			}
			preflighted := 0
			for _, c := range res.Cases {
				o := c.Observed
				if c.Verdict == scenarios.Pass && o.Response != nil {
					t.Errorf("%s passed with an actual answer from a target that answers none", c.ID)
				}
				if o.Preflight != nil && o.Preflight.Status == 204 {
					preflighted++
				}
			}
			if preflighted == 0 {
				t.Error("no case records the preflight the target did answer")
			}
		})
	}
}

// A full disk under --out: exit 2 naming the file and the OS's reason, the
// previous run's set untouched, no temporary file. The disk is a 600 KiB
// tmpfs in a mount namespace of its own (root only; CI runs as root).
func TestEvidenceFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root (CI runs as root)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is needed to mount a private tmpfs")
	}
	dir := t.TempDir()
	script := `set -e
mount -t tmpfs -o size=600k tmpfs "$1"
mkdir "$1/out"
for f in results.json junit.xml report.html; do echo "previous run" > "$1/out/$f"; done
set +e
"$2" run --out "$1/out" >"$1/stdout" 2>"$1/stderr"
echo $? > "$1/code"
cp "$1/stdout" "$1/stderr" "$1/code" "$3/"
ls -a "$1/out" > "$3/listing"
cat "$1/out/results.json" "$1/out/junit.xml" "$1/out/report.html" > "$3/previous"
`
	keep := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", mnt, bin, keep)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	read := func(n string) string { b, _ := os.ReadFile(filepath.Join(keep, n)); return string(b) }
	if code := strings.TrimSpace(read("code")); code != "2" {
		t.Fatalf("exit %s, want 2\n%s", code, read("stderr"))
	}
	if last := lastLine(read("stderr")); !strings.Contains(last, filepath.Join(mnt, "out", "results.json")) || !strings.Contains(last, "no space left on device") {
		t.Errorf("the error does not name the file and the OS's reason:\n%s", last)
	}
	if read("previous") != strings.Repeat("previous run\n", 3) {
		t.Errorf("the previous set changed:\n%s", read("previous"))
	}
	if l := read("listing"); strings.Contains(l, ".tmp-") {
		t.Errorf("a temporary file was left:\n%s", l)
	}
	if !bytes.Contains([]byte(read("stdout")), []byte("passed")) {
		t.Errorf("the verdicts were not printed:\n%s", read("stdout"))
	}
}

// One transient network error is retried once before it counts: the
// a case's actual GET is reset, its retry answers, and the run passes.
func TestTransientErrorRetriedOnce(t *testing.T) {
	p, err := fixtures.Policy("sample")
	if err != nil {
		t.Fatal(err)
	}
	ref := fixtures.Handler(p, fixtures.Flaws{})
	var mu sync.Mutex
	resets, gets := 0, 0
	doomed := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.Method == http.MethodGet {
			gets++
			// The fourth GET is a case's (the first two are the precheck
			// and discovery): that exact request (its URL carries the
			// probe's token) is reset whenever it comes, so the browser's
			// own retry on a reused connection meets the reset too.
			if gets == 4 {
				doomed = r.URL.RequestURI()
			}
		}
		first := r.Method == http.MethodGet && r.URL.RequestURI() == doomed
		if first {
			resets++
		}
		mu.Unlock()
		if first {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			return
		}
		ref.ServeHTTP(w, r)
	}))
	defer srv.Close()
	r := corscheck(t, nil, "run", "--policy", "../../fixtures/policies/sample.yaml", "--target", srv.URL+"/api/items",
		"--label-filter", "family:simple", "--out", t.TempDir())
	if r.code != 0 || resets == 0 {
		t.Fatalf("exit %d after %d reset(s), want 0 after a reset (the request retried under a new token)\n%s\n%s", r.code, resets, r.stdout, r.stderr)
	}
}
