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
	Kind      string `json:"kind"` // regressed, new-failing, removed, reason-changed, fixed, new
	Old       string `json:"old,omitempty"`
	New       string `json:"new,omitempty"`
	OldReason string `json:"oldReason,omitempty"`
	NewReason string `json:"newReason,omitempty"`
	Header    string `json:"header,omitempty"`
	Message   string `json:"message,omitempty"`
	Fix       string `json:"fix,omitempty"`
	// Route is the case's route; Finding the finding (cause) that holds
	// it in the run it failed in.
	Route   string `json:"route,omitempty"`
	Finding string `json:"finding,omitempty"`
}

// DiffResult compares two results.json documents.
type DiffResult struct {
	Old, New *Results
	Changes  []Change
	// AllowRemoved makes removed cases (lost coverage) not fail the diff.
	AllowRemoved bool
	// AllowNewFailures makes failing cases the old run did not have (a new
	// route, a new origin) not fail the diff.
	AllowNewFailures bool
}

// Change kinds, in display order: what got worse first.
var changeKinds = []string{"regressed", "new-failing", "removed", "reason-changed", "fixed", "new"}

// Failing reports whether the diff must fail a release gate: a case
// regressed (pass → fail or error), a case the old run did not have fails
// (a new route that is broken is a regression too), or coverage was lost
// (cases present before are missing now), unless allowed.
func (d *DiffResult) Failing() bool {
	return d.Regressed() || d.Count("new-failing") > 0 && !d.AllowNewFailures || d.Count("removed") > 0 && !d.AllowRemoved
}

// worse reports whether a change kind fails the gate in this diff.
func (d *DiffResult) worse(kind string) bool {
	return kind == "regressed" || kind == "new-failing" && !d.AllowNewFailures || kind == "removed" && !d.AllowRemoved
}

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

// findingOf maps each case ID to the finding that holds it.
func findingOf(r *Results) map[string]*Finding {
	out := map[string]*Finding{}
	for i := range r.Findings {
		for _, id := range r.Findings[i].Cases {
			if _, ok := out[id]; !ok {
				out[id] = &r.Findings[i]
			}
		}
	}
	return out
}

