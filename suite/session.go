// Package suite turns the scenario matrix into Ginkgo specs that drive a
// real browser against a target. The same specs run in-process under
// `corscheck run` and under `go test ./suite` / `ginkgo ./suite`.
package suite

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// Config is everything a run needs; the CLI and `go test` fill it from the
// same flags (RegisterFlags).
type Config struct {
	PolicyPath  string
	Target      string
	Fixture     string
	Out         string
	Timeout     time.Duration
	Browser     runner.Options
	AllowRemote bool
	// Wait is how long to wait for a target that does not accept connections yet.
	Wait    time.Duration
	Version string
	// Progress receives progress lines; nil is quiet.
	Progress io.Writer
	// ProgressInPlace rewrites one progress line (a terminal) instead of
	// printing a line per step (a CI log).
	ProgressInPlace bool
}

// RegisterFlags binds the run flags to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.PolicyPath, "policy", "", "policy file (YAML or JSON); default: the built-in demo policy")
	fs.StringVar(&c.Target, "target", "", "URL to test; overrides the policy's target; default: the built-in demo target")
	fs.StringVar(&c.Fixture, "fixture", "", "run against a built-in fixture by name (see `corscheck fixtures list`)")
	fs.StringVar(&c.Out, "out", c.Out, "directory for results.json, junit.xml and report.html")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "time limit for each fetch; a fetch that takes longer is an error, never blocked")
	c.Browser.RegisterFlags(fs)
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a target that is not on loopback (corscheck sends real PUT/DELETE requests)")
	fs.DurationVar(&c.Wait, "wait", 0, "wait up to this long for the target to accept connections (a server starting in the background)")
}

// EnvError is a usage, policy or environment problem found before any case ran.
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

	fixture *fixtures.Server
	browser runner.Browser
	// interrupt, when set, cancels probing (the CLI's Ctrl-C).
	interrupt context.Context

	mu       sync.Mutex
	obs      map[string][]scenarios.Observation
	batched  bool
	judged   int
	failures int
	total    int
}

// Prepare loads the policy, starts a built-in target when asked (or when
// neither policy nor target is given), expands the matrix and checks the
// target is allowed. Every error is an *EnvError.
func Prepare(cfg Config) (*Session, error) {
	s := &Session{Config: cfg, Started: time.Now(), obs: map[string][]scenarios.Observation{}}
	envErr := func(err error) (*Session, error) { s.Close(); return nil, &EnvError{err} }
	var err error
	switch {
	case cfg.PolicyPath != "":
		s.Policy, err = scenarios.LoadPolicy(cfg.PolicyPath)
	default:
		s.Policy, err = fixtures.Policy("demo")
	}
	if err != nil {
		return envErr(err)
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
		if s.fixture, err = fixtures.Start(name, s.Policy, ""); err != nil {
			return envErr(err)
		}
		s.Target = s.fixture.URL + "/api/items"
	}
	if err := scenarios.CheckTargetURL(s.Target); err != nil {
		return envErr(fmt.Errorf("--target: %w", err))
	}
	if err := checkLoopback(s.Target, cfg.AllowRemote); err != nil {
		return envErr(err)
	}
	if s.Cases, err = scenarios.Expand(s.Policy, s.Target); err != nil {
		return envErr(err)
	}
	return s, nil
}

// checkLoopback keeps corscheck safe by default: it sends real PUT and
// DELETE requests, so a non-loopback target needs --allow-remote.
func checkLoopback(target string, allow bool) error {
	if allow {
		return nil
	}
	u, _ := url.Parse(target)
	if IsLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("target %s is not on loopback: corscheck sends real requests, including PUT and DELETE, to it. Point it at a staging server you own and add --allow-remote", target)
}

