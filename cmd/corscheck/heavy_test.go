//go:build heavy

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
)

// A run at the list limits keeps corscheck's memory bounded (it peaked at
// 1.2 GB before tabs forgot observed probes and results shared their
// header sets) and writes a report a browser opens with its cases.
func TestListLimitsMemoryBounded(t *testing.T) {
	dir := t.TempDir()
	_, peak, _ := runListLimits(t, dir)
	if peak == 0 || peak > 500<<10 {
		t.Errorf("corscheck peaked at %d MiB resident, want at most 500", peak>>10)
	}
	openTime(t, filepath.Join(dir, "out", "report.html"))
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

// The demo in Firefox and in WebKit passes like in Chrome (WebKit's run
// serves the demo over https: it blocks https pages' fetches to http);
// results name the engine, and every WebKit block carries WebKit's reason.
func TestRunDemoInFirefoxAndWebKit(t *testing.T) {
	for engine, product := range map[string]string{"firefox": "Firefox/", "webkit": "WebKitGTK/"} {
		t.Run(engine, func(t *testing.T) {
			out := t.TempDir()
			r := corscheck(t, nil, "run", "--browser", engine, "--out", out)
			if r.code != 0 || !strings.Contains(r.stdout, "0 failed, 0 errored") {
				t.Fatalf("demo in %s: exit %d\n%s\n%s", engine, r.code, r.stdout, r.stderr)
			}
			res, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil || !strings.HasPrefix(res.Browser, product) {
				t.Fatalf("results: %v browser %q", err, res.Browser)
			}
			blocks := 0
			for _, c := range res.Cases {
				if c.Observed.Engine != engine && c.Verdict != scenarios.Skipped {
					t.Fatalf("%s observed by %q", c.ID, c.Observed.Engine)
				}
				if c.Observed.Outcome == scenarios.Blocked {
					blocks++
					if engine == "webkit" && c.Observed.BrowserReason == "" {
						t.Errorf("%s: blocked without WebKit's reason", c.ID)
					}
				}
			}
			if blocks < 100 {
				t.Errorf("%d blocked cases: the demo refuses hostile origins in every family", blocks)
			}
		})
	}
}

// compat --browser all: the matrix is browsers × targets.
func TestCompatBrowsersTimesTargets(t *testing.T) {
	out := filepath.Join(t.TempDir(), "compat")
	r := corscheck(t, nil, "compat", "--browser", "all", "--policy", "../../fixtures/policies/sample.yaml", "ref=fixture:reference", "novary=fixture:zoo-no-vary", "--label-filter", "family:vary || family:simple", "--out", out)
	if r.code != 0 {
		t.Fatalf("compat: exit %d\n%s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "compat.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c reports.Compat
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, im := range c.Implementations {
		cols = append(cols, im.Name)
		if strings.HasSuffix(im.Name, "/firefox") && !strings.HasPrefix(im.Browser, "Firefox/") {
			t.Errorf("%s: browser %q", im.Name, im.Browser)
		}
	}
	if strings.Join(cols, ",") != "ref/chrome,ref/firefox,ref/webkit,novary/chrome,novary/firefox,novary/webkit" {
		t.Fatalf("columns %v, want browsers × targets", cols)
	}
	for _, row := range c.Rows {
		if len(row.Cells) != 6 {
			t.Fatalf("%s: %d cells", row.ID, len(row.Cells))
		}
		want := strings.HasPrefix(row.ID, "vary.")
		if row.Differs != want {
			t.Errorf("%s: differs %v", row.ID, row.Differs)
		}
		if want && (row.Cells["novary/chrome"].Verdict.String() != "fail" || row.Cells["novary/firefox"].Verdict.String() != "fail" || row.Cells["novary/webkit"].Verdict.String() != "fail" ||
			row.Cells["ref/firefox"].Verdict.String() != "pass" || row.Cells["ref/webkit"].Verdict.String() != "pass") {
			t.Errorf("%s: cells %+v", row.ID, row.Cells)
		}
	}
}