// Diff compares old and new case by case (by ID). Its writers show target
// text through scenarios.VisibleLines, like every human-facing output.
func Diff(old, new *Results) *DiffResult {
	old, new = old.Display(), new.Display()
	d := &DiffResult{Old: old, New: new}
	oldBy := map[string]CaseResult{}
	for _, c := range old.Cases {
		oldBy[c.ID] = c
	}
	newFindings, oldFindings := findingOf(new), findingOf(old)
	seen := map[string]bool{}
	for _, n := range new.Cases {
		seen[n.ID] = true
		o, ok := oldBy[n.ID]
		ch := Change{ID: n.ID, New: n.Verdict.String(), NewReason: reasonOf(n), Header: n.Header, Message: n.Message, Fix: n.Fix, Route: routeName(n)}
		if f := newFindings[n.ID]; f != nil {
			ch.Finding, ch.Fix = f.Message, f.Fix
		}
		switch {
		case !ok && bad(n.Verdict):
			ch.Kind = "new-failing"
		case !ok:
			ch.Kind = "new"
		case !bad(o.Verdict) && bad(n.Verdict):
			ch.Kind = "regressed"
		case bad(o.Verdict) && !bad(n.Verdict):
			ch.Kind, ch.Header, ch.Fix = "fixed", o.Header, ""
			if f := oldFindings[n.ID]; f != nil {
				ch.Finding = f.Message
			}
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
			d.Changes = append(d.Changes, Change{ID: o.ID, Kind: "removed", Old: o.Verdict.String(), OldReason: reasonOf(o), Route: routeName(o), Finding: "family " + o.Family})
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

// Text renders the diff for a terminal: the changes grouped by kind (what
// got worse first), then by finding, each group with its routes, its fix
// and its cases, one line each.
func (d *DiffResult) Text() string {
	var b strings.Builder
	for _, g := range d.groups() {
		fmt.Fprintf(&b, "%s  %s — %d case%s", strings.ToUpper(g.kind), g.finding, len(g.ids), plural(len(g.ids)))
		if rs := g.routeCounts(); rs != "" {
			fmt.Fprintf(&b, " on %s", rs)
		}
		b.WriteString("\n")
		if g.fix != "" && d.worse(g.kind) {
			fmt.Fprintf(&b, "  fix: %s\n", g.fix)
		}
		for _, c := range g.changes {
			fmt.Fprintf(&b, "  %s", c.ID)
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
	}
	fmt.Fprintf(&b, "%s\n", d.Summary())
	if n := d.Count("new-failing"); n > 0 && !d.AllowNewFailures {
		fmt.Fprintf(&b, "%d case%s the old run did not have fail%s (a new route, origin or method that is broken): that fails the diff unless --allow-new-failures\n", n, plural(n), sIfOne(n))
	}
	if d.Count("removed") > 0 && !d.AllowRemoved {
		n := d.Count("removed")
		fmt.Fprintf(&b, "%d case%s of the old run %s missing from the new one (lost coverage): that fails the diff unless --allow-removed\n", n, plural(n), isAre(n))
	}
	return b.String()
}

// sIfOne is the verb's s for one subject ("1 case fails", "2 cases fail").
func sIfOne(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
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

// MarkdownLimit keeps the Markdown under GitHub's 65,536-character comment
// limit, with room for a header a CI job adds.
const MarkdownLimit = 60000

// changeGroup is the changes of one kind that share a finding and a fix.
type changeGroup struct {
	kind, finding, fix string
	routes             []string
	perRoute           map[string]int
	ids                []string
	changes            []Change
	reasons            map[string]bool
}

// routeCounts names the group's routes with their case counts, busiest
// first: "/admin (12), /admin/users (4)".
func (g *changeGroup) routeCounts() string {
	if len(g.routes) == 0 || len(g.routes) == 1 && g.routes[0] == "" {
		return ""
	}
	if len(g.routes) == 1 {
		return g.routes[0]
	}
	rs := append([]string(nil), g.routes...)
	sort.SliceStable(rs, func(i, j int) bool { return g.perRoute[rs[i]] > g.perRoute[rs[j]] })
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%s (%d)", r, g.perRoute[r]))
	}
	return joinLimited(parts, 8)
}

func (d *DiffResult) groups() []*changeGroup {
	var out []*changeGroup
	byKey := map[string]*changeGroup{}
	for _, c := range d.Changes {
		title := c.Finding
		if title == "" {
			title = reasons(c)
		}
		key := c.Kind + "\x00" + title
		g := byKey[key]
		if g == nil {
			g = &changeGroup{kind: c.Kind, finding: title, fix: c.Fix, reasons: map[string]bool{}, perRoute: map[string]int{}}
			byKey[key] = g
			out = append(out, g)
		}
		if !containsString(g.routes, c.Route) {
			g.routes = append(g.routes, c.Route)
		}
		g.perRoute[c.Route]++
		g.ids = append(g.ids, c.ID)
		g.changes = append(g.changes, c)
		if r := reasons(c); r != "" {
			g.reasons[r] = true
		}
	}
	rank := map[string]int{}
	for i, k := range changeKinds {
		rank[k] = i
	}
	// Within a kind, the biggest group first: a new broken route group
	// leads, not row 400.
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].kind] != rank[out[j].kind] {
			return rank[out[i].kind] < rank[out[j].kind]
		}
		return len(out[i].ids) > len(out[j].ids)
	})
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Markdown renders the diff for a pull-request comment or a job summary:
// a summary line, then the changes grouped by finding and route, each
// group's fix shown once. It stays under MarkdownLimit whatever the size:
// groups that do not fit are counted and pointed to the full diff.
func (d *DiffResult) Markdown() string { return d.markdown(MarkdownLimit, "") }

// MarkdownWithLink is Markdown with a line pointing to the full report.
func (d *DiffResult) MarkdownWithLink(limit int, full string) string { return d.markdown(limit, full) }

func (d *DiffResult) markdown(limit int, full string) string {
	var head strings.Builder
	icon := "✅"
	if d.Failing() {
		icon = "❌"
	}
	fmt.Fprintf(&head, "### %s corscheck: %s\n\n", icon, d.Summary())
	fmt.Fprintf(&head, "`%s` (%d passed, %d failed, %d errored) → `%s` (%d passed, %d failed, %d errored)\n\n",
		md(d.Old.Target), d.Old.Summary.Passed, d.Old.Summary.Failed, d.Old.Summary.Errored,
		md(d.New.Target), d.New.Summary.Passed, d.New.Summary.Failed, d.New.Summary.Errored)
	if n := d.Count("new-failing"); n > 0 && !d.AllowNewFailures {
		fmt.Fprintf(&head, "**%d case%s the old run did not have fail%s** (a new route, origin or method that is broken); that fails the gate unless `--allow-new-failures`.\n\n", n, plural(n), sIfOne(n))
	}
	if d.Count("removed") > 0 && !d.AllowRemoved {
		n := d.Count("removed")
		fmt.Fprintf(&head, "**%d case%s of the old run %s missing** (lost coverage: routes, origins or families dropped); that fails the gate unless `--allow-removed`.\n\n", n, plural(n), isAre(n))
	}
	footer := "\n_The full diff: `corscheck diff OLD.json NEW.json --html diff.html`._\n"
	if full != "" {
		footer = fmt.Sprintf("\n_The full report: %s_\n", md(full))
	}
	var b strings.Builder
	b.WriteString(head.String())
	groups := d.groups()
	lastKind := ""
	for i, g := range groups {
		var sec strings.Builder
		if g.kind != lastKind {
			fmt.Fprintf(&sec, "#### %s (%d)\n\n", g.kind, d.Count(g.kind))
		}
		fmt.Fprintf(&sec, "- **%s** — %d case%s", md(g.finding), len(g.ids), plural(len(g.ids)))
		if rs := g.routeCounts(); rs != "" {
			fmt.Fprintf(&sec, " on %s", md(rs))
		}
		sec.WriteString("\n")
		if g.fix != "" {
			fmt.Fprintf(&sec, "  - fix: %s\n", md(g.fix))
		}
		var rs []string
		for r := range g.reasons {
			rs = append(rs, r)
		}
		sort.Strings(rs)
		if len(rs) > 0 {
			fmt.Fprintf(&sec, "  - browser: %s\n", md(joinLimited(rs, 4)))
		}
		fmt.Fprintf(&sec, "  - cases: `%s`\n", md(joinLimited(g.ids, 5)))
		if b.Len()+sec.Len()+len(footer)+200 > limit {
			rest := 0
			for _, h := range groups[i:] {
				rest += len(h.ids)
			}
			fmt.Fprintf(&b, "\n… %d more group%s (%d cases) do not fit here.\n", len(groups)-i, plural(len(groups)-i), rest)
			break
		}
		b.WriteString(sec.String())
		lastKind = g.kind
		if i+1 < len(groups) && groups[i+1].kind != g.kind {
			b.WriteString("\n")
		}
	}
	b.WriteString(footer)
	return b.String()
}

func joinLimited(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:n], ", ") + fmt.Sprintf(" and %d more", len(list)-n)
}

