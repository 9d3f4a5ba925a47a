package main

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

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
