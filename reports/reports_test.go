package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
	_ "github.com/corscheck/corscheck/stacks"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// hostile is markup a target could put in header values.
const hostile = `"><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'`

func str(s string) *string { return &s }

// sample builds a results document by hand: one pass, one fail whose
// response headers carry markup, one error, one skip.
func sample() *Results {
	pol := &scenarios.Policy{Origins: []string{"https://app.example.com"}, Methods: []string{"GET", "PUT"}, Credentials: true}
	req := scenarios.Request{URL: "http://127.0.0.1:8080/api", Origin: "https://app.example.com", Method: "GET", Headers: map[string]string{}, Credentials: scenarios.CredentialsInclude}
	pass := CaseResult{ID: "simple.get.include.https-app.example.com", Family: "simple", Title: "simple GET", Labels: []string{"family:simple"},
		Request: req, Expected: scenarios.Expected{Outcome: scenarios.Allowed}, Verdict: scenarios.Pass, Message: "GET: Chrome allowed it, as the policy requires",
		Observed: scenarios.Observation{Request: req, Outcome: scenarios.Allowed, Response: &scenarios.Response{Status: 200, Headers: map[string]string{"access-control-allow-origin": "https://app.example.com"}},
			ReadableHeaders: map[string]*string{"x-total": str("5")}, DurationMs: 3.5, Browser: "HeadlessChrome/156.0.8078.108"}}
	evil := req
	evil.Origin = "https://evilapp.example.com"
	fail := CaseResult{ID: "simple.get.include.https-evilapp.example.com", Family: "origins", Title: "simple GET from suffix origin", Labels: []string{"family:origins", "origin:hostile", "hostile:suffix"},
		Request: evil, Expected: scenarios.Expected{Outcome: scenarios.Blocked}, Verdict: scenarios.Fail, Header: "Access-Control-Allow-Origin",
		Message: "GET from https://evilapp.example.com: Chrome allowed it, but the policy refuses it", Fix: "Do not allow https://evilapp.example.com.",
		Observed: scenarios.Observation{Request: evil, Outcome: scenarios.Allowed, Response: &scenarios.Response{Status: 200, Headers: map[string]string{
			"access-control-allow-origin": "https://evilapp.example.com", "x-note": hostile}}, ReadableHeaders: map[string]*string{}, Browser: "HeadlessChrome/156.0.8078.108"}}
	errored := CaseResult{ID: "preflight.method.put.include.https-app.example.com", Family: "preflight", Title: "PUT", Labels: []string{"family:preflight"},
		Request: req, Expected: scenarios.Expected{Outcome: scenarios.Allowed}, Verdict: scenarios.Error, Message: "PUT: no CORS verdict: timed out",
		Observed: scenarios.Observation{Request: req, Outcome: scenarios.Errored, ErrorKind: scenarios.ErrorTimeout, Error: "timed out: no response after 10s", ReadableHeaders: map[string]*string{}}}
	skipped := CaseResult{ID: "cache.repeat.include", Family: "cache", Title: "cache", Labels: []string{"family:cache"}, Request: req,
		Verdict: scenarios.Skipped, Message: "skipped by the policy: CDN strips Max-Age", Observed: scenarios.Observation{Request: req, ReadableHeaders: map[string]*string{}}}
	r := &Results{Tool: Tool{Version: "test"}, Target: "http://127.0.0.1:8080/api", Policy: pol, StartedAt: "2026-11-27T04:00:00Z", DurationMs: 1234.5,
		Cases: []CaseResult{skipped, fail, errored, pass}}
	r.Finish()
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./reports -update, then review the diff)", name)
	}
}

func TestSummaryAndFindings(t *testing.T) {
	r := sample()
	if r.Summary != (Summary{Total: 4, Passed: 1, Failed: 1, Errored: 1, Skipped: 1}) {
		t.Fatalf("summary %+v", r.Summary)
	}
	if r.Schema != Schema || r.Browser != "HeadlessChrome/156.0.8078.108" {
		t.Fatalf("header: %q %q", r.Schema, r.Browser)
	}
	if len(r.Findings) != 2 || r.Findings[0].ID != "origin-match" || !r.Findings[0].CredentialedRead || r.Findings[1].ID != "error-timeout" {
		t.Fatalf("findings %+v", r.Findings)
	}
	if r.Cases[0].Family != "simple" || r.Cases[1].Family != "preflight" || r.Cases[3].Family != "cache" {
		t.Fatalf("cases not in family order: %s ... %s", r.Cases[0].Family, r.Cases[3].Family)
	}
}

