package suite

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// Observe returns the observations for a case. The first call probes, in
// one batch, every case this process will run (per Ginkgo's label filter,
// focus and skip), so the browser works on many cells at once; a case
// outside that batch is probed alone.
func (s *Session) Observe(ctx context.Context, c scenarios.Case) ([]scenarios.Observation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.interrupt != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(s.interrupt, cancel)()
	}
	if s.browser == nil {
		return nil, errors.New("no browser: StartBrowser was not called")
	}
	if !s.batched {
		s.batched = true
		selected, err := s.selectedCases()
		if err != nil {
			return nil, err
		}
		s.total = len(selected)
		// Cases observed before the specs (the adaptive matrix's
		// representatives and samples) are not probed again.
		var todo []scenarios.Case
		for _, c := range selected {
			if _, done := s.obs[c.ID]; !done {
				todo = append(todo, c)
			}
		}
		s.judged = len(selected) - len(todo)
		if err := s.probe(ctx, todo); err != nil {
			return nil, err
		}
	}
	if obs, ok := s.obs[c.ID]; ok {
		return obs, nil
	}
	if err := s.probe(ctx, []scenarios.Case{c}); err != nil {
		return nil, err
	}
	return s.obs[c.ID], nil
}

// probesFor are the runner probes of a case, with the auth headers' real
// values in place of the ${VAR} references the matrix carries.
func (s *Session) probesFor(c scenarios.Case) []runner.Probe {
	probes := runner.ProbesFor(c)
	for i := range probes {
		probes[i] = s.withSecrets(probes[i])
	}
	return probes
}

// probe runs cases in the browser and stores their observations. Callers
// hold s.mu. When the user's credentials stop working mid-run (watch), the
// rest is not sent: those cases get "not run" observations naming why.
func (s *Session) probe(ctx context.Context, cases []scenarios.Case) error {
	var probes []runner.Probe
	owner := make([]int, 0, len(cases)) // probe index -> case index
	for i, c := range cases {
		for _, p := range s.probesFor(c) {
			probes = append(probes, p)
			owner = append(owner, i)
		}
	}
	var firstErr error
	for bi, b := range s.browsers {
		if s.died != nil {
			break
		}
		if bi > 0 && s.Config.Progress != nil && len(cases) > 1 {
			fmt.Fprintf(s.Config.Progress, "  now in %s:\n", b.Version())
			s.judged, s.failures = 0, 0
		}
		got := make([][]scenarios.Observation, len(probes))
		remaining := make([]int, len(cases))
		for _, i := range owner {
			remaining[i]++
		}
		runCtx, cancel := context.WithCancel(ctx)
		opts := s.runOptions()
		opts.OnChunk = func(idx []int, obs [][]scenarios.Observation) {
			for k, pi := range idx {
				ci := owner[pi]
				got[pi] = obs[k]
				remaining[ci]--
				if remaining[ci] > 0 {
					continue
				}
				all := assemble(owner, ci, got)
				if s.watch(b.Engine(), cases[ci], all); s.died != nil {
					cancel() // nothing more is sent on a dead session
				}
				if j := scenarios.Judge(cases[ci], all); j.Verdict == scenarios.Fail || j.Verdict == scenarios.Error {
					s.failures++
				}
				s.judged++
			}
			s.progress()
		}
		obs, err := s.send(runCtx, b, probes, opts)
		cancel()
		if s.died != nil && ctx.Err() == nil {
			err = nil
			fillNotRun(probes, obs, b, "not run: "+s.died.Error())
		}
		if err == nil && s.died == nil {
			s.resample(ctx, b, cases, owner, probes, obs)
		}
		for i, c := range cases {
			if all := assemble(owner, i, obs); all != nil {
				if bi == 0 {
					s.obs[c.ID] = all
				}
				if s.engineObs[b.Engine()] == nil {
					s.engineObs[b.Engine()] = map[string][]scenarios.Observation{}
				}
				s.engineObs[b.Engine()][c.ID] = all
			}
		}
		if err != nil {
			firstErr = err
			break
		}
	}
	if s.Config.Progress != nil && s.Config.ProgressInPlace && len(cases) > 1 {
		fmt.Fprintln(s.Config.Progress)
	}
	return firstErr
}

// resample runs again, once, the preflight cache cases that failed:
// whether a browser reuses a cached preflight can depend on timing, and
// one sample never fails a case. A second sample that passes stands, with
// the first one's failure recorded on it (Observation.Resampled); two
// failures fail the case.
func (s *Session) resample(ctx context.Context, b runner.Browser, cases []scenarios.Case, owner []int, probes []runner.Probe, obs [][]scenarios.Observation) {
	var again []runner.Probe
	var againOwner []int
	first := map[int]scenarios.Judgement{}
	for i, c := range cases {
		if c.Check != scenarios.CheckCache {
			continue
		}
		all := assemble(owner, i, obs)
		if all == nil {
			continue
		}
		if j := scenarios.Judge(c, all); j.Verdict == scenarios.Fail {
			first[i] = j
			for pi, o := range owner {
				if o == i {
					again = append(again, probes[pi])
					againOwner = append(againOwner, i)
				}
			}
		}
	}
	if len(again) == 0 || ctx.Err() != nil {
		return
	}
	second, err := s.send(ctx, b, again, s.runOptions())
	if err != nil {
		return
	}
	for i, j1 := range first {
		redo := assemble(againOwner, i, second)
		if redo == nil || scenarios.Judge(cases[i], redo).Verdict != scenarios.Pass {
			continue
		}
		redo[0].Resampled = "a first sample failed: " + j1.Message
		k := 0
		for pi, o := range owner {
			if o == i {
				n := len(obs[pi])
				obs[pi] = redo[k : k+n]
				k += n
			}
		}
	}
}

