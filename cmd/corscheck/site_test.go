//go:build heavy

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
)

// A small compatibility site from the real fixtures: two stacks (Express's
// cors and Hono's cors, each recommended, as its documentation starts you
// and misconfigured) in two engines, built twice. Every row names its
// verified status and is verified; every fix shown was proven in the build
// and links to the test that proves it on every build; the two builds are
// byte-identical apart from the build time; the index and a stack page,
// opened in headless Chromium at 1400 px and 390 px, make no request, say
// every cell's state in a symbol and a word, and the index does not scroll
// sideways on a phone.
func TestSiteFromTheFixtures(t *testing.T) {
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
	for _, dir := range dirs {
		r := corscheck(t, nil, "compat", "--site", dir, "--stacks", "express,hono", "--browser", "chrome,firefox")
		if r.code != 0 {
			t.Fatalf("site: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if !regexp.MustCompile(`site: 5 configurations of 2 stacks in 2 engines \(5 verified as known\), \d+ browser differences · .*index.html · built in \d+ s`).MatchString(r.stdout) {
			t.Errorf("summary line: %q", r.stdout)
		}
	}
	data, err := os.ReadFile(filepath.Join(dirs[0], "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var site reports.Site
	if err := json.Unmarshal(data, &site); err != nil {
		t.Fatal(err)
	}
	if len(site.Engines) != 2 || site.Engines[0].Engine != "chrome" || !strings.HasPrefix(site.Engines[1].Version, "Firefox/") || site.Corscheck == "" {
		t.Errorf("versions: corscheck %q, engines %+v", site.Corscheck, site.Engines)
	}
	kinds := map[string]int{}
	for _, st := range site.Stacks {
		if !strings.Contains(st.Version, "cors 2.8.5") && !strings.Contains(st.Version, "hono ") {
			t.Errorf("%s: version %q", st.Name, st.Version)
		}
	}
	for _, r := range site.Rows {
		kinds[r.Kind]++
		if !r.Verified() {
			t.Errorf("%s: %s", r.ID, r.Status)
		}
		for _, f := range r.Findings {
			if f.StackFix == nil || !f.StackFix.Verified || !strings.HasPrefix(f.Proof, "proven in this build") {
				t.Errorf("%s: %s: fix %+v, proof %q", r.ID, f.ID, f.StackFix, f.Proof)
			}
		}
	}
	if kinds["recommended"] != 2 || kinds["default"] != 2 || kinds["misconfiguration"] != 1 {
		t.Errorf("rows by kind %v", kinds)
	}

	// Twice, the same pages apart from the build time.
	built := regexp.MustCompile(`built [0-9TZ:-]+|"built": "[^"]*"`)
	err = filepath.WalkDir(dirs[0], func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dirs[0], path)
		a, _ := os.ReadFile(path)
		b, err := os.ReadFile(filepath.Join(dirs[1], rel))
		if err != nil {
			t.Errorf("%s: only in the first build", rel)
			return nil
		}
		if !bytes.Equal(built.ReplaceAll(a, nil), built.ReplaceAll(b, nil)) {
			t.Errorf("%s differs between two builds of the same fixtures", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// In headless Chromium, wide and narrow.
	path, err := runner.Locate(runner.EngineChrome, "")
	if err != nil {
		t.Fatal(err)
	}
	cell := regexp.MustCompile(`^[✓✗≠!–] (pass|fail|error|differs|no cases)\b`)
	for _, width := range []int{1400, 390} {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(width, 900))
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel2 := chromedp.NewContext(actx)
		ctx, cancel3 := context.WithTimeout(ctx, time.Minute)
		for _, page := range []string{"index.html", "stacks/express.html"} {
			if err := chromedp.Do(ctx, chromedp.Navigate("file://"+filepath.Join(dirs[0], page))); err != nil {
				t.Fatal(err)
			}
			eval := func(js string) any {
				v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
				if err != nil {
					t.Fatalf("%s: %v", js, err)
				}
				return v
			}
			// Nothing but the page itself: no script, style sheet, image or font.
			if n := eval(`performance.getEntriesByType("resource").length + document.scripts.length`).(float64); n != 0 {
				t.Errorf("%s at %d px: %v requests or scripts", page, width, n)
			}
			texts, _ := eval(`[...document.querySelectorAll("td.c")].map(td => td.textContent.trim())`).([]any)
			if len(texts) == 0 {
				t.Errorf("%s: no cells", page)
			}
			for _, x := range texts {
				if s, _ := x.(string); !cell.MatchString(s) {
					t.Errorf("%s at %d px: cell %q", page, width, s)
				}
			}
			if page == "index.html" && width == 390 {
				if over := eval(`document.documentElement.scrollWidth - window.innerWidth`).(float64); over > 0 {
					t.Errorf("index at 390 px scrolls sideways by %v px", over)
				}
			}
			if page == "stacks/express.html" {
				if ok := eval(`document.querySelectorAll(".finding").length > 0 && [...document.querySelectorAll(".finding")].every(f => !!f.querySelector('a[href="#proof-test"]'))`).(bool); !ok {
					t.Error("a fix shown does not link to the test that proves it")
				}
			}
		}
		cancel3()
		cancel2()
		cancel()
	}
}
