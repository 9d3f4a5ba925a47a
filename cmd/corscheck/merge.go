package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/suite"
)

func cmdMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", stderr)
	out := fs.String("out", "corscheck-report", "directory for the merged results.json, junit.xml and report.html")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: corscheck merge --out DIR SHARD_DIR...\n\nCombines the outputs of `corscheck run --shard K/N` (each shard's --out directory\nor results.json) into the results.json, junit.xml and report.html of the whole run.\nExit status: 0 when every case passed, 1 when a case failed or errored, 2 on bad input\n(a shard missing or given twice, shards of different runs).\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageErr("merge needs the shards' outputs: corscheck merge --out DIR shard-1 shard-2 ...")
	}
	var parts []*reports.Results
	for _, p := range pos {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, "results.json")
		}
		r, err := reports.ReadResults(p)
		if err != nil {
			return &exitError{2, err}
		}
		parts = append(parts, r)
	}
	merged, err := reports.Merge(parts, pos)
	if err != nil {
		return &exitError{2, err}
	}
	if err := merged.WriteAll(*out); err != nil {
		return &exitError{2, err}
	}
	printFailures(stdout, merged)
	fmt.Fprintf(stdout, "%s · merged %d shards · report: %s\n", suite.Summary(merged), len(parts), filepath.Join(*out, "report.html"))
	if merged.Interrupted {
		return &exitError{1, fmt.Errorf("a shard was interrupted: the merged results are partial")}
	}
	if merged.Summary.Failed+merged.Summary.Errored > 0 {
		return &exitError{1, nil}
	}
	return nil
}