// fillNotRun gives every fetch that got no observation an error one
// saying why it was not sent.
func fillNotRun(probes []runner.Probe, obs [][]scenarios.Observation, b runner.Browser, why string) {
	for i, p := range probes {
		if obs[i] != nil {
			continue
		}
		for _, f := range p.Fetches {
			obs[i] = append(obs[i], scenarios.Observation{
				Request: scenarios.Request{URL: f.URL, Origin: p.Origin, Method: f.Method, Headers: f.Headers, Credentials: f.Credentials},
				Outcome: scenarios.Errored, ErrorKind: scenarios.ErrorNotRun, Error: why, Browser: b.Version(), Engine: b.Engine(),
				ReadableHeaders: map[string]*string{},
			})
		}
	}
}

// forget drops a recorded case's observations: the spool holds them, and
// a matrix of 40,000 cases must not be held twice. The case stays known as
// observed (an interrupt does not report it again).
func (s *Session) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.obs[id]; ok {
		s.obs[id] = nil
	}
	for _, m := range s.engineObs {
		delete(m, id)
	}
}

// EngineObservations are a case's observations in every browser that ran it.
type EngineObservations struct {
	Engines []string
	Obs     map[string][]scenarios.Observation
}

// ObservedIn returns the case's observations per browser (after Observe).
func (s *Session) ObservedIn(c scenarios.Case) EngineObservations {
	s.mu.Lock()
	defer s.mu.Unlock()
	eo := EngineObservations{Obs: map[string][]scenarios.Observation{}}
	for _, b := range s.browsers {
		eo.Engines = append(eo.Engines, b.Engine())
		if o, ok := s.engineObs[b.Engine()][c.ID]; ok {
			eo.Obs[b.Engine()] = o
		}
	}
	return eo
}

// assemble joins a case's observations from its probes, in probe order
// (the case's own fetches, then each related request's); nil when one of
// them was not observed.
func assemble(owner []int, ci int, obs [][]scenarios.Observation) []scenarios.Observation {
	var out []scenarios.Observation
	for pi, o := range owner {
		if o != ci {
			continue
		}
		if obs[pi] == nil {
			return nil
		}
		out = append(out, obs[pi]...)
	}
	return out
}

func (s *Session) progress() {
	if s.Config.Progress == nil {
		return
	}
	end := "\n"
	if s.Config.ProgressInPlace {
		fmt.Fprint(s.Config.Progress, "\r")
		end = ""
	}
	fmt.Fprintf(s.Config.Progress, "  probed %d/%d cases, %d failing so far%s", s.judged, max(s.total, s.judged), s.failures, end)
}

// Observed returns every case observed so far with its observations, for
// writing partial results after an interrupt.
func (s *Session) Observed() map[string][]scenarios.Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]scenarios.Observation, len(s.obs))
	for k, v := range s.obs {
		out[k] = v
	}
	return out
}

// selectedCases applies Ginkgo's label filter, focus and skip (and
// corscheck's own --focus) to the cases, the way Ginkgo will apply them to
// the specs Define builds.
func (s *Session) selectedCases() ([]scenarios.Case, error) {
	cfg, _ := ginkgo.GinkgoConfiguration()
	filter, err := types.ParseLabelFilter(cfg.LabelFilter)
	if err != nil {
		return nil, fmt.Errorf("--label-filter: %w", err)
	}
	focus, err := compileAll(cfg.FocusStrings)
	if err != nil {
		return nil, fmt.Errorf("--focus: %w", err)
	}
	skip, err := compileAll(cfg.SkipStrings)
	if err != nil {
		return nil, fmt.Errorf("--skip: %w", err)
	}
	var out []scenarios.Case
	for _, c := range s.Cases {
		if c.SkipReason != "" || !filter(c.Labels) || s.focus != nil && !s.focus(c) || !s.selects(c) {
			continue
		}
		text := specText(c)
		if len(focus) > 0 && !anyMatch(focus, text) || anyMatch(skip, text) {
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Request.Origin < out[j].Request.Origin })
	return out, nil
}

// specText is the full text Ginkgo matches its own --focus against:
// container and spec.
func specText(c scenarios.Case) string { return c.Family + " " + specName(c) }

func specName(c scenarios.Case) string { return c.ID + ": " + scenarios.Visible(c.Title) }

func compileAll(ss []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, s := range ss {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
