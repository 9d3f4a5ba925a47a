// Package reports reads typed results and writes results.json, junit.xml
// and report.html. It never decides pass or fail: verdicts come in.
package reports

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Schema identifies the results.json format.
const Schema = "corscheck.results/v1"

// Tool names the program that wrote a results file.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Summary counts verdicts.
type Summary struct {
	Total   int `json:"total"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Errored int `json:"errored"`
	Skipped int `json:"skipped"`
}

// CaseResult is one case in results.json.
type CaseResult struct {
	ID       string                `json:"id"`
	Family   string                `json:"family"`
	Check    scenarios.Check       `json:"check,omitempty"`
	Title    string                `json:"title"`
	Labels   []string              `json:"labels"`
	Spec     string                `json:"spec,omitempty"`
	Severity string                `json:"severity,omitempty"`
	Request  scenarios.Request     `json:"request"`
	Expected scenarios.Expected    `json:"expected"`
	Observed scenarios.Observation `json:"observed"`
	// Repeats holds the observations of fetches after the first (cache cases).
	Repeats []scenarios.Observation `json:"repeats,omitempty"`
	// Related holds the observations of the case's related requests (the
	// other origin a vary case compares with, the other cache candidates).
	Related     []scenarios.Observation `json:"related,omitempty"`
	Verdict     scenarios.Verdict       `json:"verdict"`
	Message     string                  `json:"message"`
	Fix         string                  `json:"fix"`
	Header      string                  `json:"header,omitempty"`
	Explanation *scenarios.Explanation  `json:"explanation,omitempty"`
	// Route is the route's declared path ("" for the target).
	Route string `json:"route,omitempty"`
	// Status is a non-CORS answer (401, 403, 407, 429, 5xx) the actual
	// request got; the verdict covers that answer's CORS headers only.
	Status int `json:"status,omitempty"`
	// Inconclusive marks a case whose request never reached the CORS layer.
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Browsers holds each browser's own verdict and observations when
	// several ran the case (--browser all); Verdict is then the combined
	// one (a failure in any browser), Observed the first browser's.
	Browsers []BrowserResult `json:"browsers,omitempty"`
	// BrowserDifference explains why the browsers disagreed on the same
	// server answer; empty when they agreed.
	BrowserDifference string `json:"browserDifference,omitempty"`
}

// BrowserResult is one browser's verdict on a case.
type BrowserResult struct {
	Engine   string                  `json:"engine"`
	Browser  string                  `json:"browser"`
	Verdict  scenarios.Verdict       `json:"verdict"`
	Message  string                  `json:"message"`
	Fix      string                  `json:"fix,omitempty"`
	Header   string                  `json:"header,omitempty"`
	Observed scenarios.Observation   `json:"observed"`
	Repeats  []scenarios.Observation `json:"repeats,omitempty"`
	Related  []scenarios.Observation `json:"related,omitempty"`
}

// NewCaseResultEngines is NewCaseResult for a case several browsers ran:
// the combined judgement on top, each browser's below.
func NewCaseResultEngines(c scenarios.Case, combined scenarios.Judgement, per []scenarios.EngineJudgement, difference string) CaseResult {
	if len(per) == 0 {
		return NewCaseResult(c, nil, combined)
	}
	r := NewCaseResult(c, per[0].Obs, combined)
	if len(per) == 1 {
		return r
	}
	r.BrowserDifference = difference
	for _, p := range per {
		b := BrowserResult{Engine: p.Engine, Verdict: p.Verdict, Message: p.Message, Fix: p.Fix, Header: p.Header}
		if len(p.Obs) > 0 {
			n := min(c.Fetches(), len(p.Obs))
			b.Observed, b.Repeats, b.Related = p.Obs[0], p.Obs[1:n], p.Obs[n:]
			b.Browser = p.Obs[0].Browser
		}
		r.Browsers = append(r.Browsers, b)
	}
	return r
}

// Intern shares the result's header sets and repeated texts with the other
// results of a run (see scenarios.Interner): results.json is read back
// whole at the end of a run, and 40,000 cases hold mostly the same
// headers, fixes and explanations. Texts unique to a case (its ID, title
// and message) are left alone.
func (c *CaseResult) Intern(in *scenarios.Interner) {
	c.Family, c.Spec, c.Severity, c.Route = in.Text(c.Family), in.Text(c.Spec), in.Text(c.Severity), in.Text(c.Route)
	c.Fix, c.Header, c.BrowserDifference = in.Text(c.Fix), in.Text(c.Header), in.Text(c.BrowserDifference)
	for i, l := range c.Labels {
		c.Labels[i] = in.Text(l)
	}
	in.Request(&c.Request)
	in.Explanation(c.Explanation)
	in.Observation(&c.Observed)
	in.Observations(c.Repeats)
	in.Observations(c.Related)
	for i := range c.Browsers {
		b := &c.Browsers[i]
		b.Engine, b.Browser, b.Fix, b.Header = in.Text(b.Engine), in.Text(b.Browser), in.Text(b.Fix), in.Text(b.Header)
		in.Observation(&b.Observed)
		in.Observations(b.Repeats)
		in.Observations(b.Related)
	}
}

// Finding is one server behaviour behind failing cases (the cause model
// of diagnosis.Causes).
type Finding = diagnosis.Finding

// Route is one route of the run, for the route view.
type Route struct {
	Path   string `json:"path"`
	URL    string `json:"url"`
	Key    string `json:"key,omitempty"`
	Source string `json:"source,omitempty"`
	// With the adaptive matrix: Probe is "full" or "covered", CoveredBy
	// the route whose full matrix stands for this one, Group its group
	// (1-based) and Why what the group's routes share.
	Probe     string `json:"probe,omitempty"`
	CoveredBy string `json:"coveredBy,omitempty"`
	Group     int    `json:"group,omitempty"`
	Why       string `json:"why,omitempty"`
}

// Adaptive says what the adaptive matrix did.
type Adaptive struct {
	Groups         int `json:"groups"`
	SamplePerGroup int `json:"samplePerGroup"`
	RoutesProbed   int `json:"routesProbed"`
	RoutesCovered  int `json:"routesCovered"`
	// CasesProbed ran in the browser; CasesCovered are the cases of covered
	// routes their representative's cases stand for.
	CasesProbed  int `json:"casesProbed"`
	CasesCovered int `json:"casesCovered"`
}

// Results is the whole results.json document.
type Results struct {
	Schema  string `json:"schema"`
	Tool    Tool   `json:"tool"`
	Browser string `json:"browser"`
	Target  string `json:"target"`
	// Fixture names the built-in target the run started (the demo, or
	// --fixture), on a port of its own: shards of it merge although their
	// targets' ports differ.
	Fixture    string            `json:"fixture,omitempty"`
	Policy     *scenarios.Policy `json:"policy"`
	StartedAt  string            `json:"startedAt"`
	DurationMs float64           `json:"durationMs"`
	Summary    Summary           `json:"summary"`
	Cases      []CaseResult      `json:"cases"`
	Findings   []Finding         `json:"findings"`
	// Interrupted is true when the run was stopped before every case ran.
	Interrupted bool `json:"interrupted,omitempty"`
	// Insecure is true when certificate errors were ignored (--insecure).
	Insecure bool `json:"insecure,omitempty"`
	// ChromeArgs are the extra browser arguments of the run (--chrome-arg).
	ChromeArgs []string `json:"chromeArgs,omitempty"`
	// Resolve are the host mappings of the run (--resolve, resolve:).
	Resolve map[string]string `json:"resolve,omitempty"`
	// Stack is the server stack fixes are shown for (--stack, or detected).
	Stack string `json:"stack,omitempty"`
	// StackEvidence says what gave the stack away when it was detected.
	StackEvidence string `json:"stackEvidence,omitempty"`
	// Stacks are the stacks the answers showed, per group of routes: the
	// one that sent the CORS headers there, its layer, the proxy in front,
	// and the evidence (detected runs only; --stack forces one).
	Stacks []diagnosis.Detection `json:"stacks,omitempty"`
	// Routes are the routes the run covered.
	Routes []Route `json:"routes,omitempty"`
	// Adaptive is set when routes were grouped (the adaptive matrix).
	Adaptive *Adaptive `json:"adaptive,omitempty"`
	// Shard is set when the run covered one slice of the matrix (--shard).
	Shard *scenarios.ShardSpec `json:"shard,omitempty"`
	// Credentials say, per browser, whether the user's credentials were
	// used: how many requests that should carry them got an answer, and on
	// how many the browser really sent the session cookie.
	Credentials []CredentialUse `json:"credentials,omitempty"`
	// Cookies say, per browser, whether a cookie set first-party on the
	// API's site travelled on cross-site pages' credentialed requests,
	// under the run's --cookie-mode.
	Cookies []CookieTravel `json:"cookies,omitempty"`
	// Stopped says why the run stopped before every case ran (the session
	// was rejected, the target stopped answering); the cases not run are
	// errors saying so.
	Stopped string `json:"stopped,omitempty"`
	// WriteError is set when the outputs could not be written.
	WriteError error `json:"-"`
}

// CredentialUse is one browser's use of the user's credentials.
type CredentialUse struct {
	Engine string `json:"engine"`
	// Requests are the requests with the user's credentials that reached
	// the server (an actual request answered).
	Requests int `json:"requests"`
	// CookieSent counts those on which the browser sent the session
	// cookie (-1 when no cookie was given: header credentials only).
	CookieSent int `json:"cookieSent"`
	// Withheld says why the browser did not send it, when it did not.
	Withheld string `json:"withheld,omitempty"`
}

// CookieTravel is one browser's handling of a first-party cookie on
// cross-site credentialed requests.
type CookieTravel struct {
	Engine string `json:"engine"`
	// Mode is the run's --cookie-mode (default: each browser's own).
	Mode string `json:"mode"`
	// Cookie is the cookie followed: the session cookie, or corscheck's canary.
	Cookie string `json:"cookie"`
	// CrossSite counts the answered credentialed requests from a page on
	// another site; Sent, those that carried the cookie.
	CrossSite int  `json:"crossSite"`
	Sent      int  `json:"sent"`
	Works     bool `json:"works"`
	// Withheld names the browser's rule that kept the cookie back.
	Withheld string `json:"withheld,omitempty"`
}

// Sentence is the summary line: "Chrome: signed-in cross-site requests work ...".
func (t CookieTravel) Sentence() string {
	who := scenarios.EngineTitle(t.Engine)
	if t.Mode != "" && t.Mode != "default" {
		who += " (--cookie-mode " + t.Mode + ")"
	}
	if t.Works {
		return fmt.Sprintf("%s: signed-in cross-site requests work (the cookie %s travelled on %d of %d)", who, scenarios.Visible(t.Cookie), t.Sent, t.CrossSite)
	}
	return fmt.Sprintf("%s: signed-in cross-site requests do not work (cookie withheld on %d of %d: %s)", who, t.CrossSite-t.Sent, t.CrossSite, t.Withheld)
}

// NewCaseResult joins a case, its observations and its judgement.
func NewCaseResult(c scenarios.Case, obs []scenarios.Observation, j scenarios.Judgement) CaseResult {
	r := CaseResult{
		ID: c.ID, Family: c.Family, Check: c.Check, Title: c.Title, Labels: c.Labels, Spec: c.Spec, Severity: c.Severity,
		Request: c.Request, Expected: c.Expected, Verdict: j.Verdict, Message: j.Message, Fix: j.Fix, Header: j.Header,
	}
	r.Route, r.Status, r.Inconclusive = c.Route, j.Status, j.Inconclusive
	if len(obs) > 0 {
		n := min(c.Fetches(), len(obs))
		r.Observed = obs[0]
		r.Repeats = obs[1:n]
		r.Related = obs[n:]
		if obs[0].Outcome == scenarios.Blocked || j.Verdict == scenarios.Fail {
			e := diagnosis.Explain(obs[0])
			if j.Verdict != scenarios.Fail {
				// Blocked as the policy requires: why, and nothing to fix.
				e.Fix, e.Snippets = "", nil
			}
			r.Explanation = &e
		}
	} else {
		r.Observed = scenarios.Observation{Request: c.Request, ReadableHeaders: map[string]*string{}}
	}
	if r.Labels == nil {
		r.Labels = []string{}
	}
	return r
}

// Finish sorts the cases, computes the summary and findings, and fills the
// document's header fields.
func (r *Results) Finish() {
	r.Schema = Schema
	if r.Tool.Name == "" {
		r.Tool.Name = "corscheck"
	}
	sort.SliceStable(r.Cases, func(i, j int) bool {
		return familyThenID(r.Cases[i].Family, r.Cases[i].ID, r.Cases[j].Family, r.Cases[j].ID)
	})
	r.Summary = Summary{Total: len(r.Cases)}
	for _, c := range r.Cases {
		switch c.Verdict {
		case scenarios.Pass:
			r.Summary.Passed++
		case scenarios.Fail:
			r.Summary.Failed++
		case scenarios.Error:
			r.Summary.Errored++
		case scenarios.Skipped:
			r.Summary.Skipped++
		}
		if r.Browser == "" && c.Observed.Browser != "" {
			r.Browser = c.Observed.Browser
		}
	}
	items := make([]diagnosis.Judged, len(r.Cases))
	answers := map[string][]diagnosis.Answer{} // route -> every answer seen there
	for i, c := range r.Cases {
		items[i] = c.judged()
		route := strings.TrimSuffix(routeName(c), "/"+scenarios.MissingPath)
		answers[route] = append(answers[route], diagnosis.AnswersOf([]scenarios.Observation{c.Observed})...)
		answers[route] = append(answers[route], diagnosis.AnswersOf(c.Related)...)
	}
	policy := r.Policy
	if policy == nil {
		policy = &scenarios.Policy{}
	}
	choice := diagnosis.StackChoice{Forced: r.Stack, ByRoute: routeStacks(policy)}
	if r.Stack == "" || r.StackEvidence != "" {
		choice.Forced = ""
		choice.Detected = diagnosis.DetectRoutes(answers)
		r.Stacks = choice.Detected
		r.Stack, r.StackEvidence = "", ""
		if len(choice.Detected) > 0 {
			r.Stack, r.StackEvidence = choice.Detected[0].Stack, choice.Detected[0].Evidence
		}
	}
	r.Findings = append(statusFindings(r.Cases), diagnosis.Causes(items, policy, choice)...)
	r.coverFindings()
	r.trimSnippets()
}

// trimSnippets keeps, in each case's explanation, the snippet for the
// run's stack only: the findings carry every stack's fix once, and a
// snippet per stack per case made them 40% of results.json. A result that
// was spooled without its snippets (WithoutSnippets) gets its stack's
// snippet rendered again from its observation.
func (r *Results) trimSnippets() {
	for i := range r.Cases {
		e := r.Cases[i].Explanation
		if e == nil {
			continue
		}
		snippets := e.Snippets
		if snippets == nil && r.Stack != "" {
			snippets = diagnosis.Explain(r.Cases[i].Observed).Snippets
		}
		var keep map[string]string
		if v, ok := snippets[r.Stack]; ok && r.Stack != "" {
			keep = map[string]string{r.Stack: v}
		}
		trimmed := *e
		trimmed.Snippets = keep
		r.Cases[i].Explanation = &trimmed
	}
}

// WithoutSnippets is the result without its explanation's per-stack
// snippets, as a run holds it until the stack is known: they are a pure
// function of the observation, about 6 KB a case, and Finish renders the
// one the run's stack needs again.
func (c CaseResult) WithoutSnippets() CaseResult {
	if c.Explanation != nil && c.Explanation.Snippets != nil {
		e := *c.Explanation
		e.Snippets = nil
		c.Explanation = &e
	}
	return c
}

// coverFindings adds to each finding the routes its routes cover (the
// adaptive matrix): a failing behaviour is the whole group's.
func (r *Results) coverFindings() {
	covered := map[string][]string{}
	for _, rt := range r.Routes {
		if rt.CoveredBy != "" {
			covered[rt.CoveredBy] = append(covered[rt.CoveredBy], rt.Path)
		}
	}
	if len(covered) == 0 {
		return
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		var extra []string
		seen := map[string]bool{}
		for _, rt := range f.Routes {
			seen[rt] = true
		}
		for _, rt := range f.Routes {
			for _, c := range covered[rt] {
				if !seen[c] {
					seen[c] = true
					extra = append(extra, c)
				}
			}
		}
		if len(extra) > 0 {
			f.Routes = append(f.Routes, extra...)
			f.Message += fmt.Sprintf(" (and on %d more route%s its group covers: %s)", len(extra), plural(len(extra)), joinLimited(extra, 5))
		}
	}
}

// headerValue is the recorded value of the header a failing cache case
// rests on: the Access-Control-Max-Age of the first candidate's allowed
// preflight (the one the judgement read).
func (c CaseResult) headerValue() string {
	if c.Check != scenarios.CheckCache || !strings.EqualFold(c.Header, "Access-Control-Max-Age") {
		return ""
	}
	for _, o := range append([]scenarios.Observation{c.Observed}, c.Related...) {
		if o.Outcome == scenarios.Allowed && o.Preflight != nil {
			v, _ := o.Preflight.ResponseHeader("access-control-max-age")
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// routeStacks are the policy's stack: per route, by route name.
func routeStacks(p *scenarios.Policy) map[string]string {
	out := map[string]string{}
	for _, r := range p.Paths {
		if r.Stack != "" {
			out[r.Path] = r.Stack
		}
	}
	return out
}

// judged is the case as the cause model reads it.
func (c CaseResult) judged() diagnosis.Judged {
	kind := ""
	for _, l := range c.Labels {
		if k, ok := strings.CutPrefix(l, "hostile:"); ok {
			kind = k
		}
	}
	return diagnosis.Judged{
		Case: scenarios.Case{ID: c.ID, Family: c.Family, Title: c.Title, Labels: c.Labels, Request: c.Request, Route: c.Route,
			Hostile: hasLabel(c.Labels, "origin:hostile"), HostileKind: kind, Check: c.Check, Expected: c.Expected, Severity: c.Severity},
		Obs:       c.Observed,
		Judgement: scenarios.Judgement{Verdict: c.Verdict, Message: c.Message, Fix: c.Fix, Header: c.Header, Status: c.Status, Inconclusive: c.Inconclusive, Value: c.headerValue()},
	}
}

// Failing reports whether the run must not pass: a case failed or had no
// verdict, or a finding of severity error stands (answers that were not
// about CORS, such as 401s to allowed origins).
func (r *Results) Failing() bool {
	if r.Summary.Failed+r.Summary.Errored > 0 {
		return true
	}
	for _, f := range r.Findings {
		if f.Severity == "error" {
			return true
		}
	}
	return false
}

// statusFindings come first: when allowed-origin requests were answered
// 401/403/407/429/5xx, corscheck could not get into the API, and a green
// CORS verdict on those answers says nothing about the API's own.
func statusFindings(cases []CaseResult) []Finding {
	byStatus := map[int]*Finding{}
	routes := map[int]map[string]bool{}
	var order []int
	for _, c := range cases {
		if c.Status == 0 || c.Inconclusive || hasLabel(c.Labels, "origin:hostile") {
			continue
		}
		f := byStatus[c.Status]
		if f == nil {
			f = &Finding{ID: fmt.Sprintf("status.%d", c.Status), Severity: "error", Fix: scenarios.StatusFix(c.Status)}
			byStatus[c.Status] = f
			routes[c.Status] = map[string]bool{}
			order = append(order, c.Status)
		}
		f.Cases = append(f.Cases, c.ID)
		routes[c.Status][routeName(c)] = true
	}
	sort.Ints(order)
	var out []Finding
	for _, st := range order {
		f := byStatus[st]
		f.Routes = slices.Sorted(maps.Keys(routes[st]))
		f.Message = fmt.Sprintf("%d actual request%s from allowed origins %s answered %d: the verdict covers the CORS headers of that answer, not of your API (routes %s)",
			len(f.Cases), plural(len(f.Cases)), wereWas(len(f.Cases)), st, strings.Join(f.Routes, ", "))
		out = append(out, *f)
	}
	return out
}

func wereWas(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// routeName is the route a case probed, for findings.
func routeName(c CaseResult) string { return diagnosis.RouteName(c.Route, c.Request.URL) }

// familyThenID is the report order: by family, then by case ID.
func familyThenID(famA, idA, famB, idB string) bool {
	if ra, rb := scenarios.FamilyRank(famA), scenarios.FamilyRank(famB); ra != rb {
		return ra < rb
	}
	return idA < idB
}

func hasLabel(labels []string, l string) bool {
	for _, x := range labels {
		if x == l {
			return true
		}
	}
	return false
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// ReadResults loads a results.json, checking the schema.
func ReadResults(path string) (*Results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: not a corscheck results file: %w", path, err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q, want %q", path, r.Schema, Schema)
	}
	return &r, nil
}

// WriteFileAtomic writes via a temporary file and a rename, so a killed run
// never leaves a truncated file behind.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// JSON renders results.json.
func (r *Results) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// OutputNames are the files a run writes into --out.
var OutputNames = []string{"results.json", "junit.xml", "report.html"}

// WriteAll writes results.json, junit.xml and report.html into dir as one
// set: all are written to temporary files first, then renamed into place.
// If a file cannot be written (a full disk, a quota, a read-only file), the
// previous run's set is left as it was, no temporary file stays, and the
// error names the file and the OS's reason: dir never holds a mix of two
// runs. results.json (the data as observed) is streamed case
// by case; then r is sanitised in place for the human-facing junit.xml and
// report.html (DisplayInPlace), so a large run is never held twice.
func (r *Results) WriteAll(dir string) error {
	return writeStreams(dir, []output{
		{"results.json", r.writeJSON},
		{"", func(io.Writer) error { r.DisplayInPlace(); return nil }},
		{"junit.xml", r.writeJUnit},
		{"report.html", r.writeHTML},
	})
}

// writeJSON streams results.json: the document's header, each case, the
// findings; the same bytes JSON returns.
func (r *Results) writeJSON(w io.Writer) error {
	shell := *r
	shell.Cases = nil
	head, err := json.MarshalIndent(&shell, "", "  ")
	if err != nil {
		return err
	}
	const marker = "\n  \"cases\": null,"
	i := bytes.Index(head, []byte(marker))
	if i < 0 {
		return errors.New("results.json: no cases field")
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.Write(head[:i])
	if len(r.Cases) == 0 {
		bw.WriteString("\n  \"cases\": [],")
	} else {
		bw.WriteString("\n  \"cases\": [")
		for k := range r.Cases {
			c, err := json.MarshalIndent(&r.Cases[k], "    ", "  ")
			if err != nil {
				return err
			}
			if k > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n    ")
			bw.Write(c)
		}
		bw.WriteString("\n  ],")
	}
	bw.Write(head[i+len(marker):])
	bw.WriteByte('\n')
	return bw.Flush()
}

// output is one file of a set, written by write; a nameless output is a
// step between files.
type output struct {
	name  string
	write func(io.Writer) error
}

// WriteSet writes files into dir together (see WriteAll).
func WriteSet(dir string, files map[string][]byte) error {
	var outs []output
	for n, data := range files {
		outs = append(outs, output{n, func(w io.Writer) error { _, err := w.Write(data); return err }})
	}
	sort.Slice(outs, func(i, j int) bool { return outs[i].name < outs[j].name })
	return writeStreams(dir, outs)
}

func writeStreams(dir string, outs []output) error {
	if err := CheckOutDir(dir); err != nil {
		return err
	}
	var names []string
	for _, o := range outs {
		if o.name != "" {
			names = append(names, o.name)
		}
	}
	temps := map[string]string{}
	cleanup := func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}
	// A set that cannot be written whole leaves the previous set as it was
	// and no temporary file: the error names the file and the OS's reason.
	failed := func(cause error) error {
		cleanup()
		return fmt.Errorf("--out %s: %v; the previous run's files are left as they were and nothing of this run's was written", dir, cause)
	}
	for _, o := range outs {
		if o.name == "" {
			if err := o.write(nil); err != nil {
				cleanup()
				return err
			}
			continue
		}
		tmp, err := writeTemp(dir, o.name, o.write)
		if err != nil {
			return failed(fmt.Errorf("write %s: %w", filepath.Join(dir, o.name), unwrapPath(err)))
		}
		temps[o.name] = tmp
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.Rename(temps[n], filepath.Join(dir, n)); err != nil {
			return failed(fmt.Errorf("rename %s: %w", filepath.Join(dir, n), unwrapPath(err)))
		}
		delete(temps, n)
	}
	return nil
}

// writeTemp writes a file through write to a synced temporary file in dir.
func writeTemp(dir, name string, write func(io.Writer) error) (string, error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// CheckOutDir makes sure dir is a directory corscheck can write, creating
// it: a run checks --out before it sends anything, so a bad --out costs
// seconds and one line, never a run whose results vanish.
func CheckOutDir(dir string) error {
	if dir == "" {
		return errors.New("--out is empty: give a directory, e.g. --out corscheck-report")
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fmt.Errorf("--out %s is a file, not a directory: give a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out %s: cannot create it: %v", dir, unwrapPath(err))
	}
	f, err := os.CreateTemp(dir, ".corscheck-write-check-*")
	if err != nil {
		return fmt.Errorf("--out %s is not writable: %v", dir, unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// unwrapPath is an os error without the path it repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// RedactText replaces every secret in s with ***.
func RedactText(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 3 {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// Redact removes the secrets (auth header credentials, cookie values) from
// everything the document holds, so no output written from it (results.json,
// junit.xml, report.html, the terminal) shows them: "Bearer ***".
func (r *Results) Redact(secrets []string) {
	var live []string
	for _, s := range secrets {
		if len(s) >= 3 {
			live = append(live, s)
		}
	}
	if len(live) == 0 {
		return
	}
	data, err := json.Marshal(r)
	if err != nil {
		return
	}
	for _, s := range live {
		enc, _ := json.Marshal(s) // the secret as it appears inside a JSON string
		data = bytes.ReplaceAll(data, enc[1:len(enc)-1], []byte("***"))
	}
	var clean Results
	if err := json.Unmarshal(data, &clean); err != nil {
		return
	}
	clean.WriteError = r.WriteError
	*r = clean
}
