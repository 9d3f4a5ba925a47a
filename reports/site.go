package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
)

// The compatibility site: every stack configuration judged in every
// engine, as static pages (no script, no external asset) with the data
// behind each page as JSON beside it.

// Kinds of site rows.
const (
	KindRecommended      = "recommended"
	KindDefault          = "default"
	KindMisconfiguration = "misconfiguration"
)

// SiteColumn is a feature family of the grid.
type SiteColumn struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// SiteColumns are the grid's feature families, in order.
var SiteColumns = []SiteColumn{
	{"simple", "simple"}, {"preflight", "preflight"}, {"credentials", "credentials"}, {"expose", "exposed headers"},
	{"cache", "preflight cache"}, {"errors", "error statuses"}, {"hostile", "hostile origins"},
}

// Site is the whole site's data (site.json).
type Site struct {
	// Corscheck is corscheck's version; Built is the build time (the only
	// field that changes when nothing else did).
	Corscheck string `json:"corscheck"`
	Built     string `json:"built"`
	// Policy is the reference policy every configuration is judged against.
	Policy string `json:"policy"`
	// ProofTest names the test that proves the fixes on every build of corscheck.
	ProofTest   string           `json:"proofTest"`
	Engines     []SiteEngine     `json:"engines"`
	Stacks      []SiteStack      `json:"stacks"`
	Columns     []SiteColumn     `json:"columns"`
	Rows        []SiteRow        `json:"rows"`
	Differences []SiteDifference `json:"differences,omitempty"`
}

// SiteEngine is a browser engine and the version that ran.
type SiteEngine struct {
	Engine  string `json:"engine"`
	Title   string `json:"title"`
	Version string `json:"version"`
}

// SiteStack is a stack and the versions of its server and middleware.
type SiteStack struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Version string `json:"version,omitempty"`
}

// SiteSlot is one place of a stack's configuration and the lines in it.
type SiteSlot struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// SiteRow is one stack configuration.
type SiteRow struct {
	ID         string `json:"id"`
	Stack      string `json:"stack"`
	StackTitle string `json:"stackTitle"`
	Config     string `json:"config"`
	// Kind is recommended, default or misconfiguration; Default says
	// which default (out of the box, with credentials).
	Kind    string     `json:"kind"`
	Default string     `json:"default,omitempty"`
	Source  string     `json:"source"`
	Slots   []SiteSlot `json:"slots"`
	// Expected are the findings a misconfiguration is known to have.
	Expected []string `json:"expected,omitempty"`
	// Status says whether the row behaved as known, in words.
	Status   string            `json:"status"`
	Total    int               `json:"total"`
	Cells    []SiteEngineCells `json:"cells"`
	Findings []SiteFinding     `json:"findings,omitempty"`
	// Cases are the cases that failed, errored or differed between engines.
	Cases []SiteCase `json:"cases,omitempty"`
}

// Verified reports whether the row behaved exactly as known.
func (r SiteRow) Verified() bool { return strings.HasPrefix(r.Status, "verified") }

// Unexpected reports whether the row did not behave as known (a row with
// nothing known to compare with is observed, not unexpected).
func (r SiteRow) Unexpected() bool { return strings.HasPrefix(r.Status, "NOT verified") }

// StatusSymbol reads without colour: ✓ verified, ○ observed, ✗ not as known.
func (r SiteRow) StatusSymbol() string {
	switch {
	case r.Verified():
		return "✓"
	case r.Unexpected():
		return "✗"
	}
	return "○"
}

// SiteEngineCells are one engine's cells of a row, in column order.
type SiteEngineCells struct {
	Engine string     `json:"engine"`
	Cells  []SiteCell `json:"cells"`
}

