package main

import (
	"fmt"
	"io"
	"os"

	"github.com/corscheck/corscheck/reports"
)

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	out := fs.String("o", "report.html", "HTML file to write")
	mdOut := fs.String("markdown", "", "write a Markdown summary (counts, findings, fixes; under 60,000 characters) to this file instead; - is stdout, $GITHUB_STEP_SUMMARY the job summary")
	link := fs.String("link", "", "URL of the full report, linked from the Markdown")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("report takes one results.json, e.g. corscheck report corscheck-report/results.json -o report.html")
	}
	res, err := reports.ReadResults(pos[0])
	if err != nil {
		return &exitError{2, err}
	}
	if *mdOut != "" {
		text := res.Markdown(reports.MarkdownLimit, *link)
		if *mdOut == "-" {
			fmt.Fprint(stdout, text)
			return nil
		}
		write := reports.WriteFileAtomic
		if *mdOut == os.Getenv("GITHUB_STEP_SUMMARY") {
			write = func(p string, b []byte) error { return appendFile(p, string(b)) } // other steps write there too
		}
		if err := write(*mdOut, []byte(text)); err != nil {
			return &exitError{2, err}
		}
		return nil
	}
	html, err := res.HTML()
	if err != nil {
		return err
	}
	if err := reports.WriteFileAtomic(*out, html); err != nil {
		return &exitError{2, err}
	}
	fmt.Fprintln(stdout, *out)
	return nil
}
