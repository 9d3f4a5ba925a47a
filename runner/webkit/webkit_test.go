package webkit_test

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corscheck/corscheck/runner"
	_ "github.com/corscheck/corscheck/runner/engines"
	"github.com/corscheck/corscheck/runner/internal/sockets"
	"github.com/corscheck/corscheck/runner/webkit"
	"github.com/corscheck/corscheck/scenarios"
)

// corsTarget answers by path: each path is one way a server gets CORS
// right or wrong. It counts the requests that reach it.
func corsTarget(t *testing.T, tls bool) (*httptest.Server, *int) {
	hits := new(int)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*hits++
		origin := r.Header.Get("Origin")
		hd := w.Header()
		switch {
		case strings.HasPrefix(r.URL.Path, "/noacao"):
		case strings.HasPrefix(r.URL.Path, "/wrong"):
			hd.Set("Access-Control-Allow-Origin", "https://other.example.com")
		case strings.HasPrefix(r.URL.Path, "/star"):
			hd.Set("Access-Control-Allow-Origin", "*")
		case strings.HasPrefix(r.URL.Path, "/list"):
			hd.Set("Access-Control-Allow-Origin", origin+", https://other.example.com")
		case strings.HasPrefix(r.URL.Path, "/nocreds"):
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Methods", "PUT")
		case strings.HasPrefix(r.URL.Path, "/pf404") && r.Method == "OPTIONS":
			w.WriteHeader(404)
			return
		case strings.HasPrefix(r.URL.Path, "/redirect"):
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Credentials", "true")
			http.Redirect(w, r, "/ok?"+r.URL.RawQuery, http.StatusFound)
			return
		default:
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Credentials", "true")
			hd.Set("Access-Control-Allow-Methods", "PUT")
			hd.Set("Access-Control-Allow-Headers", "X-Request-ID")
			hd.Set("Access-Control-Max-Age", "600")
			hd.Set("Vary", "Origin")
		}
		if r.Method == "OPTIONS" {
			w.WriteHeader(204)
			return
		}
		w.Write([]byte("ok"))
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv, hits
}

