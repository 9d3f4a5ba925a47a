package main

import (
	"fmt"
	"io"

	"github.com/corscheck/corscheck/reports"
)

func cmdDiff(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("diff", stderr)
	htmlOut := fs.String("html", "", "also write the diff as an HTML page")
	mdOut := fs.String("markdown", "", "also write the diff as Markdown for a pull-request comment")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: corscheck diff OLD.json NEW.json [--html FILE] [--markdown FILE]\n\nCompares two results.json files case by case.\nExit status: 1 when a case regressed (pass -> fail/error), 0 otherwise, 2 on bad input.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageErr("diff takes two results files: corscheck diff OLD.json NEW.json")
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
	fmt.Fprint(stdout, clean(d.Text()))
	if *mdOut != "" {
		if err := reports.WriteFileAtomic(*mdOut, []byte(d.Markdown())); err != nil {
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
	if d.Regressed() {
		return &exitError{1, nil}
	}
	return nil
}
