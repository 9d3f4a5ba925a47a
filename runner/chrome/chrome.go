package chrome

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
)

// InstallHint is the one command that fixes a missing Chrome on Debian/Ubuntu.
const InstallHint = "apt-get install -y chromium-headless-shell   (or chromium; or pass --chrome PATH, CHROME_PATH, or --browser-url)"

// candidates are the names and paths tried, in order: the headless shell
// first because it starts about three times faster. Debian's binaries come
// before its /usr/bin wrappers: chromium-headless-shell's wrapper is a shell
// script that does not exec, so the browser would be a grandchild that
// neither dies with corscheck (Pdeathsig reaches only the shell) nor with a
// kill of the process corscheck started.
var candidates = []string{
	"/usr/lib/chromium/chromium-headless-shell",
	"chromium-headless-shell",
	"/usr/lib/chromium/chromium",
	"chromium",
	"/usr/bin/chromium",
	"chromium-browser",
	"google-chrome",
	"google-chrome-stable",
	"/opt/google/chrome/chrome",
	"chrome",
	"headless-shell",
	"/headless-shell/headless-shell",
	"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
	"/Applications/Chromium.app/Contents/MacOS/Chromium",
}

// Find returns the binary to start: explicit path, CHROME_PATH, then
// the usual names and install paths.
func Find(explicit string) (string, error) {
	return core.FindBinary("Chrome or Chromium", explicit, "CHROME_PATH", candidates, InstallHint)
}

// Chrome is the Chrome engine: one browser, started by corscheck or
// attached to, with a tab per origin page.
type Chrome struct {
	ctx     context.Context // the browser's root chromedp context
	cancel  context.CancelFunc
	version string
	path    string // the binary, empty when attached
	dataDir string
	// insecure asks each tab to ignore certificate errors (an attached
	// browser, whose flags corscheck does not choose).
	insecure bool
	// blockThirdParty turns on Chrome's third-party cookie restriction in
	// each tab (--cookie-mode block-third-party): the setting of Incognito,
	// of many enterprises and of users who chose it.
	blockThirdParty bool
	// bare observes nothing (Options.Bare).
	bare bool

	idleMu sync.Mutex
	idle   []*originPage // tabs kept between Runs
}

// Engine is "chrome".
func (b *Chrome) Engine() string { return runner.EngineChrome }

// Version is the product and version, e.g. HeadlessChrome/156.0.8078.108.
func (b *Chrome) Version() string { return b.version }

// startChrome launches Chrome (or attaches to BrowserURLs[0]) and waits,
// within the start timeout, until it answers.
func startChrome(ctx context.Context, o runner.Options) (*Chrome, error) {
	b := &Chrome{blockThirdParty: o.CookieMode == runner.CookieModeBlock, bare: o.Bare}
	// The browser outlives the start context: Close ends it.
	life := context.WithoutCancel(ctx)
	var allocCtx context.Context
	var allocCancel context.CancelFunc
	what := ""
	if len(o.BrowserURLs) > 0 {
		endpoint, err := devtoolsEndpoint(ctx, o.BrowserURLs[0], o.StartTimeoutFor(runner.EngineChrome))
		if err != nil {
			return nil, err
		}
		what = "the browser at " + o.BrowserURLs[0]
		allocCtx, allocCancel = remote.NewAllocator(life, endpoint, remote.NoModifyURL)
		b.insecure = o.Insecure
	} else {
		path, err := Find(o.ChromePath)
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "corscheck-chrome-")
		if err != nil {
			return nil, fmt.Errorf("browser profile: %w", err)
		}
		b.path, b.dataDir = path, dir
		what = path
		allocCtx, allocCancel = chromedp.NewExecAllocator(life, chromeFlags(path, dir, o)...)
	}
	// chromedp's own logs would interleave with corscheck's output; every
	// failure that matters reaches the caller as an error or an observation.
	quiet := func(string, ...any) {}
	bctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(quiet), chromedp.WithLogf(quiet))
	b.ctx = bctx
	b.cancel = func() { cancel(); allocCancel(); b.removeProfile() }
	version, err := runner.Bounded(ctx, o.StartTimeoutFor(runner.EngineChrome), what, func() (string, error) {
		// The first Run binds the browser's life to bctx: no timeout on it.
		if err := chromedp.Do(bctx); err != nil {
			return "", err
		}
		v, err := chromedp.CallBrowser(bctx, browser.GetVersion, cdp.Empty{})
		if err != nil {
			return "", err
		}
		return v.Product, nil
	}, b.cancel)
	if err != nil {
		b.cancel()
		if len(o.BrowserURLs) > 0 {
			return nil, fmt.Errorf("attach to browser at %s: %w", o.BrowserURLs[0], err)
		}
		return nil, fmt.Errorf("start %s: %w", b.path, err)
	}
	b.version = version
	return b, nil
}