// caFile writes a test server's certificate as a --ca-cert file.
func caFile(t *testing.T, srv *httptest.Server) string {
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func startWebKit(t *testing.T, o runner.Options) *webkit.WebKit {
	o.Browsers = runner.EngineWebKit
	b, err := runner.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.(*webkit.WebKit)
}

// WebKit's verdicts on a real server: what it allowed and blocked, with
// WebKit's own reason on every block, the preflights the relay saw on the
// wire, its preflight cache, its redirects and its mixed content rule.
func TestWebKitVerdicts(t *testing.T) {
	srv, _ := corsTarget(t, true)
	plain, plainHits := corsTarget(t, false)
	b := startWebKit(t, runner.Options{CACerts: []string{caFile(t, srv)}, LoopbackOnly: true})
	if !strings.HasPrefix(b.Version(), "WebKitGTK/2.") {
		t.Errorf("version %q", b.Version())
	}
	app := "https://app.example.com"
	include := scenarios.CredentialsInclude
	xrid := map[string]string{"X-Request-ID": "1"}
	cases := []struct {
		name      string
		origin    string
		fetches   []runner.Fetch
		outcome   scenarios.Outcome
		corsError scenarios.CorsError
		param     string
		reason    string // in WebKit's errorText
	}{
		{"allowed with a preflight", app, []runner.Fetch{{URL: srv.URL + "/ok", Method: "PUT", Headers: xrid, Credentials: include}}, scenarios.Allowed, "", "", ""},
		{"method not listed", app, []runner.Fetch{{URL: srv.URL + "/ok", Method: "DELETE"}}, scenarios.Blocked, "MethodDisallowedByPreflightResponse", "DELETE", "Method DELETE is not allowed by Access-Control-Allow-Methods."},
		{"header not listed", app, []runner.Fetch{{URL: srv.URL + "/ok", Method: "GET", Headers: map[string]string{"X-Other": "1"}}}, scenarios.Blocked, "HeaderDisallowedByPreflightResponse", "x-other", "Request header field"},
		{"no Access-Control-Allow-Origin", app, []runner.Fetch{{URL: srv.URL + "/noacao", Method: "GET"}}, scenarios.Blocked, "MissingAllowOriginHeader", "", "is not allowed by Access-Control-Allow-Origin"},
		{"another origin allowed", app, []runner.Fetch{{URL: srv.URL + "/wrong", Method: "GET"}}, scenarios.Blocked, "AllowOriginMismatch", "https://other.example.com", "is not allowed by Access-Control-Allow-Origin"},
		{"a list of origins", app, []runner.Fetch{{URL: srv.URL + "/list", Method: "GET"}}, scenarios.Blocked, "MultipleAllowOriginValues", app + ", https://other.example.com", "cannot contain more than one origin"},
		{"* with credentials", app, []runner.Fetch{{URL: srv.URL + "/star", Method: "GET", Credentials: include}}, scenarios.Blocked, "WildcardOriginNotAllowed", "", "Cannot use wildcard"},
		{"credentials not allowed", app, []runner.Fetch{{URL: srv.URL + "/nocreds", Method: "GET", Credentials: include}}, scenarios.Blocked, "InvalidAllowCredentials", "", "Access-Control-Allow-Credentials"},
		{"preflight 404 without CORS headers (status checked first)", app, []runner.Fetch{{URL: srv.URL + "/pf404", Method: "PUT"}}, scenarios.Blocked, "PreflightInvalidStatus", "", "Preflight response is not successful. Status code: 404"},
		{"the opaque origin", "null", []runner.Fetch{{URL: srv.URL + "/noacao", Method: "GET"}}, scenarios.Blocked, "MissingAllowOriginHeader", "", "Origin null is not allowed"},
		{"a followed redirect", app, []runner.Fetch{{URL: srv.URL + "/redirect", Method: "GET", Credentials: include}}, scenarios.Allowed, "", "", ""},
		{"the preflight cache", app, []runner.Fetch{{URL: srv.URL + "/ok", Method: "PUT"}, {URL: srv.URL + "/ok", Method: "PUT"}}, scenarios.Allowed, "", "", ""},
		{"mixed content: https page, http URL on loopback", app, []runner.Fetch{{URL: plain.URL + "/ok", Method: "GET"}}, scenarios.Errored, "", "", "Not allowed to request resource"},
		{"an http page may fetch http", "http://localhost:3000", []runner.Fetch{{URL: plain.URL + "/ok", Method: "GET"}}, scenarios.Allowed, "", "", ""},
	}
	var probes []runner.Probe
	for _, c := range cases {
		probes = append(probes, runner.Probe{Origin: c.origin, Fetches: c.fetches})
	}
	obs, err := b.Run(context.Background(), probes, runner.RunOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		o := obs[i][0]
		if o.Engine != runner.EngineWebKit || o.Outcome != c.outcome || o.CorsError != c.corsError || o.FailedParameter != c.param {
			t.Errorf("%s: %s %s %q (error %q), want %s %s %q", c.name, o.Outcome, o.CorsError, o.FailedParameter, o.Error, c.outcome, c.corsError, c.param)
		}
		if c.reason != "" && !strings.Contains(o.BrowserReason, c.reason) {
			t.Errorf("%s: WebKit's reason %q, want %q", c.name, o.BrowserReason, c.reason)
		}
		if o.Outcome == scenarios.Blocked && o.BrowserReason == "" {
			t.Errorf("%s: a block without WebKit's reason", c.name)
		}
	}
	// The wire, as the relay saw it.
	if pf := obs[0][0].Preflight; pf == nil || pf.RequestHeaders["access-control-request-method"] != "PUT" || pf.ResponseHeaders["access-control-max-age"] != "600" || obs[0][0].Response.Status != 200 {
		t.Errorf("preflight %+v, response %+v", pf, obs[0][0].Response)
	}
	if got := obs[0][0].Response.RequestHeaders["x-request-id"]; got != "1" {
		t.Errorf("the actual request as sent: x-request-id %q", got)
	}
	if pf := obs[1][0].Preflight; pf == nil || pf.Status != 204 || obs[1][0].Response != nil {
		t.Errorf("blocked at the preflight: preflight %+v, response %+v", pf, obs[1][0].Response)
	}
	if r := obs[10][0]; len(r.Redirects) != 1 || r.Redirects[0].Status != 302 || r.Response == nil || !strings.HasSuffix(r.Response.URL, "/ok") {
		t.Errorf("redirect: hops %+v, response %+v", r.Redirects, r.Response)
	}
	if c := obs[11]; c[0].Preflight == nil || c[1].Preflight != nil {
		t.Errorf("the second PUT within max-age sent a preflight: %v, %v", c[0].Preflight != nil, c[1].Preflight != nil)
	}
	if o := obs[12][0]; o.ErrorKind != scenarios.ErrorMixedContent {
		t.Errorf("mixed content: %s %s", o.ErrorKind, o.Error)
	}
	if *plainHits != 1 {
		t.Errorf("the http target saw %d requests, want 1 (mixed content never leaves the browser)", *plainHits)
	}
}

// Cookies the way a user gets them (first-party, on the API's site): with
// WebKit's defaults (Intelligent Tracking Prevention) a cross-site page's
// credentialed fetch goes without them, and the observation says so; with
// --cookie-mode allow-third-party it carries them; a same-site page
// (app.shop.example.test and api.shop.example.test share example.test)
// gets them either way.
func TestWebKitCookies(t *testing.T) {
	srv, _ := corsTarget(t, true)
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	api := "https://api.shop.example.test:" + port
	setup := runner.PageSetup{Cookies: []runner.CookieSpec{{Name: "session", Value: "s3cret", URL: api, Secure: true, HTTPOnly: true, SameSite: "None"}}}
	fetch := []runner.Fetch{{URL: api + "/ok", Method: "GET", Credentials: scenarios.CredentialsInclude}}
	probes := []runner.Probe{{Origin: "https://app.other-site.test", Fetches: fetch}, {Origin: "https://app.shop.example.test", Fetches: fetch}}
	for _, mode := range []string{runner.CookieModeDefault, runner.CookieModeAllow} {
		t.Run(mode, func(t *testing.T) {
			b := startWebKit(t, runner.Options{CookieMode: mode, LoopbackOnly: true,
				Resolve: map[string]string{"api.shop.example.test": "127.0.0.1"}, Insecure: true})
			obs, err := b.Run(context.Background(), probes, runner.RunOptions{Timeout: 10 * time.Second, Setup: setup})
			if err != nil {
				t.Fatal(err)
			}
			cross, same := obs[0][0], obs[1][0]
			if cross.Outcome != scenarios.Allowed || same.Outcome != scenarios.Allowed {
				t.Fatalf("outcomes %s %s: %s %s", cross.Outcome, same.Outcome, cross.Error, same.Error)
			}
			if got := same.Response.RequestHeaders["cookie"]; got != "session=s3cret" {
				t.Errorf("same-site fetch sent Cookie %q", got)
			}
			got := cross.Response.RequestHeaders["cookie"]
			switch mode {
			case runner.CookieModeDefault:
				if got != "" || len(cross.Cookies) != 1 || cross.Cookies[0].Sent() || !strings.HasPrefix(cross.Cookies[0].Blocked[0], "ThirdParty") {
					t.Errorf("ITP: cross-site fetch sent Cookie %q, cookies %+v", got, cross.Cookies)
				}
			default:
				if got != "session=s3cret" {
					t.Errorf("third-party cookies allowed: cross-site fetch sent Cookie %q", got)
				}
			}
		})
	}
}

// The relay sends the target only what a probe asked for: requests whose
// URL carries no probe token never reach it, and nothing but loopback is
// dialled with LoopbackOnly (a name without --resolve does not resolve).
func TestWebKitStaysOnLoopback(t *testing.T) {
	srv, _ := corsTarget(t, true)
	b := startWebKit(t, runner.Options{CACerts: []string{caFile(t, srv)}, LoopbackOnly: true})
	stop := make(chan struct{})
	seen := make(chan []string, 1)
	go func() {
		var bad []string
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, pid := range b.PIDs() {
				bad = append(bad, sockets.NonLoopback(pid)...)
			}
			bad = append(bad, sockets.NonLoopback(syscall.Getpgrp())...)
			select {
			case <-stop:
				seen <- bad
				return
			case <-tick.C:
			}
		}
	}()
	probes := []runner.Probe{
		{Origin: "https://app.example.com", Fetches: []runner.Fetch{{URL: srv.URL + "/ok", Method: "PUT", Credentials: scenarios.CredentialsInclude}}},
		{Origin: "https://evil.example.net", Fetches: []runner.Fetch{{URL: "https://api.example.com/ok", Method: "GET"}}},
	}
	obs, err := b.Run(context.Background(), probes, runner.RunOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if obs[0][0].Outcome != scenarios.Allowed {
		t.Errorf("loopback target: %s %s", obs[0][0].Outcome, obs[0][0].Error)
	}
	if o := obs[1][0]; o.Outcome != scenarios.Errored || o.ErrorKind != scenarios.ErrorDNS {
		t.Errorf("a public name: %s %s %s, want a name error", o.Outcome, o.ErrorKind, o.Error)
	}
	// WebKit's own background activity would start within seconds.
	time.Sleep(2 * time.Second)
	close(stop)
	if bad := <-seen; len(bad) > 0 {
		t.Fatalf("WebKit or the relay reached beyond loopback: %v", bad)
	}
}

// Close leaves no Xvfb, driver, browser or helper process.
func TestWebKitCloseLeavesNothing(t *testing.T) {
	b := startWebKit(t, runner.Options{})
	groups := b.PIDs()
	if len(groups) != 2 || len(processesIn(groups)) < 3 {
		t.Fatalf("process groups %v with %d processes: Xvfb, the driver and the browser expected", groups, len(processesIn(groups)))
	}
	b.Close()
	if left := processesIn(groups); len(left) > 0 {
		t.Fatalf("processes left after Close: %v", left)
	}
}

// processesIn lists the live processes whose process group is one of groups.
func processesIn(groups []int) []string {
	want := map[string]bool{}
	for _, g := range groups {
		want[strconv.Itoa(g)] = true
	}
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) >= 3 && want[f[2]] && f[0] != "Z" {
			out = append(out, e.Name()+" "+s[strings.IndexByte(s, '(')+1:strings.LastIndexByte(s, ')')])
		}
	}
	return out
}

