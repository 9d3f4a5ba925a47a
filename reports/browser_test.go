package reports_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
	_ "github.com/corscheck/corscheck/runner/engines"
	"github.com/corscheck/corscheck/scenarios"
)

// markup a hostile target sends in header values.
var markup = []string{
	`<script>window.__pwned="script"</script>`,
	`<img src=x onerror="window.__pwned='img'">`,
	`" onmouseover="window.__pwned='attr'" x="`,
	`'><svg onload=window.__pwned=1>`,
}

// TestReportInChromium renders a report built from real probes of a hostile
// target, opens it in headless Chromium from disk and checks: no console
// errors, no network requests, working filters, and that the target's
// markup shows as text and runs nothing. It saves a screenshot.
func TestReportInChromium(t *testing.T) {
	res := hostileResults(t)
	dir := t.TempDir()
	if err := res.WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	eval, check, ctx := openReport(t, filepath.Join(dir, "report.html"))
	if v := eval(`typeof window.__pwned`); v != "undefined" {
		t.Errorf("the target's markup ran: window.__pwned is %v", eval(`String(window.__pwned)`))
	}
	text := eval(`document.body.innerText`).(string)
	for _, m := range markup {
		if !strings.Contains(text, m) {
			t.Errorf("the markup %q does not show as text", m)
		}
	}
	if n := eval(`document.querySelectorAll("img, svg, script").length`).(float64); n != 1 {
		t.Errorf("the page has %v img/svg/script elements, want only its own script", n)
	}

	visible := `Array.from(document.querySelectorAll("tr.case")).filter(r => !r.hidden).length`
	total := eval(`document.querySelectorAll("tr.case").length`).(float64)
	failuresOnly := eval(visible).(float64)
	if failuresOnly != float64(res.Summary.Failed+res.Summary.Errored) || total != float64(res.Summary.Total) {
		t.Errorf("failures-only filter shows %v of %v rows, want %d", failuresOnly, total, res.Summary.Failed+res.Summary.Errored)
	}
	eval(`(() => { const c = document.getElementById("only-failures"); c.checked = false; c.dispatchEvent(new Event("input")); })()`)
	if all := eval(visible).(float64); all != total {
		t.Errorf("with the filter off %v of %v rows show", all, total)
	}
	eval(`(() => { const s = document.getElementById("family"); s.value = "simple"; s.dispatchEvent(new Event("input")); })()`)
	simple := 0
	for _, c := range res.Cases {
		if c.Family == "simple" {
			simple++
		}
	}
	if got := eval(visible).(float64); got != float64(simple) {
		t.Errorf("family filter shows %v rows, want %d", got, simple)
	}

	eval(`(() => { const s = document.getElementById("family"); s.value = ""; s.dispatchEvent(new Event("input")); })()`)
	eval(`(() => { const s = document.getElementById("origin"); s.value = "null"; s.dispatchEvent(new Event("input")); })()`)
	eval(`(() => { const s = document.getElementById("credentials"); s.value = "include"; s.dispatchEvent(new Event("input")); })()`)
	nullInclude := 0
	for _, c := range res.Cases {
		if c.Request.Origin == "null" && c.Request.Credentials == scenarios.CredentialsInclude {
			nullInclude++
		}
	}
	if got := eval(visible).(float64); nullInclude == 0 || got != float64(nullInclude) {
		t.Errorf("origin null + credentials include shows %v rows, want %d", got, nullInclude)
	}
	if n := eval(`document.querySelectorAll(".matrix td.m a[href^='#d-']").length`).(float64); n != float64(len(res.Cases)) {
		t.Errorf("the matrices link %v cells, want one per case (%d)", n, len(res.Cases))
	}
	eval(`window.scrollTo(0, 0)`)

	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	art := os.Getenv("CORSCHECK_ARTIFACTS")
	if art == "" {
		art = filepath.Join("testdata", "artifacts")
	}
	os.MkdirAll(art, 0o755)
	if err := os.WriteFile(filepath.Join(art, "report.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(art, "report.png"))

	// The reads above ran after the page's own script and events are
	// ordered before the replies that followed them (Listen), so every
	// request and message of the page is in the lists by now.
	check()
}

// hostileResults probes a target that sends markup in its headers and
// reflects every origin, in real Chromium, and returns the results.
func hostileResults(t *testing.T) *reports.Results {
	t.Helper()
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin")) // reflects anything: hostile cases fail
		for i, m := range markup {
			h.Set("X-Markup-"+string(rune('a'+i)), m)
		}
		h.Set("Access-Control-Expose-Headers", markup[0])
		w.WriteHeader(200)
	}))
	t.Cleanup(hostile.Close)

	b, err := runner.Start(context.Background(), runner.Options{})
	if err != nil {
		t.Fatal(err) // make test installs a browser
	}
	pol := &scenarios.Policy{Origins: []string{"https://app.example.com"}, Methods: []string{"GET", "PUT"}, Credentials: true}
	cases, err := scenarios.Expand(pol, hostile.URL+"/api?q=<b>"+markup[1])
	if err != nil {
		t.Fatal(err)
	}
	probes := make([]runner.Probe, len(cases))
	for i, c := range cases {
		probes[i] = runner.ProbeFor(c)
	}
	obs, err := b.Run(context.Background(), probes, runner.RunOptions{Timeout: 5 * time.Second})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	res := &reports.Results{Tool: reports.Tool{Version: "test"}, Target: hostile.URL + "/" + markup[0], Policy: pol, StartedAt: time.Now().UTC().Format(time.RFC3339)}
	for i, c := range cases {
		res.Cases = append(res.Cases, reports.NewCaseResult(c, obs[i], scenarios.Judge(c, obs[i])))
	}
	res.Finish()
	if res.Summary.Failed == 0 || res.Summary.Passed == 0 {
		t.Fatalf("want both passing and failing cases, got %+v", res.Summary)
	}
	return res
}