// IsLoopbackHost reports whether host is a loopback IP or a localhost name.
func IsLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckReachable dials the target once, so a target that is down fails in
// seconds with one message instead of hundreds of errored cases.
func (s *Session) CheckReachable() error {
	target := s.Target
	u, _ := url.Parse(target)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	deadline := time.Now().Add(s.Config.Wait)
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil && s.Config.Wait > 0 && s.Config.Progress != nil {
		fmt.Fprintf(s.Config.Progress, "corscheck: waiting up to %s for %s to accept connections\n", s.Config.Wait, addr)
	}
	// With --wait, retry until the server listens: a connection attempt is
	// the only way to learn that, so this polls, with a short back-off.
	for backoff := 50 * time.Millisecond; err != nil && time.Now().Add(backoff).Before(deadline); backoff = min(2*backoff, time.Second) {
		time.Sleep(backoff)
		conn, err = net.DialTimeout("tcp", addr, 3*time.Second)
	}
	if err != nil {
		return &EnvError{fmt.Errorf("target %s is not reachable (%v): start the server or fix --target", target, err)}
	}
	conn.Close()
	return nil
}

// StartBrowser starts (or attaches to) the browser once.
func (s *Session) StartBrowser(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.browser != nil {
		return nil
	}
	opts := s.Config.Browser
	if !s.Config.AllowRemote {
		// Only loopback targets are allowed: the browser resolves no other
		// name, so nothing it does can leave the machine.
		u, _ := url.Parse(s.Target)
		opts.LoopbackOnly, opts.AllowHosts = true, []string{u.Hostname()}
	}
	b, err := runner.Start(ctx, opts)
	if err != nil {
		return &EnvError{err}
	}
	s.browser = b
	return nil
}

// Browser returns the browser's product/version, once started.
func (s *Session) Browser() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.browser == nil {
		return ""
	}
	return s.browser.Version()
}

// Close stops the browser and any built-in target. Safe to call twice.
func (s *Session) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.browser != nil {
		s.browser.Close()
		s.browser = nil
	}
	if s.fixture != nil {
		s.fixture.Close()
		s.fixture = nil
	}
}

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
		selected, err := selectedCases(s.Cases)
		if err != nil {
			return nil, err
		}
		s.total = len(selected)
		if err := s.probe(ctx, selected); err != nil {
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

// probe runs cases in the browser and stores their observations. Callers hold s.mu.
func (s *Session) probe(ctx context.Context, cases []scenarios.Case) error {
	probes := make([]runner.Probe, len(cases))
	for i, c := range cases {
		probes[i] = runner.ProbeFor(c)
	}
	obs, err := s.browser.Run(ctx, probes, runner.RunOptions{
		Timeout: s.Config.Timeout,
		OnChunk: func(idx []int, obs [][]scenarios.Observation) {
			for k, i := range idx {
				if j := scenarios.Judge(cases[i], obs[k]); j.Verdict == scenarios.Fail || j.Verdict == scenarios.Error {
					s.failures++
				}
			}
			s.judged += len(idx)
			if s.Config.Progress != nil {
				end := "\n"
				if s.Config.ProgressInPlace {
					fmt.Fprint(s.Config.Progress, "\r")
					end = ""
				}
				fmt.Fprintf(s.Config.Progress, "  probed %d/%d cases, %d failing so far%s", s.judged, max(s.total, s.judged), s.failures, end)
			}
		},
	})
	for i, c := range cases {
		if obs[i] != nil {
			s.obs[c.ID] = obs[i]
		}
	}
	if s.Config.Progress != nil && s.Config.ProgressInPlace && len(cases) > 1 {
		fmt.Fprintln(s.Config.Progress)
	}
	return err
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

// selectedCases applies Ginkgo's label filter, focus and skip to the cases,
// the way Ginkgo will apply them to the specs Define builds.
func selectedCases(cases []scenarios.Case) ([]scenarios.Case, error) {
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
	for _, c := range cases {
		if c.SkipReason != "" || !filter(c.Labels) {
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

// specText is the full text Ginkgo matches --focus against: container and spec.
func specText(c scenarios.Case) string { return c.Family + " " + specName(c) }

func specName(c scenarios.Case) string { return c.ID + ": " + c.Title }

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
