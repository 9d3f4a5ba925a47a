package suite

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
)

// Filter selects cases: Ginkgo's label filter, and corscheck's --focus and
// --skip, which match a case's ID or its title.
type Filter struct {
	LabelFilter string
	Focus       []string
	Skip        []string
}

// failT is the testing.T stand-in RunSpecs needs when it runs in-process.
type failT struct{ failed bool }

func (t *failT) Fail() { t.failed = true }

// Select applies the filter to the session's cases: corscheck run builds
// specs only for these. It returns the selected cases; a filter that
// selects none is an error (a run of zero cases is never a pass).
func (s *Session) Select(f Filter) ([]scenarios.Case, error) {
	match, err := compileMatcher(f)
	if err != nil {
		return nil, &EnvError{err}
	}
	filter, _ := types.ParseLabelFilter(f.LabelFilter)
	s.focus = match
	s.sel = func(c scenarios.Case) bool { return match(c) && filter(c.Labels) }
	s.plan = nil
	var out []scenarios.Case
	for _, c := range s.Cases {
		if match(c) && filter(c.Labels) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, &EnvError{fmt.Errorf("the filter selected 0 of %d cases: check --label-filter and --focus (corscheck run --list shows the case IDs and labels)", len(s.Cases))}
	}
	return out, nil
}

// compileMatcher turns --focus/--skip into a predicate on a case's ID or title.
func compileMatcher(f Filter) (func(scenarios.Case) bool, error) {
	if _, err := types.ParseLabelFilter(f.LabelFilter); err != nil {
		return nil, fmt.Errorf("--label-filter %q: %v", f.LabelFilter, plainError(err))
	}
	focus, err := compileAll(f.Focus)
	if err != nil {
		return nil, fmt.Errorf("--focus: %v", err)
	}
	skip, err := compileAll(f.Skip)
	if err != nil {
		return nil, fmt.Errorf("--skip: %v", err)
	}
	matches := func(res []*regexp.Regexp, c scenarios.Case) bool {
		for _, re := range res {
			if re.MatchString(c.ID) || re.MatchString(c.Title) {
				return true
			}
		}
		return false
	}
	return func(c scenarios.Case) bool {
		return (len(focus) == 0 || matches(focus, c)) && !matches(skip, c)
	}, nil
}

// plainError is Ginkgo's error text on one line, without its terminal
// colour codes.
func plainError(err error) string {
	s := regexp.MustCompile("\x1b\\[[0-9;]*m|\\{\\{/?[a-z-]+\\}\\}").ReplaceAllString(err.Error(), "")
	return strings.Join(strings.Fields(s), " ")
}

// Setup does everything between Prepare and the specs: the reachability
// check, the browser, the one fetch that proves the browser reaches the
// target, and discovery. ctx cancels a start in progress (Ctrl-C).
func (s *Session) Setup(ctx context.Context) error {
	if err := s.CheckReachable(); err != nil {
		return err
	}
	if err := s.StartBrowser(ctx); err != nil {
		return err
	}
	if err := s.Precheck(ctx); err != nil {
		return err
	}
	if err := s.CheckSession(ctx); err != nil {
		return err
	}
	return s.Discover(ctx)
}

// RunInProcess runs the suite under Ginkgo inside this process (as
// `corscheck run` does) and returns the results document. Ginkgo's own
// console reporter is sent to ginkgoOut (io.Discard keeps the CLI's output
// to progress and the summary). Ginkgo handles Ctrl-C: the running batch is
// cancelled, AfterSuite stops Chrome and partial results are written.
// It can run once per process, as RunSpecs can.
//
// ctx is the CLI's signal context: when it ends before the specs start,
// RunInProcess stops the browser and writes empty, interrupted results;
// during the specs it cancels the running batch.
func RunInProcess(ctx context.Context, s *Session, f Filter, ginkgoOut io.Writer) (*reports.Results, error) {
	if _, err := s.Select(f); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Setup(ctx); err != nil {
		s.Close()
		if ctx.Err() != nil {
			return s.interrupted()
		}
		if s.sent > 0 {
			return s.stop(err)
		}
		return nil, err
	}
	selected, err := s.Select(f) // discovery may have added cases
	if err != nil {
		s.Close()
		return nil, err
	}
	nSelected := len(selected) // the count only: the cases are the session's
	s.nSelected = nSelected
	s.interrupt = ctx
	if ctx.Err() != nil {
		return s.interrupted()
	}
	var res *reports.Results
	Define(s, func(r *reports.Results) { res = r })
	sc := types.NewDefaultSuiteConfig()
	sc.LabelFilter = f.LabelFilter
	rc := types.NewDefaultReporterConfig()
	rc.Succinct, rc.NoColor = true, true
	formatter.ColorableStdOut = ginkgoOut
	ginkgo.RunSpecs(&failT{}, "corscheck", sc, rc)
	s.Close()
	if res == nil {
		return nil, &EnvError{fmt.Errorf("the suite did not run")}
	}
	if res.WriteError != nil {
		return res, &EnvError{res.WriteError}
	}
	if s.died != nil {
		return res, &EnvError{s.died}
	}
	if !res.Interrupted {
		if err := s.Meaningful(res, nSelected); err != nil {
			return res, err
		}
	}
	return res, nil
}

