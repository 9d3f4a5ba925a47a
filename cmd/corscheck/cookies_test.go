package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
)

// Cookie travel per browser: corscheck's canary is set first-party on the
// API's site (as a signed-in user's cookie is), then a page on another
// site makes credentialed fetches. The summary says per browser whether
// signed-in cross-site requests work, and the server's own count of the
// cookies it received agrees: Chrome sends it by default, Firefox's Total
// Cookie Protection and WebKit's ITP withhold it, and Chrome with
// third-party cookies blocked withholds it too.
func TestCookieTravelPerBrowser(t *testing.T) {
	var mu sync.Mutex
	got := map[string][2]int{} // browser family -> {requests, with the cookie}
	plain, err := fixtures.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if o := r.Header.Get("Origin"); o == "https://app.example.com" {
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Vary", "Origin")
		}
		if r.Method == http.MethodGet && r.Header.Get("Origin") != "" {
			ua := "chrome"
			switch {
			case strings.Contains(r.UserAgent(), "Firefox/"):
				ua = "firefox"
			case strings.Contains(r.UserAgent(), "Safari/") && !strings.Contains(r.UserAgent(), "Chrome/"):
				ua = "webkit"
			}
			_, err := r.Cookie("corscheck_canary")
			mu.Lock()
			n := got[ua]
			n[0]++
			if err == nil {
				n[1]++
			}
			got[ua] = n
			mu.Unlock()
		}
		w.WriteHeader(200)
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	srv, ca, err := fixtures.WithTLSFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte("origins: [https://app.example.com]\nmethods: [GET]\ncredentials: true\n"), 0o644)
	run := func(out string, args ...string) *reports.Results {
		t.Helper()
		r := corscheck(t, nil, append([]string{"run", "--policy", policy, "--target", srv.URL + "/api/me", "--ca-cert", ca, "--out", out,
			"--label-filter", "family:simple && method:GET && credentials:include && origin:allowed"}, args...)...)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		res, err := reports.ReadResults(filepath.Join(out, "results.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Cookies {
			if !strings.Contains(r.stdout, "cookies: "+c.Sentence()) {
				t.Errorf("stdout lacks %q:\n%s", c.Sentence(), r.stdout)
			}
		}
		html, _ := os.ReadFile(filepath.Join(out, "report.html"))
		if len(res.Cookies) > 0 && !strings.Contains(string(html), "Signed-in cross-site requests") {
			t.Error("the report has no cookie summary")
		}
		return res
	}

	res := run(filepath.Join(dir, "all"), "--browser", "all")
	want := map[string]struct {
		works bool
		why   string
	}{
		"chrome":  {true, ""},
		"firefox": {false, "Total Cookie Protection"},
		"webkit":  {false, "Intelligent Tracking Prevention"},
	}
	if len(res.Cookies) != 3 {
		t.Fatalf("cookie travel for %d browsers, want 3: %+v", len(res.Cookies), res.Cookies)
	}
	for _, c := range res.Cookies {
		w := want[c.Engine]
		if c.CrossSite == 0 || c.Works != w.works || !strings.Contains(c.Withheld, w.why) || c.Cookie != "corscheck_canary" {
			t.Errorf("%s: %+v, want works=%v withheld ~ %q", c.Engine, c, w.works, w.why)
		}
		mu.Lock()
		seen := got[c.Engine]
		mu.Unlock()
		if (seen[1] > 0) != c.Works || seen[0] == 0 {
			t.Errorf("%s: the server received the cookie on %d of %d requests, the report says works=%v", c.Engine, seen[1], seen[0], c.Works)
		}
	}

	mu.Lock()
	clear(got)
	mu.Unlock()
	res = run(filepath.Join(dir, "block"), "--cookie-mode", "block-third-party")
	if len(res.Cookies) != 1 || res.Cookies[0].Works || res.Cookies[0].Mode != "block-third-party" || !strings.Contains(res.Cookies[0].Withheld, "third-party cookies are blocked") {
		t.Fatalf("Chrome with third-party cookies blocked: %+v", res.Cookies)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["chrome"][0] == 0 || got["chrome"][1] != 0 {
		t.Errorf("Chrome with third-party cookies blocked: the server received the cookie on %d of %d requests", got["chrome"][1], got["chrome"][0])
	}
}
