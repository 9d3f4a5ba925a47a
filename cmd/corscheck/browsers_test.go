package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
)

// --browser all: each case runs in real Chrome, real Firefox and real
// WebKit. A server answering Access-Control-Allow-Origin with a list is
// refused by all three, for different reasons (Chrome and WebKit
// MultipleAllowOriginValues, Firefox a mismatch): a known browser
// difference, labelled as such on the same server answer. The target is
// https with its own CA (--ca-cert, trusted by each browser for the run).
// The report shows a column per browser and the label, checked in
// headless Chromium.
func TestBrowserAllReportsBrowserDifferences(t *testing.T) {
	plain, err := fixtures.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Header.Get("Origin") == "https://app.example.com" {
			h.Set("Access-Control-Allow-Origin", "https://app.example.com, https://admin.example.com")
			h.Set("Access-Control-Allow-Methods", "GET")
			h.Set("Vary", "Origin")
		}
		w.WriteHeader(204)
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	// https, with a certificate from a CA of its own (--ca-cert).
	srv, ca, err := fixtures.WithTLSFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte("origins: [https://app.example.com]\nmethods: [GET]\nheaders: [Authorization]\ncredentials: false\n"), 0o644)
	out := filepath.Join(dir, "out")
	r := corscheck(t, nil, "run", "--browser", "all", "--policy", policy, "--target", srv.URL+"/api", "--ca-cert", ca, "--out", out, "--label-filter", "family:simple && origin:allowed")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (refused in both)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Browser, "HeadlessChrome/") || !strings.Contains(res.Browser, "Firefox/") || !strings.Contains(res.Browser, "WebKitGTK/") {
		t.Errorf("browser %q does not name the three engines", res.Browser)
	}
	var diffID string
	for _, c := range res.Cases {
		if len(c.Browsers) != 3 {
			t.Fatalf("%s: %d browser results", c.ID, len(c.Browsers))
		}
		ch, ff, wk := c.Browsers[0], c.Browsers[1], c.Browsers[2]
		if ch.Engine != "chrome" || ff.Engine != "firefox" || wk.Engine != "webkit" || !strings.HasPrefix(ff.Browser, "Firefox/") || !strings.HasPrefix(wk.Browser, "WebKitGTK/") {
			t.Fatalf("%s: engines %s/%s/%s", c.ID, ch.Engine, ff.Engine, wk.Engine)
		}
		if ch.Verdict.String() != "fail" || ff.Verdict.String() != "fail" || wk.Verdict.String() != "fail" || c.Verdict.String() != "fail" {
			t.Errorf("%s: Chrome %s, Firefox %s, WebKit %s, combined %s", c.ID, ch.Verdict, ff.Verdict, wk.Verdict, c.Verdict)
		}
		if ch.Observed.CorsError != "MultipleAllowOriginValues" || ff.Observed.CorsError != "AllowOriginMismatch" || ff.Observed.BrowserReason != "CORSAllowOriginNotMatchingOrigin" ||
			wk.Observed.CorsError != "MultipleAllowOriginValues" || !strings.Contains(wk.Observed.BrowserReason, "cannot contain more than one origin") {
			t.Errorf("%s: Chrome %s, Firefox %s / %s, WebKit %s / %s", c.ID, ch.Observed.CorsError, ff.Observed.CorsError, ff.Observed.BrowserReason, wk.Observed.CorsError, wk.Observed.BrowserReason)
		}
		if !strings.Contains(c.BrowserDifference, "comma-separated list") {
			t.Errorf("%s: browser difference %q, want the list deviation explained", c.ID, c.BrowserDifference)
		}
		diffID = c.ID
	}
	if diffID == "" {
		t.Fatal("no case ran")
	}

	// The report, in headless Chromium.
	path, err := runner.Locate(runner.EngineChrome, "")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+filepath.Join(out, "report.html"))); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) string {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	heads := strings.Split(eval(`[...document.querySelectorAll("th.engine")].map(e => e.textContent).join(",")`), ",")
	rowCells := strings.Split(eval(`[...document.querySelectorAll('tr.case[data-id="`+diffID+`"] td.engine')].map(e => e.dataset.engine + "=" + e.textContent).join(",")`), ",")
	badge := eval(`String(!!document.querySelector('tr.case[data-id="`+diffID+`"] .bdiff'))`) == "true"
	evidence := eval(`document.getElementById("d-` + diffID + `").textContent`)
	if strings.Join(heads, ",") != "Chrome,Firefox,WebKit" {
		t.Errorf("report columns %v, want Chrome,Firefox,WebKit", heads)
	}
	if strings.Join(rowCells, ",") != "chrome=fail,firefox=fail,webkit=fail" {
		t.Errorf("row cells %v", rowCells)
	}
	if !badge || !strings.Contains(evidence, "Browser difference") || !strings.Contains(evidence, "Firefox/") {
		t.Errorf("badge %v, evidence %q", badge, evidence[:min(300, len(evidence))])
	}
}
