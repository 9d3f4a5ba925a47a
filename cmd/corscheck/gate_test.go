package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
)

// writeFile writes a test file and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Wrong targets are named in one line, exit 2, before the matrix runs:
// the app itself, an OpenAPI file whose paths repeat the target's path,
// a URL where every route is 404, and a web app's catch-all page.
func TestWrongTargets(t *testing.T) {
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	spa := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>app</title><div id=root></div><script src=/main.js></script>")
	}))
	defer spa.Close()
	dir := t.TempDir()
	openapi := writeFile(t, dir, "api.yaml", `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /v1/items:
    get: {responses: {"200": {description: ok}}}
  /v1/items/{id}:
    get: {responses: {"200": {description: ok}}}
`)
	cases := []struct {
		name   string
		policy string
		args   []string
		want   string
	}{
		{"the app as target", "origins: [" + spa.URL + "]\n", []string{"--target", spa.URL + "/"}, "is one of the policy's allowed origins"},
		{"the OpenAPI paths repeat the target's", "origins: [https://app.example.com]\n", []string{"--target", notFound.URL + "/v1/items", "--openapi", openapi}, "--target " + notFound.URL + "/"},
		{"every route 404", "origins: [https://app.example.com]\npaths: [/v1/items, /v1/orders]\n", []string{"--target", notFound.URL + "/api"}, "answered 404 to a GET from the allowed origin"},
		{"a web app's catch-all page", "origins: [https://app.example.com]\npaths: [/v1/items, /v1/orders]\n", []string{"--target", spa.URL + "/api"}, "answered the same HTML page"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			policy := writeFile(t, dir, fmt.Sprintf("p%d.yaml", i), tc.policy)
			r := corscheck(t, nil, append([]string{"run", "--policy", policy, "--out", filepath.Join(dir, fmt.Sprint(i))}, tc.args...)...)
			if r.code != 2 || !strings.Contains(lastLine(r.stderr), tc.want) {
				t.Fatalf("exit %d, want 2 with %q as the last line:\n%s", r.code, tc.want, r.stderr)
			}
			if strings.Count(r.stderr, "corscheck:") > 2 {
				t.Errorf("more than one error line:\n%s", r.stderr)
			}
		})
	}
}

// A pathParams (or --path-param) name no route has is exit 2 in one line.
func TestUnknownPathParam(t *testing.T) {
	dir := t.TempDir()
	policy := writeFile(t, dir, "p.yaml", "origins: [https://app.example.com]\npaths: [\"/v1/items/{id}\"]\npathParams: {idd: \"7\"}\n")
	r := corscheck(t, nil, "run", "--policy", policy, "--target", "http://127.0.0.1:9/", "--out", dir)
	if r.code != 2 || !strings.Contains(r.stderr, `"idd" is not a parameter of any route's path; did you mean "id"?`) {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	r = corscheck(t, nil, "run", "--policy", writeFile(t, dir, "q.yaml", "origins: [https://app.example.com]\npaths: [\"/v1/items/{id}\"]\n"),
		"--target", "http://127.0.0.1:9/", "--path-param", "iid=7", "--out", dir)
	if r.code != 2 || !strings.Contains(r.stderr, `"iid" is not a parameter`) {
		t.Fatalf("--path-param: exit %d\n%s", r.code, r.stderr)
	}
}

// A run that exits 1 with no failed or errored case says why (the status
// findings), which cases, and what to write; passing cases carry no fix,
// not even the refused hostile ones.
func TestStatusOnlyExitSaysWhatToWrite(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o == "https://app.example.com" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT")
			w.Header().Set("Access-Control-Allow-Headers", "X-Request-ID")
		}
		w.Header().Set("Vary", "Origin")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	dir := t.TempDir()
	policy := writeFile(t, dir, "p.yaml", "origins: [https://app.example.com]\nmethods: [GET, POST, PUT]\nheaders: [X-Request-ID]\ncredentials: true\n")
	out := filepath.Join(dir, "out")
	r := corscheck(t, nil, "run", "--policy", policy, "--target", srv.URL+"/api", "--label-filter", "!family:errors", "--out", out)
	if r.code != 1 || !strings.Contains(r.stdout, "no case failed or errored") || !strings.Contains(r.stdout, "expectStatus: [503]") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, c := range res.Cases {
		if c.Verdict != scenarios.Pass {
			continue
		}
		if c.Fix != "" || c.Explanation != nil && (c.Explanation.Fix != "" || len(c.Explanation.Snippets) > 0) {
			t.Errorf("%s passed, yet carries a fix: %q %+v", c.ID, c.Fix, c.Explanation)
		}
		if c.Explanation != nil {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no refused hostile case with an explanation: the check proves nothing")
	}
}

// A header the policy does not list, let through by the preflight answer,
// is one finding named by the header and by how the answer let it in: a
// fixed list that names it, or an echo of Access-Control-Request-Headers.
// Whatever family the case came from (here preflight.authorization), never
// "blocked requests the policy allows" and never an empty reason.
func TestHeaderOutsideThePolicyAllowed(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		acah       func(r *http.Request) string
	}{
		{"listed", `Access-Control-Allow-Headers lists it ("Content-Type, Authorization, X-Request-ID")`,
			func(*http.Request) string { return "Content-Type, Authorization, X-Request-ID" }},
		{"echo", "the server echoes Access-Control-Request-Headers into Access-Control-Allow-Headers",
			func(r *http.Request) string { return r.Header.Get("Access-Control-Request-Headers") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if o := r.Header.Get("Origin"); o == "https://app.example.com" {
					w.Header().Set("Access-Control-Allow-Origin", o)
					w.Header().Set("Access-Control-Allow-Credentials", "true")
				}
				w.Header().Set("Vary", "Origin")
				if r.Method == http.MethodOptions {
					w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT")
					w.Header().Set("Access-Control-Allow-Headers", tc.acah(r))
					w.WriteHeader(http.StatusNoContent)
					return
				}
				w.Write([]byte(`{"ok":true}`))
			}))
			defer srv.Close()
			dir := t.TempDir()
			policy := writeFile(t, dir, "p.yaml", "origins: [https://app.example.com]\nmethods: [GET, POST, PUT]\nheaders: [Content-Type, X-Request-ID]\ncredentials: true\n")
			out := filepath.Join(dir, "out")
			r := corscheck(t, nil, "run", "--policy", policy, "--target", srv.URL+"/api", "--label-filter", "family:preflight && origin:allowed", "--out", out)
			if r.code != 1 {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			res, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("findings %+v", res.Findings)
			}
			f := res.Findings[0]
			if f.Cause != "extra-headers" || !slices.Equal(f.Headers, []string{"Authorization"}) || !strings.Contains(f.Message, tc.want) ||
				!strings.Contains(f.Fix, "Access-Control-Allow-Headers: Content-Type, X-Request-ID") {
				t.Errorf("finding %s: %q, headers %v, fix %q", f.Cause, f.Message, f.Headers, f.Fix)
			}
			for _, id := range f.Cases {
				if !strings.HasPrefix(id, "preflight.authorization.") {
					t.Errorf("case %s in the finding", id)
				}
			}
			if strings.Contains(r.stdout, "()") || strings.Contains(r.stdout, "blocked requests the policy allows") {
				t.Errorf("stdout:\n%s", r.stdout)
			}
		})
	}
}
