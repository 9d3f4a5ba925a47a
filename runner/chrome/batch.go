package chrome

import (
	"context"
	"errors"
	"fmt"

	"github.com/chromedp/chromedp"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
	"github.com/corscheck/corscheck/scenarios"
)

// Run executes the probes and returns, for each probe, one observation per
// fetch. It groups probes by origin (one tab each), runs several tabs at
// once and several fetches per tab, and builds every observation from that
// fetch's own DevTools events. Failures of the browser become Errored
// observations with the reason; a crashed tab is reopened and its probes
// tried once more. Run returns an error only when ctx ends, and then the
// probes that did not finish are nil.
func (b *Chrome) Run(ctx context.Context, probes []runner.Probe, o runner.RunOptions) ([][]scenarios.Observation, error) {
	return core.RunByOrigin(ctx, probes, o, b.version, runner.EngineChrome, func(bt *core.Batch, work <-chan core.OriginWork) {
		// One tab per worker, loading one origin page after another:
		// opening a tab in a new browser context costs several times
		// more than a navigation.
		tab := b.takeTab(bt.Opts.Setup)
		for w := range work {
			tab = b.runOrigin(ctx, bt, tab, w.Origin, w.Idx)
		}
		b.keepTab(tab, bt.Opts.Setup)
	})
}

// takeTab returns an idle tab from an earlier Run with the same setup
// (nil when there is none): runs in a row (the precheck, discovery, the
// batch) reuse their tabs.
func (b *Chrome) takeTab(setup runner.PageSetup) *originPage {
	b.idleMu.Lock()
	defer b.idleMu.Unlock()
	key := core.SetupKey(setup)
	for i, t := range b.idle {
		if t.setup == key {
			b.idle = append(b.idle[:i], b.idle[i+1:]...)
			select {
			case <-t.crashed:
				t.close()
				return nil
			default:
			}
			return t
		}
	}
	return nil
}

// keepTab keeps a worker's tab for the next Run (up to maxIdleTabs).
func (b *Chrome) keepTab(t *originPage, setup runner.PageSetup) {
	if t == nil {
		return
	}
	t.setup = core.SetupKey(setup)
	b.idleMu.Lock()
	defer b.idleMu.Unlock()
	if len(b.idle) >= maxIdleTabs {
		t.close()
		return
	}
	b.idle = append(b.idle, t)
}

const maxIdleTabs = 8

// runOrigin runs the probes idx of one origin in chunks on a tab (the
// worker's, or a new one), and returns the tab for the next origin (nil
// when it is gone).
func (b *Chrome) runOrigin(ctx context.Context, bt *core.Batch, page *originPage, origin string, idx []int) *originPage {
	if ctx.Err() != nil {
		return page
	}
	o := bt.Opts
	setup := o.Setup
	setup.IgnoreCertErrors = setup.IgnoreCertErrors || b.insecure
	if page != nil {
		if err := page.load(ctx, origin); err != nil {
			page.close() // a tab that cannot load the next page is replaced
			page = nil
		}
	}
	run := func(runID string, chunk []int) ([][]scenarios.Observation, error) {
		obs, err := page.runChunk(ctx, runID, bt.Probes, chunk, o, b.version, bt.Kinds.Snapshot())
		page.preflights += preflightsIn(obs)
		return obs, err
	}
	for start := 0; start < len(idx); start += o.ChunkSize {
		if ctx.Err() != nil {
			return page
		}
		chunk := idx[start:min(start+o.ChunkSize, len(idx))]
		if page != nil && page.preflights+fetchesIn(bt.Probes, chunk) > cacheRoom {
			// The chunk could fill the context's preflight cache: it runs
			// in a fresh one.
			page.close()
			page = nil
		}
		if page == nil {
			var err error
			if page, err = b.openOriginPage(ctx, origin, setup); err != nil {
				if ctx.Err() == nil {
					bt.Fail(idx[start:], err)
				}
				return nil
			}
		}
		obs, err := run(bt.RunID, chunk)
		if errors.Is(err, runner.ErrRendererCrashed) && ctx.Err() == nil {
			// A crash is never the server's fault: a fresh tab, one more try.
			page.close()
			if page, err = b.openOriginPage(ctx, origin, setup); err == nil {
				obs, err = run(bt.RunID+"r", chunk)
			}
			if err != nil {
				err = fmt.Errorf("%w twice while probing from %s: %v", runner.ErrRendererCrashed, origin, err)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return page
			}
			bt.Fail(chunk, err)
			if page == nil || errors.Is(err, runner.ErrRendererCrashed) {
				if page != nil {
					page.close()
				}
				bt.Fail(idx[start+len(chunk):], err)
				return nil // the tab is gone
			}
			continue
		}
		timedOut := bt.Store(chunk, obs)
		bt.RetryLater(ctx, chunk, run)
		bt.Report(chunk)
		if timedOut {
			// Requests the target never answered may still hold the tab's
			// connections (six per host); a fresh tab in a fresh browser
			// context starts with none, so later requests are not starved
			// (the next chunk opens it).
			page.close()
			page = nil
		}
	}
	return page
}