// md makes a value from a results file safe inside Markdown: no pipes, no
// newlines, no raw HTML, no code spans broken open.
func md(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}

// GitHubAnnotations are workflow commands that show each failing group as
// an error annotation on the run (and on the policy file, when known).
func (d *DiffResult) GitHubAnnotations(policyFile string) string {
	var b strings.Builder
	for _, g := range d.groups() {
		if !d.worse(g.kind) {
			continue
		}
		file := ""
		if policyFile != "" {
			file = "file=" + ghEscapeProperty(policyFile) + ","
		}
		msg := fmt.Sprintf("%d case%s %s: %s", len(g.ids), plural(len(g.ids)), g.kind, g.finding)
		if g.fix != "" {
			msg += ". Fix: " + g.fix
		}
		fmt.Fprintf(&b, "::error %stitle=%s::%s\n", file, ghEscapeProperty("corscheck: "+g.kind), ghEscapeData(msg))
	}
	return b.String()
}

// GitHub workflow command escaping (toolkit's escapeData/escapeProperty).
func ghEscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghEscapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// diffCSS lays the diff out as cards that stack on a phone: no wide
// table, long IDs and URLs wrap.
const diffCSS = `
:root{color-scheme:light dark;--fail:#b3261e;--pass:#1b6e2a;--warn:#8a5a00;--line:#8884}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:12px;max-width:1100px;overflow-wrap:anywhere}
h1{font-size:1.3em;margin:.2em 0}
h2{font-size:1.1em;margin:1.2em 0 .4em}
code{font-size:.9em;word-break:break-all}
.meta{color:#666;font-size:.9em}
.verdict{font-weight:700;padding:.5em .7em;border-radius:6px;border:2px solid var(--line)}
.verdict.bad{border-color:var(--fail)}
.verdict.good{border-color:var(--pass)}
.counts{display:flex;flex-wrap:wrap;gap:.4em;margin:.6em 0;padding:0;list-style:none}
.counts li{border:1px solid var(--line);border-radius:4px;padding:.1em .5em}
.group{border:1px solid var(--line);border-left-width:6px;border-radius:6px;padding:.5em .8em;margin:.6em 0}
.group.worse{border-left-color:var(--fail)}
.group.fixed{border-left-color:var(--pass)}
.group.other{border-left-color:var(--warn)}
.kind{font-weight:700;text-transform:uppercase;font-size:.8em;letter-spacing:.03em}
.routes{margin:.3em 0;padding-left:1.1em}
.fix{margin:.3em 0}
details summary{cursor:pointer}
ul.cases{padding-left:1.1em;margin:.3em 0}
ul.cases li{margin:.15em 0}
`