// stop writes the outputs of a run that stopped after it had sent
// requests but before the matrix ran (the precheck, the session check or
// discovery named a problem): results.json says why, with every case
// observed so far, and the error is returned for the exit status.
func (s *Session) stop(cause error) (*reports.Results, error) {
	s.stopped = cause.Error()
	res := s.Results(ginkgo.Report{})
	if s.Config.Out != "" {
		if err := res.WriteAll(s.OutDir()); err != nil {
			return nil, &EnvError{fmt.Errorf("%v; and the outputs could not be written: %v", cause, err)}
		}
	}
	return res, cause
}

// interrupted writes empty, interrupted results after a Ctrl-C before the specs.
func (s *Session) interrupted() (*reports.Results, error) {
	res := s.Results(ginkgo.Report{SpecialSuiteFailureReasons: []string{"Interrupted by User"}})
	s.Close()
	if s.Config.Out != "" {
		if err := res.WriteAll(s.OutDir()); err != nil {
			return nil, &EnvError{err}
		}
	}
	return res, nil
}

// Meaningful refuses results that prove nothing: fewer cases judged than
// selected (the suite stopped early), or a target that answered none of
// them (it went down after the check). Both are environment errors, never
// a pass.
func (s *Session) Meaningful(res *reports.Results, selected int) error {
	judged := res.Summary.Total - res.Summary.Skipped
	if res.Summary.Total < selected {
		return &EnvError{fmt.Errorf("only %d of %d selected cases got a verdict: the suite stopped early (%s)", res.Summary.Total, selected, firstFailure(res))}
	}
	if judged == 0 {
		return nil
	}
	answered := 0
	var last string
	for _, c := range res.Cases {
		if c.Observed.Response != nil && c.Observed.Response.Status > 0 || c.Observed.Preflight != nil && c.Observed.Preflight.Status > 0 || c.Observed.Outcome == scenarios.Allowed {
			answered++
		} else if c.Observed.Error != "" {
			last = c.Observed.Error
		}
	}
	if answered == 0 && res.Summary.Errored > 0 {
		return &EnvError{fmt.Errorf("the target answered none of %d cases: it stopped answering after the check (%s)", judged, scenarios.Visible(last))}
	}
	// A few answers over connections opened before the target went away
	// do not make a run: when nine in ten cases got no answer at all, the
	// environment failed, not the CORS policy.
	if res.Summary.Errored*10 >= judged*9 && answered*10 < judged {
		return &EnvError{fmt.Errorf("the target answered only %d of %d cases: it stopped answering after the check (%s)", answered, judged, scenarios.Visible(last))}
	}
	// Actual requests: preflights may be answered while every actual
	// request is reset, garbled or left hanging (the target broke in its
	// handlers, not in its CORS layer).
	actualOK, actualFailed, refused := 0, 0, 0
	netErr := ""
	for _, c := range res.Cases {
		o := c.Observed
		switch {
		case o.Response != nil && o.Response.Status > 0:
			actualOK++
		case o.Outcome == scenarios.Errored && (o.ErrorKind == scenarios.ErrorNetwork || o.ErrorKind == scenarios.ErrorTimeout || o.ErrorKind == scenarios.ErrorNotRun):
			actualFailed++
			if netErr == "" && o.NetError != "" {
				netErr = o.NetError
			}
			if strings.Contains(o.NetError, "REFUSED") {
				refused++
			}
		}
	}
	if actualFailed > 0 && actualOK*10 < actualFailed && refused > 0 {
		return &EnvError{fmt.Errorf("the target answered %d of %d actual requests and then refused connections: it stopped answering after the check (%s)", actualOK, actualOK+actualFailed, scenarios.Visible(netErr))}
	}
	if actualFailed > 0 && actualOK*10 < actualFailed {
		why := netErr
		if why == "" {
			why = "no answer within --timeout"
		}
		return &EnvError{fmt.Errorf("the target answered %d of %d actual requests (the others: %s): it is broken behind its CORS layer, not in it; every case is in the results as it happened. Check the server's log for the requests marked __corscheck", actualOK, actualOK+actualFailed, scenarios.Visible(why))}
	}
	return nil
}

func firstFailure(res *reports.Results) string {
	for _, c := range res.Cases {
		if c.Verdict == scenarios.Error {
			return scenarios.Visible(c.Message)
		}
	}
	return "see the report"
}
