package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
	"github.com/corscheck/corscheck/suite"
)

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	cfg := suite.Config{Out: "corscheck-report", Version: toolVersion(), Progress: stderr, ProgressInPlace: isTerminal(stderr)}
	cfg.RegisterFlags(fs)
	var f suite.Filter
	fs.StringVar(&f.LabelFilter, "label-filter", "", "Ginkgo label filter, e.g. 'family:origins && credentials:include'")
	var focus listFlag
	fs.Var(&focus, "focus", "run only cases whose ID or title matches this regular expression (repeatable)")
	list := fs.Bool("list", false, "print the matrix (case IDs per family) and exit without probing")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: corscheck run [flags]\n\nRuns the conformance matrix for a policy against a target in headless Chrome.\nWith neither --policy nor --target it runs the built-in demo.\nExit status: 0 every case passed, 1 a case failed or errored, 2 usage/policy/environment error.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("run takes no arguments (got %q); use --target URL", pos[0])
	}
	f.Focus = focus
	if *list {
		cfg.Progress, cfg.ListOnly = nil, true
	}
	s, err := suite.Prepare(cfg)
	if err != nil {
		return &exitError{2, err}
	}
	if *list {
		defer s.Close()
		selected, err := s.Select(f)
		if err != nil {
			return &exitError{2, err}
		}
		printMatrix(stdout, selected)
		return nil
	}
	selected, err := s.Select(f)
	if err != nil {
		s.Close()
		return &exitError{2, err}
	}
	announce(stderr, s, selected)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := suite.RunInProcess(ctx, s, f, io.Discard)
	if err != nil {
		if res != nil {
			printFailures(stdout, res)
			fmt.Fprintln(stdout, suite.Summary(res))
		}
		return &exitError{2, err}
	}
	if res == nil {
		return &exitError{2, errors.New("the suite did not run (browser failed to start?)")}
	}
	printFailures(stdout, res)
	report := filepath.Join(cfg.Out, "report.html")
	fmt.Fprintf(stdout, "%s · report: %s\n", suite.Summary(res), report)
	if res.Interrupted {
		return &exitError{1, errors.New("interrupted: partial results written")}
	}
	if res.Failing() {
		return &exitError{1, nil}
	}
	return nil
}

// announce makes the traffic visible: how many requests of which methods
// go where, with which credentials, at what rate.
func announce(w io.Writer, s *suite.Session, selected []scenarios.Case) {
	methods := map[string]bool{"OPTIONS": true}
	fetches := 0
	for _, c := range selected {
		if c.SkipReason == "" {
			methods[scenarios.NormalizeMethod(c.Request.Method)] = true
			fetches += c.Observations()
			for _, r := range c.Related {
				methods[scenarios.NormalizeMethod(r.Method)] = true
			}
		}
	}
	var ms []string
	for m := range methods {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	u, _ := url.Parse(s.Target)
	extra := ""
	if n := len(s.Routes); n > 1 {
		extra += fmt.Sprintf(", %d routes", n)
	}
	if s.Auth != nil {
		extra += fmt.Sprintf(", with %d auth header(s) and %d cookie(s), values redacted", len(s.Auth.Headers), len(s.Auth.Cookies))
	}
	if s.Config.Rate > 0 {
		extra += fmt.Sprintf(", at most %g requests/s", s.Config.Rate)
	}
	if s.Config.Browser.Insecure {
		extra += ", INSECURE: certificate errors ignored"
	}
	fmt.Fprintf(w, "corscheck: %d of %d cases selected, up to %d fetches plus preflights to %s (methods %s)%s, empty bodies, query parameter __corscheck marks each\n",
		len(selected), len(s.Cases), fetches, scenarios.Visible(u.Host), strings.Join(ms, ", "), extra)
}

func printMatrix(w io.Writer, cases []scenarios.Case) {
	counts := scenarios.FamilyCounts(cases)
	for _, fam := range scenarios.Families {
		if counts[fam] == 0 {
			continue
		}
		fmt.Fprintf(w, "%s (%d)\n", fam, counts[fam])
		for _, c := range cases {
			if c.Family == fam {
				fmt.Fprintf(w, "  %-70s expect %s\n", c.ID, c.Expected.Outcome)
			}
		}
	}
	fmt.Fprintf(w, "%d cases\n", len(cases))
}

// printFailures prints the findings, each with its fix in the user's
// stack (detected from the responses, or --stack) and a few of its cases,
// so a CI log says what broke and what to change without the report.
func printFailures(w io.Writer, res *reports.Results) {
	res.DisplayInPlace() // results.json is written: no copy of a large run
	if len(res.Findings) == 0 {
		return
	}
	switch {
	case res.Stack != "" && res.StackEvidence != "":
		fmt.Fprintf(w, "stack: %s (detected from %s; --stack overrides)\n", res.Stack, res.StackEvidence)
	case res.Stack != "":
		fmt.Fprintf(w, "stack: %s\n", res.Stack)
	}
	shown := map[string]bool{}
	for _, f := range res.Findings {
		fmt.Fprintf(w, "%s: %s\n", strings.ToUpper(f.Severity), f.Message)
		if f.Fix != "" {
			fmt.Fprintf(w, "  fix: %s\n", f.Fix)
		}
		printed := false
		for _, fx := range f.Fixes {
			if fx.Stack != res.Stack {
				continue
			}
			verified := ""
			if !fx.Verified {
				verified = " (unverified: written from its documentation)"
			}
			fmt.Fprintf(w, "  in %s%s:", fx.Title, verified)
			if fx.Why != "" {
				fmt.Fprintf(w, " %s", fx.Why)
			}
			printed = true
			if shown[fx.Snippet] {
				fmt.Fprintln(w, " (the configuration printed above fixes this too)")
				continue
			}
			shown[fx.Snippet] = true
			fmt.Fprintln(w)
			for _, line := range strings.Split(strings.TrimRight(fx.Snippet, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
		if !printed && len(f.Fixes) > 0 && res.Stack == "" {
			fmt.Fprintf(w, "  snippets: --stack NAME prints this fix for your stack (%s); report.html has them all\n", strings.Join(stackNames(f.Fixes), ", "))
		}
		for i, id := range f.Cases {
			if i == 3 {
				fmt.Fprintf(w, "  ... and %d more\n", len(f.Cases)-3)
				break
			}
			fmt.Fprintf(w, "  - %s\n", id)
		}
	}
}

func stackNames(fixes []scenarios.StackFix) []string {
	var out []string
	for _, fx := range fixes {
		if len(out) == 6 {
			out = append(out, "...")
			break
		}
		out = append(out, fx.Stack)
	}
	return out
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
