package suite

import (
	"context"
	"fmt"
	"sort"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// adaptiveGroup is a scenarios.RouteGroup and what the run made of it.
type adaptiveGroup struct {
	scenarios.RouteGroup
	// Full is true when every member was probed in full (a sampled member
	// answered the matrix differently from the representative).
	Full bool
	// Divergent names the sampled member that differed.
	Divergent string
}

// adapt makes the matrix adaptive when there are enough routes (and
// --exhaustive is not given): it fingerprints every route, groups them,
// probes the representative and the sampled members of each group in full
// now, and keeps the full matrix of the others only for groups where a
// sampled member differed. The cases of covered routes are not run; the
// results say which route covers them and why. Callers: Discover.
func (s *Session) adapt(ctx context.Context, redirecting map[string]bool) error {
	if !s.adaptive() {
		return nil
	}
	routes := s.fingerprintRoutes()
	var probes []runner.Probe
	type slot struct {
		route string
		slot  int
	}
	var owner []slot
	for _, r := range routes {
		for i, req := range scenarios.Fingerprint(r, s.Plan().Cases()) {
			if req != nil {
				probes = append(probes, s.probeOf(*req))
				owner = append(owner, slot{r.URL, i})
			}
		}
	}
	if s.Config.Progress != nil {
		fmt.Fprintf(s.Config.Progress, "corscheck: fingerprinting %d routes (%d requests, each one the run's own cases send)\n", len(routes), len(probes))
	}
	obs, err := s.send(ctx, s.browser, probes, s.runOptions())
	if err != nil {
		return err
	}
	sigs := map[string][]string{}
	for _, r := range routes {
		sigs[r.URL] = make([]string, len(scenarios.FingerprintSlots))
		for i := range sigs[r.URL] {
			sigs[r.URL][i] = scenarios.NotAsked
		}
	}
	for k, o := range owner {
		sigs[o.route][o.slot] = scenarios.AnswerSignature(obs[k][0])
	}
	sample := s.Config.SamplePerGroup
	if sample < 0 {
		sample = 0
	}
	groups := scenarios.GroupRoutes(routes, sigs, sample)
	only := map[string]bool{}
	for _, g := range groups {
		only[g.Routes[0]] = true
		for _, m := range g.Sampled {
			only[m] = true
		}
	}
	if err := s.expand(scenarios.Discovery{Redirecting: redirecting, Only: only}); err != nil {
		return &EnvError{err}
	}
	// The representatives and samples, in full, now: a sampled member that
	// answers differently sends its whole group to the full matrix.
	var selected []scenarios.Case
	for _, c := range s.Cases {
		if s.selects(c) && c.SkipReason == "" {
			selected = append(selected, c)
		}
	}
	s.mu.Lock()
	err = s.probe(ctx, selected)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	routeOf := map[string]scenarios.Route{} // declared path -> route
	for _, r := range s.Routes {
		routeOf[r.Path] = r
	}
	shapes := map[string]map[string]string{} // route URL -> case shape -> signature
	for _, c := range selected {
		r := routeOf[c.Route]
		if shapes[r.URL] == nil {
			shapes[r.URL] = map[string]string{}
		}
		shapes[r.URL][scenarios.CaseShape(c, r)] = s.signatureOf(c)
	}
	s.groups = nil
	for _, g := range groups {
		ag := adaptiveGroup{RouteGroup: g}
		rep := shapes[g.Routes[0]]
		for _, m := range g.Sampled {
			for shape, sig := range shapes[m] {
				if want, ok := rep[shape]; ok && want != sig {
					ag.Full, ag.Divergent = true, m
					break
				}
			}
			if ag.Full {
				break
			}
		}
		if ag.Full {
			for _, m := range g.Routes {
				only[m] = true
			}
		}
		s.groups = append(s.groups, ag)
	}
	if err := s.expand(scenarios.Discovery{Redirecting: redirecting, Only: only}); err != nil {
		return &EnvError{err}
	}
	if s.Config.Progress != nil {
		probed, others := len(only), ", the others covered by their group"
		if probed == len(s.Routes) {
			others = ""
		}
		fmt.Fprintf(s.Config.Progress, "corscheck: %d group%s of routes; the full matrix on %d of %d routes%s (--exhaustive probes all)\n",
			len(groups), plural(len(groups)), probed, len(s.Routes), others)
	}
	return nil
}

// signatureOf is a case's observations as one comparable string.
func (s *Session) signatureOf(c scenarios.Case) string {
	var out string
	for _, o := range s.obs[c.ID] {
		out += scenarios.AnswerSignature(o) + "\n"
	}
	return out
}

// routeCoverage fills the results' routes with what the adaptive matrix
// did: probed in full, or covered by which route of its group and why.
func (s *Session) routeCoverage(res *reports.Results) {
	if len(s.groups) == 0 {
		return
	}
	byURL := map[string]int{}
	for i, r := range res.Routes {
		byURL[r.URL] = i
	}
	urlOf := map[string]string{} // declared path -> URL
	for _, r := range s.Routes {
		urlOf[r.Path] = r.URL
	}
	casesOf := map[string]int{}
	for _, c := range s.Cases {
		casesOf[urlOf[c.Route]]++
	}
	a := &reports.Adaptive{Groups: len(s.groups), SamplePerGroup: s.Config.SamplePerGroup}
	for gi, g := range s.groups {
		rep := g.Routes[0]
		sampled := map[string]bool{rep: true}
		for _, m := range g.Sampled {
			sampled[m] = true
		}
		for _, u := range g.Routes {
			i, ok := byURL[u]
			if !ok {
				continue
			}
			r := &res.Routes[i]
			r.Group = gi + 1
			switch {
			case g.Full || sampled[u]:
				r.Probe = "full"
				r.Why = g.Why
				if g.Full && !sampled[u] {
					r.Why = fmt.Sprintf("its group's sampled member %s answered the matrix differently from %s, so every member was probed", res.Routes[byURL[g.Divergent]].Path, res.Routes[byURL[rep]].Path)
				}
				a.RoutesProbed++
				a.CasesProbed += casesOf[u]
			default:
				r.Probe, r.CoveredBy, r.Why = "covered", res.Routes[byURL[rep]].Path, g.Why
				a.RoutesCovered++
				a.CasesCovered += casesOf[rep]
			}
		}
	}
	res.Adaptive = a
	sort.SliceStable(res.Routes, func(i, j int) bool { return res.Routes[i].Group < res.Routes[j].Group })
}