var diffTmpl = template.Must(template.New("diff").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>corscheck diff</title><style>{{.CSS}}</style></head><body><header>
<h1>corscheck diff</h1>
<div class="meta">old <code>{{.D.Old.Target}}</code> ({{.D.Old.StartedAt}}) → new <code>{{.D.New.Target}}</code> ({{.D.New.StartedAt}})</div>
{{if .Failing}}<p class="verdict bad" id="verdict">✗ fails the gate: {{.Worse}} case{{if ne .Worse 1}}s{{end}} got worse</p>{{else}}<p class="verdict good" id="verdict">✓ passes the gate: nothing got worse</p>{{end}}
<ul class="counts">{{range .Counts}}<li>{{.N}} {{.Kind}}</li>{{end}}</ul>
</header><main>
{{range .Sections}}<section><h2>{{.Title}}</h2>
{{range .Groups}}<div class="group {{.Class}}" data-kind="{{.Kind}}"><div><span class="kind">{{.KindWord}}</span> · <b>{{.Count}} case{{if ne .Count 1}}s{{end}}</b></div>
<div class="finding">{{.Finding}}</div>
{{if .Routes}}<ul class="routes">{{range .Routes}}<li><code>{{.Route}}</code>: {{.N}}</li>{{end}}</ul>{{end}}
{{if .Fix}}<p class="fix"><b>fix:</b> {{.Fix}}</p>{{end}}
<details{{if .Open}} open{{end}}><summary>the {{.Count}} case{{if ne .Count 1}}s{{end}}</summary><ul class="cases">
{{range .Changes}}<li><code>{{.ID}}</code> {{if or .Old .New}}{{if .Old}}{{.Old}}{{else}}—{{end}} → {{if .New}}{{.New}}{{else}}—{{end}}{{end}}{{if or .OldReason .NewReason}} <span class="meta">[{{.OldReason}}{{if and .OldReason .NewReason}} → {{end}}{{.NewReason}}]</span>{{end}}</li>
{{end}}</ul></details></div>
{{end}}</section>
{{end}}</main></body></html>
`))

type htmlGroup struct {
	Kind, KindWord, Class, Finding, Fix string
	Count                               int
	Routes                              []struct {
		Route string
		N     int
	}
	Changes []Change
	Open    bool
}

// HTML renders the diff as a self-contained page (no script at all) that
// leads with what got worse: the verdict, then each group of regressed,
// new failing and removed cases by finding, with its routes and counts
// and its fix, the cases folded under it; then what changed or improved.
// It reads on a phone (390 px): cards, no wide table.
func (d *DiffResult) HTML() ([]byte, error) {
	worseTitle, otherTitle := "What got worse", "What changed or improved"
	sections := []struct {
		Title  string
		Groups []htmlGroup
	}{{Title: worseTitle}, {Title: otherTitle}}
	worse := 0
	for _, g := range d.groups() {
		hg := htmlGroup{Kind: g.kind, KindWord: strings.ReplaceAll(g.kind, "-", " "), Finding: g.finding, Count: len(g.ids), Changes: g.changes}
		rs := append([]string(nil), g.routes...)
		sort.SliceStable(rs, func(i, j int) bool { return g.perRoute[rs[i]] > g.perRoute[rs[j]] })
		for _, r := range rs {
			if r != "" {
				hg.Routes = append(hg.Routes, struct {
					Route string
					N     int
				}{r, g.perRoute[r]})
			}
		}
		switch {
		case d.worse(g.kind):
			hg.Class, hg.Fix, hg.Open = "worse", g.fix, len(g.ids) <= 10
			worse += len(g.ids)
			sections[0].Groups = append(sections[0].Groups, hg)
		case g.kind == "fixed":
			hg.Class = "fixed"
			sections[1].Groups = append(sections[1].Groups, hg)
		default:
			hg.Class = "other"
			sections[1].Groups = append(sections[1].Groups, hg)
		}
	}
	if len(sections[0].Groups) == 0 {
		sections = sections[1:]
	}
	var counts []struct {
		N    int
		Kind string
	}
	for _, k := range changeKinds {
		counts = append(counts, struct {
			N    int
			Kind string
		}{d.Count(k), k})
	}
	var buf bytes.Buffer
	err := diffTmpl.Execute(&buf, map[string]any{"D": d, "CSS": template.CSS(diffCSS), "Failing": d.Failing(), "Worse": worse, "Sections": sections, "Counts": counts})
	return buf.Bytes(), err
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
