// Package runner owns every line that talks to Chrome: it starts or attaches
// to a browser, gives pages any origin, runs fetch() batches and turns
// DevTools events into scenarios.Observation values. It never asserts.
package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
)

// ErrNoBrowser is returned when no Chrome or Chromium binary can be found.
var ErrNoBrowser = errors.New("no Chrome or Chromium found")

// InstallHint is the one command that fixes ErrNoBrowser on Debian/Ubuntu.
const InstallHint = "apt-get install -y chromium-headless-shell   (or chromium; or pass --chrome PATH, CHROME_PATH, or --browser-url)"

// Options configure how the browser is found and started.
type Options struct {
	// ChromePath is an explicit binary (--chrome); else CHROME_PATH; else a search.
	ChromePath string
	// BrowserURL attaches to a running browser (http://HOST:PORT) instead of starting one.
	BrowserURL string
	// LocalNetworkAccess keeps Chrome's Local Network Access checks on. They
	// are off by default so verdicts reflect the target's CORS policy.
	LocalNetworkAccess bool
}

// RegisterFlags binds --chrome, --browser-url and --local-network-access,
// the browser flags every command shares.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.ChromePath, "chrome", "", "Chrome or Chromium binary (default: $CHROME_PATH, then a search)")
	fs.StringVar(&o.BrowserURL, "browser-url", "", "attach to a running Chrome at http://HOST:PORT instead of starting one")
	fs.BoolVar(&o.LocalNetworkAccess, "local-network-access", false, "keep Chrome's Local Network Access checks on (they block public origins from loopback targets whatever the CORS headers say)")
}

// Args renders the options back as flags, for a child corscheck process.
func (o Options) Args() []string {
	var args []string
	if o.ChromePath != "" {
		args = append(args, "--chrome", o.ChromePath)
	}
	if o.BrowserURL != "" {
		args = append(args, "--browser-url", o.BrowserURL)
	}
	if o.LocalNetworkAccess {
		args = append(args, "--local-network-access")
	}
	return args
}

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

// FindChrome returns the binary to start: explicit path, CHROME_PATH, then
// the usual names and install paths.
func FindChrome(explicit string) (string, error) {
	for _, p := range []string{explicit, os.Getenv("CHROME_PATH")} {
		if p == "" {
			continue
		}
		if found, err := exec.LookPath(p); err == nil {
			return found, nil
		}
		return "", fmt.Errorf("%w at %q: %s", ErrNoBrowser, p, InstallHint)
	}
	for _, c := range candidates {
		if found, err := exec.LookPath(c); err == nil {
			return found, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrNoBrowser, InstallHint)
}

// Browser is one running (or attached) browser. One per process; every
// origin page is a tab in it.
type Browser struct {
	ctx     context.Context // the browser's root chromedp context
	cancel  context.CancelFunc
	Version string // product/version, e.g. Chrome/156.0.8078.108
	Path    string // the binary, empty when attached
	dataDir string
}

// Start launches Chrome (or attaches to BrowserURL) and waits until it
// answers. The browser lives until Close or until parent is cancelled; on
// Linux it also dies with this process.
func Start(parent context.Context, o Options) (*Browser, error) {
	b := &Browser{}
	var allocCtx context.Context
	var allocCancel context.CancelFunc
	if o.BrowserURL != "" {
		if !strings.HasPrefix(o.BrowserURL, "http://") && !strings.HasPrefix(o.BrowserURL, "ws://") {
			return nil, fmt.Errorf("--browser-url %q: want http://HOST:PORT of a browser started with --remote-debugging-port", o.BrowserURL)
		}
		allocCtx, allocCancel = remote.NewAllocator(parent, o.BrowserURL)
	} else {
		path, err := FindChrome(o.ChromePath)
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "corscheck-chrome-")
		if err != nil {
			return nil, fmt.Errorf("browser profile: %w", err)
		}
		b.Path, b.dataDir = path, dir
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
		if os.Geteuid() == 0 {
			// Chrome refuses to run its sandbox as root.
			opts = append(opts, chromedp.NoSandbox)
		}
		allocCtx, allocCancel = chromedp.NewExecAllocator(parent, opts...)
	}
	// chromedp's own logs would interleave with corscheck's output; every
	// failure that matters reaches the caller as an error or an observation.
	quiet := func(string, ...any) {}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(quiet), chromedp.WithLogf(quiet))
	b.ctx = ctx
	b.cancel = func() { cancel(); allocCancel(); b.removeProfile() }
	// The first Run binds the browser's life to ctx: no timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		b.cancel()
		if o.BrowserURL != "" {
			return nil, fmt.Errorf("attach to browser at %s: %w", o.BrowserURL, err)
		}
		return nil, fmt.Errorf("start %s: %w", b.Path, err)
	}
	v, err := chromedp.CallBrowser(ctx, browser.GetVersion, cdp.Empty{})
	if err != nil {
		b.cancel()
		return nil, fmt.Errorf("browser version: %w", err)
	}
	b.Version = v.Product
	return b, nil
}

// Close stops the browser (or detaches from a remote one) and removes the
// temporary profile. It is safe to call more than once.
func (b *Browser) Close() {
	if b != nil && b.cancel != nil {
		b.cancel()
	}
}

// PID is the browser's process id, or 0 when attached to a remote browser.
func (b *Browser) PID() int {
	if c := chromedp.FromContext(b.ctx); c != nil && c.Browser != nil {
		if p := c.Browser.Process(); p != nil {
			return p.Pid
		}
	}
	return 0
}

func (b *Browser) removeProfile() {
	if b.dataDir != "" {
		os.RemoveAll(b.dataDir)
	}
}
