package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"sort"

	"github.com/corscheck/corscheck/scenarios"
)

// CompatSchema identifies compat.json.
const CompatSchema = "corscheck.compat/v1"

// Implementation is one column of the compatibility matrix.
type Implementation struct {
	Name    string  `json:"name"`
	Target  string  `json:"target"`
	Browser string  `json:"browser"`
	Summary Summary `json:"summary"`
	// Results and Report are paths relative to compat.json.
	Results string `json:"results"`
	Report  string `json:"report"`
	// Unreachable is why this implementation has no verdicts (its target
	// was down, its browser did not start): the column stays, marked.
	Unreachable string `json:"unreachable,omitempty"`
}

// Cell is one implementation's verdict on one case.
type Cell struct {
	Verdict scenarios.Verdict `json:"verdict"`
	Reason  string            `json:"reason,omitempty"`
	Message string            `json:"message"`
	// Link points at the case's evidence in that implementation's report.
	Link string `json:"link"`
}

// CompatRow is one case across implementations.
type CompatRow struct {
	ID      string          `json:"id"`
	Family  string          `json:"family"`
	Title   string          `json:"title"`
	Differs bool            `json:"differs"`
	Cells   map[string]Cell `json:"cells"`
}

// Compat is the compatibility matrix: cases × implementations.
type Compat struct {
	Schema          string            `json:"schema"`
	Policy          *scenarios.Policy `json:"policy"`
	Implementations []Implementation  `json:"implementations"`
	Rows            []CompatRow       `json:"cases"`
}

// NewCompat builds the matrix from one results document per implementation
// (names[i] ran results[i]); the per-implementation files live in NAME/.
func NewCompat(names []string, results []*Results) *Compat {
	c := &Compat{Schema: CompatSchema}
	rows := map[string]*CompatRow{}
	var order []string
	put := func(cr CaseResult, name, col string, cell Cell) {
		row := rows[cr.ID]
		if row == nil {
			row = &CompatRow{ID: cr.ID, Family: cr.Family, Title: cr.Title, Cells: map[string]Cell{}}
			rows[cr.ID] = row
			order = append(order, cr.ID)
		}
		cell.Link = name + "/report.html#d-" + cr.ID
		row.Cells[col] = cell
	}
	for i, r := range results {
		name := names[i]
		if r == nil {
			c.Implementations = append(c.Implementations, Implementation{Name: name, Unreachable: "no results"})
			continue
		}
		if c.Policy == nil {
			c.Policy = r.Policy
		}
		files := Implementation{Target: r.Target, Results: name + "/results.json", Report: name + "/report.html"}
		engines := resultEngines(r)
		if len(engines) < 2 {
			im := files
			im.Name, im.Browser, im.Summary = name, r.Browser, r.Summary
			c.Implementations = append(c.Implementations, im)
			for _, cr := range r.Cases {
				put(cr, name, name, Cell{Verdict: cr.Verdict, Reason: reasonOf(cr), Message: cr.Message})
			}
			continue
		}
		// Browsers × targets: a column per browser of this target.
		for _, e := range engines {
			im := files
			im.Name, im.Browser, im.Summary = name+"/"+e.engine, e.version, e.summary
			c.Implementations = append(c.Implementations, im)
		}
		for _, cr := range r.Cases {
			for _, b := range cr.Browsers {
				msg := b.Message
				if cr.BrowserDifference != "" {
					msg += " [browser difference: " + cr.BrowserDifference + "]"
				}
				put(cr, name, name+"/"+b.Engine, Cell{Verdict: b.Verdict, Reason: reasonOf(CaseResult{Verdict: b.Verdict, Observed: b.Observed}), Message: msg})
			}
		}
	}
	// A row differs when the columns that ran disagree, or one has no cell.
	for _, id := range order {
		row := rows[id]
		var verdicts []scenarios.Verdict
		for _, im := range c.Implementations {
			if im.Unreachable == "" {
				verdicts = append(verdicts, row.Cells[im.Name].Verdict)
			}
		}
		for _, v := range verdicts {
			row.Differs = row.Differs || v != verdicts[0]
		}
		row.Differs = row.Differs || len(row.Cells) != len(verdicts)
		c.Rows = append(c.Rows, *row)
	}
	sort.SliceStable(c.Rows, func(i, j int) bool {
		return familyThenID(c.Rows[i].Family, c.Rows[i].ID, c.Rows[j].Family, c.Rows[j].ID)
	})
	return c
}

type engineColumn struct {
	engine, version string
	summary         Summary
}

