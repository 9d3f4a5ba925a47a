// Package suite turns the scenario matrix into Ginkgo specs that drive a
// real browser against a target. The same specs run in-process under
// `corscheck run` and under `go test ./suite` / `ginkgo ./suite`.
package suite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
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
	// Every stack's detection, causes and snippets register themselves.
	_ "github.com/corscheck/corscheck/stacks"
)

// EnvError is a usage, policy or environment problem found before any case
// ran (or one that made the run meaningless): exit status 2.
type EnvError struct{ Err error }

func (e *EnvError) Error() string { return e.Err.Error() }
func (e *EnvError) Unwrap() error { return e.Err }

// Session is one run: the policy, the matrix, the browser and what it observed.
type Session struct {
	Config  Config
	Policy  *scenarios.Policy
	Target  string
	Cases   []scenarios.Case
	Started time.Time
	// Routes are the routes the matrix covers.
	Routes []scenarios.Route
	// Auth are the credentials with ${VAR} filled in; Secrets must appear
	// in no output.
	Auth    *scenarios.Auth
	Secrets []string
	// Operations come from --openapi (or the policy's openapi:).
	Operations []scenarios.Operation

	fixture *fixtures.Server
	// fixtureName is the built-in target's name ("" for a user's target).
	fixtureName string
	// browser is the first of browsers: the one discovery and the
	// precheck use; every browser runs every case.
	browser  runner.Browser
	browsers []runner.Browser
	versions string // the browsers' versions, kept after Close
	// interrupt, when set, cancels probing (the CLI's Ctrl-C).
	interrupt context.Context
	// focus, when set, limits the specs Define builds (corscheck run --focus).
	focus func(scenarios.Case) bool
	// sel is the user's selection (label filter, focus, skip) as a
	// predicate; plan is what the run may send (see plan.go); sent counts
	// the fetches sent.
	sel  func(scenarios.Case) bool
	plan *scenarios.Plan
	sent int
	// live are, per engine, the routes where the user's credentials worked
	// at the start; died is where they stopped working (credentials.go).
	live map[string]map[string]bool
	died *sessionDeath
	// stopped says why the run stopped before the matrix, once it had sent
	// something (the outputs still record what ran).
	stopped string
	// nSelected is how many cases the run selected (for Meaningful).
	nSelected int

	spool *spool
	shard scenarios.ShardSpec
	// groups are the adaptive matrix's route groups (nil: every route in full).
	groups []adaptiveGroup

	mu  sync.Mutex
	obs map[string][]scenarios.Observation
	// engineObs holds every browser's observations: engine -> case ID.
	engineObs map[string]map[string][]scenarios.Observation
	batched   bool
	judged    int
	failures  int
	total     int
}