// SiteCell counts a row's cases of one family in one engine.
type SiteCell struct {
	Column  string `json:"column"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Errored int    `json:"errored"`
	// Skipped counts cases that could not be checked on this route.
	Skipped int `json:"skipped,omitempty"`
	// Differs counts cases where the engines did different things with
	// the same server answer.
	Differs int `json:"differs"`
}

// State is the cell's word: fail, error, differs, pass, or none.
func (c SiteCell) State() string {
	switch {
	case c.Failed > 0:
		return "fail"
	case c.Errored > 0:
		return "error"
	case c.Differs > 0:
		return "differs"
	case c.Passed > 0:
		return "pass"
	}
	return "none"
}

// Symbol is the cell's symbol, so it reads without colour.
func (c SiteCell) Symbol() string {
	return map[string]string{"fail": "✗", "error": "!", "differs": "≠", "pass": "✓", "none": "–"}[c.State()]
}

// Label is the cell's words, e.g. "fail 3 of 12".
func (c SiteCell) Label() string {
	n := c.Passed + c.Failed + c.Errored
	switch c.State() {
	case "fail":
		return fmt.Sprintf("fail %d/%d", c.Failed, n)
	case "error":
		return fmt.Sprintf("error %d/%d", c.Errored, n)
	case "differs":
		return fmt.Sprintf("differs %d/%d", c.Differs, n)
	case "pass":
		if c.Skipped > 0 {
			return fmt.Sprintf("pass %d (%d n/a)", n, c.Skipped)
		}
		return fmt.Sprintf("pass %d", n)
	}
	return "no cases"
}

// SiteFinding is a finding of a row, with its fix in the row's stack.
type SiteFinding struct {
	ID       string   `json:"id"`
	Severity string   `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
	StackFix *SiteFix `json:"stackFix,omitempty"`
	// Proof says whether this build applied the fix and saw the finding go.
	Proof   string   `json:"proof,omitempty"`
	Engines []string `json:"engines"`
}

// SiteFix is a fix in one stack's terms.
type SiteFix struct {
	Title    string `json:"title"`
	Why      string `json:"why,omitempty"`
	Where    string `json:"where,omitempty"`
	Snippet  string `json:"snippet"`
	Verified bool   `json:"verified"`
}

// SiteCase is one case's evidence: the request and each engine's result.
type SiteCase struct {
	ID         string             `json:"id"`
	Column     string             `json:"column"`
	Title      string             `json:"title"`
	Spec       string             `json:"spec,omitempty"`
	Request    string             `json:"request"`
	Verdict    string             `json:"verdict"`
	Difference string             `json:"difference,omitempty"`
	Engines    []SiteEngineResult `json:"engines"`
}

// SiteEngineResult is what one engine did with a case.
type SiteEngineResult struct {
	Engine  string `json:"engine"`
	Verdict string `json:"verdict"`
	Outcome string `json:"outcome,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message"`
}

// SiteDifference is a behaviour where the engines disagree on the same
// server answer, with every case that showed it.
type SiteDifference struct {
	ID    string         `json:"id"`
	Text  string         `json:"text"`
	Specs []string       `json:"specs,omitempty"`
	Cases []SiteDiffCase `json:"cases"`
}

// SiteDiffCase is a case of a difference, in its row.
type SiteDiffCase struct {
	Row  string   `json:"row"`
	Case SiteCase `json:"case"`
}

// WriteSite writes the site into dir: index.html (the grid),
// defaults.html, a page per stack under stacks/, a page per engine
// difference under differences/, each with its JSON beside it, and
// site.json. Pages depend on nothing but the data: the same data gives
// the same bytes.
func WriteSite(dir string, s *Site) error {
	for _, sub := range []string{"", "stacks", "differences"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	v := siteView{Site: s}
	write := func(name, tmpl string, data any, jsonData any) error {
		var b bytes.Buffer
		if err := siteTemplates.ExecuteTemplate(&b, tmpl, data); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
		js, err := json.MarshalIndent(jsonData, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, ".html")+".json"), append(js, '\n'), 0o644)
	}
	if err := write("index.html", "index", pageData{V: v, Root: "", Title: "CORS compatibility"}, s); err != nil {
		return err
	}
	if err := write("defaults.html", "defaults", pageData{V: v, Root: "", Title: "CORS middlewares out of the box"}, v.DefaultRows()); err != nil {
		return err
	}
	for _, st := range s.Stacks {
		rows := v.RowsOf(st.Name)
		if err := write("stacks/"+st.Name+".html", "stack", pageData{V: v, Root: "../", Title: st.Title, Stack: st, Rows: rows}, struct {
			Stack SiteStack `json:"stack"`
			Rows  []SiteRow `json:"rows"`
		}{st, rows}); err != nil {
			return err
		}
	}
	for _, d := range s.Differences {
		if err := write("differences/"+d.ID+".html", "difference", pageData{V: v, Root: "../", Title: "Browser difference", Diff: d}, d); err != nil {
			return err
		}
	}
	return nil
}

// siteView adds lookups for the templates.
type siteView struct{ *Site }

// RowsOf are a stack's rows.
func (v siteView) RowsOf(stack string) []SiteRow {
	var out []SiteRow
	for _, r := range v.Rows {
		if r.Stack == stack {
			out = append(out, r)
		}
	}
	return out
}

