package suite

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// selects reports whether the user selected a case (--label-filter,
// --focus, --skip; under go test, Ginkgo's own flags). Skipped cases are
// selected: they are reported, and send nothing.
func (s *Session) selects(c scenarios.Case) bool {
	if s.sel == nil {
		s.sel = ginkgoSelection()
	}
	return s.sel(c)
}

// ginkgoSelection is Ginkgo's label filter, focus and skip (the go test
// route, where Select is not called) as a predicate on cases.
func ginkgoSelection() func(scenarios.Case) bool {
	cfg, _ := ginkgo.GinkgoConfiguration()
	filter, err := types.ParseLabelFilter(cfg.LabelFilter)
	if err != nil {
		return func(scenarios.Case) bool { return false }
	}
	focus, ferr := compileAll(cfg.FocusStrings)
	skip, serr := compileAll(cfg.SkipStrings)
	if ferr != nil || serr != nil {
		return func(scenarios.Case) bool { return false }
	}
	return func(c scenarios.Case) bool {
		text := specText(c)
		return filter(c.Labels) && (len(focus) == 0 || anyMatch(focus, text)) && !anyMatch(skip, text)
	}
}

// replan builds the run's plan from the matrix as it stands and the
// selection. Called after every full expansion (not the adaptive ones,
// which only narrow the matrix).
func (s *Session) replan() {
	var selected []scenarios.Case
	for _, c := range s.Cases {
		if s.selects(c) {
			selected = append(selected, c)
		}
	}
	s.plan = scenarios.NewPlan(selected, s.Policy.Never)
}

// Plan is the run's plan: what it may send.
func (s *Session) Plan() *scenarios.Plan {
	if s.plan == nil {
		s.replan()
	}
	return s.plan
}

// send runs probes in a browser once the plan permits every fetch: the one
// door every request goes through. A fetch the plan refuses is never sent
// and makes the run stop (it would be a bug in corscheck).
func (s *Session) send(ctx context.Context, b runner.Browser, probes []runner.Probe, o runner.RunOptions) ([][]scenarios.Observation, error) {
	if len(probes) == 0 {
		return nil, nil
	}
	plan := s.Plan()
	for _, p := range probes {
		for _, f := range p.Fetches {
			if err := plan.Permits(scenarios.Request{URL: f.URL, Origin: p.Origin, Method: f.Method, Headers: f.Headers, Credentials: f.Credentials, Mode: f.Mode}); err != nil {
				return nil, &EnvError{fmt.Errorf("corscheck refused to send a request: %v. This is a bug in corscheck: please report it", err)}
			}
		}
	}
	s.sent += countFetches(probes)
	return b.Run(ctx, probes, o)
}

func countFetches(probes []runner.Probe) int {
	n := 0
	for _, p := range probes {
		n += len(p.Fetches)
	}
	return n
}

// runOptions are the options every send of this run shares.
func (s *Session) runOptions() runner.RunOptions {
	return runner.RunOptions{Timeout: s.Config.Timeout, Setup: s.pageSetup(), Rate: s.Config.Rate}
}

// probeOf is the probe that sends one request, with the auth headers' real
// values in place of the ${VAR} references the matrix carries.
func (s *Session) probeOf(r scenarios.Request) runner.Probe {
	return s.withSecrets(runner.Probe{Origin: r.Origin, Fetches: []runner.Fetch{runner.FetchOf(r)}})
}

// precheckRequest is the one request that proves the browser reaches the
// target: a selected simple request from an allowed origin (a GET without
// credentials when there is one), else the first selected request.
func (s *Session) precheckRequest() (scenarios.Request, bool) {
	cases := s.Plan().Cases()
	if len(cases) == 0 {
		return scenarios.Request{}, false
	}
	best, score := cases[0].Request, -1
	for _, c := range cases {
		if len(c.Related) > 0 {
			continue
		}
		sc := 0
		if c.Request.Origin == firstOrigin(s.Policy) {
			sc += 32
		}
		if c.Family == "simple" {
			sc += 16
		}
		if !c.Hostile {
			sc += 8
		}
		if !scenarios.NeedsPreflight(c.Request) {
			sc += 4
		}
		if c.Request.Method == "GET" || c.Request.Method == "HEAD" {
			sc += 64 // a safe method: the precheck changes nothing
		}
		if c.Request.Credentials == scenarios.CredentialsOmit {
			sc++
		}
		if sc > score || sc == score && c.ID < bestID(cases, best) {
			best, score = c.Request, sc
		}
	}
	return best, true
}

func bestID(cases []scenarios.Case, r scenarios.Request) string {
	for _, c := range cases {
		if c.Request.URL == r.URL && c.Request.Method == r.Method && c.Request.Origin == r.Origin && c.Request.Credentials == r.Credentials {
			return c.ID
		}
	}
	return ""
}

// discoveryRequests are, per route, a selected GET from the first allowed
// origin: its answer tells whether the route redirects. Routes where no
// selected case sends a GET are not asked.
func (s *Session) discoveryRequests() map[string]scenarios.Request {
	out := map[string]scenarios.Request{}
	ids := map[string]string{}
	allowed := firstOrigin(s.Policy)
	for _, c := range s.Plan().Cases() {
		r := c.Request
		if c.Hostile || r.Method != "GET" || r.Origin != allowed || len(c.Related) > 0 || c.Family != "simple" {
			continue
		}
		if prev, ok := ids[r.URL]; ok && prev <= c.ID {
			continue
		}
		out[r.URL], ids[r.URL] = r, c.ID
	}
	return out
}