// cacheRoom is how many preflights a tab's browser context may send
// before its next chunk runs in a fresh one. Chrome's preflight cache holds
// 1,024 entries per context and, once full, evicts entries at random for
// each new one (services/network/cors/preflight_cache.cc; measured in
// Chromium 156: one entry per new one). Every probe URL is unique, so every
// preflight is a new entry, and past the cap a preflight a cache case
// relies on can vanish between its two fetches: the case would fail on the
// cap, not on the server. 64 entries stay free for the preflights of
// redirect hops, which a chunk's fetch count does not bound.
const cacheRoom = 1024 - 64

// fetchesIn is the number of fetches of the probes in chunk: at most one
// preflight each, redirects aside.
func fetchesIn(probes []runner.Probe, chunk []int) int {
	n := 0
	for _, i := range chunk {
		n += len(probes[i].Fetches)
	}
	return n
}

// preflightsIn is the number of preflights some observations saw.
func preflightsIn(obs [][]scenarios.Observation) int {
	n := 0
	for _, per := range obs {
		for _, o := range per {
			n += o.Preflights
		}
	}
	return n
}

// runChunk runs some probes on this page in one Evaluate and builds their
// observations.
func (p *originPage) runChunk(ctx context.Context, runID string, probes []runner.Probe, chunk []int, o runner.RunOptions, version string, silent [2]int) ([][]scenarios.Observation, error) {
	if p.isIntercepting() {
		// The guard: probes never run while Chrome intercepts (it would
		// change what Chrome sends).
		return nil, errors.New("internal error: a batch was about to run while the Fetch domain intercepts this tab")
	}
	call, err := core.NewChunkCall(runID, probes, chunk, o, silent)
	if err != nil {
		return nil, err
	}
	refs, expr, deadline := call.Refs, call.Expr, call.Deadline
	evalCtx, cancel := context.WithTimeout(p.ctx, deadline)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	crashStop := make(chan struct{})
	defer close(crashStop)
	go func() {
		select {
		case <-p.crashed:
			cancel()
		case <-crashStop:
		}
	}()
	results, err := chromedp.Run(evalCtx, chromedp.Evaluate[[]core.JSResult](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		select {
		case <-p.crashed:
			return nil, runner.ErrRendererCrashed
		default:
		}
		return nil, err
	}
	if len(results) != len(refs) {
		return nil, fmt.Errorf("page returned %d results for %d fetches", len(results), len(refs))
	}

	if p.bare {
		return call.Observations(ctx, core.BareEvents{Engine: runner.EngineChrome}, nil, results, p.origin, version), nil
	}
	// Event types arrive on separate subscriptions, so an actual request's
	// loadingFinished can be handled before its preflight's
	// requestWillBeSent. A barrier request, issued after every fetch of the
	// chunk settled, comes after all their requestWillBeSent events; once
	// its own is seen, every preflight and redirect hop of the chunk is known.
	barrierID := fmt.Sprintf("%s.%d", runID, chunk[0])
	if err := p.barrier(evalCtx, barrierID); err != nil {
		return nil, err
	}
	seen := func() bool { return p.events.barriers[barrierID] }
	return call.Observations(ctx, p.events, seen, results, p.origin, version), nil
}

// barrier fetches a data: URL: it leaves the machine never and Chrome
// interception not at all, and its requestWillBeSent follows every event
// before it on the same subscription.
func (p *originPage) barrier(ctx context.Context, id string) error {
	js := fmt.Sprintf(`fetch(%q).then(() => true, () => true)`, barrierPrefix+id)
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise))
	return err
}
