package main

import (
	"fmt"
	"io"

	"github.com/corscheck/corscheck/reports"
)

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	out := fs.String("o", "report.html", "HTML file to write")
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
