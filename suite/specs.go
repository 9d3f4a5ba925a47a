package suite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
)

// Define builds the spec tree from the session's matrix: a Describe per
// family, an It per case labelled from its data. Call it before RunSpecs.
// When written is non-nil, the results document is passed to it after the
// suite (the CLI uses it for exit codes and the summary line).
func Define(s *Session, written func(*reports.Results)) {
	RegisterFailHandler(Fail)
	SynchronizedBeforeSuite(func() []byte {
		dir, err := newSpoolDir()
		Expect(err).NotTo(HaveOccurred(), "creating the results spool")
		return []byte(dir)
	}, func(ctx SpecContext, dir []byte) {
		s.spool = &spool{dir: string(dir)}
		// Setup ran before the tree was built; the browser may have been
		// closed by a previous suite in this process.
		Expect(s.StartBrowser(context.WithoutCancel(ctx))).To(Succeed())
	})
	AfterSuite(func() {
		if s.spool != nil {
			s.spool.close()
		}
		s.Close()
	})

	// Specs refer to the session's cases, never copies: a matrix of 40,000
	// cases is held once.
	byFamily := map[string][]*scenarios.Case{}
	for i := range s.Cases {
		c := &s.Cases[i]
		if s.focus != nil && !s.focus(*c) {
			continue
		}
		byFamily[c.Family] = append(byFamily[c.Family], c)
	}
	for _, family := range scenarios.Families {
		cases := byFamily[family]
		if len(cases) == 0 {
			continue
		}
		Describe(family, func() {
			for _, cp := range cases {
				It(specName(*cp), Label(cp.Labels...), func(ctx SpecContext) {
					c := *cp
					if c.SkipReason != "" {
						s.record(c, nil, scenarios.Judge(c, nil))
						Skip("skipped by the policy: " + c.SkipReason)
					}
					_, err := s.Observe(ctx, c)
					Expect(err).NotTo(HaveOccurred(), "probing %s", c.ID)
					eo := s.ObservedIn(c)
					s.recordEngines(c, eo)
					s.forget(c.ID) // spooled: no second copy in memory
					Expect(eo).To(ConformTo(c, s.Secrets...))
				})
			}
		})
	}

	ReportAfterSuite("corscheck results", func(r Report) {
		res := s.Results(r)
		if s.nSelected > 0 && !res.Interrupted && res.Stopped == "" {
			if err := s.Meaningful(res, s.nSelected); err != nil {
				res.Stopped = err.Error()
			}
		}
		if written != nil {
			written(res)
		}
		if s.Config.Out != "" {
			res.WriteError = res.WriteAll(s.OutDir())
			Expect(res.WriteError).To(Succeed())
		}
	})
}

// recordEngines records a case every browser observed: the combined
// verdict, and each browser's own.
func (s *Session) recordEngines(c scenarios.Case, eo EngineObservations) {
	j, per, diff := scenarios.JudgeEngines(c, eo.Engines, eo.Obs)
	cr := reports.NewCaseResultEngines(c, j, per, diff)
	if s.spool == nil {
		s.spool = &spool{}
	}
	Expect(s.spool.add(cr)).To(Succeed(), "spooling the result of %s", c.ID)
}

// record spools the case's full result (the spool, not Ginkgo's report,
// carries results between processes: see spool).
func (s *Session) record(c scenarios.Case, obs []scenarios.Observation, j scenarios.Judgement) {
	cr := reports.NewCaseResult(c, obs, j)
	if s.spool == nil {
		s.spool = &spool{}
	}
	Expect(s.spool.add(cr)).To(Succeed(), "spooling the result of %s", c.ID)
}

