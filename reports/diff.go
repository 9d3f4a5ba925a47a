package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
	"strings"

	"github.com/corscheck/corscheck/scenarios"
)

// Change is one case that differs between two runs.
type Change struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"` // regressed, fixed, reason-changed, appeared, disappeared
	Old       string `json:"old,omitempty"`
	New       string `json:"new,omitempty"`
	OldReason string `json:"oldReason,omitempty"`
	NewReason string `json:"newReason,omitempty"`
	Header    string `json:"header,omitempty"`
	Message   string `json:"message,omitempty"`
	Fix       string `json:"fix,omitempty"`
}

// DiffResult compares two results.json documents.
type DiffResult struct {
	Old, New *Results
	Changes  []Change
}

// Change kinds, in display order.
var changeKinds = []string{"regressed", "fixed", "reason-changed", "appeared", "disappeared"}

// Regressed reports whether any case went from pass to fail or error.
func (d *DiffResult) Regressed() bool { return d.Count("regressed") > 0 }

// Count returns the number of changes of a kind.
func (d *DiffResult) Count(kind string) int {
	n := 0
	for _, c := range d.Changes {
		if c.Kind == kind {
			n++
		}
	}
	return n
}

func bad(v scenarios.Verdict) bool { return v == scenarios.Fail || v == scenarios.Error }

func reasonOf(c CaseResult) string {
	switch {
	case c.Observed.CorsError != "":
		if c.Observed.FailedParameter != "" {
			return string(c.Observed.CorsError) + " (" + c.Observed.FailedParameter + ")"
		}
		return string(c.Observed.CorsError)
	case c.Verdict == scenarios.Error:
		return "error: " + string(c.Observed.ErrorKind)
	case bad(c.Verdict):
		return "observed " + c.Observed.Outcome.String()
	}
	return ""
}

// Diff compares old and new case by case (by ID). Its writers show
// target text through scenarios.VisibleLines, like every human-facing output.
func Diff(old, new *Results) *DiffResult {
	old, new = old.Display(), new.Display()
	d := &DiffResult{Old: old, New: new}
	oldBy := map[string]CaseResult{}
	for _, c := range old.Cases {
		oldBy[c.ID] = c
	}
	seen := map[string]bool{}
	for _, n := range new.Cases {
		seen[n.ID] = true
		o, ok := oldBy[n.ID]
		ch := Change{ID: n.ID, New: n.Verdict.String(), NewReason: reasonOf(n), Header: n.Header, Message: n.Message, Fix: n.Fix}
		switch {
		case !ok:
			ch.Kind = "appeared"
		case !bad(o.Verdict) && bad(n.Verdict):
			ch.Kind = "regressed"
		case bad(o.Verdict) && !bad(n.Verdict):
			ch.Kind, ch.Header, ch.Fix = "fixed", o.Header, ""
		case bad(o.Verdict) && bad(n.Verdict) && reasonOf(o) != reasonOf(n):
			ch.Kind = "reason-changed"
		default:
			continue
		}
		if ok {
			ch.Old, ch.OldReason = o.Verdict.String(), reasonOf(o)
		}
		d.Changes = append(d.Changes, ch)
	}
	for _, o := range old.Cases {
		if !seen[o.ID] {
			d.Changes = append(d.Changes, Change{ID: o.ID, Kind: "disappeared", Old: o.Verdict.String(), OldReason: reasonOf(o)})
		}
	}
	rank := map[string]int{}
	for i, k := range changeKinds {
		rank[k] = i
	}
	sort.SliceStable(d.Changes, func(i, j int) bool {
		a, b := d.Changes[i], d.Changes[j]
		if rank[a.Kind] != rank[b.Kind] {
			return rank[a.Kind] < rank[b.Kind]
		}
		return a.ID < b.ID
	})
	return d
}