// Prepare loads the policy, starts a built-in target when asked (or when
// neither policy nor target is given), resolves credentials, reads the
// OpenAPI description, expands the matrix and checks the target is
// allowed. Every error is an *EnvError.
func Prepare(cfg Config) (*Session, error) {
	s := &Session{Config: cfg, Started: time.Now(), obs: map[string][]scenarios.Observation{}, engineObs: map[string]map[string][]scenarios.Observation{}}
	envErr := func(err error) (*Session, error) { s.Close(); return nil, &EnvError{err} }
	if cfg.Getenv == nil {
		s.Config.Getenv = os.LookupEnv
	}
	if cfg.Shard != "" {
		sh, err := scenarios.ParseShard(cfg.Shard)
		if err != nil {
			return envErr(err)
		}
		s.shard = sh
	}
	if cfg.Out != "" && !cfg.ListOnly {
		if err := reports.CheckOutDir(s.OutDir()); err != nil {
			return envErr(err)
		}
	}
	var err error
	switch {
	case cfg.PolicyPath != "":
		s.Policy, err = scenarios.LoadPolicy(s.abs(cfg.PolicyPath))
	default:
		s.Policy, err = fixtures.Policy("demo")
	}
	if err != nil {
		return envErr(err)
	}
	if err := s.Config.Browser.Validate(); err != nil {
		return envErr(err)
	}
	for _, raw := range cfg.Never {
		r, err := scenarios.ParseNeverRule(raw)
		if err != nil {
			return envErr(fmt.Errorf("--never %v", err))
		}
		s.Policy.Never = append(s.Policy.Never, r)
	}
	if err := s.mergeResolve(); err != nil {
		return envErr(err)
	}
	if err := s.resolveAuth(); err != nil {
		return envErr(err)
	}
	if s.Policy.Stack != "" {
		if err := diagnosis.CheckStack(s.Policy.Stack); err != nil {
			return envErr(fmt.Errorf("%s: stack: %w", s.Policy.StackAt, err))
		}
	}
	for _, r := range s.Policy.Paths {
		if r.Stack != "" {
			if err := diagnosis.CheckStack(r.Stack); err != nil {
				return envErr(fmt.Errorf("%s: paths: stack: %w", r.StackAt, err))
			}
		}
	}
	if s.Config.Stack == "" {
		s.Config.Stack = s.Policy.Stack
	} else if err := diagnosis.CheckStack(s.Config.Stack); err != nil {
		return envErr(fmt.Errorf("--stack: %w", err))
	}
	s.Target = cfg.Target
	if s.Target == "" {
		s.Target = s.Policy.Target
	}
	if cfg.Fixture != "" || s.Target == "" {
		name := cfg.Fixture
		if name == "" {
			name = "reference"
		}
		if cfg.Target != "" {
			return envErr(errors.New("--fixture and --target both name a target; give one"))
		}
		s.fixtureName = name
		if s.fixture, err = fixtures.Start(name, s.Policy, ""); err != nil {
			return envErr(err)
		}
		if engines, _ := s.Config.Browser.Engines(); slices.Contains(engines, runner.EngineWebKit) {
			// WebKit blocks an https page's fetch to any http URL (mixed
			// content), loopback included: the fixture is served over
			// https, its certificate trusted for this run.
			front, ca, err := fixtures.WithTLSFile(s.fixture)
			if err != nil {
				s.fixture.Close()
				return envErr(err)
			}
			s.fixture = front
			s.Config.Browser.CACerts = append(s.Config.Browser.CACerts, ca)
		}
		s.Target = s.fixture.URL + "/api/items"
	}
	if err := scenarios.CheckTargetURL(s.Target); err != nil {
		return envErr(fmt.Errorf("--target: %w", err))
	}
	if err := s.loadOpenAPI(); err != nil {
		return envErr(err)
	}
	if err := scenarios.TargetIsAllowedOrigin(s.Policy, s.Target); err != nil {
		return envErr(err)
	}
	if err := scenarios.CheckPathParams(s.Policy, s.Operations); err != nil {
		return envErr(err)
	}
	if err := checkLoopback(s.Target, cfg.AllowRemote || cfg.ListOnly, s.Config.Browser.Resolve); err != nil {
		return envErr(err)
	}
	if err := s.expand(scenarios.Discovery{}); err != nil {
		return envErr(err)
	}
	return s, nil
}

// abs resolves a path the user gave against the directory they ran the
// command in (BaseDir), so `go test ./suite` from the repository root
// resolves --policy and --out as the user wrote them.
func (s *Session) abs(p string) string {
	if p == "" || filepath.IsAbs(p) || s.Config.BaseDir == "" {
		return p
	}
	return filepath.Join(s.Config.BaseDir, p)
}

// OutDir is --out resolved against BaseDir.
func (s *Session) OutDir() string { return s.abs(s.Config.Out) }

// mergeResolve adds the policy's resolve: to --resolve (the flag wins).
func (s *Session) mergeResolve() error {
	if len(s.Policy.Resolve) == 0 {
		return nil
	}
	if len(s.Config.Browser.BrowserURLs) > 0 {
		return errors.New("the policy's resolve: needs a browser corscheck starts: map the names where the attached browser runs (Chrome: --host-resolver-rules)")
	}
	merged := map[string]string{}
	for h, a := range s.Policy.Resolve {
		merged[h] = a
	}
	for h, a := range s.Config.Browser.Resolve {
		merged[h] = a
	}
	s.Config.Browser.Resolve = merged
	return nil
}