// DefaultRows are the rows that stand for a middleware's defaults.
func (v siteView) DefaultRows() []SiteRow {
	var out []SiteRow
	for _, r := range v.Rows {
		if r.Kind == KindDefault {
			out = append(out, r)
		}
	}
	return out
}

// EngineTitle is an engine's title as the site shows it.
func (v siteView) EngineTitle(engine string) string {
	for _, e := range v.Engines {
		if e.Engine == engine {
			return e.Title
		}
	}
	return engine
}

// ColumnTitle is a column's title.
func (v siteView) ColumnTitle(id string) string {
	for _, c := range v.Columns {
		if c.ID == id {
			return c.Title
		}
	}
	return id
}

// DiffOf is the difference page of a difference text.
func (v siteView) DiffOf(text string) string {
	for _, d := range v.Differences {
		if d.Text == text {
			return d.ID
		}
	}
	return ""
}

type pageData struct {
	V     siteView
	Root  string
	Title string
	Stack SiteStack
	Rows  []SiteRow
	Diff  SiteDifference
}

// Verdicts of a row's default: whether hostile origins are refused in
// every engine, and whether credentialed requests from the allowed
// origin work.
func (r SiteRow) column(id string) (failed, errored, differs, total int) {
	for _, ec := range r.Cells {
		for _, c := range ec.Cells {
			if c.Column == id {
				failed += c.Failed
				errored += c.Errored
				differs += c.Differs
				total += c.Passed + c.Failed + c.Errored
			}
		}
	}
	return
}

// SafeAnswer answers "is it safe out of the box?" for the defaults view.
func (r SiteRow) SafeAnswer() string {
	failed, _, _, total := r.column("hostile")
	if total == 0 {
		return "not tested"
	}
	if failed == 0 {
		return "✓ yes: every hostile origin is refused in every engine"
	}
	return fmt.Sprintf("✗ no: %d hostile-origin checks fail (another site can read answers)", failed)
}

// CredentialsAnswer answers "what breaks with credentials?".
func (r SiteRow) CredentialsAnswer() string {
	failed, errored, _, total := r.column("credentials")
	if total == 0 {
		return "not tested"
	}
	if failed+errored == 0 {
		return "✓ credentialed requests from the allowed origin work in every engine"
	}
	return fmt.Sprintf("✗ %d of %d credentialed checks fail", failed+errored, total)
}

// ColumnCell is one engine's cell of a column.
func (r SiteRow) ColumnCell(engine, column string) SiteCell {
	for _, ec := range r.Cells {
		if ec.Engine == engine {
			for _, c := range ec.Cells {
				if c.Column == column {
					return c
				}
			}
		}
	}
	return SiteCell{Column: column}
}

var siteTemplates = template.Must(template.New("site").Funcs(template.FuncMap{
	"rowData": func(p pageData, r SiteRow) rowView { return rowView{pageData: p, R: r} },
	// stackOf is a row ID's stack (IDs are STACK--CONFIG).
	"stackOf": func(rowID string) string { st, _, _ := strings.Cut(rowID, "--"); return st },
}).Parse(siteTemplateText))

