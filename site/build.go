// Package site builds the CORS compatibility site: every stack fixture
// (its recommended configuration for the reference policy, how its
// documentation starts you, and its known misconfigurations) run on its
// real server and judged in every browser engine, written as a static site
// by reports.WriteSite.
package site

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
	_ "github.com/corscheck/corscheck/runner/engines"
	"github.com/corscheck/corscheck/scenarios"
	"github.com/corscheck/corscheck/stacks"
)

// Options are what to build.
type Options struct {
	// Engines are the browser engines, in column order.
	Engines []string
	// Stacks limits the stacks (nil: every stack fixture).
	Stacks []string
	// Browser are the browser options (binaries, start timeout); the
	// builder adds loopback-only and the fixtures' certificate authority.
	Browser runner.Options
	// Version is corscheck's version, recorded in the site.
	Version string
	// Progress, when set, gets a line per step.
	Progress io.Writer
	// Timeout bounds each fetch (default 10 s).
	Timeout time.Duration
}

// config is one row being built: a stack configuration on its server.
type config struct {
	row   reports.SiteRow
	slots stacks.Slots
	// the cases and each engine's observations, by case index.
	cases []scenarios.Case
	obs   map[string][][]scenarios.Observation
	url   string
	// findings per engine.
	findings map[string][]diagnosis.Finding
}

// ProofTest names the test that proves, on every build of corscheck, each
// stack's fix snippets on the real servers.
const ProofTest = "fixtures/stacks_test.go: \"stack fixtures: real servers, the article configurations, and the snippets corscheck prints\" (go test ./fixtures)"

