package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
)

// findingRoutes are a run's findings as "ID: sorted routes".
func findingRoutes(t *testing.T, dir string) ([]string, *reports.Results) {
	t.Helper()
	res, err := reports.ReadResults(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range res.Findings {
		routes := append([]string(nil), f.Routes...)
		sort.Strings(routes)
		out = append(out, f.Cause+": "+strings.Join(routes, ","))
	}
	sort.Strings(out)
	return out, res
}

// On an API of 100 routes (four behaviours and one outlier route hidden in
// the biggest group), the adaptive matrix finds what probing every route
// finds: the same findings on the same routes, the outlier included, with
// a fraction of the cases.
func TestAdaptiveMatchesExhaustive(t *testing.T) {
	const n, outlier = 100, 42
	pol, err := fixtures.Policy("api")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fixtures.StartAPI(pol, n, outlier)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	spec := filepath.Join(dir, "openapi.json")
	os.WriteFile(spec, fixtures.APIOpenAPI(n), 0o644)
	run := func(out string, extra ...string) {
		args := append([]string{"run", "--policy", "../../fixtures/policies/api.yaml", "--openapi", spec, "--target", srv.URL, "--out", out}, extra...)
		if r := corscheck(t, nil, args...); r.code != 1 {
			t.Fatalf("%v: exit %d\n%s", extra, r.code, r.stderr)
		}
	}
	adaptive, exhaustive := filepath.Join(dir, "adaptive"), filepath.Join(dir, "exhaustive")
	run(adaptive)
	run(exhaustive, "--exhaustive")
	a, ares := findingRoutes(t, adaptive)
	e, eres := findingRoutes(t, exhaustive)
	if strings.Join(a, "\n") != strings.Join(e, "\n") {
		t.Errorf("adaptive findings:\n%s\n\nexhaustive findings:\n%s", strings.Join(a, "\n"), strings.Join(e, "\n"))
	}
	found := false
	for _, f := range ares.Findings {
		if f.Cause == "reflect-any-origin" && strings.Join(f.Routes, ",") == "/v1/res42" {
			found = true
		}
	}
	if !found {
		t.Errorf("the outlier /v1/res42 was not found: %v", a)
	}
	ad := ares.Adaptive
	if ad == nil || eres.Adaptive != nil {
		t.Fatalf("adaptive info: %+v / %+v", ad, eres.Adaptive)
	}
	if ad.Groups != 5 || ad.RoutesProbed+ad.RoutesCovered != n || ad.CasesProbed != len(ares.Cases) || ad.CasesProbed*3 > len(eres.Cases) {
		t.Errorf("adaptive: %+v, %d cases probed; exhaustive %d cases", ad, len(ares.Cases), len(eres.Cases))
	}
	covered := 0
	for _, r := range ares.Routes {
		if r.Probe == "covered" {
			covered++
			if r.CoveredBy == "" || r.Why == "" || r.Group == 0 {
				t.Errorf("covered route %s: %+v", r.Path, r)
			}
		}
	}
	if covered != ad.RoutesCovered || covered == 0 {
		t.Errorf("%d covered routes, adaptive says %d", covered, ad.RoutesCovered)
	}
}