// Summary is one line: counts per kind.
func (d *DiffResult) Summary() string {
	var parts []string
	for _, k := range changeKinds {
		parts = append(parts, fmt.Sprintf("%d %s", d.Count(k), k))
	}
	return strings.Join(parts, ", ")
}

// Text renders the diff for a terminal.
func (d *DiffResult) Text() string {
	var b strings.Builder
	for _, c := range d.Changes {
		fmt.Fprintf(&b, "%-14s %s", strings.ToUpper(c.Kind), c.ID)
		if c.Old != "" || c.New != "" {
			fmt.Fprintf(&b, "  %s → %s", dash(c.Old), dash(c.New))
		}
		if r := reasons(c); r != "" {
			fmt.Fprintf(&b, "  [%s]", r)
		}
		if c.Header != "" {
			fmt.Fprintf(&b, "  header: %s", c.Header)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s\n", d.Summary())
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func reasons(c Change) string {
	switch {
	case c.OldReason != "" && c.NewReason != "" && c.OldReason != c.NewReason:
		return c.OldReason + " → " + c.NewReason
	case c.NewReason != "":
		return c.NewReason
	}
	return c.OldReason
}

// Markdown renders the diff for a pull-request comment: a summary line and
// a table per kind, regressions first, with the header at fault and the fix.
func (d *DiffResult) Markdown() string {
	var b strings.Builder
	icon := "✅"
	if d.Regressed() {
		icon = "❌"
	}
	fmt.Fprintf(&b, "### %s corscheck: %s\n\n", icon, d.Summary())
	fmt.Fprintf(&b, "`%s` (%d passed, %d failed, %d errored) → `%s` (%d passed, %d failed, %d errored)\n\n",
		md(d.Old.Target), d.Old.Summary.Passed, d.Old.Summary.Failed, d.Old.Summary.Errored,
		md(d.New.Target), d.New.Summary.Passed, d.New.Summary.Failed, d.New.Summary.Errored)
	for _, k := range changeKinds {
		if d.Count(k) == 0 {
			continue
		}
		fmt.Fprintf(&b, "#### %s (%d)\n\n| case | verdict | Chrome's reason | header at fault | fix |\n|---|---|---|---|---|\n", k, d.Count(k))
		for _, c := range d.Changes {
			if c.Kind == k {
				fmt.Fprintf(&b, "| `%s` | %s → %s | %s | %s | %s |\n", md(c.ID), dash(c.Old), dash(c.New), md(reasons(c)), md(c.Header), md(c.Fix))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// md makes a value from a results file safe inside a Markdown table cell:
// no pipes, no newlines, no raw HTML.
func md(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}

var diffTmpl = template.Must(template.New("diff").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>corscheck diff</title><style>{{.CSS}}</style></head><body><header>
<h1>corscheck diff</h1>
<div class="meta">old <code>{{.D.Old.Target}}</code> ({{.D.Old.StartedAt}}) → new <code>{{.D.New.Target}}</code> ({{.D.New.StartedAt}})</div>
<p><b>{{.D.Summary}}</b></p></header><main>
<table><thead><tr><th>change</th><th>case</th><th>verdict</th><th>Chrome's reason</th><th>header</th><th>fix</th></tr></thead><tbody>
{{range .D.Changes}}<tr><td class="{{if eq .Kind "regressed"}}fail{{else if eq .Kind "fixed"}}pass{{end}}">{{.Kind}}</td><td><code>{{.ID}}</code></td><td>{{.Old}} → {{.New}}</td><td>{{.OldReason}}{{if and .OldReason .NewReason}} → {{end}}{{.NewReason}}</td><td>{{.Header}}</td><td>{{.Fix}}</td></tr>
{{end}}</tbody></table></main></body></html>
`))

// HTML renders the diff as a self-contained page (no script at all).
func (d *DiffResult) HTML() ([]byte, error) {
	var buf bytes.Buffer
	err := diffTmpl.Execute(&buf, map[string]any{"D": d, "CSS": template.CSS(reportCSS)})
	return buf.Bytes(), err
}
