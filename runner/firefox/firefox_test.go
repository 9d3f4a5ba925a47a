package firefox_test

import (
	"archive/zip"
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corscheck/corscheck/runner"
	_ "github.com/corscheck/corscheck/runner/engines"
	"github.com/corscheck/corscheck/runner/firefox"
	"github.com/corscheck/corscheck/runner/internal/sockets"
	"github.com/corscheck/corscheck/scenarios"
)

// The prefs that keep Firefox on loopback and keep verdicts about CORS
// alone are in the profile corscheck writes.
func TestFirefoxPrefs(t *testing.T) {
	p := firefox.Prefs(runner.Options{LoopbackOnly: true, Resolve: map[string]string{"api.staging.test": "127.0.0.1"}})
	want := map[string]any{
		"network.lna.enabled":                     false,
		"network.dns.native-is-localhost":         true,
		"network.proxy.type":                      1,
		"network.proxy.http":                      "127.0.0.1",
		"network.proxy.http_port":                 9,
		"network.proxy.ssl":                       "127.0.0.1",
		"network.proxy.ssl_port":                  9,
		"network.proxy.allow_hijacking_localhost": false,
		"network.trr.mode":                        5,
		"browser.safebrowsing.malware.enabled":    false,
		"app.normandy.enabled":                    false,
		"toolkit.telemetry.enabled":               false,
		"browser.region.update.enabled":           false,
		"media.gmp-provider.enabled":              false,
		"intl.locale.requested":                   "en-US",
		"network.dns.forceResolve":                "127.0.0.1",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %v, want %v", k, p[k], v)
		}
	}
	if np, _ := p["network.proxy.no_proxies_on"].(string); !strings.Contains(np, "api.staging.test") || !strings.Contains(np, "127.0.0.0/8") {
		t.Errorf("no_proxies_on %q: the --resolve names and loopback must bypass the trap", np)
	}
	if _, ok := firefox.Prefs(runner.Options{})["network.dns.native-is-localhost"]; ok {
		t.Error("a remote target (no LoopbackOnly) must resolve names normally")
	}
	if _, ok := firefox.Prefs(runner.Options{LocalNetworkAccess: true})["network.lna.enabled"]; ok {
		t.Error("--local-network-access must keep Firefox's LNA on")
	}
	if err := firefox.Validate(runner.Options{Resolve: map[string]string{"a.test": "127.0.0.1", "b.test": "127.0.0.2"}}); err == nil {
		t.Error("two addresses for --resolve cannot be honoured by Firefox")
	}
}

// Every CORS reason in the installed Firefox's own messages
// (security.properties in omni.ja) is recognised, with the meaning the
// mapping gives it.
func TestFirefoxReasonsCoverFirefoxMessages(t *testing.T) {
	path, err := firefox.Find("")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(filepath.Join(filepath.Dir(path), "omni.ja"))
	if err != nil {
		t.Fatalf("Firefox's omni.ja: %v", err)
	}
	defer zr.Close()
	var props string
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/security/security.properties") && strings.Contains(f.Name, "en-US") {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			r.Close()
			props = string(b)
		}
	}
	if props == "" {
		t.Fatal("no security.properties in omni.ja")
	}
	keys := 0
	sc := bufio.NewScanner(strings.NewReader(props))
	for sc.Scan() {
		key, text, ok := strings.Cut(sc.Text(), "=")
		if !ok || !strings.HasPrefix(key, "CORS") || strings.Contains(key, "Deprecation") {
			continue
		}
		keys++
		msg := strings.NewReplacer("%1$S", "http://127.0.0.1:1/x?__corscheck=t.1", "%2$S", "X-Param").Replace(text)
		got, _, param, ok := firefox.Reason(msg, false)
		if !ok || got != key {
			t.Errorf("%s (%q) read as %q", key, text, got)
		}
		if strings.Contains(text, "%2$S") && !strings.Contains(text, "Status code") && param != "X-Param" && key != "CORSInvalidAllowMethod" && key != "CORSInvalidAllowHeader" {
			t.Errorf("%s: parameter %q, want X-Param", key, param)
		}
	}
	if keys < 14 {
		t.Fatalf("%d CORS keys in security.properties", keys)
	}
	for msg, want := range map[string]scenarios.CorsError{
		"Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at http://x/. (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 200.": "MissingAllowOriginHeader",
	} {
		if _, ce, _, _ := firefox.Reason(msg, false); ce != want {
			t.Errorf("actual: %s, want %s", ce, want)
		}
		if _, ce, _, _ := firefox.Reason(msg, true); ce != "Preflight"+want {
			t.Errorf("preflight: %s, want Preflight%s", ce, want)
		}
	}
}

