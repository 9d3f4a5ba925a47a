package reports

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// reportJS is the page's only script: the failures-only and family filters.
// The Content-Security-Policy allows exactly this script by hash, so even
// markup a hostile target smuggles into a header value could not run.
const reportJS = `
(function () {
  var only = document.getElementById("only-failures");
  var q = document.getElementById("q");
  var selects = ["family", "origin", "method", "credentials"].map(function (k) { return document.getElementById(k); });
  function apply() {
    var rows = document.querySelectorAll("tr.case");
    var needle = q.value.toLowerCase();
    rows.forEach(function (tr) {
      var show = (!only.checked || tr.dataset.verdict !== "pass" && tr.dataset.verdict !== "skipped") &&
        selects.every(function (s) { return s.value === "" || tr.dataset[s.id] === s.value; }) &&
        (needle === "" || tr.textContent.toLowerCase().indexOf(needle) >= 0);
      tr.hidden = !show;
      var d = document.getElementById("d-" + tr.dataset.id);
      if (d) d.hidden = !show;
    });
  }
  selects.concat([only, q]).forEach(function (el) { el.addEventListener("input", apply); });
  apply();
})();
`

const reportCSS = `
:root{--pass:#1a7f37;--fail:#cf222e;--error:#9a6700;--skip:#57606a;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0}
*{box-sizing:border-box}code{overflow-wrap:anywhere}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--fg);background:var(--bg)}
header,main{max-width:1200px;margin:0 auto;padding:16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.meta{color:var(--muted);font-size:13px}.meta code{word-break:break-all}
.counts{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}.count{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:90px}
.count b{display:block;font-size:22px}.pass{color:var(--pass)}.fail{color:var(--fail)}.error{color:var(--error)}.skipped{color:var(--skip)}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line);vertical-align:top}
td.v{font-weight:600;white-space:nowrap}code,pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:8px;border-radius:6px;margin:4px 0}
.filters{display:flex;gap:12px;flex-wrap:wrap;align-items:center;margin:8px 0;position:sticky;top:0;background:var(--bg);padding:8px 0;border-bottom:1px solid var(--line)}
details{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:6px 10px}summary{cursor:pointer}
.finding{border-left:4px solid var(--fail);padding:4px 10px;margin:6px 0;color:var(--fg)}.finding.warning{border-color:var(--error)}
.fixblock{border-left:4px solid var(--pass, #1a7f37);padding:4px 10px;margin:6px 0}
.matrix{overflow-x:auto;margin:8px 0 16px}.matrix table{width:auto}.matrix th{font-weight:400;font-size:11px;white-space:nowrap}
.matrix th.col{writing-mode:vertical-rl;transform:rotate(180deg);padding:4px 2px}.matrix td.m{padding:0;text-align:center}
.matrix td.m a{display:block;width:18px;height:18px;margin:1px auto;border-radius:3px;text-decoration:none}
.m.pass a{background:#2da44e}.m.fail a{background:#cf222e}.m.error a{background:#bf8700}.m.skipped a{background:#afb8c1}
.bdiff{display:inline-block;font-size:11px;font-weight:600;color:#8250df;border:1px solid #c297ff;border-radius:10px;padding:0 6px}
.bdiff-note{border-left:4px solid #8250df;padding-left:8px}.engine-result{border-left:3px solid var(--line);padding-left:8px;margin:4px 0}
@media (max-width:700px){td.title{display:none}.count{min-width:70px}}
@media print{.filters{display:none}details{break-inside:avoid}details>*{display:block}}
`

var reportTmpl = template.Must(template.Must(template.New("report").Funcs(template.FuncMap{
	"headers": sortedHeaders,
	"lower":   strings.ToLower,
	"engine":  scenarios.EngineTitle,
}).Parse(reportPage)).Parse(reportFilters))

const reportPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src '{{.ScriptHash}}'; img-src data:">
<title>corscheck report: {{.R.Target}}</title>
<style>{{.CSS}}</style></head>
<body><header>
<h1>corscheck conformance report</h1>
<div class="meta">target <code>{{.R.Target}}</code> · {{.R.Browser}} · started {{.R.StartedAt}} · {{printf "%.1f" .Seconds}} s · {{.R.Tool.Name}} {{.R.Tool.Version}}{{if .R.Interrupted}} · <b class="error">interrupted: partial results</b>{{end}}{{if .R.Insecure}} · <b class="error">--insecure: certificate errors were ignored</b>{{end}}{{if .R.ChromeArgs}} · browser arguments <code>{{range .R.ChromeArgs}}{{.}} {{end}}</code>{{end}}{{if .R.Resolve}} · resolve {{range $h, $a := .R.Resolve}}<code>{{$h}}:{{$a}}</code> {{end}}{{end}}</div>
<div class="counts">
<div class="count"><b>{{.R.Summary.Total}}</b>cases</div>
<div class="count pass"><b>{{.R.Summary.Passed}}</b>passed</div>
<div class="count fail"><b>{{.R.Summary.Failed}}</b>failed</div>
<div class="count error"><b>{{.R.Summary.Errored}}</b>errored</div>
<div class="count skipped"><b>{{.R.Summary.Skipped}}</b>skipped</div>
</div>
{{if .R.Cookies}}<h2>Signed-in cross-site requests</h2><ul class="cookies">{{range .R.Cookies}}<li>{{if .Works}}✓{{else}}✗{{end}} {{.Sentence}}</li>{{end}}</ul>
{{end}}{{if .R.Findings}}<h2>Findings</h2>{{if .R.Stack}}<p class="meta">Fixes shown for <b>{{.R.Stack}}</b>{{if .R.StackEvidence}} (detected from <code>{{.R.StackEvidence}}</code>; corscheck run --stack NAME chooses another){{end}}; the other stacks' are folded.</p>{{end}}
{{range $fi, $f := .R.Findings}}<div class="finding {{$f.Severity}}" id="finding-{{$fi}}"><b>{{$f.Severity}}</b> {{$f.Message}}{{if $f.Fix}}<br>Fix: {{$f.Fix}}{{end}}
{{with index $.FindingFix $fi}}<p><b>In {{.Title}}</b>{{if .Why}}: {{.Why}}{{end}} — the configuration: <a href="#fix-{{.Block}}">fix {{.Block}}</a></p>{{end}}
</div>{{end}}
{{if .FixBlocks}}<h2>Fixes</h2><p class="meta">Each configuration once, with the findings it fixes.</p>
{{range .FixBlocks}}<div class="fixblock" id="fix-{{.N}}"><p><b>Fix {{.N}}: {{.Title}}</b>{{if .Verified}} (verified on the real server by corscheck's tests){{else}} (unverified: written from its documentation){{end}}</p>
<p>Fixes: {{range $k, $i := .Findings}}{{if $k}}; {{end}}<a href="#finding-{{$i}}">{{index $.FindingIDs $i}}</a>{{end}}</p>
<pre>{{.Snippet}}</pre>
{{if .Others}}<details><summary>The same fix in other stacks</summary>{{range .Others}}<p><b>{{.Title}}</b>{{if .Verified}} (verified on the real server by corscheck's tests){{else}} (unverified){{end}}</p><pre>{{.Snippet}}</pre>{{end}}</details>{{end}}
</div>{{end}}{{end}}{{end}}
<details><summary>Policy</summary><pre>{{.PolicyJSON}}</pre></details>
{{if gt (len .R.Routes) 1}}<details{{if .R.Adaptive}} open{{end}}><summary>Routes ({{len .R.Routes}}){{with .R.Adaptive}}: {{.Groups}} groups, {{.RoutesProbed}} probed in full ({{.CasesProbed}} cases), {{.RoutesCovered}} covered by their group ({{.CasesCovered}} cases){{end}}</summary>
{{with .R.Adaptive}}<p class="meta">Routes that answered the fingerprint alike form a group; the full matrix ran on a representative and {{.SamplePerGroup}} sampled member(s) of each, and a group whose sampled member answered differently was probed in full. A finding on a representative covers its group's routes. <code>--exhaustive</code> probes every route.</p>{{end}}
<table><thead><tr><th>route</th>{{if .R.Adaptive}}<th>group</th><th>probed</th><th>why</th>{{end}}<th>source</th></tr></thead><tbody>
{{range .R.Routes}}<tr><td><code>{{.Path}}</code></td>{{if $.R.Adaptive}}<td>{{.Group}}</td><td>{{if eq .Probe "covered"}}covered by <code>{{.CoveredBy}}</code>{{else}}{{.Probe}}{{end}}</td><td class="meta">{{.Why}}</td>{{end}}<td>{{.Source}}</td></tr>
{{end}}</tbody></table></details>{{end}}
</header>
<main>
{{if .Large}}<h2>Cases</h2>
<p class="meta">{{len .R.Cases}} cases: the table shows {{.PageSize}} at a time, filtered in the page; click a case for its evidence. (Runs of up to {{.LargeFrom}} cases get the full matrix view.)</p>
<div class="filters">
{{template "filters" .}}<span id="shown" class="meta"></span>
<button id="prev" type="button">previous</button> <button id="next" type="button">next</button>
</div>
<table><thead><tr><th>verdict</th>{{range .Engines}}<th class="engine">{{.Title}}</th>{{end}}<th>case</th><th class="title">what happened</th></tr></thead><tbody id="rows"></tbody></table>
<div id="evidence"></div>
<script type="application/json" id="corscheck-data">{{.Data}}</script>
{{else}}<h2>Matrix</h2>
<p class="meta">Per family, origins × requests. Green passed, red failed, amber errored; hover a cell for what happened, click it for the evidence.</p>
{{range .Matrices}}<h3>{{.Family}}</h3><div class="matrix"><table><thead><tr><th></th>{{range .Cols}}<th class="col">{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr><th>{{.Origin}}</th>{{range .Cells}}{{if .ID}}<td class="m {{.Verdict}}"><a href="#d-{{.ID}}" title="{{.Verdict}}: {{.Title}}"></a></td>{{else}}<td></td>{{end}}{{end}}</tr>
{{end}}</tbody></table></div>
{{end}}
<div class="filters">
{{template "filters" .}}</div>
<h2>Cases</h2>
{{if .Engines}}<p class="meta">Each case ran in {{range $i, $e := .Engines}}{{if $i}} and {{end}}{{$e.Title}} ({{$e.Passed}} passed, {{$e.Failed}} failed, {{$e.Errored}} errored){{end}}; a case fails when it fails in any browser. <span class="bdiff">browser difference</span> marks cases where the browsers did different things with the same server answer: the browsers differ, not the server.</p>{{end}}
<table><thead><tr><th>verdict</th>{{range .Engines}}<th class="engine">{{.Title}}</th>{{end}}<th>case</th><th class="title">what happened</th></tr></thead><tbody>
{{range .R.Cases}}<tr class="case" data-verdict="{{.Verdict}}" data-family="{{.Family}}" data-origin="{{.Request.Origin}}" data-method="{{.Request.Method}}" data-credentials="{{.Request.Credentials}}" data-id="{{.ID}}"><td class="v {{.Verdict}}">{{.Verdict}}</td>{{if $.Engines}}{{if .Browsers}}{{range .Browsers}}<td class="v {{.Verdict}} engine" data-engine="{{.Engine}}">{{.Verdict}}</td>{{end}}{{else}}{{range $.Engines}}<td class="v {{$.Skipped}}"></td>{{end}}{{end}}{{end}}<td><a href="#d-{{.ID}}"><code>{{.ID}}</code></a>{{if .BrowserDifference}} <span class="bdiff" title="{{.BrowserDifference}}">browser difference</span>{{end}}</td><td class="title">{{.Message}}</td></tr>
{{end}}</tbody></table>
<h2>Evidence</h2>
{{range .R.Cases}}<details id="d-{{.ID}}"{{if or (eq .Verdict.String "fail") (eq .Verdict.String "error")}} open{{end}}>
<summary><b class="{{.Verdict}}">{{.Verdict}}</b> <code>{{.ID}}</code>: {{.Title}}</summary>
<p>{{.Message}}</p>
{{if .Fix}}<p><b>Fix:</b> {{.Fix}}</p>{{end}}
{{if .BrowserDifference}}<p class="bdiff-note"><b>Browser difference:</b> {{.BrowserDifference}}</p>{{end}}
{{range .Browsers}}<div class="engine-result"><p><b>In {{.Browser}}</b>: <b class="{{.Verdict}}">{{.Verdict}}</b> · {{.Observed.Outcome}}{{if .Observed.CorsError}} · corsError <code>{{.Observed.CorsError}}</code>{{end}}{{if .Observed.BrowserReason}} · Firefox reason <code>{{.Observed.BrowserReason}}</code>{{end}}{{if .Observed.Preflight}} · preflight {{.Observed.Preflight.Status}}{{end}}{{with .Observed.Response}} · response {{.Status}}{{end}}{{if .Repeats}} · {{len .Repeats}} repeat(s){{end}}</p><p>{{.Message}}</p>{{if .Observed.ConsoleMessage}}<pre>{{.Observed.ConsoleMessage}}</pre>{{end}}</div>{{end}}
<p>Expected <b>{{.Expected.Outcome}}</b>, {{engine .Observed.Engine}}: <b>{{.Observed.Outcome}}</b>{{if .Observed.CorsError}} · corsError <code>{{.Observed.CorsError}}</code>{{end}}{{if .Observed.FailedParameter}} · failedParameter <code>{{.Observed.FailedParameter}}</code>{{end}}{{if .Header}} · header at fault <code>{{.Header}}</code>{{end}}</p>
{{if .Observed.ConsoleMessage}}<pre>{{.Observed.ConsoleMessage}}</pre>{{end}}
{{if .Observed.Error}}<pre>{{.Observed.Error}}</pre>{{end}}
<p><b>Request</b> <code>{{.Request.Method}} {{.Request.URL}}</code> from <code>{{.Request.Origin}}</code>, credentials {{.Request.Credentials}}</p>
{{with .Observed.Preflight}}<p><b>Preflight</b> status {{.Status}}</p><pre>{{headers .RequestHeaders}}</pre><pre>{{headers .ResponseHeaders}}</pre>{{end}}
{{range .Observed.Redirects}}<p><b>Redirect</b> {{.Status}} from <code>{{.URL}}</code> (Origin sent: <code>{{.OriginSent}}</code>)</p><pre>{{headers .ResponseHeaders}}</pre>{{end}}
{{with .Observed.Response}}<p><b>Response</b> status {{.Status}}{{if .URL}} from <code>{{.URL}}</code>{{end}}</p><pre>{{headers .Headers}}</pre>{{end}}
{{if .Status}}<p class="error"><b>Not about CORS:</b> the server answered {{.Status}}{{if .Inconclusive}}; this case is inconclusive{{end}}.</p>{{end}}
{{with .Observed.Body}}{{if not .Complete}}<p><b>Body</b> {{.Bytes}} bytes{{if .Capped}}, not read further (corscheck reads at most 1 MiB of a body it does not need){{else}}, incomplete: {{.Error}}{{end}} (no effect on the CORS verdict)</p>{{end}}{{end}}
{{if .Observed.Cookies}}<p><b>Cookies</b> {{range .Observed.Cookies}}<code>{{.Name}}</code> {{if .Sent}}sent{{else}}not sent ({{range $i, $r := .Blocked}}{{if $i}}, {{end}}{{$r}}{{end}}){{end}}; {{end}}</p>{{end}}
{{range .Repeats}}<p><b>Repeat</b>: {{.Outcome}}{{if .Preflight}}, preflight sent{{else}}, no preflight{{end}}</p>{{end}}
{{with .Explanation}}{{if .Snippets}}<details><summary>Fix in your stack</summary>{{range $k, $v := .Snippets}}<p><b>{{$k}}</b></p><pre>{{$v}}</pre>{{end}}</details>{{end}}{{end}}
{{if .Spec}}<p class="meta">Fetch Standard: <a href="{{.Spec}}" rel="noreferrer">{{.Spec}}</a></p>{{end}}
</details>
{{end}}
{{end}}</main>
<script>{{.JS}}</script>
</body></html>
`

// reportFilters are the case filters, the same in both layouts; a large
// report filters by route too, and searches its data, not the page.
const reportFilters = `{{define "filters"}}<label><input type="checkbox" id="only-failures"{{if or .R.Summary.Failed .R.Summary.Errored}} checked{{end}}> failures only</label>
<label>family <select id="family"><option value="">all</option>{{range .Families}}<option>{{.}}</option>{{end}}</select></label>
<label>origin <select id="origin"><option value="">all</option>{{range .Origins}}<option>{{.}}</option>{{end}}</select></label>
<label>method <select id="method"><option value="">all</option>{{range .Methods}}<option>{{.}}</option>{{end}}</select></label>
<label>credentials <select id="credentials"><option value="">all</option><option>omit</option><option>same-origin</option><option>include</option></select></label>
{{if .Large}}<label>route <select id="route"><option value="">all</option>{{range .RouteNames}}<option>{{.}}</option>{{end}}</select></label>
<label>search <input id="q" type="search" placeholder="case, message…"></label>
{{else}}<label>search <input id="q" type="search" placeholder="origin, method, header…"></label>
{{end}}{{end}}`

// HTML renders report.html: self-contained (inline CSS and one hashed
// inline script, no external requests), every value escaped.
func (r *Results) HTML() ([]byte, error) {
	var buf bytes.Buffer
	err := r.Display().writeHTML(&buf)
	return buf.Bytes(), err
}

// LargeReportFrom is the number of cases from which report.html switches
// to its large layout: the cases as data the page renders a page at a
// time, evidence on demand, no per-case matrix. A page of 33,000 cases
// rendered in full took 40 s to open in headless Chromium.
var LargeReportFrom = 2000

// pageSize is how many case rows the large layout shows at a time.
const pageSize = 100

// writeHTML renders r as it is (already displayed) to w.
func (r *Results) writeHTML(w io.Writer) error {
	families := distinct(r.Cases, func(c CaseResult) string { return c.Family })
	origins := distinct(r.Cases, func(c CaseResult) string { return c.Request.Origin })
	methods := distinct(r.Cases, func(c CaseResult) string { return c.Request.Method })
	policy := []byte("null")
	if r.Policy != nil {
		var err error
		if policy, err = marshalIndent(r.Policy); err != nil {
			return err
		}
	}
	large := len(r.Cases) >= LargeReportFrom
	js := reportJS
	blocks, findingFix := fixBlocks(r)
	var findingIDs []string
	for _, f := range r.Findings {
		findingIDs = append(findingIDs, f.ID)
	}
	data := map[string]any{
		"R":          r,
		"CSS":        template.CSS(reportCSS),
		"Seconds":    r.DurationMs / 1000,
		"Families":   families,
		"Origins":    origins,
		"Methods":    methods,
		"PolicyJSON": string(policy),
		"Engines":    engineSummaries(r.Cases),
		"Skipped":    "skipped",
		"Large":      large,
		"FixBlocks":  blocks,
		"FindingFix": findingFix,
		"FindingIDs": findingIDs,
	}
	if large {
		js = strings.Replace(largeJS, "PAGE_SIZE", fmt.Sprint(pageSize), 1)
		data["Data"] = template.JS(dataMark)
		data["PageSize"] = pageSize
		data["LargeFrom"] = LargeReportFrom
		data["RouteNames"] = distinct(r.Cases, routeName)
	} else {
		data["Matrices"] = matrices(r.Cases)
	}
	sum := sha256.Sum256([]byte(js))
	data["JS"] = template.JS(js)
	data["ScriptHash"] = "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	if !large {
		return reportTmpl.Execute(w, data)
	}
	// The page around the cases is small; the cases are streamed into it
	// where the template left the mark.
	var page bytes.Buffer
	if err := reportTmpl.Execute(&page, data); err != nil {
		return err
	}
	before, after, ok := bytes.Cut(page.Bytes(), []byte(dataMark))
	if !ok {
		return errors.New("internal error: the report template lost the data mark")
	}
	if _, err := w.Write(before); err != nil {
		return err
	}
	if err := writeLargeData(w, r); err != nil {
		return err
	}
	_, err := w.Write(after)
	return err
}

// dataMark is where a large report's case data goes in the rendered page.
const dataMark = "CORSCHECK_CASE_DATA_MARK"

// writeLargeData streams the cases of a large report as compact JSON: a
// row per case for the table, the evidence shown when a case is opened,
// and the header blocks the evidence refers to by index (most cases share
// them). json's HTML escaping keeps a hostile header from closing the
// script element.
func writeLargeData(w io.Writer, r *Results) error {
	type exchange struct {
		Status  int    `json:"s"`
		Request int    `json:"q"`
		Headers int    `json:"h"`
		URL     string `json:"u,omitempty"`
	}
	type browser struct {
		Engine, Browser, Verdict, Message, CorsError, Reason string
	}
	type evidence struct {
		Message, Fix, Header, Expected, Outcome, CorsError, Param, Console, Error, Request, Credentials, Title, Spec string
		Preflight, Response                                                                                          *exchange
		Redirects, Repeats, Status                                                                                   int
		Inconclusive                                                                                                 bool
		Browsers                                                                                                     []browser
		Difference, Reason                                                                                           string
	}
	var blocks []string
	index := map[string]int{}
	block := func(h map[string]string) int {
		b := sortedHeaders(h)
		if i, ok := index[b]; ok {
			return i
		}
		index[b] = len(blocks)
		blocks = append(blocks, b)
		return len(blocks) - 1
	}
	var engines []string
	for _, e := range engineSummaries(r.Cases) {
		engines = append(engines, e.Engine)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	list := func(key string, n int, item func(i int) any) error {
		fmt.Fprintf(bw, ",%q:[", key)
		for i := range n {
			if i > 0 {
				bw.WriteByte(',')
			}
			if err := enc.Encode(item(i)); err != nil {
				return err
			}
		}
		_, err := bw.WriteString("]")
		return err
	}
	bw.WriteString(`{"engines":`)
	if err := enc.Encode(engines); err != nil {
		return err
	}
	if err := list("c", len(r.Cases), func(i int) any {
		c := &r.Cases[i]
		var ev []string
		for _, b := range c.Browsers {
			ev = append(ev, b.Verdict.String())
		}
		diff := 0
		if c.BrowserDifference != "" {
			diff = 1
		}
		return []any{c.ID, c.Family, c.Verdict.String(), c.Request.Origin, c.Request.Method, string(c.Request.Credentials), routeName(*c), c.Message, ev, diff}
	}); err != nil {
		return err
	}
	if err := list("e", len(r.Cases), func(i int) any {
		c := &r.Cases[i]
		o := c.Observed
		e := evidence{Message: c.Message, Fix: c.Fix, Header: c.Header, Expected: c.Expected.Outcome.String(), Outcome: o.Outcome.String(),
			CorsError: string(o.CorsError), Param: o.FailedParameter, Console: o.ConsoleMessage, Error: o.Error, Reason: o.BrowserReason,
			Request: c.Request.Method + " " + c.Request.URL + " from " + c.Request.Origin, Credentials: string(c.Request.Credentials),
			Title: c.Title, Spec: c.Spec, Redirects: len(o.Redirects), Repeats: len(c.Repeats), Status: c.Status, Inconclusive: c.Inconclusive,
			Difference: c.BrowserDifference}
		if p := o.Preflight; p != nil {
			e.Preflight = &exchange{Status: p.Status, Request: block(p.RequestHeaders), Headers: block(p.ResponseHeaders)}
		}
		if rs := o.Response; rs != nil {
			e.Response = &exchange{Status: rs.Status, Request: block(rs.RequestHeaders), Headers: block(rs.Headers), URL: rs.URL}
		}
		for _, b := range c.Browsers {
			e.Browsers = append(e.Browsers, browser{b.Engine, b.Browser, b.Verdict.String(), b.Message, string(b.Observed.CorsError), b.Observed.BrowserReason})
		}
		return e
	}); err != nil {
		return err
	}
	if err := list("h", len(blocks), func(i int) any { return blocks[i] }); err != nil {
		return err
	}
	bw.WriteString("}")
	return bw.Flush()
}

// engineSummary counts one browser's verdicts when several ran the cases.
type engineSummary struct {
	Engine, Title           string
	Passed, Failed, Errored int
}

func engineSummaries(cases []CaseResult) []engineSummary {
	var out []engineSummary
	idx := map[string]int{}
	for _, c := range cases {
		for _, b := range c.Browsers {
			i, ok := idx[b.Engine]
			if !ok {
				i = len(out)
				idx[b.Engine] = i
				out = append(out, engineSummary{Engine: b.Engine, Title: scenarios.EngineTitle(b.Engine)})
			}
			switch b.Verdict {
			case scenarios.Pass:
				out[i].Passed++
			case scenarios.Fail:
				out[i].Failed++
			case scenarios.Error:
				out[i].Errored++
			}
		}
	}
	return out
}

// distinct returns the distinct non-empty keys of the cases, in order of
// first appearance.
func distinct(cases []CaseResult, key func(CaseResult) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cases {
		if k := key(c); k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// matrixCell is one case in a family's origins × requests grid.
type matrixCell struct {
	ID, Title, Verdict string
}

type matrixRow struct {
	Origin string
	Cells  []matrixCell
}

type familyMatrix struct {
	Family string
	Cols   []string
	Rows   []matrixRow
}

// matrices lays each family out as origins × requests: the column is the
// case ID without its origin part (e.g. preflight.method.put.include).
func matrices(cases []CaseResult) []familyMatrix {
	var out []familyMatrix
	for _, fam := range distinct(cases, func(c CaseResult) string { return c.Family }) {
		m := familyMatrix{Family: fam}
		colIdx, rowIdx := map[string]int{}, map[string]int{}
		for _, c := range cases {
			if c.Family != fam {
				continue
			}
			col := strings.TrimSuffix(c.ID, "."+scenarios.Slug(c.Request.Origin))
			if _, ok := colIdx[col]; !ok {
				colIdx[col] = len(m.Cols)
				m.Cols = append(m.Cols, col)
			}
			if _, ok := rowIdx[c.Request.Origin]; !ok {
				rowIdx[c.Request.Origin] = len(m.Rows)
				m.Rows = append(m.Rows, matrixRow{Origin: c.Request.Origin})
			}
		}
		for i := range m.Rows {
			m.Rows[i].Cells = make([]matrixCell, len(m.Cols))
		}
		for _, c := range cases {
			if c.Family != fam {
				continue
			}
			col := colIdx[strings.TrimSuffix(c.ID, "."+scenarios.Slug(c.Request.Origin))]
			title := c.Message
			if r := reasonOf(c); r != "" {
				title += " [" + r + "]"
			}
			m.Rows[rowIdx[c.Request.Origin]].Cells[col] = matrixCell{ID: c.ID, Title: title, Verdict: c.Verdict.String()}
		}
		out = append(out, m)
	}
	return out
}

func sortedHeaders(h map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range strings.Split(h[k], "\n") {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return b.String()
}

func marshalIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// fixBlock is one configuration in the report's Fixes section: shown once,
// with the findings it fixes (the same snippet often fixes several).
type fixBlock struct {
	N               int
	Title, Snippet  string
	Verified        bool
	Findings        []int
	Others          []diagnosis.StackFix
	stack, snippetK string
}

// findingFix is a finding's pointer to its block, with the stack's words
// for that finding.
type findingFix struct {
	Title, Why string
	Block      int
}

// fixBlocks groups the findings by the snippet their stack's fix shows.
func fixBlocks(r *Results) ([]*fixBlock, []*findingFix) {
	var blocks []*fixBlock
	byKey := map[string]*fixBlock{}
	refs := make([]*findingFix, len(r.Findings))
	for i, f := range r.Findings {
		stack := f.Stack
		if stack == "" {
			stack = r.Stack
		}
		var main *diagnosis.StackFix
		var others []diagnosis.StackFix
		for k := range f.Fixes {
			if main == nil && (f.Fixes[k].Stack == stack || stack == "") {
				main = &f.Fixes[k]
				continue
			}
			others = append(others, f.Fixes[k])
		}
		if main == nil {
			continue
		}
		key := main.Stack + "\x00" + main.Snippet
		b := byKey[key]
		if b == nil {
			b = &fixBlock{N: len(blocks) + 1, Title: main.Title, Snippet: main.Snippet, Verified: main.Verified, Others: others}
			byKey[key] = b
			blocks = append(blocks, b)
		}
		b.Findings = append(b.Findings, i)
		refs[i] = &findingFix{Title: main.Title, Why: main.Why, Block: b.N}
	}
	return blocks, refs
}