// openReport opens a report from disk in headless Chromium and returns an
// evaluator, and a check that the page made no request and logged nothing.
func openReport(t *testing.T, file string) (func(string) any, func(), context.Context) {
	t.Helper()
	return openReportAt(t, file, 1200, 1600)
}

// openReportAt is openReport in a window of the given size (390 wide is a
// phone).
func openReportAt(t *testing.T, file string, width, height int) (func(string) any, func(), context.Context) {
	t.Helper()
	path, err := runner.Locate(runner.EngineChrome, "")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(width, height))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	var mu sync.Mutex
	var requests, problems []string
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, ev.Request.URL)
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			problems = append(problems, "console."+string(ev.Type))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, string(ev.Entry.Level)+": "+ev.Entry.Text)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	enable := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, log.Enable, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, tg, runtime.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	})
	if err := chromedp.Do(ctx, enable, chromedp.Navigate("file://"+file)); err != nil {
		t.Fatal(err)
	}
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	check := func() {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for _, u := range requests {
			if !strings.HasPrefix(u, "file://") {
				t.Errorf("the report made a network request: %s", u)
			}
		}
		if len(problems) > 0 {
			t.Errorf("console errors or exceptions: %v", problems)
		}
	}
	return eval, check, ctx
}

// The large layout (from LargeReportFrom cases): the cases as data, a page
// at a time, filters, paging and evidence on demand, the target's markup
// shown as text and never run, no request, no console error.
func TestLargeReportInChromium(t *testing.T) {
	res := hostileResults(t)
	old := reports.LargeReportFrom
	reports.LargeReportFrom = 10
	defer func() { reports.LargeReportFrom = old }()
	// Enough cases for several pages: the hostile run, repeated under new IDs.
	base := res.Cases
	for k := 1; len(res.Cases) < 450; k++ {
		for _, c := range base {
			c.ID = fmt.Sprintf("%s.copy%d", c.ID, k)
			res.Cases = append(res.Cases, c)
		}
	}
	res.Finish()
	dir := t.TempDir()
	if err := res.WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(html), `id="corscheck-data"`) || strings.Contains(string(html), `class="matrix"`) {
		t.Fatal("not the large layout")
	}
	eval, check, _ := openReport(t, filepath.Join(dir, "report.html"))
	rows := `document.querySelectorAll("tr.case").length`
	bad := res.Summary.Failed + res.Summary.Errored
	if got := eval(rows).(float64); got != float64(min(100, bad)) {
		t.Errorf("first page shows %v rows, want %d", got, min(100, bad))
	}
	if shown := eval(`document.getElementById("shown").textContent`).(string); !strings.Contains(shown, fmt.Sprintf("of %d matching", bad)) {
		t.Errorf("counter %q, want %d failures", shown, bad)
	}
	eval(`(() => { const c = document.getElementById("only-failures"); c.checked = false; c.dispatchEvent(new Event("input")); })()`)
	if shown := eval(`document.getElementById("shown").textContent`).(string); !strings.Contains(shown, fmt.Sprintf("of %d matching", len(res.Cases))) {
		t.Errorf("counter %q with the filter off, want %d", shown, len(res.Cases))
	}
	eval(`document.getElementById("next").click()`)
	if first := eval(`document.querySelector("tr.case").dataset.id`).(string); first != res.Cases[100].ID {
		t.Errorf("second page starts at %q, want %q", first, res.Cases[100].ID)
	}
	eval(`(() => { const s = document.getElementById("family"); s.value = "simple"; s.dispatchEvent(new Event("input")); })()`)
	simple := 0
	for _, c := range res.Cases {
		if c.Family == "simple" {
			simple++
		}
	}
	if shown := eval(`document.getElementById("shown").textContent`).(string); !strings.Contains(shown, fmt.Sprintf("of %d matching", simple)) {
		t.Errorf("family filter: %q, want %d", shown, simple)
	}
	// Evidence on demand: the failing hostile case, with the target's markup as text.
	var failing string
	for _, c := range res.Cases {
		if c.Verdict == scenarios.Fail {
			failing = c.ID
			break
		}
	}
	eval(`(() => { const s = document.getElementById("family"); s.value = ""; s.dispatchEvent(new Event("input")); document.getElementById("q").value = "` + failing + `"; document.getElementById("q").dispatchEvent(new Event("input")); document.querySelector("tr.case a").click(); })()`)
	evidence := eval(`document.getElementById("evidence").textContent`).(string)
	if !strings.Contains(evidence, failing) || !strings.Contains(evidence, "Access-Control-Allow-Origin") && !strings.Contains(evidence, "access-control-allow-origin") {
		t.Errorf("evidence: %.300q", evidence)
	}
	if !strings.Contains(eval(`document.body.innerText`).(string), markup[0]) {
		t.Error("the target's markup does not show as text in the evidence")
	}
	if v := eval(`typeof window.__pwned`); v != "undefined" {
		t.Error("the target's markup ran")
	}
	if n := eval(`document.querySelectorAll("img, svg, script:not([type])").length`).(float64); n != 1 {
		t.Errorf("the page has %v img/svg/script elements, want only its own script", n)
	}
	check()
}