// With LoopbackOnly, Firefox opens no connection and sends no datagram to
// any address but loopback, over a run and the idle seconds after it
// (when it would fetch Remote Settings, updates, safe-browsing lists).
func TestFirefoxStaysOnLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.WriteHeader(204)
	}))
	defer srv.Close()
	stop := make(chan struct{})
	seen := make(chan []string, 1)
	var ff *firefox.Firefox
	ready := make(chan struct{})
	go func() {
		<-ready
		var bad []string
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			bad = append(bad, sockets.NonLoopback(ff.PID())...)
			select {
			case <-stop:
				seen <- bad
				return
			case <-tick.C:
			}
		}
	}()
	b, err := runner.Start(context.Background(), runner.Options{Browsers: runner.EngineFirefox, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ff = b.(*firefox.Firefox)
	close(ready)
	var probes []runner.Probe
	for _, origin := range []string{"https://app.example.com", "https://evil.example.net", "null"} {
		probes = append(probes, runner.Probe{Origin: origin, Fetches: []runner.Fetch{{URL: srv.URL + "/x", Method: "PUT", Credentials: scenarios.CredentialsInclude}}})
	}
	obs, err := b.Run(context.Background(), probes, runner.RunOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs {
		if o[0].Outcome == scenarios.Errored {
			t.Fatalf("probe errored: %s", o[0].Error)
		}
	}
	// Firefox's own background fetches start within seconds of launch:
	// keep watching for a bounded window after the run.
	time.Sleep(3 * time.Second)
	close(stop)
	if bad := <-seen; len(bad) > 0 {
		t.Fatalf("Firefox reached beyond loopback: %v", bad)
	}
}

// A credentialed fetch answered 401 with WWW-Authenticate: Basic (a route
// behind HTTP authentication, as stack fixtures have) gets that 401 in
// every engine, as the page sees it in Chrome: no login dialog that a
// headless browser would wait on until the fetch times out. (https, with
// certificate errors ignored: WebKit blocks http from an https page.)
func TestBasicAuthChallengeIsAnAnswer(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("WWW-Authenticate", `Basic realm="api"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	for _, engine := range []string{runner.EngineChrome, runner.EngineFirefox, runner.EngineWebKit} {
		t.Run(engine, func(t *testing.T) {
			b, err := runner.Start(context.Background(), runner.Options{Browsers: engine, LoopbackOnly: true, Insecure: true})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var probes []runner.Probe
			for _, cred := range []scenarios.Credentials{scenarios.CredentialsInclude, scenarios.CredentialsOmit} {
				probes = append(probes, runner.Probe{Origin: "https://app.example.com", Fetches: []runner.Fetch{{URL: srv.URL + "/private", Method: "GET", Credentials: cred}}})
			}
			obs, err := b.Run(context.Background(), probes, runner.RunOptions{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range obs {
				if o[0].Outcome != scenarios.Allowed || o[0].Response == nil || o[0].Response.Status != http.StatusUnauthorized {
					t.Errorf("credentials %s: %s %s, want the 401 read by the page", o[0].Request.Credentials, o[0].Outcome, o[0].Error)
				}
			}
		})
	}
}

// --browser-url attaches to Firefoxes corscheck did not start, by their
// WebDriver BiDi sockets: the same outcomes and reasons as a Firefox
// corscheck starts, two endpoints make a pool that spreads the origins,
// and Close ends corscheck's sessions, never the browsers (a second run
// attaches to them again).
func TestAttachToRunningFirefox(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); strings.HasSuffix(o, ".example.com") {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Methods", "PUT")
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	var urls []string
	var pids []int
	for range 2 {
		ws, pid, stop, err := firefox.LaunchForTest(runner.Options{LoopbackOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		urls, pids = append(urls, ws), append(pids, pid)
	}
	var probes []runner.Probe
	for _, origin := range []string{"https://app.example.com", "https://admin.example.com", "https://evil.example.net", "https://example.com.evil.test"} {
		probes = append(probes, runner.Probe{Origin: origin, Fetches: []runner.Fetch{{URL: srv.URL + "/x", Method: "PUT", Credentials: scenarios.CredentialsInclude}}})
	}
	run := func(o runner.Options) ([][]scenarios.Observation, string) {
		t.Helper()
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
	want, _ := run(runner.Options{Browsers: runner.EngineFirefox, LoopbackOnly: true})
	got, version := run(runner.Options{Browsers: runner.EngineFirefox, BrowserURLs: urls})
	if !strings.HasPrefix(version, "Firefox/") || !strings.HasSuffix(version, "(pool of 2)") {
		t.Errorf("version %q", version)
	}
	for i := range probes {
		w, g := want[i][0], got[i][0]
		if g.Engine != runner.EngineFirefox || g.Outcome != w.Outcome || g.CorsError != w.CorsError || g.BrowserReason == "" && g.Outcome == scenarios.Blocked {
			t.Errorf("%s: attached %s %q (%q), started %s %q", probes[i].Origin, g.Outcome, g.CorsError, g.BrowserReason, w.Outcome, w.CorsError)
		}
	}
	if want[0][0].Outcome != scenarios.Allowed || want[2][0].Outcome != scenarios.Blocked {
		t.Fatalf("the server's answers were not what the test needs: %s, %s", want[0][0].Outcome, want[2][0].Outcome)
	}
	// The browsers outlive corscheck's sessions, and take a new one.
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("Close ended the attached Firefox %d: %v", pid, err)
		}
	}
	again, _ := run(runner.Options{Browsers: runner.EngineFirefox, BrowserURLs: urls[:1]})
	if again[0][0].Outcome != scenarios.Allowed {
		t.Errorf("a second attach: %s %s", again[0][0].Outcome, again[0][0].Error)
	}
}
