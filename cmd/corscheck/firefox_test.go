package main

import (
	"bufio"
	"bytes"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
)

// firefoxUnder lists the PIDs of Firefox processes (the main one and its
// content processes) whose profile lives under dir: they all inherit
// HOME=<profile>.
func firefoxUnder(dir string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte("HOME="+dir)) {
			continue
		}
		if exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); strings.Contains(exe, "firefox") {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// webkitUnder lists the PIDs of the processes of a WebKit run (Xvfb, the
// driver, MiniBrowser and WebKit's helpers) started with TMPDIR=dir.
func webkitUnder(dir string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte("TMPDIR="+dir+"\x00")) {
			continue
		}
		if exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); strings.Contains(exe, "Xvfb") || strings.Contains(exe, "WebKit") || strings.Contains(exe, "MiniBrowser") {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// hangingTarget answers nothing until the test ends; arrived fires at the
// first request. With tls it serves https (WebKit blocks an https page's
// fetch to http) and gives the --ca-cert file for its certificate.
func hangingTarget(t *testing.T, tls bool) (string, string, chan struct{}) {
	arrived := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	})
	if !tls {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL, "", arrived
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	return srv.URL, ca, arrived
}

// browserUnderTest is an engine and how to find the processes of the
// browsers corscheck started with TMPDIR=dir.
type browserUnderTest struct {
	engine string
	under  func(dir string) []string
	procs  int           // at least this many processes while it runs
	stop   time.Duration // Ctrl-C ends the run within this
	tls    bool          // the target must be https
}

var browsersUnderTest = []browserUnderTest{
	{"chrome", chromeUnder, 1, 10 * time.Second, false},
	{"firefox", firefoxUnder, 2, 15 * time.Second, false},
	{"webkit", webkitUnder, 4, 10 * time.Second, true},
}

// startHangingRun starts corscheck run in a browser against a target that
// never answers, and waits until the browser's first request arrives.
func startHangingRun(t *testing.T, b browserUnderTest) (*exec.Cmd, string, string, *bytes.Buffer) {
	url, ca, arrived := hangingTarget(t, b.tls)
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	args := []string{"run", "--browser", b.engine, "--policy", "../../fixtures/policies/sample.yaml", "--target", url + "/api", "--timeout", "60s", "--out", out}
	if ca != "" {
		args = append(args, "--ca-cert", ca)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(90 * time.Second):
		// Beyond the 60 s a slow engine may take to start on a loaded machine.
		cmd.Process.Kill()
		t.Fatalf("no request reached the target: %s", stderr.String())
	}
	if n := len(b.under(tmp)); n < b.procs {
		t.Fatalf("%d %s processes found under the test's TMPDIR, want at least %d: the checks below would prove nothing", n, b.engine, b.procs)
	}
	return cmd, tmp, out, &stderr
}

// Ctrl-C during a run: it stops within seconds, writes partial results
// marked interrupted, and leaves no browser process and no profile.
func TestInterruptLeavesNoBrowser(t *testing.T) {
	for _, b := range browsersUnderTest {
		t.Run(b.engine, func(t *testing.T) {
			cmd, tmp, out, stderr := startHangingRun(t, b)
			start := time.Now()
			cmd.Process.Signal(syscall.SIGINT)
			if err := cmd.Wait(); exitCode(err) != 130 {
				t.Errorf("interrupted run: %v, want exit 130 (a CORS failure is 1)", err)
			}
			if took := time.Since(start); took > b.stop {
				t.Errorf("took %s to stop after Ctrl-C", took)
			}
			if left := b.under(tmp); len(left) > 0 {
				t.Errorf("%s processes after exit: %v", b.engine, left)
			}
			if profiles, _ := filepath.Glob(filepath.Join(tmp, "corscheck-"+b.engine+"-*")); len(profiles) > 0 {
				t.Errorf("profile left behind: %v", profiles)
			}
			res, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil || !res.Interrupted {
				t.Fatalf("partial results marked interrupted: %v\n%s", err, stderr.String())
			}
		})
	}
}

// A SIGKILL of corscheck runs no cleanup: the kernel's parent-death signal
// ends the browser, and its helper or content processes follow it.
func TestKilledRunLeavesNoBrowser(t *testing.T) {
	for _, b := range browsersUnderTest {
		t.Run(b.engine, func(t *testing.T) {
			cmd, tmp, _, _ := startHangingRun(t, b)
			cmd.Process.Kill()
			cmd.Wait()
			// No event says when the last helper process is gone: poll, bounded.
			deadline := time.Now().Add(10 * time.Second)
			for len(b.under(tmp)) > 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if left := b.under(tmp); len(left) > 0 {
				t.Errorf("%s outlived a killed corscheck: %v", b.engine, left)
			}
		})
	}
}

// exitCode is a finished command's exit status (0 without an error).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// The user's path to a Firefox someone else started: `corscheck run
// --browser firefox --browser-url ws://…` against the demo, with a stock
// profile (no corscheck preference). The run passes in that Firefox, says
// so in results.json, and leaves the browser running.
func TestRunAttachedFirefox(t *testing.T) {
	path, err := runner.Locate(runner.EngineFirefox, "")
	if err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	ff := exec.Command(path, "--headless", "--no-remote", "--remote-debugging-port=0", "--profile", profile)
	ff.Env = append(os.Environ(), "HOME="+profile, "MOZ_CRASHREPORTER_DISABLE=1")
	stderr, err := ff.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ff.Process.Kill(); ff.Wait() }()
	ws := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "WebDriver BiDi listening on "); ok {
				ws <- strings.TrimSpace(u)
			}
		}
	}()
	var endpoint string
	select {
	case endpoint = <-ws:
	case <-time.After(60 * time.Second):
		t.Fatal("Firefox did not say where its BiDi socket listens")
	}
	out := filepath.Join(t.TempDir(), "out")
	r := corscheck(t, nil, "run", "--browser", "firefox", "--browser-url", endpoint, "--label-filter", "family:simple || family:preflight", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Browser, "Firefox/") || res.Summary.Passed == 0 || res.Summary.Passed != res.Summary.Total {
		t.Errorf("browser %q, summary %+v", res.Browser, res.Summary)
	}
	if err := ff.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the attached Firefox did not outlive the run: %v", err)
	}
}