// --browser-url attaches to WebKitWebDrivers corscheck did not start, on
// this machine: the same outcomes and WebKit reasons as a WebKit corscheck
// starts, two drivers make a pool, Close ends corscheck's sessions and
// leaves the drivers running (a second run attaches again), and a driver
// on another machine is refused with the reason.
func TestAttachToRunningWebKitWebDriver(t *testing.T) {
	plain, _ := corsTarget(t, false)
	var urls []string
	var pids []int
	for range 2 {
		u, pid, stop, err := webkit.LaunchDriverForTest()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		urls, pids = append(urls, u), append(pids, pid)
	}
	var probes []runner.Probe
	for _, p := range []struct{ origin, path string }{
		{"http://app.example.com", "/ok"}, {"http://admin.example.com", "/ok"},
		{"http://evil.example.net", "/wrong"}, {"http://other.example.org", "/noacao"},
	} {
		probes = append(probes, runner.Probe{Origin: p.origin, Fetches: []runner.Fetch{{URL: plain.URL + p.path, Method: "PUT", Credentials: scenarios.CredentialsInclude}}})
	}
	run := func(o runner.Options) ([][]scenarios.Observation, string) {
		t.Helper()
		o.Browsers = runner.EngineWebKit
		b, err := runner.Start(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		obs, err := b.Run(context.Background(), probes, runner.RunOptions{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return obs, b.Version()
	}
	want, _ := run(runner.Options{LoopbackOnly: true})
	got, version := run(runner.Options{BrowserURLs: urls})
	if !strings.HasPrefix(version, "WebKitGTK/") || !strings.HasSuffix(version, "(pool of 2)") {
		t.Errorf("version %q", version)
	}
	for i := range probes {
		w, g := want[i][0], got[i][0]
		if g.Outcome != w.Outcome || g.CorsError != w.CorsError || g.Outcome == scenarios.Blocked && g.BrowserReason == "" {
			t.Errorf("%s: attached %s %q (%q), started %s %q", probes[i].Origin, g.Outcome, g.CorsError, g.BrowserReason, w.Outcome, w.CorsError)
		}
	}
	if want[0][0].Outcome != scenarios.Allowed || want[2][0].Outcome != scenarios.Blocked {
		t.Fatalf("the server's answers were not what the test needs: %s, %s", want[0][0].Outcome, want[2][0].Outcome)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("Close ended the attached WebKitWebDriver %d: %v", pid, err)
		}
	}
	again, _ := run(runner.Options{BrowserURLs: urls[:1]})
	if again[0][0].Outcome != scenarios.Allowed {
		t.Errorf("a second attach: %s %s", again[0][0].Outcome, again[0][0].Error)
	}
	_, err := runner.Start(context.Background(), runner.Options{Browsers: runner.EngineWebKit, BrowserURLs: []string{"http://192.0.2.7:4444"}})
	if err == nil || !strings.Contains(err.Error(), "on this machine") {
		t.Errorf("a driver on another machine: %v", err)
	}
}
