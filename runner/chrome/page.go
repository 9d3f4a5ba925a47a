package chrome

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
)

// originPage is one tab whose document has the probe origin. The document
// is synthesised with the DevTools Fetch domain during the navigation only:
// interception is switched off before any probe runs, because while it is
// on Chrome changes what it sends (a redirected cross-origin request loses
// its Origin header). The target's requests are never intercepted.
type originPage struct {
	origin string
	ctx    context.Context
	cancel context.CancelFunc
	events *collector

	mu sync.Mutex
	// intercepting is true while the Fetch domain is enabled; a batch must
	// never run then (checked by runChunk, the guard).
	intercepting bool
	// pageURL is the synthetic page being loaded; sandboxed for null.
	pageURL   string
	sandboxed bool
	// setup identifies the page setup the tab was made with (idle tabs).
	setup string
	// crashed closes when the tab's renderer crashes or the tab goes away.
	crashed chan struct{}
	// bare: nothing is observed in this tab (Options.Bare).
	bare bool
	// preflights counts the preflights this tab's browser context has
	// sent: each may be an entry in its preflight cache (cacheRoom).
	preflights int
}

// openOriginPage opens a tab in a fresh browser context (its own cookie jar
// and preflight cache) and loads the synthetic page on origin.
func (b *Chrome) openOriginPage(ctx context.Context, origin string, setup runner.PageSetup) (*originPage, error) {
	p, err := b.newTab(ctx, setup)
	if err != nil {
		return nil, err
	}
	if err := p.load(ctx, origin); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// newTab opens a tab in a fresh browser context, with the network and log
// events on and the page setup (cookies, certificate errors) applied. A
// tab loads one origin page after another (load): every probe URL carries
// its own token, so probes share no preflight cache entry whichever origin
// page ran them, and the cookie jar holds the target's cookies for all.
func (b *Chrome) newTab(ctx context.Context, setup runner.PageSetup) (*originPage, error) {
	tabCtx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	// Stop the tab when the caller's ctx ends too.
	stop := context.AfterFunc(ctx, cancel)
	p := &originPage{ctx: tabCtx, cancel: func() { stop(); cancel() }, events: newCollector(), crashed: make(chan struct{})}
	if err := chromedp.Do(tabCtx); err != nil {
		p.cancel()
		return nil, fmt.Errorf("open tab: %w", err)
	}
	p.watchCrash()
	paused := chromedp.Events(tabCtx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			pageURL, sandboxed := p.target()
			if ev.Request.URL != pageURL {
				// Only the page itself is ours; anything else continues untouched.
				chromedp.Call(tabCtx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			headers := []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}, {Name: "Cache-Control", Value: "no-store"}}
			if sandboxed {
				headers = append(headers, &fetch.HeaderEntry{Name: "Content-Security-Policy", Value: "sandbox allow-scripts"})
			}
			chromedp.Call(tabCtx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID: ev.RequestID, ResponseCode: 200, ResponseHeaders: headers, Body: []byte(core.PageHTML),
			})
		}
	}()
	p.bare = b.bare
	if !b.bare {
		p.events.subscribe(tabCtx)
	}
	steps := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// chromedp turns on what a scraper needs; the DOM and CSS agents and
		// target discovery cost the browser work on every navigation and
		// tell corscheck nothing (about 10% more cells/s without them).
		for _, off := range []string{dom.Disable.Method, css.Disable.Method} {
			if err := t.Call(ctx, off, cdp.Empty{}, nil); err != nil {
				return err
			}
		}
		if err := t.Call(ctx, target.SetDiscoverTargets.Method, target.SetDiscoverTargetsParams{Discover: false}, nil); err != nil {
			return err
		}
		if !b.bare {
			if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
		}
		if b.blockThirdParty {
			// Before the navigation: the control applies from the next load.
			if _, err := cdp.Call(ctx, t, network.SetCookieControls, network.SetCookieControlsParams{EnableThirdPartyCookieRestriction: true}); err != nil {
				return fmt.Errorf("block third-party cookies: %w", err)
			}
		}
		if setup.IgnoreCertErrors {
			if _, err := cdp.Call(ctx, t, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true}); err != nil {
				return err
			}
		}
		if len(setup.Cookies) > 0 {
			if _, err := cdp.Call(ctx, t, network.SetCookies, network.SetCookiesParams{Cookies: cookieParams(setup.Cookies)}); err != nil {
				return fmt.Errorf("set cookies: %w", err)
			}
		}
		// Not Network.setCacheDisabled: it also bypasses the preflight cache,
		// which cache scenarios observe; every probe URL is unique instead.
		if b.bare {
			return nil
		}
		_, err := cdp.Call(ctx, t, log.Enable, cdp.Empty{})
		return err
	})
	if err := chromedp.Do(tabCtx, steps); err != nil {
		p.cancel()
		return nil, fmt.Errorf("set up tab: %w", err)
	}
	return p, nil
}

