package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
	"github.com/corscheck/corscheck/suite"
)

// runFlags are corscheck run's flags and the values they set.
type runFlags struct {
	fs     *flag.FlagSet
	cfg    suite.Config
	filter suite.Filter
	focus  listFlag
	list   *bool
	dryRun *bool
}

func newRunFlags(stderr io.Writer) *runFlags {
	rf := &runFlags{fs: newFlagSet("run", stderr)}
	fs := rf.fs
	rf.cfg = suite.Config{Out: "corscheck-report", Version: toolVersion(), Progress: stderr, ProgressInPlace: isTerminal(stderr)}
	rf.cfg.RegisterFlags(fs)
	fs.StringVar(&rf.filter.LabelFilter, "label-filter", "", "select cases by label, e.g. 'family:origins && credentials:include' or '!method:DELETE && !route:logout' (labels: family:, method:, credentials:, origin:allowed|hostile, hostile:KIND, route:, preflight|simple)")
	fs.Var(&rf.focus, "focus", "run only cases whose ID or title matches this regular expression (repeatable)")
	rf.list = fs.Bool("list", false, "print the matrix (case IDs per family) and exit without probing")
	rf.dryRun = fs.Bool("dry-run", false, "print every request the run would send (method, URL, origin, credentials, headers with secrets redacted) and send none")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: corscheck run [flags]\n\nRuns the conformance matrix for a policy against a target in headless Chrome.\nWith neither --policy nor --target it runs the built-in demo.\nExit status: 0 every case passed, 1 a case failed or errored, 2 usage/policy/environment error, 130 interrupted (Ctrl-C).\n\nFlags:")
		fs.PrintDefaults()
	}
	return rf
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	rf := newRunFlags(stderr)
	fs, focus, list, dryRun := rf.fs, &rf.focus, rf.list, rf.dryRun
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	cfg, f := rf.cfg, rf.filter
	if len(pos) > 0 {
		return usageErr("run takes no arguments (got %q); use --target URL", pos[0])
	}
	f.Focus = *focus
	if *list || *dryRun {
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
	if *dryRun {
		defer s.Close()
		if _, err := s.Select(f); err != nil {
			return &exitError{2, err}
		}
		printDryRun(stdout, s)
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
			for _, l := range append(suite.CredentialSummary(res), suite.CookieSummary(res)...) {
				fmt.Fprintln(stdout, l)
			}
			fmt.Fprintf(stdout, "%s · results of the cases that ran: %s\n", suite.Summary(res), filepath.Join(cfg.Out, "results.json"))
		}
		if ctx.Err() != nil {
			return &exitError{exitInterrupted, fmt.Errorf("interrupted: %v", err)}
		}
		return &exitError{2, err}
	}
	if res == nil {
		return &exitError{2, errors.New("the suite did not run (browser failed to start?)")}
	}
	printFailures(stdout, res)
	for _, l := range append(suite.CredentialSummary(res), suite.CookieSummary(res)...) {
		fmt.Fprintln(stdout, l)
	}
	report := filepath.Join(cfg.Out, "report.html")
	fmt.Fprintf(stdout, "%s · report: %s\n", suite.Summary(res), report)
	if res.Interrupted {
		return &exitError{exitInterrupted, errors.New("interrupted: partial results written")}
	}
	if res.Failing() {
		if res.Summary.Failed+res.Summary.Errored == 0 {
			fmt.Fprintln(stdout, statusGate(res))
		}
		return &exitError{1, nil}
	}
	return nil
}

