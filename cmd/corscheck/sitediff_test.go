package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/reports"
)

// corscheck diff takes two builds of the site (directories or index.json):
// exit 0 when nothing got worse, 1 with what got worse listed first.
func TestDiffTwoSites(t *testing.T) {
	site := func() *reports.Site {
		return &reports.Site{Corscheck: "v1", Columns: reports.SiteColumns,
			Engines: []reports.SiteEngine{{Engine: "chrome", Title: "Chrome", Version: "HeadlessChrome/156"}},
			Stacks:  []reports.SiteStack{{Name: "nginx", Title: "nginx", Version: "nginx 1.22"}},
			Rows: []reports.SiteRow{{ID: "nginx--recommended", Stack: "nginx", Kind: reports.KindRecommended, Status: "verified: no finding in any engine",
				Cells: []reports.SiteEngineCells{{Engine: "chrome", Cells: []reports.SiteCell{{Column: "simple", Passed: 8}}}}}}}
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := reports.WriteSite(a, site()); err != nil {
		t.Fatal(err)
	}
	worse := site()
	worse.Engines[0].Version = "HeadlessChrome/157"
	worse.Rows[0].Cells[0].Cells[0].Failed = 8
	worse.Rows[0].Status = "NOT verified: the recommended configuration has findings (no-acao)"
	if err := reports.WriteSite(b, worse); err != nil {
		t.Fatal(err)
	}
	if r := corscheck(t, nil, "diff", a, filepath.Join(a, "index.json")); r.code != 0 || !strings.Contains(r.stdout, "nothing changed") {
		t.Errorf("same site: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := corscheck(t, nil, "diff", a, b)
	if r.code != 1 || !strings.HasPrefix(r.stdout, "worse (2):") || !strings.Contains(r.stdout, "Chrome: HeadlessChrome/156 → HeadlessChrome/157") {
		t.Errorf("worse site: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := corscheck(t, nil, "diff", a, "../../fixtures/policies/demo.yaml"); r.code != 2 || !strings.Contains(r.stderr, "is a compatibility site") {
		t.Errorf("site against something else: exit %d\n%s", r.code, r.stderr)
	}
}