// load navigates the tab to the synthetic page on origin. The document is
// synthesised with the DevTools Fetch domain during the navigation only:
// interception is switched off before any probe runs, because while it is
// on Chrome changes what it sends (a redirected cross-origin request loses
// its Origin header).
func (p *originPage) load(ctx context.Context, origin string) error {
	pageURL, sandboxed, err := core.PageURLFor(origin)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.pageURL, p.sandboxed, p.origin = pageURL, sandboxed, origin
	p.mu.Unlock()
	p.events.Mu.Lock()
	p.events.reset()
	p.events.Mu.Unlock()
	enable := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		p.setIntercepting(true)
		_, err := cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: fetchPattern(pageURL)}}})
		return err
	})
	if err := chromedp.Do(p.ctx, enable, chromedp.Navigate(pageURL)); err != nil {
		return fmt.Errorf("load origin page %s: %w", pageURL, err)
	}
	got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("self.origin"))
	if err != nil {
		return fmt.Errorf("origin page %s: %w", pageURL, err)
	}
	if got != origin {
		return fmt.Errorf("origin page %s has origin %q, want %q", pageURL, got, origin)
	}
	// The document is committed: interception ends before any probe runs.
	if _, err := chromedp.Call(p.ctx, fetch.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("origin page %s: stop interception: %w", pageURL, err)
	}
	p.setIntercepting(false)
	return nil
}

// target is the page URL the tab is loading and whether it is sandboxed.
func (p *originPage) target() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pageURL, p.sandboxed
}

// fetchPattern makes a URL a Fetch.enable pattern matching exactly it:
// '*' and '?' are wildcards there, escaped with a backslash.
func fetchPattern(u string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(u)
}

func cookieParams(cs []runner.CookieSpec) []*network.CookieParam {
	out := make([]*network.CookieParam, 0, len(cs))
	for _, c := range cs {
		p := &network.CookieParam{Name: c.Name, Value: c.Value, URL: c.URL, Domain: c.Domain, Path: c.Path, Secure: c.Secure, HTTPOnly: c.HTTPOnly}
		switch strings.ToLower(c.SameSite) {
		case "strict":
			p.SameSite = network.CookieSameSiteStrict
		case "lax":
			p.SameSite = network.CookieSameSiteLax
		case "none":
			p.SameSite = network.CookieSameSiteNone
		}
		out = append(out, p)
	}
	return out
}

func (p *originPage) setIntercepting(on bool) {
	p.mu.Lock()
	p.intercepting = on
	p.mu.Unlock()
}

// Intercepting reports whether the Fetch domain is on in this tab.
func (p *originPage) isIntercepting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.intercepting
}

// watchCrash closes p.crashed when the renderer crashes or the tab is
// detached: in-flight probes then fail at once instead of at a deadline.
func (p *originPage) watchCrash() {
	crashes := chromedp.Events(p.ctx, inspector.TargetCrashed)
	detached, _ := chromedp.Detached(p.ctx)
	go func() {
		done := make(chan struct{})
		go func() {
			for _, err := range crashes {
				if err != nil {
					return
				}
				close(done)
				return
			}
		}()
		select {
		case <-done:
		case <-detached:
		case <-p.ctx.Done():
			return
		}
		close(p.crashed)
	}()
}

func (p *originPage) close() { p.cancel() }