// Build runs every configuration in every engine and returns the site's
// data. The fixes of each misconfiguration are applied to it and run again
// in the first engine: a fix is shown as proven when its finding is gone
// and nothing new failed, in this build.
func Build(ctx context.Context, o Options) (*reports.Site, error) {
	if len(o.Engines) == 0 {
		return nil, errors.New("no browser engine to build the site with")
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	policy, err := scenarios.ParsePolicy("reference.yaml", []byte(fixtures.StackPolicy))
	if err != nil {
		return nil, err
	}
	names := fixtures.StackFixtures
	if len(o.Stacks) > 0 {
		for _, s := range o.Stacks {
			if !slices.Contains(fixtures.StackFixtures, s) {
				return nil, fmt.Errorf("--stacks: no stack fixture %q (%s)", scenarios.Visible(s), strings.Join(fixtures.StackFixtures, ", "))
			}
		}
		names = o.Stacks
	}
	var configs []*config
	for _, st := range names {
		configs = append(configs, stackConfigs(st, policy)...)
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	say("site: %d configurations of %d stacks, in %s", len(configs), len(names), strings.Join(o.Engines, ", "))
	tls := slices.Contains(o.Engines, runner.EngineWebKit)
	stop, bopts, err := startServers(ctx, configs, policy, tls, o.Browser)
	defer stop()
	if err != nil {
		return nil, err
	}
	site := &reports.Site{Corscheck: o.Version, Policy: strings.TrimSpace(fixtures.StackPolicy), ProofTest: ProofTest, Columns: reports.SiteColumns}
	for _, e := range o.Engines {
		start := time.Now()
		version, err := runEngine(ctx, e, bopts, configs, o.Timeout, say)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", scenarios.EngineTitle(e), err)
		}
		site.Engines = append(site.Engines, reports.SiteEngine{Engine: e, Title: scenarios.EngineTitle(e), Version: version})
		say("site: %s (%s) done in %.0f s", scenarios.EngineTitle(e), version, time.Since(start).Seconds())
	}
	for _, c := range configs {
		judge(c, policy, o.Engines)
	}
	if err := proveFixes(ctx, configs, policy, o, bopts, say); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range configs {
		site.Rows = append(site.Rows, c.row)
		if !seen[c.row.Stack] {
			seen[c.row.Stack] = true
			st := diagnosis.StackByName(c.row.Stack)
			title := c.row.Stack
			if st != nil {
				title = st.Title
			}
			site.Stacks = append(site.Stacks, reports.SiteStack{Name: c.row.Stack, Title: title, Version: fixtures.StackVersion(c.row.Stack)})
		}
	}
	site.Differences = differences(configs, o.Engines)
	return site, nil
}

// stackConfigs are a stack's rows: the recommended configuration, how the
// documentation starts you (a variant marked Default, or no CORS
// configuration at all), and its known misconfigurations.
func stackConfigs(stack string, p *scenarios.Policy) []*config {
	title := stack
	if st := diagnosis.StackByName(stack); st != nil {
		title = st.Title
	}
	row := func(name, kind, source string, slots stacks.Slots, want []string) *config {
		return &config{slots: slots, row: reports.SiteRow{ID: stack + "--" + name, Stack: stack, StackTitle: title, Config: name, Kind: kind, Source: source,
			Slots: siteSlots(slots), Expected: want}}
	}
	out := []*config{row("recommended", reports.KindRecommended, "the configuration corscheck prints for the reference policy (its fix snippets, together)", fixtures.CorrectSlots(stack, p), nil)}
	hasDefault := false
	var variants []*config
	for _, v := range stacks.Variants {
		if v.Stack != stack {
			continue
		}
		kind := reports.KindMisconfiguration
		if v.Default != "" {
			kind, hasDefault = reports.KindDefault, true
		}
		c := row(v.Name, kind, v.Source, v.SlotsFor(p), slices.Sorted(slices.Values(v.Findings)))
		c.row.Default = v.Default
		variants = append(variants, c)
	}
	if !hasDefault {
		c := row("no-cors-configuration", reports.KindDefault, "the server as installed, with no CORS configuration at all", stacks.Slots{}, nil)
		c.row.Default = stacks.DefaultOutOfTheBox
		out = append(out, c)
	}
	return append(out, variants...)
}

func siteSlots(s stacks.Slots) []reports.SiteSlot {
	var out []reports.SiteSlot
	for _, k := range slices.Sorted(maps.Keys(s)) {
		if strings.TrimSpace(s[k]) != "" {
			out = append(out, reports.SiteSlot{Name: k, Text: s[k]})
		}
	}
	return out
}

// startServers starts every configuration's real server (six at a time:
// the Python and Ruby servers take a second each), behind https when
// WebKit runs, and returns the browser options that trust them.
func startServers(ctx context.Context, configs []*config, p *scenarios.Policy, tls bool, bopts runner.Options) (func(), runner.Options, error) {
	var mu sync.Mutex
	var servers []*fixtures.Server
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range servers {
			s.Close()
		}
		servers = nil
	}
	errs := make([]error, len(configs))
	caFile := ""
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	for i, c := range configs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			srv, err := fixtures.StartStack(c.row.Stack, c.slots, "")
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", c.row.ID, err)
				return
			}
			if tls {
				front, ca, err := fixtures.WithTLSFile(srv)
				if err != nil {
					srv.Close()
					errs[i] = err
					return
				}
				srv = front
				mu.Lock()
				caFile = ca
				mu.Unlock()
			}
			mu.Lock()
			servers = append(servers, srv)
			mu.Unlock()
			c.url = srv.URL + "/api/items"
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return stop, bopts, err
	}
	for _, c := range configs {
		cases, err := scenarios.Expand(p, c.url)
		if err != nil {
			return stop, bopts, err
		}
		c.cases = cases
	}
	bopts.LoopbackOnly = true
	if caFile != "" {
		cas, err := runner.LoadCAs([]string{caFile})
		if err != nil {
			return stop, bopts, err
		}
		// Every fixture's front has the same certificate: one chain.
		spki, err := runner.TrustChain(ctx, configs[0].url, cas, nil)
		if err != nil {
			return stop, bopts, err
		}
		bopts.CACerts = append(bopts.CACerts, caFile)
		bopts.TrustSPKI = append(bopts.TrustSPKI, spki...)
	}
	return stop, bopts, nil
}

