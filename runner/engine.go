// Package runner owns every line that talks to a browser: it starts or
// attaches to one, gives pages any origin, runs fetch() batches and turns the
// browser's events into scenarios.Observation values. It never asserts.
//
// Each engine is a package under runner/ behind one interface, Browser, and
// registers itself (Register): runner/chrome (the DevTools protocol),
// runner/firefox (WebDriver BiDi) and runner/webkit (WebDriver classic, a
// loopback relay and WebKit's inspector); runner/engines links them all.
// What they share (the page script, the batch skeleton, the collectors'
// common shape, the origin pages) is runner/internal/core. Nothing outside
// runner/ knows which engine produced an observation beyond the name it
// carries.
package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/corscheck/corscheck/scenarios"
)

// Browser is one running (or attached) browser engine. Every origin page is
// a tab in it; Run spreads probes over those tabs.
type Browser interface {
	// Engine is the engine's name: "chrome", "firefox" or "webkit".
	Engine() string
	// Version is the product and version, e.g. HeadlessChrome/156.0.8078.108.
	Version() string
	// Run executes the probes and returns, for each probe, one observation
	// per fetch. It returns an error only when ctx ends; then the probes
	// that did not finish are nil.
	Run(ctx context.Context, probes []Probe, o RunOptions) ([][]scenarios.Observation, error)
	// Close stops the browser (or detaches from a remote one). Safe to call twice.
	Close()
}

// Engines a user can ask for with --browser.
const (
	EngineChrome  = "chrome"
	EngineFirefox = "firefox"
)

// Cookie modes (--cookie-mode): what a browser does with a cookie of the
// API's site on a cross-site page's credentialed fetch.
const (
	// CookieModeDefault is each browser's own default: Chrome sends it,
	// Firefox keeps it out (Total Cookie Protection partitions cookies by
	// top-level site), WebKit keeps it out (Intelligent Tracking Prevention).
	CookieModeDefault = "default"
	// CookieModeBlock blocks third-party cookies everywhere (Chrome's
	// setting that Incognito and many enterprises use).
	CookieModeBlock = "block-third-party"
	// CookieModeAllow lets third-party cookies travel where the browser
	// can be told to (Chrome, and WebKit without ITP).
	CookieModeAllow = "allow-third-party"
)

// ErrBrowserGone marks a session whose browser closed the connection.
var ErrBrowserGone = errors.New("the browser closed the connection")

// ErrNoBrowser is returned when no browser binary can be found.
var ErrNoBrowser = errors.New("no browser found")

// DefaultStartTimeout bounds starting or attaching to Chrome;
// DefaultSlowStartTimeout bounds starting Firefox (a profile, a BiDi
// session) and WebKit (Xvfb, the driver, a session): on a loaded CI
// machine they take several times Chrome's start.
const (
	DefaultStartTimeout     = 15 * time.Second
	DefaultSlowStartTimeout = 60 * time.Second
)