// The HTML diff of a release whose only change is a new route group that
// fails: in headless Chromium at 1400 px and at a phone's 390 px it leads
// with the failing group (its finding, routes and counts), says the gate
// fails, never scrolls sideways, and makes no request.
func TestDiffHTMLInChromium(t *testing.T) {
	old := &reports.Results{Schema: reports.Schema, Target: "https://api.staging.example.test/v1/items"}
	for i := 0; i < 1000; i++ {
		old.Cases = append(old.Cases, reports.CaseResult{ID: fmt.Sprintf("simple.get.path-v1-resource-number-%03d.https-app.example.com", i), Family: "simple", Route: fmt.Sprintf("/v1/resource-number-%03d/items/{id}", i%40), Verdict: scenarios.Pass})
	}
	cur := &reports.Results{Schema: reports.Schema, Target: old.Target, Cases: append([]reports.CaseResult(nil), old.Cases...)}
	f := reports.Finding{ID: "auth-before-cors", Message: "OPTIONS is answered 401 by authentication before CORS runs on routes /admin, /admin/users", Fix: "Let preflights (OPTIONS) through before authentication: answer them in the CORS layer, or exempt OPTIONS from the auth rule."}
	for i := 0; i < 32; i++ {
		c := reports.CaseResult{ID: fmt.Sprintf("preflight.method.put.include.path-admin-%d.https-app.example.com", i), Family: "preflight", Route: []string{"/admin", "/admin/users"}[i%2], Verdict: scenarios.Fail}
		c.Observed.Outcome, c.Observed.CorsError = scenarios.Blocked, "PreflightInvalidStatus"
		cur.Cases = append(cur.Cases, c)
		f.Cases = append(f.Cases, c.ID)
	}
	for i := 0; i < 40; i++ { // a page of harmless changes after it
		cur.Cases = append(cur.Cases, reports.CaseResult{ID: fmt.Sprintf("simple.head.path-v1-new-%02d.https-app.example.com", i), Family: "simple", Route: "/v1/new", Verdict: scenarios.Pass})
	}
	cur.Findings = []reports.Finding{f}
	d := reports.Diff(old, cur)
	page, err := d.HTML()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "diff.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{1400, 390} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			eval, check, ctx := openReportAt(t, file, w, 844)
			if v := eval(`document.getElementById("verdict").innerText`).(string); !strings.Contains(v, "fails the gate") {
				t.Errorf("the verdict line says %q", v)
			}
			first := eval(`document.querySelector(".group").innerText`).(string)
			for _, want := range []string{"NEW FAILING", "32 cases", "OPTIONS is answered 401", "/admin: 16", "/admin/users: 16", "fix:"} {
				if !strings.Contains(first, want) {
					t.Errorf("the first group lacks %q:\n%s", want, first)
				}
			}
			if top := eval(`document.querySelector(".group").getBoundingClientRect().top`).(float64); top > 700 {
				t.Errorf("the failing group starts %v px down: below the first screen", top)
			}
			if shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
				art := os.Getenv("CORSCHECK_ARTIFACTS")
				if art == "" {
					art = filepath.Join("testdata", "artifacts")
				}
				os.MkdirAll(art, 0o755)
				os.WriteFile(filepath.Join(art, fmt.Sprintf("diff-%d.png", w)), shot, 0o644)
			}
			eval(`document.querySelectorAll("details").forEach(d => d.open = true)`) // every case ID shown
			if sw, cw := eval(`document.documentElement.scrollWidth`).(float64), eval(`document.documentElement.clientWidth`).(float64); sw > cw {
				t.Errorf("the page scrolls sideways at %d px: %v > %v", w, sw, cw)
			}
			check()
		})
	}
}
