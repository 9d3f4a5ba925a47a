package reports

import (
	"fmt"
	"strings"
)

// Markdown is a run's summary for a CI job page or a pull-request comment:
// the counts, then each finding with its fix (and the fix for the run's
// stack), under limit characters whatever the run's size.
func (r *Results) Markdown(limit int, link string) string {
	r = r.Display()
	var b strings.Builder
	icon := "✅"
	if r.Summary.Failed+r.Summary.Errored > 0 || r.Interrupted {
		icon = "❌"
	}
	fmt.Fprintf(&b, "### %s corscheck: %d passed, %d failed, %d errored, %d skipped\n\n", icon, r.Summary.Passed, r.Summary.Failed, r.Summary.Errored, r.Summary.Skipped)
	fmt.Fprintf(&b, "`%s` in %s", md(r.Target), md(r.Browser))
	if r.Shard != nil {
		fmt.Fprintf(&b, ", shard %s", r.Shard)
	}
	if r.Stack != "" {
		fmt.Fprintf(&b, ", stack %s", md(r.Stack))
	}
	b.WriteString("\n\n")
	if r.Interrupted {
		b.WriteString("**Interrupted: the results are partial.**\n\n")
	}
	footer := "\n_Every case, with the browser's evidence: report.html in the run's output._\n"
	if link != "" {
		footer = fmt.Sprintf("\n_The full report: %s_\n", md(link))
	}
	for i, f := range r.Findings {
		var sec strings.Builder
		fmt.Fprintf(&sec, "- **%s** %s\n", md(strings.ToUpper(f.Severity)), md(f.Message))
		if f.Fix != "" {
			fmt.Fprintf(&sec, "  - fix: %s\n", md(f.Fix))
		}
		for _, fx := range f.Fixes {
			if fx.Stack == r.Stack && fx.Snippet != "" {
				fmt.Fprintf(&sec, "  - in %s:\n\n    ```\n", md(fx.Title))
				for _, line := range strings.Split(strings.TrimRight(fx.Snippet, "\n"), "\n") {
					fmt.Fprintf(&sec, "    %s\n", strings.ReplaceAll(line, "```", "'''"))
				}
				sec.WriteString("    ```\n\n")
			}
		}
		fmt.Fprintf(&sec, "  - cases: `%s`\n", md(joinLimited(f.Cases, 5)))
		if b.Len()+sec.Len()+len(footer)+200 > limit {
			fmt.Fprintf(&b, "\n… %d more finding%s do not fit here.\n", len(r.Findings)-i, plural(len(r.Findings)-i))
			break
		}
		b.WriteString(sec.String())
	}
	b.WriteString(footer)
	return b.String()
}