const siteTemplateText = `{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · corscheck</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1f24;background:#fff}
header,main,footer{max-width:1360px;margin:0 auto;padding:0 16px}
header{border-bottom:1px solid #d0d7de;padding-bottom:8px}
nav a{margin-right:14px}
a{color:#0550ae}
h1{font-size:1.5em;margin:.6em 0 .2em}
h2{font-size:1.2em;margin:1.4em 0 .4em}
.meta{color:#57606a;font-size:.9em}
pre,code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:8px;white-space:pre-wrap;overflow-wrap:anywhere}
code{overflow-wrap:anywhere}
main p,main li,main h2,main h3{overflow-wrap:anywhere}
table.grid{border-collapse:collapse;width:100%;font-size:13px}
table.grid th,table.grid td{border:1px solid #d0d7de;padding:3px 4px;text-align:left;vertical-align:top}
table.grid thead th{background:#f6f8fa;position:sticky;top:0}
td.c{white-space:nowrap}
td.c a{text-decoration:none;color:inherit;display:block}
.pass{background:#dafbe1}.fail{background:#ffebe9}.error{background:#fff8c5}.differs{background:#ddf4ff}.none{background:#fff}
.kind{font-size:.85em;color:#57606a}
.status{font-size:.85em}
.finding{border-left:4px solid #cf222e;padding:2px 10px;margin:10px 0}
.legend span{margin-right:14px}
.card{border:1px solid #d0d7de;padding:6px 12px;margin:10px 0}
@media (max-width:720px){
 table.grid,table.grid thead,table.grid tbody,table.grid tr,table.grid th,table.grid td{display:block;width:auto}
 table.grid thead{display:none}
 table.grid tr{border:1px solid #d0d7de;margin:0 0 12px;padding:4px}
 table.grid td{border:none;border-bottom:1px solid #eaeef2}
 table.grid td.c{white-space:normal}
 table.grid td[data-label]::before{content:attr(data-label) ": ";font-weight:600}
}
</style></head><body>
<header><h1>{{.Title}}</h1>
<nav><a href="{{.Root}}index.html">Grid</a><a href="{{.Root}}defaults.html">Defaults</a>{{if .V.Differences}}<a href="{{.Root}}index.html#differences">Browser differences</a>{{end}}</nav>
<p class="meta">corscheck {{.V.Corscheck}} · built {{.V.Built}} · {{range $i, $e := .V.Engines}}{{if $i}}, {{end}}{{$e.Title}} ({{$e.Version}}){{end}}</p>
</header><main>{{end}}
{{define "foot"}}</main><footer><p class="meta">Every verdict comes from a real browser against the real server on loopback. Data: the JSON file beside this page.</p></footer></body></html>
{{end}}
{{define "legend"}}<p class="legend"><span>✓ pass</span><span>✗ fail</span><span>≠ the engines differ on the same server answer</span><span>! error</span><span>– no cases</span></p>{{end}}
{{define "gridhead"}}<thead><tr><th rowspan="2">configuration</th>{{range .V.Engines}}<th colspan="{{len $.V.Columns}}">{{.Title}}</th>{{end}}</tr>
<tr>{{range .V.Engines}}{{range $.V.Columns}}<th>{{.Title}}</th>{{end}}{{end}}</tr></thead>{{end}}
{{define "gridrow"}}{{$r := .R}}{{$v := .V}}<tr id="{{$r.ID}}"><th data-label="configuration" scope="row"><a href="{{.Root}}stacks/{{$r.Stack}}.html#{{$r.ID}}">{{$r.StackTitle}}: {{$r.Config}}</a><br><span class="kind">{{$r.Kind}}{{if $r.Default}} ({{$r.Default}}){{end}}</span><br><span class="status">{{$r.StatusSymbol}} {{$r.Status}}</span></th>
{{range $v.Engines}}{{$e := .}}{{range $v.Columns}}{{$c := $r.ColumnCell $e.Engine .ID}}<td class="c {{$c.State}}" data-label="{{$e.Title}}, {{.Title}}"><a href="{{$.Root}}stacks/{{$r.Stack}}.html#{{$r.ID}}-{{.ID}}">{{$c.Symbol}} {{$c.Label}}</a></td>{{end}}{{end}}</tr>
{{end}}
{{define "index"}}{{template "head" .}}
<p>What each CORS middleware and server does — as recommended for one reference policy, as its documentation starts you, and as it is commonly misconfigured — judged by each real browser engine. Rows are stack × configuration; columns are feature families per engine. Each cell says what happened in words and symbols; it links to the evidence.</p>
{{template "legend"}}
<table class="grid">{{template "gridhead" .}}<tbody>
{{range .V.Rows}}{{template "gridrow" (rowData $ .)}}{{end}}</tbody></table>
<h2>Stacks</h2><ul>{{range .V.Stacks}}<li><a href="stacks/{{.Name}}.html">{{.Title}}</a>{{if .Version}} <span class="meta">({{.Version}})</span>{{end}}</li>{{end}}</ul>
{{if .V.Differences}}<h2 id="differences">Browser differences</h2><p>Behaviours where the engines did different things with the same server answer: the browsers differ, not the server.</p><ul>{{range .V.Differences}}<li><a href="differences/{{.ID}}.html">{{.Text}}</a> ({{len .Cases}} cases)</li>{{end}}</ul>{{end}}
<h2>The reference policy</h2><pre>{{.V.Policy}}</pre>
{{template "foot" .}}{{end}}
{{define "defaults"}}{{template "head" .}}
<p>Is the middleware safe as its documentation starts you, and what breaks with credentials? Each answer is from real browsers against the real server, judged against the reference policy.</p>
{{range .V.DefaultRows}}<div class="card" id="{{.ID}}"><h2><a href="stacks/{{.Stack}}.html#{{.ID}}">{{.StackTitle}}: {{.Config}}</a> <span class="kind">({{.Default}})</span></h2>
<p>{{.Source}}</p>
<p><b>Safe out of the box?</b> {{.SafeAnswer}}</p>
<p><b>With credentials?</b> {{.CredentialsAnswer}}</p>
{{if .Findings}}<ul>{{range .Findings}}<li><b>{{.Severity}}</b> {{.Message}}</li>{{end}}</ul>{{end}}</div>{{end}}
{{template "foot" .}}{{end}}
{{define "stack"}}{{template "head" .}}
{{if .Stack.Version}}<p class="meta">Tested with {{.Stack.Version}}.</p>{{end}}
{{template "legend"}}
<table class="grid">{{template "gridhead" .}}<tbody>{{range .Rows}}{{template "gridrow" (rowData $ .)}}{{end}}</tbody></table>
{{range .Rows}}{{$r := .}}<section><h2 id="{{.ID}}-detail">{{.Config}} <span class="kind">{{.Kind}}{{if .Default}} ({{.Default}}){{end}}</span></h2>
<p>{{.Source}}</p><p class="status">{{.StatusSymbol}} {{.Status}} · {{.Total}} cases per engine</p>
<h3>The configuration tested</h3>{{if .Slots}}{{range .Slots}}<p class="meta">In the <code>{{.Name}}</code> place of the {{$r.StackTitle}} configuration:</p><pre>{{.Text}}</pre>{{end}}{{else}}<p>No CORS configuration at all.</p>{{end}}
{{if .Findings}}<h3>Findings and their proven fixes</h3>{{range .Findings}}<div class="finding"><p><b>{{.Severity}}</b> {{.Message}} <span class="meta">(seen in {{range $i, $e := .Engines}}{{if $i}}, {{end}}{{$.V.EngineTitle $e}}{{end}})</span></p>
{{with .StackFix}}<p><b>Fix in {{.Title}}</b>{{if .Why}}: {{.Why}}{{end}}{{if .Where}} ({{.Where}}){{end}}</p><pre>{{.Snippet}}</pre>{{else}}{{if .Fix}}<p>Fix: {{.Fix}}</p>{{end}}{{end}}
<p class="meta">{{if .Proof}}{{.Proof}}; {{end}}proven on every build of corscheck by <a href="#proof-test">the stack fixtures test</a>.</p></div>{{end}}{{end}}
{{range $.V.Columns}}{{$col := .}}<h3 id="{{$r.ID}}-{{.ID}}">{{.Title}}</h3>{{$n := 0}}<ul>{{range $r.Cases}}{{if eq .Column $col.ID}}<li id="{{$r.ID}}--{{.ID}}"><code>{{.ID}}</code> {{.Verdict}}: {{.Request}}{{if .Spec}} <span class="meta">({{.Spec}})</span>{{end}}{{if .Difference}}<br>≠ <a href="../differences/{{$.V.DiffOf .Difference}}.html">{{.Difference}}</a>{{end}}<ul>{{range .Engines}}<li>{{$.V.EngineTitle .Engine}}: {{.Verdict}}{{if .Outcome}} ({{.Outcome}}{{if .Reason}}: {{.Reason}}{{end}}){{end}} — {{.Message}}</li>{{end}}</ul></li>{{end}}{{end}}</ul>
{{end}}</section>{{end}}
<h2 id="proof-test">How the fixes are proven</h2><p>{{.V.ProofTest}}: every misconfiguration's findings must be exactly its known ones, and each finding's snippet, put in its place on the real server, must make the finding disappear without breaking anything new.</p>
{{template "foot" .}}{{end}}
{{define "difference"}}{{template "head" .}}
<p><b>{{.Diff.Text}}</b></p>{{if .Diff.Specs}}<p class="meta">Spec: {{range $i, $s := .Diff.Specs}}{{if $i}}; {{end}}{{$s}}{{end}}</p>{{end}}
<ul>{{range .Diff.Cases}}<li><a href="../stacks/{{stackOf .Row}}.html#{{.Row}}--{{.Case.ID}}">{{.Row}}</a>: <code>{{.Case.ID}}</code> {{.Case.Request}}<ul>{{range .Case.Engines}}<li>{{$.V.EngineTitle .Engine}}: {{.Verdict}}{{if .Outcome}} ({{.Outcome}}{{if .Reason}}: {{.Reason}}{{end}}){{end}}</li>{{end}}</ul></li>{{end}}</ul>
{{template "foot" .}}{{end}}
`

type rowView struct {
	pageData
	R SiteRow
}
