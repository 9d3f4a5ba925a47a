package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
)

// shopRun is a corscheck run against the shop API behind nginx: TLS from a
// test CA, HTTP/2, the cookie session and the CSRF header, the OpenAPI
// file, never: [POST /logout] in the policy and DELETE excluded by label.
type shopRun struct {
	shop   *fixtures.Shop
	dir    string
	policy string
	// secrets are the last run's session cookie and CSRF token.
	secrets []string
}

func newShopRun(t *testing.T) *shopRun {
	t.Helper()
	shop, err := fixtures.StartShop()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shop.Close)
	dir := t.TempDir()
	writeFile(t, dir, "api.yaml", string(fixtures.ShopOpenAPI()))
	policy := writeFile(t, dir, "policy.yaml", fixtures.ShopPolicy+"openapi: api.yaml\npathParams: {id: \"7\"}\nnever: [\"POST /logout\"]\n")
	return &shopRun{shop: shop, dir: dir, policy: policy}
}

// run signs in afresh, runs corscheck with the common flags and extra
// ones, and returns its result and what the API received.
func (s *shopRun) run(t *testing.T, out string, extra ...string) (result, []fixtures.ShopRequest) {
	t.Helper()
	session, csrf := s.shop.Login()
	s.secrets = []string{session, csrf}
	s.shop.Received()
	args := []string{"run", "--policy", s.policy, "--target", s.shop.URL + "/",
		"--resolve", fixtures.ShopHost + ":127.0.0.1",
		"--cookie", "session=${SHOP_SESSION}", "--header", "X-CSRF-Token: ${SHOP_CSRF}",
		"--label-filter", "!method:DELETE", "--out", filepath.Join(s.dir, out)}
	if !contains(extra, "--insecure") {
		args = append(args, "--ca-cert", s.shop.CAFile)
	}
	r := corscheck(t, []string{"SHOP_SESSION=" + session, "SHOP_CSRF=" + csrf}, append(args, extra...)...)
	return r, s.shop.Received()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// excluded fails the test for any request the user excluded that reached
// the API: a DELETE (--label-filter '!method:DELETE') or POST /logout
// (never:), preflights included.
func excluded(t *testing.T, got []fixtures.ShopRequest) {
	t.Helper()
	for _, r := range got {
		if r.Method == "DELETE" || r.Method == "POST" && r.Route == "/logout" {
			t.Errorf("the API received %s %s from %s, which the run excluded", r.Method, r.Route, r.Origin)
		}
	}
}

// The release-gate API, every path through the code: the adaptive matrix
// (12 routes), --exhaustive, two shards, and Firefox. From the API's own
// counts: no DELETE and no POST /logout ever arrives, the session is still
// valid afterwards, and the runs pass (Chrome) or stop on the session the
// browser withholds (Firefox, which partitions third-party cookies).
func TestReleaseGateSendsOnlyWhatTheUserAllowed(t *testing.T) {
	s := newShopRun(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in the last line of stderr, when the run stops
	}{
		{"adaptive", nil, 0, ""},
		{"exhaustive", []string{"--exhaustive"}, 0, ""},
		{"shard 1 of 2", []string{"--shard", "1/2"}, 0, ""},
		{"shard 2 of 2", []string{"--shard", "2/2"}, 0, ""},
		{"firefox", []string{"--browser", "firefox", "--insecure"}, 2, "the session never worked in Firefox: Firefox withheld the session cookie"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, got := s.run(t, strings.ReplaceAll(tc.name, " ", "-"), tc.args...)
			if r.code != tc.code || tc.want != "" && !strings.Contains(lastLine(r.stderr), tc.want) {
				t.Errorf("exit %d, want %d %q\n%s\n%s", r.code, tc.code, tc.want, r.stdout, lastLines(r.stderr, 5))
			}
			if len(got) == 0 {
				t.Fatal("the API received nothing: the run proves nothing")
			}
			excluded(t, got)
			if !s.shop.LoggedIn() {
				t.Error("the session was ended during the run")
			}
			counts := fixtures.Counts(got)
			if tc.code == 0 && (counts["PUT /items/{id}"] == 0 || counts["PATCH /me"] == 0 || counts["POST /items"] == 0) {
				t.Errorf("the allowed unsafe methods were not probed:\n%s", fixtures.SortedCounts(counts))
			}
			if tc.code == 0 {
				if !strings.Contains(r.stdout, "credentials: Chrome sent the session cookie on") {
					t.Errorf("no word on the session cookie:\n%s", r.stdout)
				}
				if !strings.Contains(r.stderr, "requests that may change data:") || !strings.Contains(r.stderr, "never sent: POST /logout") {
					t.Errorf("the unsafe requests and the never: rules are not announced:\n%s", lastLines(r.stderr, 40))
				}
			}
		})
	}
}

