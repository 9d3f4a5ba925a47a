package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
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
	"github.com/corscheck/corscheck/scenarios"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "corscheck-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "corscheck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

func corscheck(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func corsTarget(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/open" {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Methods", "PUT")
		}
		w.WriteHeader(204)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbeExitCodesAndOutput(t *testing.T) {
	base := corsTarget(t)
	ok := corscheck(t, nil, "probe", base+"/open", "--origin", "https://app.example.com", "--method", "PUT")
	if ok.code != 0 || !strings.HasPrefix(ok.stdout, "ALLOWED  PUT") || !strings.Contains(ok.stdout, "preflight  OPTIONS") {
		t.Fatalf("allowed probe: code %d\n%s%s", ok.code, ok.stdout, ok.stderr)
	}
	blocked := corscheck(t, nil, "probe", "--origin", "https://app.example.com", base+"/closed")
	for _, want := range []string{"BLOCKED  GET", "Chrome:    Access to fetch at '" + base + "/closed' from origin 'https://app.example.com' has been blocked by CORS policy",
		"reason:    MissingAllowOriginHeader", "header:    Access-Control-Allow-Origin", "fix:       Send Access-Control-Allow-Origin: https://app.example.com"} {
		if !strings.Contains(blocked.stdout, want) {
			t.Errorf("blocked output lacks %q:\n%s", want, blocked.stdout)
		}
	}
	if blocked.code != 1 {
		t.Errorf("blocked: exit %d, want 1", blocked.code)
	}
}