// Results builds results.json from Ginkgo's report: every spec's entry
// (from all parallel processes), plus, after an interrupt, the cases this
// process observed whose specs never ran.
func (s *Session) Results(r Report) *reports.Results {
	res := &reports.Results{
		Tool:       reports.Tool{Name: "corscheck", Version: s.Config.Version},
		Browser:    s.Browser(),
		Target:     s.Target,
		Fixture:    s.fixtureName,
		Policy:     s.Policy,
		StartedAt:  s.Started.UTC().Format(time.RFC3339),
		Insecure:   s.Config.Browser.Insecure,
		ChromeArgs: s.Config.Browser.ChromeArgs,
		Resolve:    s.Config.Browser.Resolve,
		Stack:      s.Config.Stack,
	}
	if s.shard.Count > 1 {
		sh := s.shard
		res.Shard = &sh
	}
	for _, r := range s.Routes {
		res.Routes = append(res.Routes, reports.Route{Path: r.Name(), URL: r.URL, Key: r.Key, Source: r.Source})
	}
	s.routeCoverage(res)
	seen := map[string]bool{}
	if s.spool != nil {
		// Every result this run spooled, its spec reported or not (a
		// process interrupted before it reported): the browser gave it.
		res.Cases, _, _ = s.spool.read()
		s.spool.remove()
	}
	for _, cr := range res.Cases {
		seen[cr.ID] = true
	}
	for _, reason := range r.SpecialSuiteFailureReasons {
		if strings.HasPrefix(reason, "Interrupted") || reason == "Suite Timeout Elapsed" {
			res.Interrupted = true
		}
	}
	if res.Interrupted || s.stopped != "" {
		observed := s.Observed()
		for _, c := range s.Cases {
			obs, ok := observed[c.ID]
			if !ok || obs == nil || seen[c.ID] {
				continue
			}
			res.Cases = append(res.Cases, reports.NewCaseResult(c, obs, scenarios.Judge(c, obs)))
		}
	}
	s.corroborate(res)
	res.Credentials = s.credentialUse(res)
	res.Cookies = s.cookieTravel(res)
	if s.died != nil {
		res.Stopped = s.died.Error()
	}
	if s.stopped != "" {
		res.Stopped = s.stopped
	}
	res.DurationMs = float64(time.Since(s.Started).Microseconds()) / 1000
	res.Finish()
	res.Redact(s.Secrets)
	return res
}

// Summary renders a one-line summary: N passed, N failed, N errored, N skipped.
func Summary(r *reports.Results) string {
	return fmt.Sprintf("%d passed, %d failed, %d errored, %d skipped", r.Summary.Passed, r.Summary.Failed, r.Summary.Errored, r.Summary.Skipped)
}

// corroborate settles inconclusive hostile cases whose allowed-origin twin
// (same request, same route, the first allowed origin) shows the CORS layer
// runs on that status and set CORS headers there.
func (s *Session) corroborate(res *reports.Results) {
	if !slices.ContainsFunc(res.Cases, func(cr reports.CaseResult) bool { return cr.Inconclusive }) {
		return
	}
	byID := make(map[string]int, len(res.Cases))
	for i, c := range res.Cases {
		byID[c.ID] = i
	}
	cases := make(map[string]*scenarios.Case, len(s.Cases))
	for i := range s.Cases {
		cases[s.Cases[i].ID] = &s.Cases[i]
	}
	allowed := firstOrigin(s.Policy)
	for i, cr := range res.Cases {
		if !cr.Inconclusive {
			continue
		}
		twinID := strings.TrimSuffix(cr.ID, scenarios.Slug(cr.Request.Origin)) + scenarios.Slug(allowed)
		j, ok := byID[twinID]
		if !ok || !scenarios.CorroboratesRefusal(cr.Observed, res.Cases[j].Observed) {
			continue
		}
		cp, ok := cases[cr.ID]
		if !ok {
			continue
		}
		c := *cp
		obs := append([]scenarios.Observation{cr.Observed}, cr.Repeats...)
		nr := reports.NewCaseResult(c, obs, scenarios.Corroborated(c, cr.Observed, allowed))
		nr.Browsers, nr.BrowserDifference = cr.Browsers, cr.BrowserDifference
		res.Cases[i] = nr
	}
}