// --dry-run lists what a run then sends: every request the API receives
// from the exhaustive run (preflights aside) is a listed one, and every
// listed request that needs no preflight (the browser sends those
// whatever the server's CORS answers) arrives.
func TestReleaseGateDryRunListsWhatIsSent(t *testing.T) {
	s := newShopRun(t)
	dry, got := s.run(t, "dry", "--exhaustive", "--dry-run")
	if dry.code != 0 || len(got) != 0 {
		t.Fatalf("dry run: exit %d, and the API received %d requests (want none)\n%s", dry.code, len(got), dry.stderr)
	}
	line := regexp.MustCompile(`^  (\w+)\s+(\S+)\s+(\S+) from (\S+), credentials (\S+)(.*)$`)
	listed, simple := map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(dry.stdout))
	n := 0
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n++
		u, err := url.Parse(m[3])
		if err != nil {
			t.Fatal(err)
		}
		key := m[2] + " " + fixtures.ShopRoute(u.Path) + " " + m[4]
		listed[key] = true
		if !strings.Contains(m[6], "preflighted") {
			simple[key] = true
		}
	}
	for _, secret := range s.secrets {
		if strings.Contains(dry.stdout+dry.stderr, secret) {
			t.Error("a secret in the dry run's output")
		}
	}
	if n < 500 {
		t.Fatalf("the dry run lists %d requests:\n%s", n, dry.stdout[:min(len(dry.stdout), 2000)])
	}
	r, got := s.run(t, "real", "--exhaustive")
	if r.code != 0 {
		t.Fatalf("exhaustive run: exit %d\n%s", r.code, lastLines(r.stderr, 5))
	}
	received := map[string]bool{}
	for _, g := range got {
		if g.Method == "OPTIONS" {
			continue
		}
		key := g.Method + " " + g.Route + " " + g.Origin
		received[key] = true
		if !listed[key] {
			t.Errorf("the API received %s, which the dry run did not list", key)
		}
	}
	for key := range simple {
		if !received[key] {
			t.Errorf("the dry run listed %s (no preflight: the browser always sends it), which never arrived", key)
		}
	}
}