// statusGate says why a run with no failed or errored case exits 1: its
// status findings (allowed-origin requests answered 401, 500, ...), which
// cases, and what to write when the statuses are expected.
func statusGate(res *reports.Results) string {
	var statuses []string
	n := 0
	var ids []string
	for _, f := range res.Findings {
		if st, ok := strings.CutPrefix(f.ID, "status."); ok && f.Severity == "error" {
			statuses = append(statuses, st)
			n += len(f.Cases)
			for _, id := range f.Cases {
				if len(ids) < 3 {
					ids = append(ids, id)
				}
			}
		}
	}
	if n == 0 {
		return "exit 1: a finding of severity error stands (see above), though no case failed"
	}
	return fmt.Sprintf("exit 1: no case failed or errored, but %d request%s from allowed origins %s answered %s (e.g. %s), so the verdicts cover those answers, not your API. If %s expected there, write expectStatus: [%s] in the policy; otherwise give corscheck credentials (--header, --cookie) or fix the server",
		n, plural(n), wasWere(n), strings.Join(statuses, ", "), strings.Join(ids, ", "), itThey(len(statuses)), strings.Join(statuses, ", "))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

func itThey(n int) string {
	if n == 1 {
		return "that status is"
	}
	return "those statuses are"
}

// announce makes the traffic visible: how many requests of which methods
// go where, with which credentials, at what rate, and every request that
// may change data, with the way to exclude it.
func announce(w io.Writer, s *suite.Session, selected []scenarios.Case) {
	methods := map[string]bool{}
	fetches := 0
	plan := s.Plan()
	for _, c := range plan.Cases() {
		fetches += c.Observations()
		for _, r := range append([]scenarios.Request{c.Request}, c.Related...) {
			methods[scenarios.NormalizeMethod(r.Method)] = true
			if scenarios.NeedsPreflight(r) {
				methods["OPTIONS"] = true
			}
		}
	}
	ms := slices.Sorted(maps.Keys(methods))
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
	if unsafe := plan.Unsafe(s.Routes); len(unsafe) > 0 {
		fmt.Fprintf(w, "  requests that may change data: %s. Exclude any with never: [\"DELETE /*\"] in the policy (or --never 'DELETE /*'); --dry-run lists every request\n",
			scenarios.Visible(joinLimited(unsafe, 8)))
	}
	if len(s.Policy.Never) > 0 {
		var rules []string
		for _, r := range s.Policy.Never {
			rules = append(rules, r.String())
		}
		fmt.Fprintf(w, "  never sent: %s\n", scenarios.Visible(strings.Join(rules, ", ")))
	}
}

// joinLimited joins at most n items, then says how many more.
func joinLimited(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

// printDryRun lists every request a run would send, in order, with secrets
// redacted, then the counts by method and route. Nothing is sent.
func printDryRun(w io.Writer, s *suite.Session) {
	reqs := s.PlannedRequests()
	u, _ := url.Parse(s.Target)
	fmt.Fprintf(w, "corscheck dry run: nothing was sent. A run would send these %d requests to %s (the browser adds an OPTIONS preflight before each one marked preflighted):\n", len(reqs), scenarios.Visible(u.Host))
	var conditions []string
	for _, p := range reqs {
		label := ""
		if p.Case != "" {
			label = "  [" + scenarios.Visible(p.Case) + "]"
		}
		r := p.Request
		line := fmt.Sprintf("%-8s %s from %s, credentials %s", scenarios.NormalizeMethod(r.Method), r.URL, r.Origin, r.Credentials)
		if names := r.HeaderNames(); len(names) > 0 {
			var hs []string
			for _, n := range names {
				hs = append(hs, n+": "+r.Headers[n])
			}
			line += ", headers " + strings.Join(hs, "; ")
		}
		if scenarios.NeedsPreflight(r) && r.ModeOrDefault() == "cors" {
			line += ", preflighted"
		}
		if p.Conditional != "" {
			i := slices.Index(conditions, p.Conditional)
			if i < 0 {
				i = len(conditions)
				conditions = append(conditions, p.Conditional)
			}
			line += " " + strings.Repeat("*", i+1)
		}
		fmt.Fprintf(w, "  %-12s %s%s\n", p.Stage, scenarios.Visible(reports.RedactText(line, s.Secrets)), label)
	}
	for i, c := range conditions {
		fmt.Fprintf(w, "%s sent only %s\n", strings.Repeat("*", i+1), c)
	}
	if s.Auth != nil && len(s.Auth.Cookies) > 0 {
		fmt.Fprintf(w, "cookies in the browser's jar for the target (sent by the browser on credentials include): %d, values redacted\n", len(s.Auth.Cookies))
	}
	fmt.Fprintln(w, "By method and route:")
	for _, l := range suite.PlanSummary(reqs) {
		fmt.Fprintf(w, "  %s\n", scenarios.Visible(l))
	}
	if unsafe := s.Plan().Unsafe(s.Routes); len(unsafe) > 0 {
		fmt.Fprintf(w, "May change data: %s\n", scenarios.Visible(strings.Join(unsafe, ", ")))
	}
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
		stack := f.Stack
		if stack == "" {
			stack = res.Stack
		}
		for _, fx := range f.Fixes {
			if fx.Stack != stack {
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
		if !printed && len(f.Fixes) > 0 && stack == "" {
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

func stackNames(fixes []diagnosis.StackFix) []string {
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