func TestJSONGolden(t *testing.T) {
	b, err := sample().JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "results.golden.json", b)
	path := filepath.Join(t.TempDir(), "results.json")
	if err := WriteFileAtomic(path, b); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(path)
	if err != nil || len(back.Cases) != 4 || back.Cases[2].Verdict != scenarios.Fail {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestJUnitGolden(t *testing.T) {
	b, err := sample().JUnit()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "junit.golden.xml", b)
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Cases []junitCase `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 4 || doc.Failures != 1 || doc.Errors != 1 {
		t.Fatalf("counts %+v", doc)
	}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Name == "" || c.Classname == "" {
				t.Errorf("testcase without name/classname: %+v", c)
			}
			if strings.Contains(c.Name, "preflight.method") && (c.Error == nil || c.Failure != nil) {
				t.Errorf("an error verdict must be <error>, not <failure>: %+v", c)
			}
		}
	}
}

func TestHTMLGoldenAndEscaping(t *testing.T) {
	b, err := sample().HTML()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.html", b)
	page := string(b)
	if strings.Contains(page, "<script>window.__pwned") || strings.Contains(page, "<img src=x") {
		t.Fatal("markup from a header value reached the page unescaped")
	}
	if strings.Count(page, "<script") != 1 {
		t.Fatalf("want exactly one script element, got %d", strings.Count(page, "<script"))
	}
	for _, external := range []string{"http://", "https://"} {
		for _, attr := range []string{"src=\"" + external, "href=\"" + external} {
			if strings.Contains(page, attr) {
				t.Errorf("report references an external resource: %s", attr)
			}
		}
	}
}

func TestDiff(t *testing.T) {
	old := sample()
	cur := sample()
	// Cases are in family order: simple (pass), preflight (error), origins (fail), cache (skipped).
	cur.Cases[0].Verdict = scenarios.Fail // the pass regresses
	cur.Cases[0].Observed.Outcome, cur.Cases[0].Observed.CorsError = scenarios.Blocked, "MissingAllowOriginHeader"
	cur.Cases[2].Verdict = scenarios.Pass                 // the failing hostile case got fixed
	cur.Cases = append(cur.Cases[:1:1], cur.Cases[2:]...) // the error case disappeared
	d := Diff(old, cur)
	if !d.Regressed() || d.Count("regressed") != 1 || d.Count("fixed") != 1 || d.Count("removed") != 1 || !d.Failing() {
		t.Fatalf("diff: %s\n%s", d.Summary(), d.Text())
	}
	golden(t, "diff.golden.md", []byte(d.Markdown()))
	if strings.Contains(d.Markdown(), "<script>") {
		t.Fatal("markup in the Markdown")
	}
	page, err := d.HTML()
	if err != nil || strings.Contains(string(page), "<script") {
		t.Fatalf("diff HTML: %v", err)
	}
	if Diff(old, old).Failing() || len(Diff(old, old).Changes) != 0 {
		t.Fatal("a run compared with itself has changes")
	}
}

// Lost coverage fails the gate on its own; --allow-removed accepts it.
// New cases are listed; the new ones that fail fail the gate (a new broken
// route is a regression) unless --allow-new-failures.
func TestDiffRemovedAndNew(t *testing.T) {
	old, cur := sample(), sample()
	cur.Cases = cur.Cases[:1]
	d := Diff(old, cur)
	if d.Regressed() || d.Count("removed") != len(old.Cases)-1 || !d.Failing() {
		t.Fatalf("removed: %s failing=%v", d.Summary(), d.Failing())
	}
	if !strings.Contains(d.Text(), "lost coverage") || !strings.Contains(d.Markdown(), "missing") {
		t.Fatalf("lost coverage not said:\n%s", d.Text())
	}
	d.AllowRemoved = true
	if d.Failing() {
		t.Fatal("--allow-removed still fails")
	}
	if a := d.GitHubAnnotations("p.yaml"); a != "" {
		t.Fatalf("annotations for allowed removals: %q", a)
	}
	back := Diff(cur, old)
	bad := 0
	for _, c := range old.Cases[1:] {
		if c.Verdict == scenarios.Fail || c.Verdict == scenarios.Error {
			bad++
		}
	}
	if bad == 0 || !back.Failing() || back.Count("new-failing") != bad || back.Count("new") != len(old.Cases)-1-bad {
		t.Fatalf("new cases: %s failing=%v", back.Summary(), back.Failing())
	}
	back.AllowNewFailures = true
	if back.Failing() {
		t.Fatal("--allow-new-failures still fails")
	}
}

// A release whose only change is a new route group that fails: the diff
// fails, and every output lists that group first.
func TestDiffNewFailingGroupLeads(t *testing.T) {
	old := &Results{Schema: Schema, Target: "http://127.0.0.1:1"}
	for i := 0; i < 1000; i++ {
		old.Cases = append(old.Cases, CaseResult{ID: fmt.Sprintf("simple.get.path-v1-r%03d.https-app.example.com", i), Family: "simple", Route: fmt.Sprintf("/v1/r%03d", i%40), Verdict: scenarios.Pass})
	}
	cur := &Results{Schema: Schema, Target: old.Target, Cases: append([]CaseResult(nil), old.Cases...)}
	cur.Cases[3].Message = "reworded"                                                                                          // no verdict change
	cur.Cases = append(cur.Cases, CaseResult{ID: "aaa.new.pass", Family: "simple", Route: "/v1/new", Verdict: scenarios.Pass}) // a new passing case
	f := Finding{ID: "auth-before-cors", Message: "OPTIONS is answered 401 by authentication before CORS runs on routes /admin, /admin/users", Fix: "Let preflights through before authentication."}
	for i := 0; i < 32; i++ {
		c := CaseResult{ID: fmt.Sprintf("preflight.method.put.path-admin-%d.https-app.example.com", i), Family: "preflight", Route: []string{"/admin", "/admin/users"}[i%2], Verdict: scenarios.Fail}
		c.Observed.Outcome, c.Observed.CorsError = scenarios.Blocked, "PreflightInvalidStatus"
		cur.Cases = append(cur.Cases, c)
		f.Cases = append(f.Cases, c.ID)
	}
	cur.Findings = []Finding{f}
	d := Diff(old, cur)
	if !d.Failing() || d.Count("new-failing") != 32 || d.Count("new") != 1 {
		t.Fatalf("%s failing=%v", d.Summary(), d.Failing())
	}
	if text := d.Text(); !strings.HasPrefix(text, "NEW-FAILING  OPTIONS is answered 401") || !strings.Contains(strings.SplitN(text, "\n", 2)[0], "/admin (16), /admin/users (16)") {
		t.Fatalf("text does not lead with the new failing group:\n%s", text[:min(len(text), 400)])
	}
	m := d.Markdown()
	if i, j := strings.Index(m, "OPTIONS is answered 401"), strings.Index(m, "aaa.new.pass"); i < 0 || j >= 0 && j < i {
		t.Fatalf("Markdown does not lead with the new failing group:\n%s", m)
	}
	page, err := d.HTML()
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	if i, j := strings.Index(html, "What got worse"), strings.Index(html, "OPTIONS is answered 401"); i < 0 || j < i || strings.Index(html, "aaa.new.pass") < j {
		t.Fatal("the HTML diff does not lead with what got worse")
	}
}

// A fully failing run on many routes: the Markdown groups the cases by
// finding and route, shows each fix once and stays under the cap.
func TestDiffMarkdownCap(t *testing.T) {
	old, cur := &Results{Schema: Schema, Target: "http://127.0.0.1:1"}, &Results{Schema: Schema, Target: "http://127.0.0.1:1"}
	for i := 0; i < 2000; i++ {
		route := fmt.Sprintf("/v1/resource-%d", i%400)
		c := CaseResult{ID: fmt.Sprintf("simple.get.route-%04d.https-app.example.com", i), Family: "simple", Verdict: scenarios.Pass}
		c.Route = route
		old.Cases = append(old.Cases, c)
		c.Verdict = scenarios.Fail
		c.Observed.Outcome, c.Observed.CorsError = scenarios.Blocked, "MissingAllowOriginHeader"
		c.Header, c.Fix = "Access-Control-Allow-Origin", "send Access-Control-Allow-Origin: https://app.example.com on every answer of "+route
		cur.Cases = append(cur.Cases, c)
	}
	for i := 0; i < 400; i++ {
		route := fmt.Sprintf("/v1/resource-%d", i)
		f := Finding{ID: "no-cors-" + route, Message: "no CORS headers on " + route + " " + strings.Repeat("x", 100), Fix: "add the CORS middleware to " + route + " " + strings.Repeat("y", 100)}
		for _, c := range cur.Cases {
			if c.Route == route {
				f.Cases = append(f.Cases, c.ID)
			}
		}
		cur.Findings = append(cur.Findings, f)
	}
	d := Diff(old, cur)
	if d.Count("regressed") != 2000 {
		t.Fatalf("%s", d.Summary())
	}
	m := d.MarkdownWithLink(MarkdownLimit, "https://ci.example/artifacts/report.html")
	if n := utf8.RuneCountInString(m); n > MarkdownLimit {
		t.Fatalf("Markdown is %d characters, cap %d", n, MarkdownLimit)
	}
	if !strings.Contains(m, "do not fit here") || !strings.Contains(m, "https://ci.example/artifacts/report.html") {
		t.Fatalf("no pointer to the rest:\n%s", m[len(m)-400:])
	}
	if n := strings.Count(m, "add the CORS middleware to /v1/resource-7 "); n != 1 {
		t.Fatalf("a fix shown %d times", n)
	}
	small := Diff(old, &Results{Schema: Schema, Target: old.Target, Cases: cur.Cases[:10], Findings: cur.Findings[:2]})
	if sm := small.Markdown(); strings.Contains(sm, "do not fit") {
		t.Fatalf("a small diff truncated:\n%s", sm)
	}
}

func TestGitHubAnnotations(t *testing.T) {
	old, cur := sample(), sample()
	cur.Cases[0].Verdict = scenarios.Fail
	cur.Cases[0].Fix = "line one\nline two, 100%: done"
	a := Diff(old, cur).GitHubAnnotations("policies/my policy,1.yaml")
	if !strings.HasPrefix(a, "::error file=policies/my policy%2C1.yaml,title=corscheck%3A regressed::") {
		t.Fatalf("annotation: %q", a)
	}
	if strings.Count(a, "\n") != strings.Count(a, "::error") || !strings.Contains(a, "%0A") || !strings.Contains(a, "100%25") {
		t.Fatalf("data not escaped: %q", a)
	}
}

func TestCompat(t *testing.T) {
	a, b := sample(), sample()
	b.Cases[0].Verdict = scenarios.Fail // simple GET differs between the two
	b.Cases = b.Cases[:3]               // and b never ran the cache case
	c := NewCompat([]string{"one", "two"}, []*Results{a, b})
	if len(c.Rows) != 4 || len(c.Implementations) != 2 {
		t.Fatalf("rows %d, implementations %d", len(c.Rows), len(c.Implementations))
	}
	differs := map[string]bool{}
	for _, r := range c.Rows {
		differs[r.ID] = r.Differs
	}
	if !differs["simple.get.include.https-app.example.com"] || !differs["cache.repeat.include"] || differs["simple.get.include.https-evilapp.example.com"] {
		t.Fatalf("differs: %v", differs)
	}
	if got := c.Rows[0].Cells["two"].Link; got != "two/report.html#d-simple.get.include.https-app.example.com" {
		t.Fatalf("link %q", got)
	}
	js, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compat.golden.json", js)
	page, err := c.HTML()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compat.golden.html", page)
	if strings.Contains(string(page), "<script>window.__pwned") {
		t.Fatal("markup reached the compat page")
	}
}

// junit.xml validates against the format Jenkins' xunit plugin reads
// (testdata/junit-jenkins.xsd: its junit-10.xsd rules), with no empty
// attribute; GitLab and GitHub reporters read the same shape.
func TestJUnitValidatesAgainstJenkinsSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is missing: make test installs libxml2-utils")
	}
	b, err := sample().JUnit()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	os.WriteFile(path, b, 0o644)
	out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit-jenkins.xsd"), path).CombinedOutput()
	if err != nil {
		t.Fatalf("junit.xml does not validate: %v\n%s", err, out)
	}
	if bytes.Contains(b, []byte(`=""`)) {
		t.Errorf("an empty attribute:\n%s", b)
	}
	// The schema must be able to fail: the first release's output did not validate.
	bad := bytes.Replace(b, []byte(`<testsuites name="corscheck"`), []byte(`<testsuites name="corscheck" skipped="1"`), 1)
	os.WriteFile(path, bad, 0o644)
	if exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit-jenkins.xsd"), path).Run() == nil {
		t.Error("the schema accepts a skipped attribute on testsuites: it proves nothing")
	}
}

// A run's Markdown summary: findings with their fixes, target text
// escaped, under the cap however many findings there are.
func TestResultsMarkdown(t *testing.T) {
	r := sample()
	r.Finish()
	m := r.Markdown(MarkdownLimit, "")
	if !strings.Contains(m, "1 passed, 1 failed, 1 errored") || !strings.Contains(m, "fix:") || strings.Contains(m, "<script") {
		t.Fatalf("summary:\n%s", m)
	}
	for i := 0; i < 3000; i++ {
		r.Findings = append(r.Findings, Finding{Severity: "error", Message: fmt.Sprintf("finding %d <img src=x>", i), Fix: strings.Repeat("fix ", 20), Cases: []string{"a", "b"}})
	}
	m = r.Markdown(MarkdownLimit, "https://ci.example/report.html")
	if n := utf8.RuneCountInString(m); n > MarkdownLimit || !strings.Contains(m, "do not fit here") || strings.Contains(m, "<img") {
		t.Fatalf("capped summary: %d characters", n)
	}
}

// DisplayInPlace gives what Display gives, without a copy.
func TestDisplayInPlaceMatchesDisplay(t *testing.T) {
	r := sample()
	r.Target = "http://127.0.0.1:1/\x1b[31mred\u202e"
	r.Cases[0].Observed.Response = &scenarios.Response{Status: 200, Headers: map[string]string{"x-\x1b[2J": "a\u202eb", "ok": "fine"}}
	v := "\x1b]0;title\x07"
	r.Cases[0].Observed.ReadableHeaders = map[string]*string{"x": &v}
	r.Finish()
	want, err := json.Marshal(r.Display())
	if err != nil {
		t.Fatal(err)
	}
	r.DisplayInPlace()
	got, _ := json.Marshal(r)
	if string(got) != string(want) {
		t.Fatalf("in place:\n%s\ncopy:\n%s", got, want)
	}
	if strings.Contains(string(got), "\x1b") || strings.Contains(string(got), "\u202e") {
		t.Fatal("control characters survived")
	}
}

// The streamed results.json is byte for byte the marshalled document.
func TestWriteJSONStreamsTheDocument(t *testing.T) {
	r := sample()
	r.Finish()
	want, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := r.writeJSON(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Fatalf("streamed:\n%s\nmarshalled:\n%s", got.String(), want)
	}
}

// A result spooled without its per-stack snippets gets its stack's snippet
// back when the run finishes: the same text as if it had kept them all.
func TestSpooledResultGetsItsStackSnippet(t *testing.T) {
	o := scenarios.Observation{
		Request:   scenarios.Request{URL: "http://127.0.0.1:8080/items", Origin: "https://app.example.com", Method: "PUT", Credentials: scenarios.CredentialsInclude},
		Outcome:   scenarios.Blocked,
		CorsError: "PreflightMissingAllowOriginHeader",
		Preflight: &scenarios.Exchange{Status: 204, ResponseHeaders: map[string]string{}},
	}
	e := diagnosis.Explain(o)
	if len(e.Snippets) < 2 {
		t.Fatalf("the sample needs snippets in several stacks: %+v", e)
	}
	full := CaseResult{ID: "c1", Family: "preflight", Verdict: scenarios.Fail, Observed: o, Explanation: &e}
	spooled, err := json.Marshal(full.WithoutSnippets())
	if err != nil {
		t.Fatal(err)
	}
	if full.Explanation.Snippets == nil || strings.Contains(string(spooled), "snippets") {
		t.Fatalf("WithoutSnippets must drop the copy's snippets and keep the original's: %s", spooled)
	}
	for stack, want := range e.Snippets {
		var back CaseResult
		if err := json.Unmarshal(spooled, &back); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*Results{{Stack: stack, Cases: []CaseResult{full}}, {Stack: stack, Cases: []CaseResult{back}}} {
			r.Finish()
			got := r.Cases[0].Explanation.Snippets
			if len(got) != 1 || got[stack] != want {
				t.Errorf("stack %s: snippets %q, want only its own", stack, got)
			}
		}
	}
	r := &Results{Cases: []CaseResult{full.WithoutSnippets()}}
	r.Finish()
	if r.Stack == "" && r.Cases[0].Explanation.Snippets != nil {
		t.Errorf("no stack: no snippet in the case, got %q", r.Cases[0].Explanation.Snippets)
	}
}
