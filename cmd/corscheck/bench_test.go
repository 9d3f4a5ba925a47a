package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
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
