package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