// PlannedRequest is one request a run may send, and why.
type PlannedRequest struct {
	// Stage is precheck, session (the credentials work), discovery,
	// fingerprint or case.
	Stage string
	// Case is the case's ID (stage case).
	Case    string
	Request scenarios.Request
	// Conditional says when the request is sent only if earlier answers
	// call for it (the adaptive matrix's cases of covered routes; the
	// actual request behind a preflight the server may refuse).
	Conditional string
}

// PlannedRequests lists every request the run may send, in the order it
// sends them: the precheck, discovery, fingerprints and the cases. With the
// adaptive matrix, the cases of routes their group covers are sent only if
// their group is probed in full: they are listed as conditional.
func (s *Session) PlannedRequests() []PlannedRequest {
	var out []PlannedRequest
	if r, ok := s.precheckRequest(); ok {
		out = append(out, PlannedRequest{Stage: "precheck", Request: r})
	}
	sess := s.sessionRequests()
	for _, rt := range s.Routes {
		if r, ok := sess[rt.URL]; ok {
			out = append(out, PlannedRequest{Stage: "session", Request: r})
		}
	}
	disc := s.discoveryRequests()
	for _, rt := range s.Routes {
		if r, ok := disc[rt.URL]; ok {
			out = append(out, PlannedRequest{Stage: "discovery", Request: r})
		}
	}
	adaptive := s.adaptive()
	if adaptive {
		for _, rt := range s.fingerprintRoutes() {
			for _, r := range scenarios.Fingerprint(rt, s.Plan().Cases()) {
				if r != nil {
					out = append(out, PlannedRequest{Stage: "fingerprint", Request: *r})
				}
			}
		}
	}
	cases := s.Plan().Cases()
	redirect := map[string]bool{} // the redirect family, added where discovery finds a redirect
	asked := map[string]bool{}
	for u := range disc {
		asked[u] = true
	}
	if all, err := scenarios.ExpandWith(s.Policy, s.Target, scenarios.Discovery{Operations: s.Operations, Redirecting: asked}); err == nil {
		for _, c := range s.shard.Shard(all) {
			if c.Family == "redirect" && s.selects(c) && c.SkipReason == "" {
				cases = append(cases, c)
				redirect[c.ID] = true
			}
		}
	}
	for _, c := range cases {
		var cond []string
		if redirect[c.ID] {
			cond = append(cond, "if discovery finds the route redirects")
		}
		if adaptive {
			cond = append(cond, "if its route is probed in full (a representative, a sampled member, or a group whose sample differed)")
		}
		for _, r := range append([]scenarios.Request{c.Request}, c.Related...) {
			for range c.Fetches() {
				out = append(out, PlannedRequest{Stage: "case", Case: c.ID, Request: r, Conditional: strings.Join(cond, "; ")})
			}
		}
	}
	return out
}

// adaptive reports whether the run groups routes: from AdaptiveMinRoutes
// selected routes, unless --exhaustive.
func (s *Session) adaptive() bool {
	return !s.Config.Exhaustive && len(s.fingerprintRoutes()) >= scenarios.AdaptiveMinRoutes
}

// fingerprintRoutes are the routes some selected case sends to.
func (s *Session) fingerprintRoutes() []scenarios.Route {
	used := map[string]bool{}
	for _, c := range s.Plan().Cases() {
		used[c.Route] = true
	}
	var out []scenarios.Route
	for _, r := range s.Routes {
		if used[r.Path] {
			out = append(out, r)
		}
	}
	return out
}

// PlanSummary counts planned requests by method and route path, unsafe
// methods marked, for the dry run and the announcement.
func PlanSummary(reqs []PlannedRequest) []string {
	counts := map[string]int{}
	for _, p := range reqs {
		counts[scenarios.NormalizeMethod(p.Request.Method)+" "+pathOnly(p.Request.URL)]++
	}
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%-7s %s: %d", strings.SplitN(k, " ", 2)[0], strings.SplitN(k, " ", 2)[1], n))
	}
	sort.Strings(out)
	return out
}

// pathOnly is a URL's path ("/" when it has none).
func pathOnly(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

// withSecrets puts the auth headers' real values in place of the ${VAR}
// references the matrix carries. Only headers a request already has are
// filled: hostile-origin requests carry none of the user's headers.
func (s *Session) withSecrets(p runner.Probe) runner.Probe {
	if s.Auth == nil || len(s.Auth.Headers) == 0 {
		return p
	}
	fetches := make([]runner.Fetch, len(p.Fetches))
	for k, f := range p.Fetches {
		h := make(map[string]string, len(f.Headers))
		for name, v := range f.Headers {
			for an, av := range s.Auth.Headers {
				if strings.EqualFold(an, name) {
					v = av
				}
			}
			h[name] = v
		}
		f.Headers = h
		fetches[k] = f
	}
	p.Fetches = fetches
	return p
}