func TestProbeJSONContract(t *testing.T) {
	base := corsTarget(t)
	r := corscheck(t, nil, "probe", base+"/open", "--origin", "https://app.example.com", "--method", "PUT",
		"--header", "X-Request-ID: 7", "--credentials", "include", "--read-header", "X-Total", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"request", "outcome", "corsError", "failedParameter", "error", "preflight", "response", "readableHeaders", "durationMs", "browser"} {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	req := got["request"].(map[string]any)
	for _, k := range []string{"url", "origin", "method", "headers", "credentials"} {
		if _, ok := req[k]; !ok {
			t.Errorf("request lacks %q", k)
		}
	}
	if got["outcome"] != "blocked" || got["corsError"] != "HeaderDisallowedByPreflightResponse" || got["failedParameter"] != "x-request-id" || r.code != 1 {
		t.Errorf("got %v %v %v exit %d", got["outcome"], got["corsError"], got["failedParameter"], r.code)
	}
	if rh := got["readableHeaders"].(map[string]any); len(rh) != 1 || rh["x-total"] != nil {
		t.Errorf("readableHeaders: %v", rh)
	}
	if e, ok := got["explanation"].(map[string]any); !ok || e["header"] != "Access-Control-Allow-Headers" || !strings.Contains(e["fix"].(string), "x-request-id") {
		t.Errorf("explanation: %v", got["explanation"])
	}
}

func TestProbeBadInput(t *testing.T) {
	base := corsTarget(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{base, "--origin", "app.example.com"}, `--origin: "app.example.com" has no scheme; write https://app.example.com`},
		{[]string{base, "--origin", "https://app.example.com/path"}, `an origin has no path; write https://app.example.com`},
		{[]string{base, "--origin", "*"}, `"*" is not an origin`},
		{[]string{base, "--origin", "https://a.example", "--credentials", "always"}, `--credentials: unknown credentials mode "always": use omit, same-origin or include`},
		{[]string{base, "--origin", "https://a.example", "--header", "X-Broken"}, `--header "X-Broken": write 'Name: value'`},
		{[]string{"127.0.0.1:8080/api", "--origin", "https://a.example"}, `URL: "127.0.0.1:8080/api" is not an absolute URL`},
		{[]string{"--origin", "https://a.example"}, `probe takes one URL`},
		{[]string{"http://192.0.2.1/", "--origin", "https://a.example"}, `not on loopback`},
	} {
		r := corscheck(t, nil, append([]string{"probe"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("probe %v: exit %d, stderr %q; want exit 2 and one line containing %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

func TestProbeUnreachableAndNoBrowser(t *testing.T) {
	r := corscheck(t, nil, "probe", "http://"+closedPort(t)+"/x", "--origin", "https://a.example")
	if r.code != 2 || !strings.Contains(r.stdout, "ERROR") || !strings.Contains(r.stdout, "ERR_CONNECTION_REFUSED") {
		t.Errorf("refused: exit %d\n%s", r.code, r.stdout)
	}
	r = corscheck(t, []string{"CHROME_PATH=/nonexistent/chrome"}, "probe", corsTarget(t), "--origin", "https://a.example")
	if r.code != 2 || !strings.Contains(r.stderr, "apt-get install -y chromium-headless-shell") {
		t.Errorf("no browser: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestRunDemoWritesReports(t *testing.T) {
	out := t.TempDir()
	r := corscheck(t, nil, "run", "--out", out)
	if r.code != 0 {
		t.Fatalf("demo run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "passed, 0 failed, 0 errored, 0 skipped · report: "+filepath.Join(out, "report.html")) {
		t.Errorf("closing line missing:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "probed") || !strings.Contains(r.stderr, "methods DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT") {
		t.Errorf("no progress or traffic notice on stderr:\n%s", r.stderr)
	}
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Total == 0 || res.Summary.Passed != res.Summary.Total || res.Browser == "" || res.Policy == nil {
		t.Errorf("results: %+v", res.Summary)
	}
	for _, name := range []string{"junit.xml", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestRunFailingTargetJUnit(t *testing.T) {
	out := t.TempDir()
	r := corscheck(t, nil, "run", "--fixture", "zoo-options-auth-401", "--out", out, "--label-filter", "family:preflight || family:simple")
	if r.code != 1 {
		t.Fatalf("zoo run: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "OPTIONS is answered 401 by authentication before CORS runs") {
		t.Errorf("the finding is not printed:\n%s", r.stdout)
	}
	data, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name      string    `xml:"name,attr"`
				Classname string    `xml:"classname,attr"`
				Failure   *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	failures, cases := 0, 0
	for _, s := range doc.Suites {
		if s.Name != "corscheck.simple" && s.Name != "corscheck.preflight" {
			t.Errorf("label filter let family %s through", s.Name)
		}
		for _, c := range s.Cases {
			cases++
			if c.Name == "" || c.Classname == "" {
				t.Errorf("testcase without name or classname: %+v", c)
			}
			if c.Failure != nil {
				failures++
			}
		}
	}
	if failures == 0 || cases == 0 {
		t.Errorf("junit: %d cases, %d failures", cases, failures)
	}
}

func TestRunBadInputIsExit2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "policy.yaml")
	os.WriteFile(bad, []byte("origins: [https://app.example.com]\ncredentails: true\n"), 0o644)
	r := corscheck(t, nil, "run", "--policy", bad, "--out", dir)
	if r.code != 2 || !strings.Contains(r.stderr, bad+`:2: unknown key "credentails"; did you mean "credentials"?`) {
		t.Errorf("bad policy: exit %d, stderr %q", r.code, r.stderr)
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("origins: [https://app.example.com]\n"), 0o644)
	r = corscheck(t, nil, "run", "--policy", good, "--target", "http://"+closedPort(t)+"/api", "--out", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "is not reachable") || r.took > 5*time.Second {
		t.Errorf("down target: exit %d after %s, stderr %q", r.code, r.took, r.stderr)
	}
	r = corscheck(t, nil, "run", "--policy", good, "--target", "https://staging.example.com/api", "--out", dir)
	if r.code != 2 || !strings.Contains(r.stderr, "--allow-remote") {
		t.Errorf("remote target: exit %d, stderr %q", r.code, r.stderr)
	}
	r = corscheck(t, nil, "run", "--label-filter", "family:(", "--out", dir)
	if r.code != 2 {
		t.Errorf("bad label filter: exit %d, stderr %q", r.code, r.stderr)
	}
}

// chromeUnder lists PIDs of browsers whose profile lives under dir (TMPDIR).
func chromeUnder(dir string) []string { return processesMentioning("--user-data-dir=" + dir) }

func TestDiffAndCompat(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	if r := corscheck(t, nil, "run", "--out", good, "--label-filter", "family:simple"); r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	if r := corscheck(t, nil, "run", "--fixture", "zoo-no-acao", "--out", bad, "--label-filter", "family:simple"); r.code != 1 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	md := filepath.Join(dir, "diff.md")
	r := corscheck(t, nil, "diff", filepath.Join(good, "results.json"), filepath.Join(bad, "results.json"), "--markdown", md, "--html", filepath.Join(dir, "diff.html"))
	if r.code != 1 || !strings.Contains(r.stdout, "REGRESSED") || !strings.Contains(r.stdout, "MissingAllowOriginHeader") {
		t.Errorf("diff good→bad: exit %d\n%s", r.code, r.stdout)
	}
	if b, err := os.ReadFile(md); err != nil || !strings.Contains(string(b), "#### regressed") {
		t.Errorf("markdown: %v %s", err, b)
	}
	if r := corscheck(t, nil, "diff", filepath.Join(bad, "results.json"), filepath.Join(good, "results.json")); r.code != 0 || !strings.Contains(r.stdout, "FIXED") {
		t.Errorf("diff bad→good: exit %d\n%s", r.code, r.stdout)
	}
	// Lost coverage: the new run dropped cases.
	var res reports.Results
	data, _ := os.ReadFile(filepath.Join(good, "results.json"))
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	dropped := len(res.Cases) / 2
	res.Cases = res.Cases[dropped:]
	less := filepath.Join(dir, "less.json")
	data, _ = json.Marshal(&res)
	os.WriteFile(less, data, 0o644)
	if r := corscheck(t, nil, "diff", filepath.Join(good, "results.json"), less); r.code != 1 || !strings.Contains(r.stdout, fmt.Sprintf("%d removed", dropped)) || !strings.Contains(r.stdout, "lost coverage") {
		t.Errorf("diff with removed cases: exit %d\n%s", r.code, r.stdout)
	}
	if r := corscheck(t, nil, "diff", filepath.Join(good, "results.json"), less, "--allow-removed"); r.code != 0 {
		t.Errorf("diff --allow-removed: exit %d\n%s", r.code, r.stdout)
	}
	if r := corscheck(t, nil, "diff", less, filepath.Join(good, "results.json")); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("%d new", dropped)) {
		t.Errorf("diff with new cases: exit %d\n%s", r.code, r.stdout)
	}
	summary := filepath.Join(dir, "step-summary.md")
	r = corscheck(t, []string{"GITHUB_STEP_SUMMARY=" + summary}, "diff", filepath.Join(good, "results.json"), filepath.Join(bad, "results.json"), "--format", "github", "--policy", "policies/sample.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, "::error file=policies/sample.yaml,title=corscheck%3A regressed::") {
		t.Errorf("diff --format github: exit %d\n%s", r.code, r.stdout)
	}
	if b, err := os.ReadFile(summary); err != nil || !strings.Contains(string(b), "#### regressed") {
		t.Errorf("job summary: %v %s", err, b)
	}
	os.WriteFile(filepath.Join(dir, "junk.json"), []byte("{"), 0o644)
	if r := corscheck(t, nil, "diff", filepath.Join(dir, "junk.json"), filepath.Join(good, "results.json")); r.code != 2 || !strings.Contains(r.stderr, "not a corscheck results file") {
		t.Errorf("diff junk: exit %d %s", r.code, r.stderr)
	}

	out := filepath.Join(dir, "compat")
	r = corscheck(t, nil, "compat", "--policy", "../../fixtures/policies/sample.yaml", "ref=fixture:reference", "novary=fixture:zoo-no-vary", "--out", out)
	if r.code != 0 {
		t.Fatalf("compat: exit %d\n%s", r.code, r.stderr)
	}
	var c reports.Compat
	data, err := os.ReadFile(filepath.Join(out, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &c); err != nil || len(c.Implementations) != 2 {
		t.Fatalf("compat.json: %v", err)
	}
	differ := 0
	for _, row := range c.Rows {
		if row.Differs {
			differ++
			if !strings.HasPrefix(row.ID, "vary.") {
				t.Errorf("reference and zoo-no-vary differ on %s", row.ID)
			}
		}
	}
	if differ != 1 {
		t.Errorf("%d differing rows, want the one vary case", differ)
	}
	if r := corscheck(t, nil, "compat", "--policy", "../../fixtures/policies/sample.yaml", "bad name=x"); r.code != 2 {
		t.Errorf("compat bad arg: exit %d", r.code)
	}

	// A target that is down: its column is marked, the matrix is written, exit 1.
	dead := "http://" + closedPort(t) + "/api"
	out = filepath.Join(dir, "compat-dead")
	r = corscheck(t, nil, "compat", "--policy", "../../fixtures/policies/sample.yaml", "ref=fixture:reference", "dead="+dead, "--out", out, "--label-filter", "family:simple")
	if r.code != 1 || strings.Contains(r.stderr, "corscheck: dead: corscheck:") || !strings.Contains(r.stderr, "unreachable") {
		t.Fatalf("compat with a dead target: exit %d\n%s", r.code, r.stderr)
	}
	data, err = os.ReadFile(filepath.Join(out, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	c = reports.Compat{}
	if err := json.Unmarshal(data, &c); err != nil || len(c.Implementations) != 2 || c.Implementations[1].Unreachable == "" || c.Implementations[0].Unreachable != "" {
		t.Fatalf("compat.json with a dead target: %v %+v", err, c.Implementations)
	}
	if !strings.Contains(c.Implementations[1].Unreachable, "127.0.0.1") {
		t.Errorf("unreachable reason does not name the target: %q", c.Implementations[1].Unreachable)
	}
	page, err := os.ReadFile(filepath.Join(out, "compat.html"))
	if err != nil || !strings.Contains(string(page), "unreachable") {
		t.Fatalf("compat.html: %v", err)
	}
	for _, row := range c.Rows {
		if row.Differs {
			t.Errorf("row %s differs only because a target was down", row.ID)
		}
	}
}

// fixtures serve prints the base URL first and, on Ctrl-C, stops the server
// and its child process (nginx here).
func TestFixturesServeNginx(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(bin, "fixtures", "serve", "nginx")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 200)
	n, _ := stdout.Read(buf)
	base := strings.TrimSpace(string(buf[:n]))
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		cmd.Process.Kill()
		t.Fatalf("first line %q, stderr %s", base, stderr.String())
	}
	req, _ := http.NewRequest(http.MethodOptions, base+"/api", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.HasPrefix(resp.Header.Get("Server"), "nginx") {
		t.Errorf("nginx preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if len(processesMentioning(tmp)) == 0 {
		t.Fatal("no nginx process under the test's TMPDIR: the cleanup check would prove nothing")
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve exited with %v: %s", err, stderr.String())
	}
	if left := processesMentioning(tmp); len(left) > 0 {
		t.Errorf("nginx left running: %v", left)
	}
}

// processesMentioning lists PIDs whose command line contains s.
func processesMentioning(s string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// --wait lets a target start after corscheck: the run waits, then passes.
func TestRunWaitsForTarget(t *testing.T) {
	addr := closedPort(t)
	cmd := exec.Command(bin, "run", "--policy", "../../fixtures/policies/sample.yaml", "--target", "http://"+addr+"/api",
		"--wait", "20s", "--label-filter", "family:simple", "--out", t.TempDir())
	stderr, _ := cmd.StderrPipe()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	notice := ""
	for lines.Scan() {
		if strings.Contains(lines.Text(), "waiting up to") {
			notice = lines.Text()
			break
		}
	}
	if !strings.Contains(notice, "waiting up to 20s for "+addr) {
		cmd.Process.Kill()
		t.Fatalf("no waiting notice: %q", notice)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Credentials", "true")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	go io.Copy(io.Discard, stderr)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after waiting: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "8 passed, 0 failed, 0 errored, 0 skipped") {
		t.Errorf("stdout: %s", stdout.String())
	}
}

func TestCleanTerminalOutput(t *testing.T) {
	if got := clean("a\x1b]0;pwned\x07b\tc\u009b"); got != `a\x1b]0;pwned\x07b`+"\t"+`c\x9b` {
		t.Errorf("clean = %q", got)
	}
}

// A target that accepts connections and never answers: the one fetch
// before the batch times out, and the run stops with exit 2 and one line
// (never hundreds of "blocked" or errored cases).
func TestRunHangingTargetStopsEarly(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	r := corscheck(t, nil, "run", "--policy", "../../fixtures/policies/sample.yaml", "--target", srv.URL+"/api", "--timeout", "1s", "--out", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "did not answer a GET within --timeout 1s") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r.took > 10*time.Second {
		t.Errorf("took %s", r.took)
	}
}

// A server whose preflights hang but whose simple requests answer: the
// preflighted cases time out (errors) and the rest of that kind is not
// run, but every case that needs no preflight still runs and passes.
func TestRunPreflightsHangSimpleAnswers(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Access-Control-Expose-Headers", "X-Total-Count")
		w.Header().Set("X-Total-Count", "1")
		w.Header().Set("Vary", "Origin")
		if strings.HasSuffix(r.URL.Path, "__corscheck_missing__") {
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	defer close(release)
	out := t.TempDir()
	r := corscheck(t, nil, "run", "--policy", "../../fixtures/policies/sample.yaml", "--target", srv.URL+"/api", "--timeout", "1s", "--out", out)
	if r.code != 1 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	simpleJudged, notRunSimple := 0, 0
	for _, c := range res.Cases {
		simple := !scenarios.NeedsPreflight(c.Request)
		if simple && c.Verdict == scenarios.Error {
			notRunSimple++
			t.Logf("%s: %s", c.ID, c.Message)
		}
		if simple && (c.Verdict == scenarios.Pass || c.Verdict == scenarios.Fail) {
			simpleJudged++
		}
		if !simple && c.Family != "cache" && c.Verdict != scenarios.Error {
			t.Errorf("%s: a preflighted case on a server whose preflights hang: %s", c.ID, c.Verdict)
		}
	}
	for _, id := range []string{"vary.origin.https-app.example.com", "expose.x-total-count.include", "errors.not-found.include", "simple.get.include.https-app.example.com"} {
		for _, c := range res.Cases {
			if c.ID == id && c.Verdict != scenarios.Pass {
				t.Errorf("%s needs no preflight, yet: %s %s", id, c.Verdict, c.Message)
			}
		}
	}
	if notRunSimple > 0 {
		t.Errorf("%d simple cases got no verdict although simple requests answer", notRunSimple)
	}
	if simpleJudged < 100 {
		t.Errorf("only %d simple cases were judged", simpleJudged)
	}
}
