package suite

import (
	"context"
	"io"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/corscheck/corscheck/reports"
)

// Filter selects specs the way Ginkgo's flags do.
type Filter struct {
	LabelFilter string
	Focus       []string
	Skip        []string
}

// failT is the testing.T stand-in RunSpecs needs when it runs in-process.
type failT struct{ failed bool }

func (t *failT) Fail() { t.failed = true }

// RunInProcess runs the suite under Ginkgo inside this process (as
// `corscheck run` does) and returns the results document. Ginkgo's own
// console reporter is sent to ginkgoOut (io.Discard keeps the CLI's output
// to progress and the summary). Ginkgo handles Ctrl-C: the running batch is
// cancelled, AfterSuite stops Chrome and partial results are written.
// It can run once per process, as RunSpecs can.
//
// ctx is the CLI's signal context: when it ends before the specs start,
// RunInProcess stops Chrome and writes empty, interrupted results; during
// the specs it cancels the running batch.
func RunInProcess(ctx context.Context, s *Session, f Filter, ginkgoOut io.Writer) (*reports.Results, error) {
	if err := validateFilter(f); err != nil {
		s.Close()
		return nil, &EnvError{err}
	}
	if err := s.CheckReachable(); err != nil {
		s.Close()
		return nil, err
	}
	// The browser outlives ctx: Close stops it, after results are written.
	if err := s.StartBrowser(context.WithoutCancel(ctx)); err != nil {
		s.Close()
		return nil, err
	}
	s.interrupt = ctx
	if ctx.Err() != nil {
		res := s.Results(ginkgo.Report{SpecialSuiteFailureReasons: []string{"Interrupted by User"}})
		s.Close()
		if s.Config.Out != "" {
			if err := res.WriteAll(s.Config.Out); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	var res *reports.Results
	Define(s, func(r *reports.Results) { res = r })
	sc := types.NewDefaultSuiteConfig()
	sc.LabelFilter, sc.FocusStrings, sc.SkipStrings = f.LabelFilter, f.Focus, f.Skip
	rc := types.NewDefaultReporterConfig()
	rc.Succinct, rc.NoColor = true, true
	formatter.ColorableStdOut = ginkgoOut
	ginkgo.RunSpecs(&failT{}, "corscheck", sc, rc)
	s.Close()
	return res, nil
}

// validateFilter checks the filter before the run: a bad --label-filter or
// --focus is a usage error (exit 2), not a failed suite.
func validateFilter(f Filter) error {
	if _, err := types.ParseLabelFilter(f.LabelFilter); err != nil {
		return err
	}
	if _, err := compileAll(f.Focus); err != nil {
		return err
	}
	_, err := compileAll(f.Skip)
	return err
}