// chromeFlags are the command line of a browser corscheck starts.
func chromeFlags(path, dir string, o runner.Options) []chromedp.ExecAllocatorOption {
	disabled := "Translate,BlinkGenPropertyTrees,MediaRouter,OptimizationHints,AutofillServerCommunication"
	if !o.LocalNetworkAccess {
		disabled += ",LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults"
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-features", disabled),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("mute-audio", true),
	)
	if rules := HostResolverRules(o); rules != "" {
		opts = append(opts, chromedp.Flag("host-resolver-rules", rules))
	}
	if len(o.TrustSPKI) > 0 {
		// Honoured only with --user-data-dir, which corscheck always sets.
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(o.TrustSPKI, ",")))
	}
	if o.Insecure {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	if o.CookieMode == runner.CookieModeBlock {
		// Third-party cookies blocked from the first request on (the
		// network service's switch); each tab also sets the DevTools
		// cookie control, which an attached browser honours.
		opts = append(opts, chromedp.Flag("test-third-party-cookie-phaseout", true))
	}
	for _, a := range o.ChromeArgs {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if hasValue {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	if os.Geteuid() == 0 {
		// Chrome refuses to run its sandbox as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	return opts
}

// HostResolverRules is Chrome's --host-resolver-rules for the options: each
// --resolve mapping, and with LoopbackOnly a rule that makes every other
// name fail to resolve, so no DNS query or connection leaves the machine.
// The rules apply to IP literals too, so loopback addresses are excluded
// from the trap by name.
func HostResolverRules(o runner.Options) string {
	var rules []string
	for _, h := range slices.Sorted(maps.Keys(o.Resolve)) {
		addr := o.Resolve[h]
		if strings.Contains(addr, ":") {
			addr = "[" + addr + "]"
		}
		rules = append(rules, "MAP "+h+" "+addr)
	}
	if o.LoopbackOnly {
		rules = append(rules, "MAP * ~NOTFOUND", "EXCLUDE localhost", "EXCLUDE *.localhost", "EXCLUDE 127.*", "EXCLUDE ::1", "EXCLUDE [::1]")
		for _, h := range o.AllowHosts {
			if _, mapped := o.Resolve[strings.ToLower(h)]; !mapped && !core.LoopbackLiteral(h) {
				rules = append(rules, "EXCLUDE "+strings.ToLower(h))
			}
		}
	}
	return strings.Join(rules, ", ")
}

// devtoolsEndpoint turns --browser-url into the browser's WebSocket address,
// checking that it is a Chrome DevTools endpoint first, so a wrong URL is one
// clear line instead of a JSON decoding error.
func devtoolsEndpoint(ctx context.Context, raw string, timeout time.Duration) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--browser-url %q: want http://HOST:PORT or ws://HOST:PORT/devtools/browser/ID", raw)
	}
	if u.Scheme == "ws" || u.Scheme == "wss" {
		return raw, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(raw, "/")+"/json/version", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("%s: no answer to /json/version within %s: not a Chrome DevTools endpoint, or not running", raw, timeout)
		}
		return "", fmt.Errorf("%s: not reachable (%v): start Chrome with --remote-debugging-port, or fix --browser-url", raw, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var v struct {
		WS string `json:"webSocketDebuggerUrl"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.WS == "" {
		got := "an HTTP " + resp.Status + " answer"
		if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "html") {
			got = "an HTML page"
		}
		return "", fmt.Errorf("%s: not a Chrome DevTools endpoint (got %s at /json/version)", raw, got)
	}
	// The browser reports its own idea of its address; keep the host the
	// user gave (a container name, a forwarded port).
	ws, err := url.Parse(v.WS)
	if err != nil {
		return "", fmt.Errorf("%s: bad webSocketDebuggerUrl %q", raw, v.WS)
	}
	ws.Host = u.Host
	return ws.String(), nil
}

// Alive reports whether the browser still answers (a pool asks).
func (b *Chrome) Alive(ctx context.Context) error {
	// The browser's own context carries the connection; ctx bounds the call.
	bctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	_, err := chromedp.CallBrowser(bctx, browser.GetVersion, cdp.Empty{})
	return err
}

// Close stops the browser (or detaches from a remote one) and removes the
// temporary profile. It is safe to call more than once.
func (b *Chrome) Close() {
	if b == nil {
		return
	}
	b.idleMu.Lock()
	for _, t := range b.idle {
		t.close()
	}
	b.idle = nil
	b.idleMu.Unlock()
	if b.cancel != nil {
		b.cancel()
	}
}

// PID is the browser's process id, or 0 when attached to a remote browser.
func (b *Chrome) PID() int {
	if c := chromedp.FromContext(b.ctx); c != nil && c.Browser != nil {
		if p := c.Browser.Process(); p != nil {
			return p.Pid
		}
	}
	return 0
}

func (b *Chrome) removeProfile() {
	if b.dataDir != "" {
		os.RemoveAll(b.dataDir)
	}
}
