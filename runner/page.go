package runner

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pagePath is where the synthetic origin page lives on its virtual origin.
const pagePath = "/__corscheck__/page.html"

// opaqueHost hosts the sandboxed page of the null origin; .invalid never resolves.
const opaqueHost = "https://opaque.corscheck.invalid"

// pageHTML is the whole origin page: fetches are injected by Evaluate.
const pageHTML = "<!doctype html><meta charset=utf-8><title>corscheck origin page</title>"

// originPage is one tab whose document has the probe origin. Only this
// document is synthesised (Fetch.fulfillRequest on its own URL); requests to
// the target are never intercepted.
type originPage struct {
	origin string
	// base is where the page lives (its URL without page.html); barrier
	// requests go there.
	base   string
	ctx    context.Context
	cancel context.CancelFunc
	events *collector
}

// openOriginPage opens a tab in a fresh browser context (its own cookie jar
// and preflight cache) and loads the synthetic page on origin.
func (b *Browser) openOriginPage(ctx context.Context, origin string) (*originPage, error) {
	pageURL, sandboxed, err := pageURLFor(origin)
	if err != nil {
		return nil, err
	}
	tabCtx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	// Stop the tab when the caller's ctx ends too.
	stop := context.AfterFunc(ctx, cancel)
	p := &originPage{origin: origin, base: strings.TrimSuffix(pageURL, "page.html"), ctx: tabCtx, cancel: func() { stop(); cancel() }, events: newCollector()}
	if err := chromedp.Do(tabCtx); err != nil {
		p.cancel()
		return nil, fmt.Errorf("open tab for origin %s: %w", origin, err)
	}
	paused := chromedp.Events(tabCtx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			headers := []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}, {Name: "Cache-Control", Value: "no-store"}}
			if sandboxed {
				headers = append(headers, &fetch.HeaderEntry{Name: "Content-Security-Policy", Value: "sandbox allow-scripts"})
			}
			chromedp.Call(tabCtx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID: ev.RequestID, ResponseCode: 200, ResponseHeaders: headers, Body: []byte(pageHTML),
			})
		}
	}()
	p.events.subscribe(tabCtx)
	steps := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// Only the page and its barrier requests (same origin, our path) are
		// answered here; nothing else is intercepted.
		if _, err := cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: p.base + "*"}}}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		// Not Network.setCacheDisabled: it also bypasses the preflight cache,
		// which cache scenarios observe; every probe URL is unique instead.
		_, err := cdp.Call(ctx, t, log.Enable, cdp.Empty{})
		return err
	})
	if err := chromedp.Do(tabCtx, steps, chromedp.Navigate(pageURL)); err != nil {
		p.cancel()
		return nil, fmt.Errorf("load origin page %s: %w", pageURL, err)
	}
	got, err := chromedp.Run(tabCtx, chromedp.Evaluate[string]("self.origin"))
	if err != nil {
		p.cancel()
		return nil, fmt.Errorf("origin page %s: %w", pageURL, err)
	}
	if got != origin {
		p.cancel()
		return nil, fmt.Errorf("origin page %s has origin %q, want %q", pageURL, got, origin)
	}
	return p, nil
}

// pageURLFor returns the URL of the synthetic page for an origin, and whether
// it must be sandboxed (the opaque origin "null").
func pageURLFor(origin string) (string, bool, error) {
	if origin == "null" {
		return opaqueHost + pagePath, true, nil
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false, fmt.Errorf("origin %q: want scheme://host[:port] or null", origin)
	}
	return origin + pagePath, false, nil
}

func (p *originPage) close() { p.cancel() }