// resolveAuth merges the policy's auth: with --header, --cookie and
// --cookie-file, fills in ${VAR} and checks the policy allows every header.
func (s *Session) resolveAuth() error {
	a := &scenarios.Auth{Headers: map[string]string{}}
	if s.Policy.Auth != nil {
		for k, v := range s.Policy.Auth.Headers {
			a.Headers[k] = v
		}
		a.Cookies = append(a.Cookies, s.Policy.Auth.Cookies...)
	}
	for _, raw := range s.Config.Headers {
		name, value, err := ParseHeader(raw)
		if err != nil {
			return err
		}
		if err := s.Policy.AllowsHeader(name); err != nil {
			return fmt.Errorf("--header %s", err)
		}
		a.Headers[name] = value
	}
	for _, raw := range s.Config.Cookies {
		c, err := scenarios.ParseCookie(raw)
		if err != nil {
			return fmt.Errorf("--cookie: %w", err)
		}
		a.Cookies = append(a.Cookies, c)
	}
	for _, f := range s.Config.CookieFiles {
		cs, err := ParseCookieFile(s.abs(f))
		if err != nil {
			return err
		}
		a.Cookies = append(a.Cookies, cs...)
	}
	if len(a.Headers) == 0 && len(a.Cookies) == 0 {
		return nil
	}
	resolved, secrets, err := a.Resolved(s.Config.Getenv)
	if err != nil {
		return err
	}
	s.Auth, s.Secrets = resolved, secrets
	// The matrix carries the headers as written (${VAR} references); the
	// probes get the values.
	if len(a.Headers) > 0 {
		merged := &scenarios.Auth{Headers: a.Headers}
		if s.Policy.Auth != nil {
			merged.Cookies = s.Policy.Auth.Cookies
		}
		s.Policy.Auth = merged
	}
	return nil
}

// loadOpenAPI reads the OpenAPI description (--openapi, else the policy's).
func (s *Session) loadOpenAPI() error {
	file := s.abs(s.Config.OpenAPI)
	if file == "" && s.Policy.OpenAPI != "" {
		file = s.Policy.OpenAPI
		if !filepath.IsAbs(file) && s.Config.PolicyPath != "" {
			file = filepath.Join(filepath.Dir(s.abs(s.Config.PolicyPath)), file)
		}
	}
	params := map[string]string{}
	for k, v := range s.Policy.PathParams {
		params[k] = v
	}
	for _, raw := range s.Config.PathParams {
		k, v, ok := strings.Cut(raw, "=")
		if !ok || k == "" {
			return fmt.Errorf("--path-param %q: write name=value, e.g. --path-param id=42", scenarios.Visible(raw))
		}
		params[k] = v
	}
	if len(params) > 0 {
		s.Policy.PathParams = params
	}
	if file == "" {
		return nil
	}
	doc, err := scenarios.LoadOpenAPI(file, params)
	if err != nil {
		return err
	}
	s.Operations = doc.Operations
	if err := scenarios.RepeatedBasePath(s.Target, doc.Operations); err != nil {
		return err
	}
	if u, err := url.Parse(s.Target); err == nil && (u.Path == "" || u.Path == "/") && doc.BasePath != "" {
		u.Path = doc.BasePath
		s.Target = u.String()
	}
	return nil
}

// expand builds the matrix with what discovery found.
func (s *Session) expand(d scenarios.Discovery) error {
	d.Operations = s.Operations
	routes, err := scenarios.Routes(s.Policy, s.Target, s.Operations)
	if err != nil {
		return err
	}
	cases, err := scenarios.ExpandWith(s.Policy, s.Target, d)
	if err != nil {
		return err
	}
	s.Routes, s.Cases = routes, s.shard.Shard(cases)
	s.expectAnonymous()
	if d.Only == nil {
		s.plan = nil // rebuilt from this matrix when next asked
	}
	for _, r := range routes {
		if err := checkLoopback(r.URL, s.Config.AllowRemote || s.Config.ListOnly, s.Config.Browser.Resolve); err != nil {
			return err
		}
	}
	return nil
}

// expectAnonymous: when the user gave credentials, a request that lacks
// some of them (an auth header; the cookies, with credentials omit, or from
// a hostile page that cannot add the user's headers) is answered 401 or 403
// by an API that needs them. That answer is the API's, expected: the case
// judges its CORS headers only (can the app read the error? is the attacker
// refused?), and it is not an error of the run.
func (s *Session) expectAnonymous() {
	if s.Auth == nil {
		return
	}
	for i := range s.Cases {
		c := &s.Cases[i]
		if s.carriesAll(c.Request) {
			continue
		}
		c.ExpectStatus = append(slices.Clip(c.ExpectStatus), 401, 403)
	}
}

// checkLoopback keeps corscheck safe by default: it sends real PUT and
// DELETE requests, so a target that is not on loopback needs
// --allow-remote. A name --resolve maps to a loopback address is loopback.
func checkLoopback(target string, allow bool, resolve map[string]string) error {
	if allow {
		return nil
	}
	u, _ := url.Parse(target)
	host := u.Hostname()
	if addr, ok := resolve[strings.ToLower(host)]; ok {
		host = addr
	}
	if IsLoopbackHost(host) {
		return nil
	}
	if net.ParseIP(strings.Trim(host, "[]")) == nil {
		return fmt.Errorf("target %s is not on loopback: corscheck sends real requests, including PUT and DELETE, to it. If %s runs here, map it with --resolve %s:127.0.0.1; for a staging server you own elsewhere, add --allow-remote",
			scenarios.Visible(target), scenarios.Visible(host), scenarios.Visible(host))
	}
	return fmt.Errorf("target %s is not on loopback: corscheck sends real requests, including PUT and DELETE, to it. Point it at a staging server you own and add --allow-remote", scenarios.Visible(target))
}