// runEngine probes every configuration's matrix in one batch in a browser
// of the engine, and returns its version.
func runEngine(ctx context.Context, engine string, bopts runner.Options, configs []*config, timeout time.Duration, say func(string, ...any)) (string, error) {
	bopts.Browsers = engine
	b, err := runner.Start(ctx, bopts)
	if err != nil {
		return "", err
	}
	defer b.Close()
	type owner struct{ c, ci int }
	var probes []runner.Probe
	var owners []owner
	for i, c := range configs {
		for ci, cs := range c.cases {
			for _, pr := range runner.ProbesFor(cs) {
				probes = append(probes, pr)
				owners = append(owners, owner{i, ci})
			}
		}
	}
	done, next := 0, len(probes)/10
	onChunk := func(idx []int, _ [][]scenarios.Observation) {
		if done += len(idx); done >= next {
			say("site: %s: %d/%d probes", scenarios.EngineTitle(engine), done, len(probes))
			next += max(1, len(probes)/10)
		}
	}
	obs, err := b.Run(ctx, probes, runner.RunOptions{Timeout: timeout, OnChunk: onChunk})
	if err != nil {
		return "", err
	}
	for _, c := range configs {
		if c.obs == nil {
			c.obs = map[string][][]scenarios.Observation{}
		}
		c.obs[engine] = make([][]scenarios.Observation, len(c.cases))
	}
	for k, ow := range owners {
		c := configs[ow.c]
		c.obs[engine][ow.ci] = append(c.obs[engine][ow.ci], obs[k]...)
	}
	return b.Version(), nil
}

// columnOf is the feature family a case belongs to on the site's grid.
func columnOf(c scenarios.Case) string {
	switch {
	case c.Hostile || c.Family == "origins" || c.Family == "disallowed":
		return "hostile"
	case c.Family == "errors":
		return "errors"
	case c.Family == "cache" || c.Family == "vary":
		return "cache"
	case c.Family == "expose":
		return "expose"
	case c.Request.Credentials == scenarios.CredentialsInclude:
		return "credentials"
	case c.Family == "preflight":
		return "preflight"
	}
	return "simple"
}

