package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
)

// BenchmarkAdaptive1000Routes runs corscheck over an OpenAPI description
// of 1,000 routes (four CORS behaviours and one outlier route that
// reflects any origin, hidden in the biggest group) with the adaptive
// matrix, and reports the wall time, the cases probed and covered, and
// whether the outlier was found (the benchmark fails if it was not).
func BenchmarkAdaptive1000Routes(b *testing.B) {
	const n, outlier = 1000, 541
	pol, err := fixtures.Policy("api")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := fixtures.StartAPI(pol, n, outlier)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	dir := b.TempDir()
	spec := filepath.Join(dir, "openapi.json")
	os.WriteFile(spec, fixtures.APIOpenAPI(n), 0o644)
	var wall time.Duration
	var res *reports.Results
	for b.Loop() {
		out := filepath.Join(dir, "out")
		start := time.Now()
		cmd := exec.Command(bin, "run", "--policy", "../../fixtures/policies/api.yaml", "--openapi", spec, "--target", srv.URL, "--out", out)
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				b.Fatalf("run: %v", err)
			}
		}
		wall += time.Since(start)
		if res, err = reports.ReadResults(filepath.Join(out, "results.json")); err != nil {
			b.Fatal(err)
		}
	}
	found := false
	for _, f := range res.Findings {
		if f.Cause == "reflect-any-origin" && strings.Join(f.Routes, ",") == "/v1/res541" {
			found = true
		}
	}
	if !found || res.Adaptive == nil {
		b.Fatalf("the outlier /v1/res541 was not found")
	}
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s")
	b.ReportMetric(float64(n), "routes")
	b.ReportMetric(float64(res.Adaptive.Groups), "groups")
	b.ReportMetric(float64(res.Adaptive.CasesProbed), "cases-probed")
	b.ReportMetric(float64(res.Adaptive.CasesCovered), "cases-covered")
}

// runListLimits runs the demo target under a policy at the list limits
// (32 origins, methods, headers and exposed headers) plus a second route
// with 6 of the origins: 39,752 cases. It returns the wall time,
// corscheck's peak RSS in KiB and the results, having checked that every
// case was judged and passed.
func runListLimits(tb testing.TB, dir string) (time.Duration, int64, *reports.Results) {
	tb.Helper()
	policy := filepath.Join(dir, "limits.yaml")
	var origins, methods, headers, expose []string
	for i := range 32 {
		origins = append(origins, fmt.Sprintf("https://app%d.example.com", i))
		headers = append(headers, fmt.Sprintf("X-H%02d", i))
		expose = append(expose, fmt.Sprintf("X-E%02d", i))
	}
	methods = append(methods, "GET", "POST", "PUT", "DELETE", "PATCH")
	for i := range 27 {
		methods = append(methods, fmt.Sprintf("M%02d", i))
	}
	admin := map[string]any{"path": "/api/admin", "origins": origins[:6]}
	doc, _ := json.Marshal(map[string]any{"origins": origins, "methods": methods, "headers": headers, "credentials": true, "maxAge": 600, "exposeHeaders": expose,
		"paths": []any{admin}})
	os.WriteFile(policy, doc, 0o644)
	out := filepath.Join(dir, "out")
	start := time.Now()
	cmd := exec.Command(bin, "run", "--policy", policy, "--fixture", "reference", "--out", out)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var peak int64
	for {
		select {
		case err := <-done:
			if err != nil {
				tb.Fatalf("run: %v", err)
			}
			wall := time.Since(start)
			res, err := reports.ReadResults(filepath.Join(out, "results.json"))
			if err != nil || res.Summary.Total < 39000 || res.Summary.Passed != res.Summary.Total {
				tb.Fatalf("results: %v", err)
			}
			return wall, peak, res
		case <-tick.C:
			// VmHWM is the high-water mark: the last reading before the
			// process ends is its peak.
			peak = max(peak, vmHWM(cmd.Process.Pid))
		}
	}
}

// BenchmarkListLimits runs the list-limits run (runListLimits) and
// reports the wall time, corscheck's peak RSS, the sizes of results.json
// and report.html, and how long report.html takes to open in headless
// Chromium.
func BenchmarkListLimits(b *testing.B) {
	dir := b.TempDir()
	out := filepath.Join(dir, "out")
	var wall time.Duration
	var peak int64
	var res *reports.Results
	for b.Loop() {
		w, p, r := runListLimits(b, dir)
		wall, peak, res = wall+w, max(peak, p), r
	}
	size := func(name string) float64 {
		st, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			b.Fatal(err)
		}
		return float64(st.Size()) / (1 << 20)
	}
	open := openTime(b, filepath.Join(out, "report.html"))
	b.ReportMetric(float64(res.Summary.Total), "cases")
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s")
	b.ReportMetric(float64(peak)/1024, "peak-rss-MB")
	b.ReportMetric(size("results.json"), "results-MB")
	b.ReportMetric(size("report.html"), "report-MB")
	b.ReportMetric(open.Seconds(), "report-open-s")
}

// vmHWM is a process's peak resident set in KiB (0 once it is gone).
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// openTime is how long headless Chromium takes to load a report from disk
// and run its script (the load event follows the script).
func openTime(b testing.TB, file string) time.Duration {
	path, err := runner.Locate(runner.EngineChrome, "")
	if err != nil {
		b.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file)); err != nil {
		b.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelectorAll("tr.case").length`))
	if err != nil || rows == 0 {
		b.Fatalf("the report shows no case: %v", err)
	}
	return time.Since(start)
}
