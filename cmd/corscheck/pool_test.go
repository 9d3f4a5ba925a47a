package main

import (
	"bufio"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
)

var devtoolsListening = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// startHeadless starts a headless Chrome with a DevTools port, as a user
// would for --browser-url, and returns its ws:// address.
func startHeadless(t *testing.T) (string, *exec.Cmd) {
	t.Helper()
	path, err := runner.Locate(runner.EngineChrome, "")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "--headless", "--remote-debugging-port=0", "--user-data-dir="+t.TempDir(), "--no-sandbox",
		"--disable-gpu", "--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := devtoolsListening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return u, cmd
	case <-time.After(15 * time.Second):
		t.Fatal("headless Chrome did not print its DevTools address")
	}
	return "", nil
}

// verdicts are a run's case verdicts and finding IDs, for comparing runs.
func verdicts(t *testing.T, dir string) (map[string]string, []string) {
	t.Helper()
	res, err := reports.ReadResults(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]string{}
	for _, c := range res.Cases {
		v[c.ID] = c.Verdict.String()
		if c.Observed.ErrorKind == "browser" {
			v[c.ID] += " (browser error: " + c.Observed.Error + ")"
		}
	}
	var f []string
	for _, x := range res.Findings {
		f = append(f, x.ID)
	}
	sort.Strings(f)
	return v, f
}

func sameVerdicts(t *testing.T, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d cases vs %d", len(a), len(b))
	}
	for id, v := range a {
		if b[id] != v {
			t.Errorf("%s: %s alone, %s in the pool", id, v, b[id])
		}
	}
}

// A run over three browsers gives the results of a run over one; killing
// one mid-run loses no case: its probes run again on the others.
func TestBrowserPool(t *testing.T) {
	pol, err := fixtures.Policy("sample")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fixtures.Start("zoo-suffix-match", pol, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	backend, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(backend)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // requests of the killed browser end early
	var served, killAt atomic.Int64
	killAt.Store(-1) // armed for the third run only
	kill := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == killAt.Load() {
			close(kill)
		}
		time.Sleep(5 * time.Millisecond) // a target that takes its time: the kill lands mid-run
		proxy.ServeHTTP(w, r)
	}))
	defer slow.Close()
	target := slow.URL + "/v1/items"
	dir := t.TempDir()
	args := func(out string, extra ...string) []string {
		return append([]string{"run", "--policy", "../../fixtures/policies/sample.yaml", "--target", target, "--out", out}, extra...)
	}
	single := filepath.Join(dir, "single")
	if r := corscheck(t, nil, args(single)...); r.code != 1 {
		t.Fatalf("single browser: exit %d\n%s", r.code, r.stderr)
	}
	one, oneFindings := verdicts(t, single)

	var urls []string
	var cmds []*exec.Cmd
	for range 3 {
		u, c := startHeadless(t)
		urls = append(urls, u)
		cmds = append(cmds, c)
	}
	pool := filepath.Join(dir, "pool")
	r := corscheck(t, nil, args(pool, "--browser-url", strings.Join(urls, ","))...)
	if r.code != 1 {
		t.Fatalf("pool of 3: exit %d\n%s", r.code, r.stderr)
	}
	three, threeFindings := verdicts(t, pool)
	sameVerdicts(t, one, three)
	if strings.Join(oneFindings, ",") != strings.Join(threeFindings, ",") {
		t.Errorf("findings %v alone, %v in the pool", oneFindings, threeFindings)
	}
	if res, _ := reports.ReadResults(filepath.Join(pool, "results.json")); !strings.Contains(res.Browser, "pool of 3") {
		t.Errorf("browser %q does not name the pool", res.Browser)
	}

	// Kill the second browser once the run is under way.
	served.Store(0)
	killAt.Store(150)
	killed := filepath.Join(dir, "killed")
	go func() {
		select {
		case <-kill:
			cmds[1].Process.Kill()
		case <-time.After(60 * time.Second):
		}
	}()
	r = corscheck(t, nil, args(killed, "--browser-url", urls[0], "--browser-url", urls[1]+","+urls[2])...)
	select {
	case <-kill:
	default:
		t.Fatal("the run ended before the kill: the test proves nothing")
	}
	if r.code != 1 {
		t.Fatalf("pool with a killed browser: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	after, _ := verdicts(t, killed)
	sameVerdicts(t, one, after)
	if cmds[1].ProcessState == nil {
		cmds[1].Wait()
	}
	if _, err := os.Stat(filepath.Join(killed, "report.html")); err != nil {
		t.Fatal(err)
	}
}