// judge fills a row's cells, cases and findings from its observations.
func judge(c *config, p *scenarios.Policy, engines []string) {
	cells := map[string]map[string]*reports.SiteCell{}
	for _, e := range engines {
		cells[e] = map[string]*reports.SiteCell{}
		for _, col := range reports.SiteColumns {
			cells[e][col.ID] = &reports.SiteCell{Column: col.ID}
		}
	}
	items := map[string][]diagnosis.Judged{}
	for ci, cs := range c.cases {
		per := map[string][]scenarios.Observation{}
		for _, e := range engines {
			if o := c.obs[e][ci]; len(o) > 0 {
				per[e] = o
			}
		}
		combined, each, diff := scenarios.JudgeEngines(cs, engines, per)
		col := columnOf(cs)
		sc := reports.SiteCase{ID: cs.ID, Column: col, Title: cs.Title, Spec: cs.Spec, Request: cs.Request.Method + " " + cs.Request.URL + " from " + cs.Request.Origin + ", credentials " + string(cs.Request.Credentials),
			Verdict: combined.Verdict.String(), Difference: diff}
		for _, ej := range each {
			cell := cells[ej.Engine][col]
			switch ej.Verdict {
			case scenarios.Pass:
				cell.Passed++
			case scenarios.Fail:
				cell.Failed++
			case scenarios.Skipped:
				// Not checkable on this route (a 401 where a 404 was
				// wanted, no header to expose): counted, not a failure.
				cell.Skipped++
			default:
				cell.Errored++
			}
			if diff != "" {
				cell.Differs++
			}
			r := reports.SiteEngineResult{Engine: ej.Engine, Verdict: ej.Verdict.String(), Message: ej.Message}
			if len(ej.Obs) > 0 {
				r.Outcome, r.Reason = ej.Obs[0].Outcome.String(), string(ej.Obs[0].CorsError)
				if ej.Obs[0].BrowserReason != "" {
					r.Reason = strings.TrimSpace(r.Reason + " " + ej.Obs[0].BrowserReason)
				}
			}
			sc.Engines = append(sc.Engines, r)
			items[ej.Engine] = append(items[ej.Engine], diagnosis.Judged{Case: cs, Obs: ej.Obs[0], Judgement: ej.Judgement})
		}
		if combined.Verdict == scenarios.Fail || combined.Verdict == scenarios.Error || diff != "" {
			c.row.Cases = append(c.row.Cases, sc)
		}
		c.row.Total++
	}
	for _, e := range engines {
		ec := reports.SiteEngineCells{Engine: e}
		for _, col := range reports.SiteColumns {
			ec.Cells = append(ec.Cells, *cells[e][col.ID])
		}
		c.row.Cells = append(c.row.Cells, ec)
	}
	// Findings: by cause, each engine's, merged by ID (the engines that
	// showed it listed).
	c.findings = map[string][]diagnosis.Finding{}
	byID := map[string]*reports.SiteFinding{}
	var order []string
	for _, e := range engines {
		fs := diagnosis.Causes(items[e], p, diagnosis.StackChoice{Forced: c.row.Stack})
		c.findings[e] = fs
		for _, f := range fs {
			sf := byID[f.ID]
			if sf == nil {
				sf = &reports.SiteFinding{ID: f.ID, Severity: f.Severity, Message: f.Message, Fix: f.Fix}
				for _, x := range f.Fixes {
					if x.Stack == c.row.Stack {
						sf.StackFix = &reports.SiteFix{Title: x.Title, Why: x.Why, Where: x.Where, Snippet: x.Snippet, Verified: x.Verified}
					}
				}
				byID[f.ID] = sf
				order = append(order, f.ID)
			}
			sf.Engines = append(sf.Engines, e)
		}
	}
	for _, id := range order {
		c.row.Findings = append(c.row.Findings, *byID[id])
	}
	c.row.Status = status(c.row)
	stabilise(&c.row, c.url)
}

// stabilise writes the target as {target} wherever the row quotes it: the
// servers listen on free ports, and the same fixtures must give the same
// pages.
func stabilise(r *reports.SiteRow, target string) {
	base := target
	if u, err := url.Parse(target); err == nil {
		base = u.Scheme + "://" + u.Host
	}
	fix := func(s *string) { *s = strings.ReplaceAll(*s, base, "{target}") }
	for i := range r.Cases {
		c := &r.Cases[i]
		fix(&c.Request)
		fix(&c.Title)
		for k := range c.Engines {
			fix(&c.Engines[k].Message)
			fix(&c.Engines[k].Reason)
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		fix(&f.Message)
		fix(&f.Fix)
		if f.StackFix != nil {
			fix(&f.StackFix.Snippet)
			fix(&f.StackFix.Why)
		}
	}
}

// status is a row's verified status in words: whether its findings are
// exactly the known ones (a misconfiguration) or none (recommended).
func status(r reports.SiteRow) string {
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.ID)
	}
	sort.Strings(got)
	switch {
	case r.Kind == reports.KindRecommended && len(got) == 0:
		return "verified: no finding in any engine"
	case r.Kind == reports.KindRecommended:
		return "NOT verified: the recommended configuration has findings (" + strings.Join(got, ", ") + ")"
	case r.Expected != nil && slices.Equal(got, r.Expected):
		return "verified: exactly its known findings (" + strings.Join(got, ", ") + ")"
	case r.Expected != nil:
		return fmt.Sprintf("NOT verified: findings %s, known %s", strings.Join(got, ", "), strings.Join(r.Expected, ", "))
	case len(got) == 0:
		return "observed (nothing known to compare with): no finding"
	}
	return "observed (nothing known to compare with): " + strings.Join(got, ", ")
}