// Options configure which browser is used and how it is started. Every
// command that talks to a browser shares them (RegisterFlags).
type Options struct {
	// Browsers is the --browser choice: chrome, firefox or all.
	Browsers string
	// ChromePath is an explicit binary (--chrome); else CHROME_PATH; else a search.
	ChromePath string
	// FirefoxPath is an explicit binary (--firefox); else FIREFOX_PATH; else a search.
	FirefoxPath string
	// WebKitDriverPath is an explicit WebKitWebDriver (--webkit-driver);
	// else WEBKIT_DRIVER_PATH; else a search.
	WebKitDriverPath string
	// CookieMode is how third-party cookies are treated (--cookie-mode):
	// each browser's default, all blocked, or all allowed.
	CookieMode string
	// BrowserURLs attach to running browsers instead of starting one: Chrome
	// (http://HOST:PORT or ws://... of DevTools), Firefox (a WebDriver
	// endpoint, or its BiDi ws:// socket), WebKit (a WebKitWebDriver on
	// this machine); several make a pool.
	BrowserURLs []string
	// LocalNetworkAccess keeps the browsers' Local Network Access checks on.
	// They are off by default so verdicts reflect the target's CORS policy.
	LocalNetworkAccess bool
	// Resolve maps host names to addresses for the browser (--resolve HOST:ADDR).
	Resolve map[string]string
	// CACerts are PEM files of certificate authorities the target's chain is
	// verified against; the browser trusts that chain for this run only.
	CACerts []string
	// Insecure makes the browser ignore certificate errors.
	Insecure bool
	// ChromeArgs are extra command-line arguments for Chrome.
	ChromeArgs []string
	// StartTimeout bounds starting or attaching (0: DefaultStartTimeout for
	// Chrome, DefaultSlowStartTimeout for Firefox and WebKit).
	StartTimeout time.Duration

	// TrustSPKI are base64 SHA-256 hashes of the public keys of certificates
	// the browser must accept (filled by TrustChain from CACerts, not a flag).
	TrustSPKI []string
	// LoopbackOnly makes every host name the browser would resolve, except
	// localhost, the Resolve names and AllowHosts, fail to resolve: nothing
	// leaves the machine (set when the target is on loopback).
	LoopbackOnly bool
	// AllowHosts resolve normally even with LoopbackOnly.
	AllowHosts []string
	// Bare observes nothing: the same pages run the same fetches, and only
	// each fetch's result as the page script saw it comes back (no network
	// events, console or inspector). It is the floor `make bench` measures
	// corscheck against; no flag sets it.
	Bare bool
}

// RegisterFlags binds the browser flags every command shares.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Browsers, "browser", EngineChrome, "browser engine: chrome, firefox, webkit, or all (each case judged in each)")
	fs.StringVar(&o.ChromePath, "chrome", "", "Chrome or Chromium binary (default: $CHROME_PATH, then a search)")
	fs.StringVar(&o.FirefoxPath, "firefox", "", "Firefox binary (default: $FIREFOX_PATH, then a search)")
	fs.StringVar(&o.WebKitDriverPath, "webkit-driver", "", "WebKitWebDriver binary for --browser webkit (default: $WEBKIT_DRIVER_PATH, then a search)")
	fs.StringVar(&o.CookieMode, "cookie-mode", CookieModeDefault, "third-party cookies: default (each browser's own: Chrome sends them, Firefox and WebKit do not), block-third-party, or allow-third-party")
	fs.Var((*urlListValue)(&o.BrowserURLs), "browser-url", "attach to running browsers instead of starting one: Chrome's DevTools (http://HOST:PORT or ws://...), a WebDriver endpoint for Firefox (geckodriver, Selenium Grid) or WebKit (WebKitWebDriver), or Firefox's BiDi ws:// socket (repeatable or comma-separated: a pool)")
	fs.BoolVar(&o.LocalNetworkAccess, "local-network-access", false, "keep the browsers' Local Network Access checks on (they block public origins from loopback targets whatever the CORS headers say)")
	fs.Var((*resolveValue)(o), "resolve", "HOST:ADDR: the browser (and the reachability check) reach HOST at ADDR, like curl's --resolve (repeatable)")
	fs.Var((*listValue)(&o.CACerts), "ca-cert", "PEM file of a certificate authority the target's certificate chains to; trusted for this run only (repeatable)")
	fs.BoolVar(&o.Insecure, "insecure", false, "ignore certificate errors (recorded in the results)")
	fs.Var((*listValue)(&o.ChromeArgs), "chrome-arg", "extra Chrome command-line argument, e.g. --chrome-arg=--lang=de (repeatable; recorded in the results)")
	fs.DurationVar(&o.StartTimeout, "start-timeout", 0, "time limit for starting or attaching to a browser (default 15s for Chrome, 60s for Firefox and WebKit)")
}

