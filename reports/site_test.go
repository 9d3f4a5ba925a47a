package reports_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/reports"
)

// siteData is a small site: two stacks × two engines, every cell state,
// a browser difference, and a hostile server's text where the site shows
// what servers said.
func siteData() *reports.Site {
	hostile := `<script>alert(1)</script><img src=https://evil.example/x>`
	cells := func(e string, failCol string) reports.SiteEngineCells {
		ec := reports.SiteEngineCells{Engine: e}
		for _, c := range reports.SiteColumns {
			cell := reports.SiteCell{Column: c.ID, Passed: 10}
			switch {
			case c.ID == failCol:
				cell.Failed = 3
			case c.ID == "cache" && e == "firefox":
				cell.Differs = 1
			case c.ID == "errors" && failCol != "":
				cell.Errored = 1
			}
			ec.Cells = append(ec.Cells, cell)
		}
		return ec
	}
	diff := "Firefox drops a cached preflight when the host's DNS record is newer (CheckDNSCache in netwerk/protocol/http/nsCORSListenerProxy_and_a_long_unbreakable_path_name.cpp)"
	s := &reports.Site{Corscheck: "v1.2.3", Built: "2026-12-04T00:00:00Z", Policy: "origins: [https://app.example.com]", ProofTest: "fixtures/stacks_test.go",
		Columns: reports.SiteColumns,
		Engines: []reports.SiteEngine{{Engine: "chrome", Title: "Chrome", Version: "HeadlessChrome/156"}, {Engine: "firefox", Title: "Firefox", Version: "Firefox/153"}},
		Stacks:  []reports.SiteStack{{Name: "nginx", Title: "nginx", Version: "nginx 1.22"}, {Name: "express", Title: "Express (npm cors)", Version: "express 5.1.0, cors 2.8.5"}}}
	for _, st := range []string{"nginx", "express"} {
		s.Rows = append(s.Rows,
			reports.SiteRow{ID: st + "--recommended", Stack: st, StackTitle: st, Config: "recommended", Kind: reports.KindRecommended, Source: "the fix snippets",
				Slots:  []reports.SiteSlot{{Name: "cors", Text: "add_header Access-Control-Allow-Origin $cors_origin always; # a long line that must wrap on a phone, not scroll: " + strings.Repeat("x", 200)}},
				Status: "verified: no finding in any engine", Total: 70, Cells: []reports.SiteEngineCells{cells("chrome", ""), cells("firefox", "")}},
			reports.SiteRow{ID: st + "--default", Stack: st, StackTitle: st, Config: "default", Kind: reports.KindDefault, Default: "out of the box", Source: "cors() " + hostile,
				Status: "verified: exactly its known findings (reflect-any-origin)", Total: 70, Cells: []reports.SiteEngineCells{cells("chrome", "hostile"), cells("firefox", "hostile")},
				Findings: []reports.SiteFinding{{ID: "reflect-any-origin", Severity: "critical", Message: "The server echoes any Origin " + hostile, Engines: []string{"chrome", "firefox"},
					StackFix: &reports.SiteFix{Title: st, Snippet: "app.use(cors({ origin: ['https://app.example.com'] }))", Verified: true}, Proof: "proven in this build"}},
				Cases: []reports.SiteCase{{ID: "origins.evil", Column: "hostile", Request: "GET https://x/api from https://evil.example", Verdict: "fail",
					Engines: []reports.SiteEngineResult{{Engine: "chrome", Verdict: "fail", Outcome: "allowed", Message: hostile}, {Engine: "firefox", Verdict: "fail", Outcome: "allowed", Message: "read"}}},
					{ID: "cache.reuse", Column: "cache", Request: "PUT https://x/api", Verdict: "pass", Difference: diff, Spec: "Fetch §4.8",
						Engines: []reports.SiteEngineResult{{Engine: "chrome", Verdict: "pass"}, {Engine: "firefox", Verdict: "pass", Reason: hostile}}}}})
	}
	s.Differences = []reports.SiteDifference{{ID: "difference-0123456789ab", Text: diff, Specs: []string{"Fetch §4.8"},
		Cases: []reports.SiteDiffCase{{Row: "nginx--default", Case: s.Rows[1].Cases[1]}}}}
	return s
}

