package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
)

const (
	stagingToken   = "tok-9f27c1e0-s3cr3t"
	stagingSession = "sess-4b8d11aa-s3cr3t"
)

// stagingPolicy writes a policy for a subset of the staging API's routes:
// public, bearer-protected, cookie-protected, and the broken group.
func stagingPolicy(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "staging.yaml")
	body := fixtures.StagingPolicy + `pathParams: {id: "7"}
paths:
  - /v1/items
  - /v1/items/{id}
  - /v1/account
  - /v1/session
  - /v1/reports/daily
  - /v1/reports/monthly
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A staging API over TLS and HTTP/2, with a certificate from a CA the test
// creates, for a name that resolves nowhere, with bearer- and
// cookie-protected routes, a broken route group and a rate limiter:
// corscheck run with --resolve, --ca-cert, --header and --cookie gets every
// verdict right, names the broken routes, flags the 401s, and no secret
// appears in any output.
func TestRunStagingAPI(t *testing.T) {
	staging, err := fixtures.StartStaging(fixtures.StagingOptions{TLS: true, Token: stagingToken, Session: stagingSession, Rate: 2000, Burst: 400})
	if err != nil {
		t.Fatal(err)
	}
	defer staging.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := corscheck(t, []string{"STAGING_TOKEN=" + stagingToken, "SESSION=" + stagingSession},
		"run", "--policy", stagingPolicy(t, dir), "--target", staging.URL+"/v1/public/health",
		"--resolve", "api.staging.example.test:127.0.0.1", "--ca-cert", staging.CAFile,
		"--header", "Authorization: Bearer ${STAGING_TOKEN}", "--cookie", "session=${SESSION}",
		"--rate", "1500", "--out", out)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (the broken group)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Routes) != 7 {
		t.Errorf("%d routes, want 7", len(res.Routes))
	}
	broken := map[string]bool{"/v1/reports/daily": true, "/v1/reports/monthly": true}
	cookieRoutes := map[string]bool{"/v1/account": true, "/v1/session": true}
	for _, c := range res.Cases {
		route := c.Route
		switch {
		case broken[route]:
			// The broken group sits outside the CORS layer: what the policy
			// allows is blocked there; hostile origins are refused.
			hostile := strings.Contains(strings.Join(c.Labels, " "), "origin:hostile")
			if c.Expected.Outcome == scenarios.Allowed && !hostile && c.Verdict != scenarios.Fail && c.Verdict != scenarios.Skipped {
				t.Errorf("%s on the broken group: %s %s", c.ID, c.Verdict, c.Message)
			}
			if hostile && c.Verdict != scenarios.Pass {
				t.Errorf("%s on the broken group: %s %s", c.ID, c.Verdict, c.Message)
			}
		case c.Verdict == scenarios.Fail || c.Verdict == scenarios.Error:
			t.Errorf("%s (%s): %s %s", c.ID, route, c.Verdict, c.Message)
		}
		if c.Status == 401 {
			t.Errorf("%s: a 401 on %s flagged, though the request lacks the credentials the route needs (an expected answer)", c.ID, route)
		}
		if cookieRoutes[route] && c.Request.Credentials == scenarios.CredentialsOmit && !strings.Contains(strings.Join(c.Labels, " "), "origin:hostile") &&
			c.Family == "simple" && (c.Verdict != scenarios.Pass || c.Observed.Response == nil || c.Observed.Response.Status != 401) {
			t.Errorf("%s: an omit case on the cookie route %s should meet the API's 401 and pass on its CORS headers: %s %s", c.ID, route, c.Verdict, c.Message)
		}
		if cookieRoutes[route] && c.Request.Credentials == scenarios.CredentialsInclude && c.Status == 401 && c.Expected.Outcome == scenarios.Allowed {
			t.Errorf("%s: the session cookie did not open %s: %s", c.ID, route, c.Message)
		}
	}
	var brokenFinding *reports.Finding
	for i, f := range res.Findings {
		if strings.Join(f.Routes, ",") == "/v1/reports/daily,/v1/reports/monthly" && f.Severity == "error" && brokenFinding == nil {
			brokenFinding = &res.Findings[i]
		}
		if strings.HasPrefix(f.ID, "status.") {
			t.Errorf("a status finding, though every 401 is an answer to a request without the credentials: %+v", f)
		}
	}
	if brokenFinding == nil {
		t.Errorf("no finding names the broken routes: %+v", res.Findings)
	}
	if !strings.Contains(r.stdout, "/v1/reports/daily") {
		t.Errorf("stdout does not show the broken routes:\n%s", r.stdout)
	}
	// The credentials were used: the session cookie travelled on every
	// credentialed request Chrome sent.
	if len(res.Credentials) != 1 || res.Credentials[0].Requests == 0 || res.Credentials[0].CookieSent != res.Credentials[0].Requests {
		t.Errorf("credential use: %+v", res.Credentials)
	}
	if !strings.Contains(r.stdout, "credentials: Chrome sent the session cookie on") {
		t.Errorf("stdout does not say whether the session cookie was sent:\n%s", r.stdout)
	}
	// No secret in any output.
	outputs := map[string]string{"stdout": r.stdout, "stderr": r.stderr}
	for _, name := range []string{"results.json", "junit.xml", "report.html"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		outputs[name] = string(b)
	}
	for name, text := range outputs {
		for _, secret := range []string{stagingToken, stagingSession} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains a secret", name)
			}
		}
	}
	if !strings.Contains(outputs["results.json"], "Bearer ***") {
		t.Error("results.json does not show the redacted Authorization header")
	}
	if staging.Limited() > 0 {
		t.Errorf("--rate 1500 under a 2000/s limiter: %d requests were refused", staging.Limited())
	}
}

// The same staging server, wrongly configured in each way a user gets it
// wrong: exit 2 and one line naming the cause and the fix, in seconds.
func TestRunStagingEnvironmentErrors(t *testing.T) {
	staging, err := fixtures.StartStaging(fixtures.StagingOptions{TLS: true, Token: stagingToken, Session: stagingSession})
	if err != nil {
		t.Fatal(err)
	}
	defer staging.Close()
	plain, err := fixtures.StartStaging(fixtures.StagingOptions{TLS: false})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.yaml")
	os.WriteFile(policy, []byte(fixtures.StagingPolicy), 0o644)
	resolve := []string{"--resolve", "api.staging.example.test:127.0.0.1"}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"untrusted certificate", append([]string{"--target", staging.URL + "/v1/public/health"}, resolve...),
			[]string{"refused the certificate of api.staging.example.test", "ERR_CERT_AUTHORITY_INVALID", "--ca-cert FILE, or use --insecure"}},
		{"unresolvable name", []string{"--target", staging.URL + "/v1/public/health", "--ca-cert", staging.CAFile},
			[]string{"api.staging.example.test", "--resolve api.staging.example.test:127.0.0.1"}},
		{"http target from an https origin", append([]string{"--target", plain.URL + "/v1/public/health"}, resolve...),
			[]string{"mixed content", "use an https target"}},
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:6666"); err == nil {
		ln.Close()
		unsafe, err := fixtures.StartStaging(fixtures.StagingOptions{TLS: false, Addr: "127.0.0.1:6666", Host: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		defer unsafe.Close()
		cases = append(cases, struct {
			name string
			args []string
			want []string
		}{"unsafe port", []string{"--target", unsafe.URL + "/v1/public/health"}, []string{"refuse to connect to port 6666", "ERR_UNSAFE_PORT", "another port"}})
	} else {
		t.Errorf("port 6666 is taken on this machine: the unsafe-port case cannot run (%v)", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := corscheck(t, nil, append([]string{"run", "--policy", policy, "--out", filepath.Join(dir, tc.name)}, tc.args...)...)
			took := time.Since(start)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("the error line lacks %q:\n%s", w, last)
				}
			}
			if strings.Count(r.stderr, "corscheck:") > 2 {
				t.Errorf("more than one error line:\n%s", r.stderr)
			}
			if took > 5*time.Second {
				t.Errorf("took %s, want under 5 s", took)
			}
		})
	}
}

// An OpenAPI description of more than 50 operations drives a run: its
// paths are the routes and their methods the requests.
func TestRunOpenAPI(t *testing.T) {
	if n := fixtures.StagingOperations(); n < 50 {
		t.Fatalf("the staging description has %d operations, want at least 50", n)
	}
	staging, err := fixtures.StartStaging(fixtures.StagingOptions{TLS: false, Host: "127.0.0.1", Token: stagingToken, Session: stagingSession})
	if err != nil {
		t.Fatal(err)
	}
	defer staging.Close()
	dir := t.TempDir()
	spec := filepath.Join(dir, "openapi.yaml")
	os.WriteFile(spec, fixtures.StagingOpenAPI(), 0o644)
	policy := filepath.Join(dir, "p.yaml")
	os.WriteFile(policy, []byte(fixtures.StagingPolicy+"expectStatus: [401]\n"), 0o644)
	r := corscheck(t, []string{"STAGING_TOKEN=" + stagingToken}, "run", "--policy", policy, "--target", staging.URL, "--openapi", spec,
		"--header", "Authorization: Bearer ${STAGING_TOKEN}", "--list")
	if r.code != 0 {
		t.Fatalf("list: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"path-v1-items-id", "path-v1-reports-daily", "path-v1-public-health"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--list lacks routes from the OpenAPI file (%s)", want)
		}
	}
	if strings.Contains(r.stdout, "preflight.method.put.omit.path-v1-public-health.") {
		t.Error("the public health route serves GET only, yet PUT is probed as an allowed preflight there")
	}
}

// A rate limiter in front of the API answers 429 without CORS headers.
// With --rate under its limit nothing is refused; without it, no case
// passes on a 429 (hostile origins are inconclusive, never passed), and the
// run does not exit 0.
func TestRunRateLimiter(t *testing.T) {
	limited, err := fixtures.StartStaging(fixtures.StagingOptions{Host: "127.0.0.1", Rate: 20, Burst: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.yaml")
	os.WriteFile(policy, []byte(fixtures.StagingPolicy), 0o644)
	filter := "family:simple && (hostile:suffix || origin:allowed)"
	r := corscheck(t, nil, "run", "--policy", policy, "--target", limited.URL+"/v1/public/health", "--label-filter", filter, "--rate", "15", "--out", filepath.Join(dir, "slow"))
	if r.code != 0 || limited.Limited() != 0 {
		t.Errorf("--rate 15 under a 20/s limiter: exit %d, %d refused\n%s%s", r.code, limited.Limited(), r.stdout, r.stderr)
	}
	fast := filepath.Join(dir, "fast")
	r = corscheck(t, nil, "run", "--policy", policy, "--target", limited.URL+"/v1/public/health", "--label-filter", "family:simple || family:origins", "--out", fast)
	if limited.Limited() == 0 {
		t.Fatalf("the limiter refused nothing: the test proves nothing\n%s", r.stdout)
	}
	res, err := reports.ReadResults(filepath.Join(fast, "results.json"))
	if err != nil {
		t.Fatalf("%v\n%s", err, r.stderr)
	}
	for _, c := range res.Cases {
		if c.Observed.Response != nil && c.Observed.Response.Status == 429 && c.Verdict == scenarios.Pass {
			t.Errorf("%s passed on a 429: %s", c.ID, c.Message)
		}
	}
	if r.code == 0 && res.Summary.Passed != res.Summary.Total {
		t.Errorf("exit 0 with %+v", res.Summary)
	}
}