// Args renders the options back as flags, for a child corscheck process.
func (o Options) Args() []string {
	var args []string
	add := func(name, v string) { args = append(args, "--"+name, v) }
	if o.Browsers != "" && o.Browsers != EngineChrome {
		add("browser", o.Browsers)
	}
	if o.ChromePath != "" {
		add("chrome", o.ChromePath)
	}
	if o.FirefoxPath != "" {
		add("firefox", o.FirefoxPath)
	}
	if o.WebKitDriverPath != "" {
		add("webkit-driver", o.WebKitDriverPath)
	}
	if o.CookieMode != "" && o.CookieMode != CookieModeDefault {
		add("cookie-mode", o.CookieMode)
	}
	for _, u := range o.BrowserURLs {
		add("browser-url", u)
	}
	if o.LocalNetworkAccess {
		args = append(args, "--local-network-access")
	}
	for _, h := range slices.Sorted(maps.Keys(o.Resolve)) {
		add("resolve", h+":"+o.Resolve[h])
	}
	for _, c := range o.CACerts {
		add("ca-cert", c)
	}
	if o.Insecure {
		args = append(args, "--insecure")
	}
	for _, a := range o.ChromeArgs {
		args = append(args, "--chrome-arg="+a)
	}
	if o.StartTimeout > 0 {
		add("start-timeout", o.StartTimeout.String())
	}
	return args
}