// IsLoopbackHost reports whether host is a loopback IP or a localhost name.
func IsLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// hosts are the host names of the target and every route.
func (s *Session) hosts() []string {
	seen := map[string]bool{}
	var out []string
	add := func(raw string) {
		if u, err := url.Parse(raw); err == nil && !seen[u.Hostname()] {
			seen[u.Hostname()] = true
			out = append(out, u.Hostname())
		}
	}
	add(s.Target)
	for _, r := range s.Routes {
		add(r.URL)
	}
	sort.Strings(out)
	return out
}

// StartBrowser starts (or attaches to) the browser once.
func (s *Session) StartBrowser(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.browser != nil {
		return nil
	}
	bs, err := runner.StartAll(ctx, s.browserOptions())
	if err != nil {
		return &EnvError{err}
	}
	s.browsers, s.browser = bs, bs[0]
	var vs []string
	for _, b := range bs {
		vs = append(vs, b.Version())
	}
	s.versions = strings.Join(vs, " + ")
	return nil
}

// browserOptions are the options the run's browsers start with.
func (s *Session) browserOptions() runner.Options {
	opts := s.Config.Browser
	if !s.Config.AllowRemote {
		// Only loopback targets are allowed: the browser resolves no other
		// name, so nothing it does can leave the machine.
		opts.LoopbackOnly, opts.AllowHosts = true, s.hosts()
	}
	return opts
}

// Engines are the engines of the started browsers, in order.
func (s *Session) Engines() []string {
	var out []string
	for _, b := range s.browsers {
		out = append(out, b.Engine())
	}
	return out
}

// Browser returns the browser's product/version, once started.
func (s *Session) Browser() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions
}

// Close stops the browser and any built-in target. Safe to call twice.
func (s *Session) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.browsers {
		b.Close()
	}
	s.browser, s.browsers = nil, nil
	if s.fixture != nil {
		s.fixture.Close()
		s.fixture = nil
	}
}

// pageSetup is what every origin page gets: the auth cookies in its jar,
// for the host of every route, and corscheck's canary cookie (unless
// --no-canary), set first-party as a signed-in user's cookies are. Cookies
// default to Secure; SameSite=None on https, as a cross-site app needs
// them. The canary is SameSite=None; Secure everywhere (browsers treat
// loopback http as secure), so a cross-site credentialed fetch carries it
// wherever the browser's privacy rules let third-party cookies through.
func (s *Session) pageSetup() runner.PageSetup {
	var setup runner.PageSetup
	var cookies []scenarios.CookieDef
	if s.Auth != nil {
		cookies = append(cookies, s.Auth.Cookies...)
	}
	if !s.Config.NoCanary {
		secure := true
		cookies = append(cookies, scenarios.CookieDef{Name: scenarios.CanaryCookie, Value: "1", SameSite: "None", Secure: &secure})
	}
	if len(cookies) == 0 {
		return setup
	}
	seen := map[string]bool{}
	for _, raw := range append([]string{s.Target}, routeURLs(s.Routes)...) {
		u, err := url.Parse(raw)
		if err != nil || seen[u.Scheme+u.Host] {
			continue
		}
		seen[u.Scheme+u.Host] = true
		for _, c := range cookies {
			spec := runner.CookieSpec{Name: c.Name, Value: c.Value, URL: u.Scheme + "://" + u.Host + "/", Path: c.Path, HTTPOnly: c.HTTPOnly, SameSite: c.SameSite}
			if c.Domain != "" {
				spec.Domain = c.Domain
			}
			if spec.Path == "" {
				spec.Path = "/"
			}
			https := u.Scheme == "https"
			spec.Secure = https
			if c.Secure != nil {
				spec.Secure = *c.Secure
			}
			if spec.SameSite == "" && https {
				spec.SameSite = "None"
			}
			setup.Cookies = append(setup.Cookies, spec)
		}
	}
	return setup
}

func routeURLs(rs []scenarios.Route) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.URL
	}
	return out
}