// resultEngines lists the browsers a run's cases ran in (--browser all),
// with each one's counts.
func resultEngines(r *Results) []engineColumn {
	var out []engineColumn
	idx := map[string]int{}
	for _, c := range r.Cases {
		for _, b := range c.Browsers {
			i, ok := idx[b.Engine]
			if !ok {
				i = len(out)
				idx[b.Engine] = i
				out = append(out, engineColumn{engine: b.Engine, version: b.Browser})
			}
			s := &out[i].summary
			s.Total++
			switch b.Verdict {
			case scenarios.Pass:
				s.Passed++
			case scenarios.Fail:
				s.Failed++
			case scenarios.Error:
				s.Errored++
			case scenarios.Skipped:
				s.Skipped++
			}
		}
	}
	return out
}

// SetUnreachable records why an implementation has no results (its column
// is shown, marked unreachable, with the reason).
func (c *Compat) SetUnreachable(name, target, reason string) {
	for i := range c.Implementations {
		if c.Implementations[i].Name == name {
			c.Implementations[i].Target, c.Implementations[i].Unreachable = target, reason
			c.Implementations[i].Results, c.Implementations[i].Report = "", ""
		}
	}
}

// Unreachable counts the implementations without results.
func (c *Compat) Unreachable() int {
	n := 0
	for _, im := range c.Implementations {
		if im.Unreachable != "" {
			n++
		}
	}
	return n
}

// JSON renders compat.json.
func (c *Compat) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	return append(b, '\n'), err
}

const compatJS = `
(function () {
  var diff = document.getElementById("only-diff");
  function apply() {
    document.querySelectorAll("tr.row").forEach(function (tr) {
      tr.hidden = diff.checked && tr.dataset.differs !== "true";
    });
  }
  diff.addEventListener("input", apply);
  apply();
})();
`

var compatTmpl = template.Must(template.New("compat").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src '{{.ScriptHash}}'">
<title>corscheck compatibility matrix</title><style>{{.CSS}}
td.cell{text-align:center;white-space:nowrap;font-size:12px;padding:2px 4px;width:1%}td.cell a{text-decoration:none;font-weight:600;color:inherit}
td.cell.pass{background:#dafbe1}td.cell.fail{background:#ffebe9}td.cell.error{background:#fff8c5}td.cell.skipped{background:#f6f8fa}
th.impl{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}</style></head><body><header>
<h1>corscheck compatibility matrix</h1>
<div class="meta">{{len .C.Rows}} cases × {{len .C.Implementations}} implementations, one policy. Each cell links to its evidence.</div>
<table><thead><tr><th>implementation</th><th>target</th><th>passed</th><th>failed</th><th>errored</th></tr></thead><tbody>
{{range .C.Implementations}}{{if .Unreachable}}<tr><td>{{.Name}}</td><td><code>{{.Target}}</code></td><td class="error" colspan="3">unreachable: {{.Unreachable}}</td></tr>{{else}}<tr><td><a href="{{.Report}}">{{.Name}}</a></td><td><code>{{.Target}}</code></td><td class="pass">{{.Summary.Passed}}</td><td class="fail">{{.Summary.Failed}}</td><td class="error">{{.Summary.Errored}}</td></tr>{{end}}
{{end}}</tbody></table>
<details><summary>Policy</summary><pre>{{.PolicyJSON}}</pre></details>
</header><main>
<div class="filters"><label><input type="checkbox" id="only-diff" checked> only cases where implementations differ ({{.Differing}})</label></div>
<table><thead><tr><th>case</th>{{range .C.Implementations}}<th class="impl">{{.Name}}</th>{{end}}</tr></thead><tbody>
{{range $row := .C.Rows}}<tr class="row" data-differs="{{$row.Differs}}"><td><code>{{$row.ID}}</code></td>{{range $.C.Implementations}}{{$cell := index $row.Cells .Name}}{{if .Unreachable}}<td class="cell error" title="{{.Unreachable}}">unreachable</td>{{else if $cell.Verdict}}<td class="cell {{$cell.Verdict}}" title="{{$cell.Message}}"><a href="{{$cell.Link}}">{{$cell.Verdict}}</a>{{if and $cell.Reason (ne $cell.Verdict.String "pass")}}<br><small>{{$cell.Reason}}</small>{{end}}</td>{{else}}<td class="cell">—</td>{{end}}{{end}}</tr>
{{end}}</tbody></table></main>
<script>{{.JS}}</script></body></html>
`))

// HTML renders compat.html: Autobahn style, every cell a link to its evidence.
func (c *Compat) HTML() ([]byte, error) {
	c = display(c)
	policy, err := json.MarshalIndent(c.Policy, "", "  ")
	if err != nil {
		return nil, err
	}
	differing := 0
	for _, r := range c.Rows {
		if r.Differs {
			differing++
		}
	}
	sum := sha256.Sum256([]byte(compatJS))
	var buf bytes.Buffer
	err = compatTmpl.Execute(&buf, map[string]any{
		"C": c, "CSS": template.CSS(reportCSS), "JS": template.JS(compatJS), "Differing": differing,
		"ScriptHash": "sha256-" + base64.StdEncoding.EncodeToString(sum[:]), "PolicyJSON": string(policy),
	})
	return buf.Bytes(), err
}