// Engines returns the engines the --browser choice names, in report order.
func (o Options) Engines() ([]string, error) {
	var out []string
	for _, e := range strings.Split(strings.ToLower(o.Browsers), ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			e = EngineChrome
		}
		if e == "all" {
			return Registered(), nil
		}
		if _, ok := lookup(e); !ok {
			if len(Registered()) == 0 {
				return nil, errors.New("no browser engine is built into this program: import github.com/corscheck/corscheck/runner/engines")
			}
			return nil, fmt.Errorf("--browser %q: want %s, a comma-separated list of them, or all", scenarios.Visible(o.Browsers), strings.Join(Registered(), ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Validate checks the options before anything starts; each error names the
// flag and what to write instead.
func (o Options) Validate() error {
	engines, err := o.Engines()
	if err != nil {
		return err
	}
	switch o.CookieMode {
	case "", CookieModeDefault, CookieModeBlock, CookieModeAllow:
	default:
		return fmt.Errorf("--cookie-mode %q: want default, block-third-party or allow-third-party", scenarios.Visible(o.CookieMode))
	}
	for _, u := range o.BrowserURLs {
		u = strings.TrimPrefix(u, "dns+")
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "wss://") {
			return fmt.Errorf("--browser-url %q: want http://HOST:PORT (a Chrome started with --remote-debugging-port, or a WebDriver endpoint for Firefox or WebKit), a ws:// address (Chrome's DevTools, Firefox's WebDriver BiDi), or dns+http://NAME:PORT for every address of NAME (a scaled service)", u)
		}
	}
	if len(o.BrowserURLs) > 0 && len(engines) > 1 {
		return fmt.Errorf("--browser-url names the browsers of one engine, but --browser %s names %d: run one engine at a time with --browser-url", scenarios.Visible(o.Browsers), len(engines))
	}
	for _, e := range engines {
		eng, _ := lookup(e)
		if len(o.BrowserURLs) > 0 && !eng.Attach {
			return fmt.Errorf("--browser-url cannot attach to %s; drop --browser-url or use another --browser", scenarios.EngineTitle(e))
		}
		if eng.Validate != nil {
			if err := eng.Validate(o); err != nil {
				return err
			}
		}
	}
	if len(o.BrowserURLs) > 0 {
		switch {
		case len(o.Resolve) > 0:
			return errors.New("--resolve needs a browser corscheck starts: map the names where the remote browser runs (Chrome: --host-resolver-rules=\"MAP HOST ADDR\"; Firefox: network.dns.forceResolve)")
		case len(o.CACerts) > 0:
			return errors.New("--ca-cert needs a browser corscheck starts: trust the CA in the remote browser, or use --insecure")
		case len(o.ChromeArgs) > 0:
			return errors.New("--chrome-arg needs a browser corscheck starts; pass the arguments to the remote browser where it is started")
		}
	}
	for h, a := range o.Resolve {
		if err := checkResolve(h, a); err != nil {
			return err
		}
	}
	if o.StartTimeout < 0 {
		return fmt.Errorf("--start-timeout %s: give a positive duration such as 15s", o.StartTimeout)
	}
	return nil
}

// StartTimeoutFor bounds starting or attaching to an engine's browser:
// --start-timeout, else the engine's own default.
func (o Options) StartTimeoutFor(engine string) time.Duration {
	if o.StartTimeout > 0 {
		return o.StartTimeout
	}
	if e, ok := lookup(engine); ok && e.StartTimeout > 0 {
		return e.StartTimeout
	}
	return DefaultStartTimeout
}

// ParseResolve parses one --resolve value, HOST:ADDR (ADDR an IP address;
// IPv6 in brackets or bare).
func ParseResolve(v string) (host, addr string, err error) {
	usage := fmt.Errorf("--resolve %q: write HOST:ADDR, or curl's HOST:PORT:ADDR, e.g. --resolve api.staging.example.test:127.0.0.1 or --resolve api.staging.example.test:443:127.0.0.1", scenarios.Visible(v))
	if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-") {
		return "", "", fmt.Errorf("--resolve %q: curl's +HOST and -HOST forms (timeouts, removals) have no meaning here; write HOST:ADDR", scenarios.Visible(v))
	}
	host, rest, ok := strings.Cut(v, ":")
	if !ok || host == "" || rest == "" {
		return "", "", usage
	}
	addr = rest
	// curl's HOST:PORT:ADDR: a port, then the address (an IPv6 address in
	// brackets or bare). The mapping covers the host on every port.
	if port, a, ok := strings.Cut(rest, ":"); ok && port != "" && allDigits(port) {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("--resolve %q: port %s is not between 1 and 65535", scenarios.Visible(v), scenarios.Visible(port))
		}
		addr = a
	}
	if strings.Contains(addr, ",") {
		return "", "", fmt.Errorf("--resolve %q: one address per name (curl's ADDR1,ADDR2 list is not supported)", scenarios.Visible(v))
	}
	if strings.HasPrefix(addr, "[") != strings.HasSuffix(addr, "]") {
		return "", "", usage
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if addr == "" {
		return "", "", usage
	}
	return strings.ToLower(host), addr, checkResolve(host, addr)
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func checkResolve(host, addr string) error {
	if strings.ContainsAny(host, " /*,[]:@?#\\") || net.ParseIP(host) != nil || !validHostName(host) {
		return fmt.Errorf("--resolve %s:%s: HOST must be a host name such as api.staging.example.test", scenarios.Visible(host), scenarios.Visible(addr))
	}
	if ip := net.ParseIP(addr); ip == nil || strings.Contains(addr, "%") {
		return fmt.Errorf("--resolve %s:%s: ADDR must be an IP address such as 127.0.0.1 or ::1 (a port belongs in the target URL)", scenarios.Visible(host), scenarios.Visible(addr))
	}
	return nil
}

// validHostName: letters, digits, hyphens, underscores and dots, labels of
// at most 63 characters, at most 253 in all.
func validHostName(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// resolveValue is the --resolve flag: repeatable HOST:ADDR into Options.Resolve.
type resolveValue Options

func (r *resolveValue) String() string {
	if r == nil {
		return ""
	}
	var parts []string
	for _, h := range slices.Sorted(maps.Keys(r.Resolve)) {
		parts = append(parts, h+":"+r.Resolve[h])
	}
	return strings.Join(parts, ",")
}

func (r *resolveValue) Set(v string) error {
	host, addr, err := ParseResolve(v)
	if err != nil {
		return err
	}
	if r.Resolve == nil {
		r.Resolve = map[string]string{}
	}
	r.Resolve[host] = addr
	return nil
}

// listValue is a repeatable string flag; commas also separate values of
// --browser-url (a URL has none).
type listValue []string

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *listValue) Set(v string) error { *l = append(*l, v); return nil }

// urlListValue is --browser-url: repeatable, and commas separate URLs too.
type urlListValue []string

func (l *urlListValue) String() string { return strings.Join(*l, ",") }

func (l *urlListValue) Set(v string) error {
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			*l = append(*l, u)
		}
	}
	return nil
}

// Start launches the browser(s) the options name, or attaches to them. ctx
// bounds the start only: cancelling it (Ctrl-C) aborts a start in progress;
// the browser then lives until Close. With several engines (--browser all)
// or several --browser-url endpoints, use StartAll.
func Start(ctx context.Context, o Options) (Browser, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	engines, _ := o.Engines()
	if len(engines) != 1 {
		return nil, errors.New("--browser all needs one run per engine (StartAll)")
	}
	return startEngine(ctx, engines[0], o)
}

// StartAll starts one Browser per engine the options name, in order. A pool
// of --browser-url endpoints counts as one Chrome.
func StartAll(ctx context.Context, o Options) ([]Browser, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	engines, _ := o.Engines()
	var out []Browser
	for _, e := range engines {
		b, err := startEngine(ctx, e, o)
		if err != nil {
			for _, s := range out {
				s.Close()
			}
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func startEngine(ctx context.Context, engine string, o Options) (Browser, error) {
	if len(o.BrowserURLs) > 0 {
		urls, err := ExpandBrowserURLs(o.BrowserURLs, net.DefaultResolver.LookupHost)
		if err != nil {
			return nil, err
		}
		o.BrowserURLs = urls
	}
	e, ok := lookup(engine)
	if !ok {
		return nil, fmt.Errorf("engine %s is not built into this program (import github.com/corscheck/corscheck/runner/engines)", engine)
	}
	return e.Start(ctx, o)
}

// ExpandBrowserURLs turns each dns+http://NAME:PORT into http://ADDR:PORT
// for every address NAME resolves to (a compose service scaled to N
// browsers), keeping the other URLs as given, without duplicates.
func ExpandBrowserURLs(urls []string, lookup func(context.Context, string) ([]string, error)) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, raw := range urls {
		rest, ok := strings.CutPrefix(raw, "dns+")
		if !ok {
			add(raw)
			continue
		}
		u, err := url.Parse(rest)
		if err != nil || u.Hostname() == "" || u.Port() == "" {
			return nil, fmt.Errorf("--browser-url %q: write dns+http://NAME:PORT", raw)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		addrs, err := lookup(ctx, u.Hostname())
		cancel()
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("--browser-url %q: %s resolves to no address: %v", raw, u.Hostname(), err)
		}
		sort.Strings(addrs)
		for _, a := range addrs {
			v := *u
			v.Host = net.JoinHostPort(a, u.Port())
			add(v.String())
		}
	}
	return out, nil
}

// Bounded runs start in the background and gives up when ctx ends or the
// start timeout passes: a browser that never answers (a wrong binary, an
// endpoint that accepts the connection and stays silent) costs seconds, and
// Ctrl-C works at every stage. abort undoes a start that is given up on.
func Bounded[T any](ctx context.Context, timeout time.Duration, what string, start func() (T, error), abort func()) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := start()
		done <- result{v, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var zero T
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
		abort()
		<-done
		return zero, fmt.Errorf("%s did not answer within %s (--start-timeout); is it a browser, and is it running?", what, timeout)
	case <-ctx.Done():
		abort()
		<-done
		return zero, fmt.Errorf("%s: interrupted while starting: %w", what, ctx.Err())
	}
}

// EngineWebKit is WebKit (WebKitGTK's MiniBrowser under WebKitWebDriver).
const EngineWebKit = "webkit"