// proveFixes applies each finding's stack snippet to its configuration,
// runs the fixed configurations in the first engine and records on each
// finding whether the fix removed it without breaking anything.
func proveFixes(ctx context.Context, configs []*config, p *scenarios.Policy, o Options, bopts runner.Options, say func(string, ...any)) error {
	engine := o.Engines[0]
	type target struct {
		c   *config
		fi  int
		key string
	}
	var fixed []*config
	byKey := map[string]*config{}
	var targets []target
	for _, c := range configs {
		for fi, f := range c.findings[engine] {
			var sf *diagnosis.StackFix
			for _, x := range f.Fixes {
				if x.Stack == c.row.Stack && len(x.Parts) > 0 {
					sf = &x
					break
				}
			}
			if sf == nil {
				continue
			}
			slots := c.slots.Overlay(sf.Parts)
			key := c.row.Stack + "\x00" + slotsKey(slots)
			if byKey[key] == nil {
				fc := &config{slots: slots, row: reports.SiteRow{ID: c.row.ID + "--fixed", Stack: c.row.Stack}}
				byKey[key] = fc
				fixed = append(fixed, fc)
			}
			targets = append(targets, target{c, fi, key})
		}
	}
	if len(fixed) == 0 {
		return nil
	}
	say("site: proving %d fixes on %d fixed configurations in %s", len(targets), len(fixed), scenarios.EngineTitle(engine))
	stop, _, err := startServers(ctx, fixed, p, slices.Contains(o.Engines, runner.EngineWebKit), o.Browser)
	defer stop()
	if err != nil {
		return err
	}
	if _, err := runEngine(ctx, engine, bopts, fixed, o.Timeout, say); err != nil {
		return err
	}
	for _, fc := range fixed {
		judge(fc, p, []string{engine})
	}
	for _, t := range targets {
		fc := byKey[t.key]
		f := t.c.findings[engine][t.fi]
		before := map[string]bool{}
		for _, x := range t.c.findings[engine] {
			before[x.ID] = true
		}
		var still, added []string
		for _, x := range fc.findings[engine] {
			if x.ID == f.ID {
				still = append(still, x.ID)
			} else if !before[x.ID] {
				added = append(added, x.ID)
			}
		}
		proof := "proven in this build: applied to this configuration on the real server, the finding is gone in " + scenarios.EngineTitle(engine) + " and nothing new fails"
		if len(still) > 0 || len(added) > 0 {
			proof = fmt.Sprintf("NOT proven in this build: after the fix, still %v, new %v", still, added)
		}
		for i := range t.c.row.Findings {
			if t.c.row.Findings[i].ID == f.ID {
				t.c.row.Findings[i].Proof = proof
			}
		}
	}
	return nil
}

func slotsKey(s stacks.Slots) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(s)) {
		b.WriteString(k + "\x00" + s[k] + "\x00")
	}
	return b.String()
}

// differences groups, across rows, the cases where the engines did
// different things with the same server answer, by the difference.
func differences(configs []*config, engines []string) []reports.SiteDifference {
	if len(engines) < 2 {
		return nil
	}
	byText := map[string]*reports.SiteDifference{}
	var order []string
	for _, c := range configs {
		for _, sc := range c.row.Cases {
			if sc.Difference == "" {
				continue
			}
			d := byText[sc.Difference]
			if d == nil {
				d = &reports.SiteDifference{Text: sc.Difference}
				byText[sc.Difference] = d
				order = append(order, sc.Difference)
			}
			if sc.Spec != "" && !slices.Contains(d.Specs, sc.Spec) {
				d.Specs = append(d.Specs, sc.Spec)
			}
			d.Cases = append(d.Cases, reports.SiteDiffCase{Row: c.row.ID, Case: sc})
		}
	}
	sort.Strings(order)
	var out []reports.SiteDifference
	for _, t := range order {
		d := byText[t]
		// A stable URL: the same difference has the same page in every build.
		sum := sha256.Sum256([]byte(t))
		d.ID = "difference-" + hex.EncodeToString(sum[:6])
		sort.Strings(d.Specs)
		out = append(out, *d)
	}
	return out
}