// The site as pages: an index grid, a defaults view, a page per stack and
// per browser difference, JSON beside each; opened in headless Chromium at
// 1400 px and 390 px: every cell says its state in a symbol and a word
// (readable without colour), the index stacks its rows on a phone with no
// horizontal scroll, nothing is requested, the hostile server's markup is
// text. Writing the same data twice gives the same bytes.
func TestSiteInChromium(t *testing.T) {
	dir := t.TempDir()
	if err := reports.WriteSite(dir, siteData()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"index.html", "index.json", "defaults.html", "defaults.json", "stacks/nginx.html", "stacks/nginx.json", "stacks/express.html",
		"differences/difference-0123456789ab.html", "differences/difference-0123456789ab.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"index.html", "defaults.html", "stacks/nginx.html", "differences/difference-0123456789ab.html"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		if bytes.Contains(data, []byte("<script")) || bytes.Contains(data, []byte("<img")) {
			t.Errorf("%s: the hostile server's markup is live in the page", f)
		}
	}
	cellText := regexp.MustCompile(`^[✓✗≠!–] (pass|fail|error|differs|no cases)\b`)
	for _, width := range []int{1400, 390} {
		for _, page := range []string{"index.html", "stacks/nginx.html"} {
			eval, check, _ := openReportAt(t, filepath.Join(dir, page), width, 900)
			texts, _ := eval(`[...document.querySelectorAll("td.c")].map(td => td.textContent.trim())`).([]any)
			if len(texts) != 2*len(reports.SiteColumns)*map[string]int{"index.html": 4, "stacks/nginx.html": 2}[page] {
				t.Errorf("%s at %d px: %d cells", page, width, len(texts))
			}
			states := map[string]bool{}
			for _, x := range texts {
				s, _ := x.(string)
				m := cellText.FindStringSubmatch(s)
				if m == nil {
					t.Errorf("%s at %d px: cell %q does not say its state in a symbol and a word", page, width, s)
					continue
				}
				states[m[1]] = true
			}
			for _, want := range []string{"pass", "fail", "error", "differs"} {
				if !states[want] {
					t.Errorf("%s: no %s cell", page, want)
				}
			}
			if page == "index.html" {
				over := eval(`document.documentElement.scrollWidth - window.innerWidth`).(float64)
				if width == 390 && over > 0 {
					t.Errorf("index at 390 px scrolls sideways by %v px", over)
				}
				if width == 390 {
					// Stacked: each cell names its engine and family.
					label := eval(`getComputedStyle(document.querySelector("td.c"), "::before").content`).(string)
					if !strings.Contains(label, "Chrome, simple") {
						t.Errorf("stacked cell label %q", label)
					}
				}
				links := eval(`[...document.querySelectorAll("td.c a")].every(a => a.getAttribute("href").startsWith("stacks/"))`).(bool)
				if !links {
					t.Error("a cell does not lead to its evidence")
				}
			}
			if page == "stacks/nginx.html" {
				proof := eval(`[...document.querySelectorAll(".finding")].every(f => !!f.querySelector('a[href="#proof-test"]') && !!document.getElementById("proof-test"))`).(bool)
				if !proof {
					t.Error("a fix shown does not link to the test that proves it")
				}
			}
			check()
		}
	}
	// The same data, the same bytes.
	again := t.TempDir()
	if err := reports.WriteSite(again, siteData()); err != nil {
		t.Fatal(err)
	}
	if d := DiffSiteDirs(t, dir, again); d != "" {
		t.Error(d)
	}
}

// DiffSiteDirs names the first file that differs between two sites, ""
// when every file is byte-identical.
func DiffSiteDirs(t *testing.T, a, b string) string {
	t.Helper()
	n := 0
	err := filepath.WalkDir(a, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		x, _ := os.ReadFile(path)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			return &os.PathError{Op: "differs", Path: rel, Err: os.ErrInvalid}
		}
		n++
		return nil
	})
	if err != nil {
		return err.Error()
	}
	if n == 0 {
		return "no files"
	}
	return ""
}

// Two builds compared: a browser update that breaks a cell, a middleware
// release, a finding gone, a configuration no longer built.
func TestDiffSites(t *testing.T) {
	old, cur := siteData(), siteData()
	if d := reports.DiffSites(old, cur); d.Changed() {
		t.Fatalf("the same data differs: %s", d.Text())
	}
	cur.Engines[1].Version = "Firefox/154"
	cur.Stacks[0].Version = "nginx 1.24"
	cur.Rows[0].Cells[1].Cells[1].Failed = 2 // Firefox, preflight: pass → fail
	cur.Rows[1].Findings = nil
	cur.Rows = cur.Rows[:3]
	d := reports.DiffSites(old, cur)
	text := d.Text()
	for _, want := range []string{
		"worse (1):\n  nginx--recommended: Firefox, preflight: ✓ pass 10 → ✗ fail 2/12",
		"Firefox: Firefox/153 → Firefox/154", "nginx: nginx 1.22 → nginx 1.24",
		"nginx--default: findings +[] −[reflect-any-origin]", "configuration no longer built: express--default",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("diff lacks %q:\n%s", want, text)
		}
	}
	dir := t.TempDir()
	if err := reports.WriteSite(dir, cur); err != nil {
		t.Fatal(err)
	}
	back, ok, err := reports.ReadSite(dir)
	if err != nil || !ok || len(back.Rows) != 3 {
		t.Fatalf("ReadSite: %v %v %d rows", err, ok, len(back.Rows))
	}
}
