package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Every fetch() option is expressible in probe, and --json keeps its
// contract while adding the fields.
func TestProbeFetchOptions(t *testing.T) {
	var options atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			options.Add(1)
		}
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Methods", "PUT")
		w.Header().Set("Access-Control-Allow-Headers", "content-type")
		w.Header().Set("Access-Control-Max-Age", "60")
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/final", http.StatusFound)
		}
	}))
	defer srv.Close()
	r := corscheck(t, nil, "probe", srv.URL+"/items", "--origin", "https://app.example.com", "--method", "PUT", "--body", `{"a":1}`,
		"--content-type", "application/json", "--repeat", "3", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("exit %d: %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if got["preflightsSent"] != float64(1) || len(got["repeats"].([]any)) != 2 || options.Load() != 1 {
		t.Errorf("3 repeats within max-age: preflightsSent %v, repeats %d, server saw %d OPTIONS", got["preflightsSent"], len(got["repeats"].([]any)), options.Load())
	}
	req := got["request"].(map[string]any)
	if req["body"] != `{"a":1}` || req["headers"].(map[string]any)["Content-Type"] != "application/json" {
		t.Errorf("request: %v", req)
	}
	text := corscheck(t, nil, "probe", srv.URL+"/items", "--origin", "https://app.example.com", "--method", "PUT", "--repeat", "2")
	if !strings.Contains(text.stdout, "2 fetches caused 1 preflight(s)") || !strings.Contains(text.stdout, "the preflight cache answered") {
		t.Errorf("repeat text:\n%s", text.stdout)
	}
	man := corscheck(t, nil, "probe", srv.URL+"/redirect", "--origin", "https://app.example.com", "--redirect", "manual", "--json")
	if !strings.Contains(man.stdout, `"responseType": "opaqueredirect"`) || man.code != 0 {
		t.Errorf("redirect manual: exit %d\n%s", man.code, man.stdout)
	}
	same := corscheck(t, nil, "probe", srv.URL+"/items", "--origin", "https://app.example.com", "--mode", "same-origin")
	if same.code != 1 || !strings.Contains(same.stdout, "DisallowedByMode") {
		t.Errorf("mode same-origin: exit %d\n%s", same.code, same.stdout)
	}
	// The page's own origin is the target's: a same-origin first hop.
	own := corscheck(t, nil, "probe", srv.URL+"/redirect", "--origin", srv.URL, "--credentials", "include")
	if own.code != 0 {
		t.Errorf("same-origin probe: exit %d\n%s%s", own.code, own.stdout, own.stderr)
	}
}

// Origins Chrome sends are accepted; a Cookie header is refused with the
// flag that works; bad flags are one line with the fix.
func TestProbeAndFlagErrors(t *testing.T) {
	base := corsTarget(t)
	r := corscheck(t, nil, "probe", base+"/open", "--origin", "https://app.example.com_.evil.test")
	if r.code == 2 {
		t.Errorf("an origin Chrome sends was refused: %s", r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", base, "--origin", "https://a.example", "--header", "Cookie: s=1"}, "use --cookie 'name=value'"},
		{[]string{"probe", base, "--origin", "https://a.example|evil"}, "cannot appear in a host"},
		{[]string{"probe", base, "--origin", "https://a.example", "--orign", "x"}, "unknown flag --orign; did you mean --origin?"},
		{[]string{"run", "--timeout", "10"}, "--timeout 10: a duration needs a unit, e.g. --timeout 10s"},
		{[]string{"run", "--label-filter", "famly:origins"}, "the filter selected 0 of"},
		{[]string{"run", "--focus", "^nothing-matches$"}, "the filter selected 0 of"},
		{[]string{"run", "--label-filter", "family:("}, "--label-filter \"family:(\": Syntax Error"},
	} {
		r := corscheck(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 || strings.Contains(r.stderr, "\x1b") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line containing %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	// --focus matches case IDs, as documented.
	list := corscheck(t, nil, "run", "--list", "--focus", `^preflight\.method\.put\.`)
	if list.code != 0 || !strings.Contains(list.stdout, "preflight.method.put.include.https-app.example.com") || strings.Contains(list.stdout, "simple.get") {
		t.Errorf("--focus on IDs: exit %d\n%s%s", list.code, list.stdout, list.stderr)
	}
	// --list sends nothing and needs no --allow-remote.
	if r := corscheck(t, nil, "run", "--list", "--target", "https://staging.example.com/api", "--policy", "../../fixtures/policies/sample.yaml"); r.code != 0 {
		t.Errorf("--list on a remote target: exit %d %s", r.code, r.stderr)
	}
}

// run prints, under each finding, the fix for the stack it detected from
// the responses; --stack chooses another.
func TestRunPrintsTheStacksFix(t *testing.T) {
	r := corscheck(t, nil, "run", "--fixture", "article-nginx", "--policy", "../../fixtures/policies/stack.yaml", "--out", t.TempDir())
	if r.code != 1 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"stack: nginx (detected from server: nginx/", "in nginx: nginx applies add_header to 2xx and 3xx answers only, unless the line ends with always",
		"add_header Access-Control-Allow-Origin $cors_origin always;", "map $http_origin $cors_origin {"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	r = corscheck(t, nil, "run", "--fixture", "article-nginx", "--policy", "../../fixtures/policies/stack.yaml", "--stack", "caddy", "--out", t.TempDir())
	if !strings.Contains(r.stdout, "stack: caddy\n") || !strings.Contains(r.stdout, "in Caddy:") || strings.Contains(r.stdout, "in nginx:") {
		t.Errorf("--stack caddy:\n%s", r.stdout)
	}
	if r := corscheck(t, nil, "run", "--stack", "ngnix", "--list"); r.code != 2 || !strings.Contains(r.stderr, `unknown stack "ngnix"; did you mean "nginx"?`) {
		t.Errorf("bad --stack: exit %d %s", r.code, r.stderr)
	}
}
