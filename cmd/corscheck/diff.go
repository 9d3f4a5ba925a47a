package main

import (
	"fmt"
	"io"
	"os"

	"github.com/corscheck/corscheck/reports"
)

func cmdDiff(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("diff", stderr)
	htmlOut := fs.String("html", "", "also write the diff as an HTML page")
	mdOut := fs.String("markdown", "", "also write the diff as Markdown for a pull-request comment (under 60,000 characters)")
	format := fs.String("format", "text", "stdout format: text, markdown, or github (Markdown to $GITHUB_STEP_SUMMARY, ::error annotations to stdout)")
	allowRemoved := fs.Bool("allow-removed", false, "do not fail when cases of the old run are missing from the new one (lost coverage)")
	allowNew := fs.Bool("allow-new-failures", false, "do not fail when cases the old run did not have (a new route, origin or method) fail")
	policyFile := fs.String("policy", "", "policy file the annotations point at (--format github)")
	link := fs.String("link", "", "URL or path of the full report, linked from the Markdown")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: corscheck diff OLD.json NEW.json [--format text|markdown|github] [--allow-removed] [--html FILE] [--markdown FILE]
       corscheck diff OLD_SITE NEW_SITE   (two builds of compat --site: directories or index.json)

Compares two results.json files case by case: regressed (pass -> fail or
error), new-failing (not in OLD, failing in NEW: a new broken route),
removed (in OLD, missing from NEW: lost coverage), reason-changed, fixed
and new cases. What got worse is listed first, grouped by finding and route.
Exit status: 1 when a case regressed, a new case fails (unless
--allow-new-failures) or cases were removed (unless --allow-removed),
0 otherwise, 2 on bad input.

Flags:`)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageErr("diff takes two results files: corscheck diff OLD.json NEW.json")
	}
	switch *format {
	case "text", "markdown", "github":
	default:
		return usageErr("--format %q: use text, markdown or github", *format)
	}
	// Two builds of the compatibility site (their directories or index.json).
	if oldSite, ok, err := reports.ReadSite(pos[0]); ok || (err != nil && !os.IsNotExist(err)) {
		if err != nil {
			return &exitError{2, err}
		}
		curSite, ok, err := reports.ReadSite(pos[1])
		if err != nil || !ok {
			return &exitError{2, fmt.Errorf("%s is a compatibility site; %s is not: give two sites (their directories or index.json)", pos[0], pos[1])}
		}
		d := reports.DiffSites(oldSite, curSite)
		fmt.Fprint(stdout, clean(d.Text()))
		if len(d.Worse) > 0 {
			return &exitError{1, fmt.Errorf("%d things got worse between the two builds", len(d.Worse))}
		}
		return nil
	}
	old, err := reports.ReadResults(pos[0])
	if err != nil {
		return &exitError{2, err}
	}
	cur, err := reports.ReadResults(pos[1])
	if err != nil {
		return &exitError{2, err}
	}
	d := reports.Diff(old, cur)
	d.AllowRemoved, d.AllowNewFailures = *allowRemoved, *allowNew
	markdown := d.MarkdownWithLink(reports.MarkdownLimit, *link)
	switch *format {
	case "text":
		fmt.Fprint(stdout, clean(d.Text()))
	case "markdown":
		fmt.Fprint(stdout, markdown)
	case "github":
		fmt.Fprint(stdout, d.GitHubAnnotations(*policyFile))
		fmt.Fprintln(stdout, clean(d.Summary()))
		if path := os.Getenv("GITHUB_STEP_SUMMARY"); path != "" {
			if err := appendFile(path, markdown); err != nil {
				return &exitError{2, fmt.Errorf("writing the job summary $GITHUB_STEP_SUMMARY (%s): %w", path, err)}
			}
		} else {
			fmt.Fprintln(stderr, "corscheck: $GITHUB_STEP_SUMMARY is not set (not in GitHub Actions?): the Markdown goes to stdout")
			fmt.Fprint(stdout, markdown)
		}
	}
	if *mdOut != "" {
		if err := reports.WriteFileAtomic(*mdOut, []byte(markdown)); err != nil {
			return &exitError{2, err}
		}
	}
	if *htmlOut != "" {
		page, err := d.HTML()
		if err != nil {
			return err
		}
		if err := reports.WriteFileAtomic(*htmlOut, page); err != nil {
			return &exitError{2, err}
		}
	}
	if d.Failing() {
		return &exitError{1, nil}
	}
	return nil
}

// appendFile appends to a file GitHub gives each step (the job summary).
func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