// A session that expires mid-run is exit 2 with the case it died at, also
// when the policy lists 401 in expectStatus; a valid session on the cookie
// API passes with no error on its credentials: omit cases.
func TestReleaseGateDeadSession(t *testing.T) {
	s := newShopRun(t)
	withExpect := writeFile(t, s.dir, "expect.yaml", fixtures.ShopPolicy+"openapi: api.yaml\npathParams: {id: \"7\"}\nnever: [\"POST /logout\"]\nexpectStatus: [401]\n")
	for _, policy := range []string{s.policy, withExpect} {
		t.Run(filepath.Base(policy), func(t *testing.T) {
			s.policy = policy
			// Valid all along: exit 0, and no omit case is an error.
			r, _ := s.run(t, "valid-"+filepath.Base(policy), "--exhaustive")
			if r.code != 0 {
				t.Fatalf("a valid session: exit %d\n%s\n%s", r.code, r.stdout, lastLines(r.stderr, 5))
			}
			res, err := reports.ReadResults(filepath.Join(s.dir, "valid-"+filepath.Base(policy), "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Cases {
				if c.Request.Credentials == scenarios.CredentialsOmit && c.Verdict != scenarios.Pass && c.Verdict != scenarios.Skipped {
					t.Errorf("%s (credentials omit): %s %s", c.ID, c.Verdict, c.Message)
				}
			}
			// Expired before the run: exit 2 before any case.
			session, csrf := s.shop.Login()
			s.shop.Expire()
			r = corscheck(t, []string{"SHOP_SESSION=" + session, "SHOP_CSRF=" + csrf}, "run", "--policy", policy, "--target", s.shop.URL+"/",
				"--resolve", fixtures.ShopHost+":127.0.0.1", "--ca-cert", s.shop.CAFile, "--cookie", "session=${SHOP_SESSION}",
				"--header", "X-CSRF-Token: ${SHOP_CSRF}", "--out", filepath.Join(s.dir, "expired"))
			if r.code != 2 || !strings.Contains(lastLine(r.stderr), "the session/token was rejected before any case ran (401 on") {
				t.Errorf("an expired session: exit %d\n%s", r.code, lastLines(r.stderr, 3))
			}
		})
	}
}

// A session ended mid-run (a logout the user forgot to exclude): the run
// stops at the first credentialed case answered 401, exit 2, naming it,
// with the results up to there written.
func TestReleaseGateSessionDiesMidRun(t *testing.T) {
	s := newShopRun(t)
	noNever := writeFile(t, s.dir, "nonever.yaml", fixtures.ShopPolicy+"openapi: api.yaml\npathParams: {id: \"7\"}\nexpectStatus: [401]\n")
	s.policy = noNever
	r, _ := s.run(t, "dies", "--exhaustive")
	if r.code != 2 || !regexp.MustCompile(`the session/token was rejected from case \d+ on \(401 on \w+ /api/\S+ in Chrome`).MatchString(lastLine(r.stderr)) {
		t.Fatalf("exit %d\n%s", r.code, lastLines(r.stderr, 3))
	}
	res, err := reports.ReadResults(filepath.Join(s.dir, "dies", "results.json"))
	if err != nil || !strings.Contains(res.Stopped, "the session/token was rejected from case") {
		t.Fatalf("results after the session died: %v %q", err, res.Stopped)
	}
}

// lastLines are the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The attacker is a page the victim visits while signed in: Starlette's
// CORSMiddleware(allow_origins=["*"], allow_credentials=True), run on
// Debian's Starlette and uvicorn, echoes any Origin with credentials only
// when a Cookie header comes: corscheck's canary cookie makes it show,
// and "any site can read responses sent with the victim's cookies" leads
// the findings, with and without --header (hostile pages cannot add it).
func TestAttackerWithTheVictimsCookies(t *testing.T) {
	srv, err := fixtures.StartStarlette(map[string]any{"allow_origins": []string{"*"}, "allow_credentials": true, "allow_methods": []string{"*"}, "allow_headers": []string{"*"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	policy := writeFile(t, dir, "p.yaml", "origins: [https://app.example.com]\nmethods: [GET, POST, PUT]\nheaders: [Content-Type, X-Request-ID]\ncredentials: true\n")
	for _, tc := range []struct {
		name string
		args []string
	}{{"no header", nil}, {"with --header", []string{"--header", "X-Request-ID: 42"}}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			r := corscheck(t, nil, append([]string{"run", "--policy", policy, "--target", srv.URL + "/api/items", "--out", out}, tc.args...)...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, lastLines(r.stderr, 3))
			}
			res, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) == 0 || !res.Findings[0].CredentialedRead || !strings.Contains(res.Findings[0].Message, "Any site can read responses sent with the victim's cookies") {
				t.Fatalf("the first finding is not the credentialed read: %+v", res.Findings[0])
			}
			simple := false
			for _, id := range res.Findings[0].Cases {
				if strings.HasPrefix(id, "simple.get.include.") {
					simple = true
				}
			}
			if !simple {
				t.Errorf("the finding holds no simple GET from a hostile origin: %v", res.Findings[0].Cases)
			}
			if !strings.Contains(res.Findings[0].Message, "the cookies travelled on") {
				t.Errorf("the finding does not say the cookies travelled: %s", res.Findings[0].Message)
			}
		})
	}
	// Without the canary, the same server hides it: credentialed requests
	// are simply refused (* with credentials), and no finding says any
	// site can read a signed-in user's data.
	out := filepath.Join(dir, "no-canary")
	r := corscheck(t, nil, "run", "--policy", policy, "--target", srv.URL+"/api/items", "--no-canary", "--out", out)
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil || r.code != 1 {
		t.Fatalf("no canary: exit %d, %v", r.code, err)
	}
	for _, f := range res.Findings {
		if f.CredentialedRead {
			t.Errorf("without a cookie the echo does not happen, yet: %s", f.Message)
		}
	}
}

// A server that echoes any Origin with credentials on simple requests only
// (its preflights refuse everything): no preflighted probe would show it,
// and even with the user's --header on every allowed-origin request the
// hostile origins' simple requests go out as simple and find it.
func TestAttackerSimpleRequestsOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Vary", "Origin")
	}))
	defer srv.Close()
	dir := t.TempDir()
	policy := writeFile(t, dir, "p.yaml", "origins: [https://app.example.com]\nmethods: [GET, POST]\nheaders: [X-Request-ID]\ncredentials: true\n")
	out := filepath.Join(dir, "out")
	r := corscheck(t, nil, "run", "--policy", policy, "--target", srv.URL+"/api", "--header", "X-Request-ID: 42", "--out", out)
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil || r.code != 1 {
		t.Fatalf("exit %d, %v\n%s", r.code, err, lastLines(r.stderr, 3))
	}
	if len(res.Findings) == 0 || !res.Findings[0].CredentialedRead {
		t.Fatalf("the first finding is not the credentialed read: %+v", res.Findings)
	}
	if len(res.Findings[0].Routes) == 0 || res.Findings[0].Routes[0] != "/api" {
		t.Errorf("the finding does not name the route: %v", res.Findings[0].Routes)
	}
}
