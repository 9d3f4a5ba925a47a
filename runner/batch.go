package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/corscheck/corscheck/scenarios"
)

// settle bounds how long events may trail the fetch promises.
const settle = 2 * time.Second

// retryWait caps how long a 429's Retry-After is honoured.
const retryWait = 10 * time.Second

// retries is how often a probe answered 429 is tried again.
const retries = 2

// kindState counts, per kind of fetch (0 simple, 1 preflighted), the
// fetches in a row that got no response at all; at GiveUpAfter the target
// is taken not to answer that kind, and the rest of it is not run.
type kindState struct {
	mu     sync.Mutex
	silent [2]int
}

func (k *kindState) snapshot() [2]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.silent
}

// record updates the counts from finished observations, in order.
func (k *kindState) record(fetches []Fetch, obs []scenarios.Observation) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, o := range obs {
		kind := 0
		if fetches[i].preflighted() {
			kind = 1
		}
		switch {
		case answered(o):
			k.silent[kind] = 0
		case o.ErrorKind == scenarios.ErrorTimeout, o.ErrorKind == scenarios.ErrorNetwork:
			k.silent[kind]++
		}
	}
}

// answered reports whether any response came back for the fetch. A
// preflight that was sent but never answered is no sign of life.
func answered(o scenarios.Observation) bool {
	return o.Response != nil && o.Response.Status > 0 || o.Preflight != nil && o.Preflight.Status > 0 || o.Outcome == scenarios.Allowed
}

// Run executes the probes and returns, for each probe, one observation per
// fetch. It groups probes by origin (one tab each), runs several tabs at
// once and several fetches per tab, and builds every observation from that
// fetch's own DevTools events. Failures of the browser become Errored
// observations with the reason; a crashed tab is reopened and its probes
// tried once more. Run returns an error only when ctx ends, and then the
// probes that did not finish are nil.
func (b *Chrome) Run(ctx context.Context, probes []Probe, o RunOptions) ([][]scenarios.Observation, error) {
	return runByOrigin(ctx, probes, o, b.version, EngineChrome, func(bt *batch, work <-chan originWork) {
		// One tab per worker, loading one origin page after another:
		// opening a tab in a new browser context costs several times
		// more than a navigation.
		tab := b.takeTab(bt.o.Setup)
		for w := range work {
			tab = b.runOrigin(ctx, bt, tab, w.origin, w.idx)
		}
		b.keepTab(tab, bt.o.Setup)
	})
}

// takeTab returns an idle tab from an earlier Run with the same setup
// (nil when there is none): runs in a row (the precheck, discovery, the
// batch) reuse their tabs.
func (b *Chrome) takeTab(setup PageSetup) *originPage {
	b.idleMu.Lock()
	defer b.idleMu.Unlock()
	key := setupKey(setup)
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
func (b *Chrome) keepTab(t *originPage, setup PageSetup) {
	if t == nil {
		return
	}
	t.setup = setupKey(setup)
	b.idleMu.Lock()
	defer b.idleMu.Unlock()
	if len(b.idle) >= maxIdleTabs {
		t.close()
		return
	}
	b.idle = append(b.idle, t)
}

const maxIdleTabs = 8

func setupKey(s PageSetup) string {
	k, _ := json.Marshal(s)
	return string(k)
}

// runOrigin runs the probes idx of one origin in chunks on a tab (the
// worker's, or a new one), and returns the tab for the next origin (nil
// when it is gone).
func (b *Chrome) runOrigin(ctx context.Context, bt *batch, page *originPage, origin string, idx []int) *originPage {
	if ctx.Err() != nil {
		return page
	}
	o := bt.o
	setup := o.Setup
	setup.IgnoreCertErrors = setup.IgnoreCertErrors || b.insecure
	var err error
	if page != nil {
		if err = page.load(ctx, origin); err != nil {
			page.close() // a tab that cannot load the next page is replaced
			page = nil
		}
	}
	if page == nil {
		if page, err = b.openOriginPage(ctx, origin, setup); err != nil {
			if ctx.Err() == nil {
				bt.fail(idx, err)
			}
			return nil
		}
	}
	run := func(runID string, chunk []int) ([][]scenarios.Observation, error) {
		return page.runChunk(ctx, runID, bt.probes, chunk, o, b.version, bt.kinds.snapshot())
	}
	for start := 0; start < len(idx); start += o.ChunkSize {
		if ctx.Err() != nil {
			return page
		}
		chunk := idx[start:min(start+o.ChunkSize, len(idx))]
		obs, err := run(bt.runID, chunk)
		if errors.Is(err, ErrRendererCrashed) && ctx.Err() == nil {
			// A crash is never the server's fault: a fresh tab, one more try.
			page.close()
			if page, err = b.openOriginPage(ctx, origin, setup); err == nil {
				obs, err = run(bt.runID+"r", chunk)
			}
			if err != nil {
				err = fmt.Errorf("%w twice while probing from %s: %v", ErrRendererCrashed, origin, err)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return page
			}
			bt.fail(chunk, err)
			if page == nil || errors.Is(err, ErrRendererCrashed) {
				if page != nil {
					page.close()
				}
				bt.fail(idx[start+len(chunk):], err)
				return nil // the tab is gone
			}
			continue
		}
		timedOut := bt.store(chunk, obs)
		bt.retryLater(ctx, chunk, run)
		bt.report(chunk)
		if timedOut {
			// Requests the target never answered may still hold the tab's
			// connections (six per host); a fresh tab in a fresh browser
			// context starts with none, so later requests are not starved.
			page.close()
			page = nil
			if start+o.ChunkSize < len(idx) {
				if page, err = b.openOriginPage(ctx, origin, setup); err != nil {
					if ctx.Err() == nil {
						bt.fail(idx[start+o.ChunkSize:], err)
					}
					return nil
				}
			}
		}
	}
	return page
}

// runChunk runs some probes on this page in one Evaluate and builds their
// observations.
func (p *originPage) runChunk(ctx context.Context, runID string, probes []Probe, chunk []int, o RunOptions, version string, silent [2]int) ([][]scenarios.Observation, error) {
	if p.isIntercepting() {
		// The guard: probes never run while Chrome intercepts (it would
		// change what Chrome sends).
		return nil, errors.New("internal error: a batch was about to run while the Fetch domain intercepts this tab")
	}
	call, err := newChunkCall(runID, probes, chunk, o, silent)
	if err != nil {
		return nil, err
	}
	refs, expr, deadline := call.refs, call.expr, call.deadline
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
	results, err := chromedp.Run(evalCtx, chromedp.Evaluate[[]jsResult](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		select {
		case <-p.crashed:
			return nil, ErrRendererCrashed
		default:
		}
		return nil, err
	}
	if len(results) != len(refs) {
		return nil, fmt.Errorf("page returned %d results for %d fetches", len(results), len(refs))
	}

	if p.bare {
		return call.observations(ctx, bareEvents{EngineChrome}, nil, results, p.origin, version), nil
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
	return call.observations(ctx, p.events, seen, results, p.origin, version), nil
}

// fetchRef is where one fetch of a chunk stands: its probe's token, its
// place among the probe's fetches, and the fetch.
type fetchRef struct {
	token string
	seq   int
	fetch Fetch
}

// chunkCall is one chunk as the page script runs it: the call expression,
// each fetch's reference (in the order of the script's results), and a
// deadline that is a backstop only.
type chunkCall struct {
	expr     string
	refs     []fetchRef
	deadline time.Duration
	// tokens and fetches are each probe's token and number of fetches, in
	// chunk order (refs is their fetches, flattened).
	tokens  []string
	fetches []int
}

// bareEvents is a Bare browser's side of a chunk: nothing is observed, the
// page script's results are the observations.
type bareEvents struct{ engine string }

func (bareEvents) wait(context.Context, func() bool, time.Duration) {}
func (bareEvents) complete(string, int, jsResult) bool              { return true }
func (bareEvents) forget([]string)                                  {}
func (e bareEvents) observe(origin, _ string, _ int, f Fetch, js jsResult, version string) scenarios.Observation {
	ob := js.observation(origin, f, e.engine, version)
	switch {
	case js.OK:
		ob.Outcome = scenarios.Allowed
	case js.TimedOut || js.NotRun:
		ob.Outcome, ob.Error = scenarios.Errored, js.Error
	default:
		ob.Outcome, ob.Error = scenarios.Blocked, js.Error
	}
	return ob
}

// chunkEvents is what a chunk needs of an engine's event collector.
type chunkEvents interface {
	wait(ctx context.Context, done func() bool, limit time.Duration)
	// complete reports whether the events a fetch's observation needs are
	// in; observe builds it. Callers hold the collector's lock.
	complete(token string, seq int, js jsResult) bool
	observe(origin, token string, seq int, f Fetch, js jsResult, version string) scenarios.Observation
	// forget drops the events of observed probes: a tab is reused for a
	// whole run, and would otherwise hold every event of every probe.
	forget(tokens []string)
}

// observations waits until every fetch of the chunk has its events (and
// ready, the engine's own condition, holds; nil when it has none), builds
// the observations probe by probe from the script's results, and forgets
// the chunk's events.
func (call chunkCall) observations(ctx context.Context, ev chunkEvents, ready func() bool, results []jsResult, origin, version string) [][]scenarios.Observation {
	ev.wait(ctx, func() bool {
		if ready != nil && !ready() {
			return false
		}
		for k, r := range call.refs {
			if !ev.complete(r.token, r.seq, results[k]) {
				return false
			}
		}
		return true
	}, settle)
	out := make([][]scenarios.Observation, len(call.fetches))
	k := 0
	for n, count := range call.fetches {
		for range count {
			r := call.refs[k]
			out[n] = append(out[n], ev.observe(origin, r.token, r.seq, r.fetch, results[k], version))
			k++
		}
	}
	ev.forget(call.tokens)
	return out
}

// newChunkCall builds the page script's call for some probes. Requests that
// need no preflight go first: when the target's preflights hang, the ones
// in flight hold the browser's connections (six per host), and a simple
// request queued behind them would time out although the target answers
// it. The kinds that already stopped answering start counted.
func newChunkCall(runID string, probes []Probe, chunk []int, o RunOptions, silent [2]int) (chunkCall, error) {
	var specs []jsSpec
	var groups [][]int
	var refs []fetchRef
	tokens, fetches := make([]string, len(chunk)), make([]int, len(chunk))
	for n, i := range chunk {
		token := fmt.Sprintf("%s.%d", runID, i)
		tokens[n], fetches[n] = token, len(probes[i].Fetches)
		var g []int
		for seq, f := range probes[i].Fetches {
			g = append(g, len(specs))
			specs = append(specs, f.spec(token))
			refs = append(refs, fetchRef{token, seq, f})
		}
		groups = append(groups, g)
	}
	sortGroupsByKind(specs, groups)
	args, err := json.Marshal([]any{specs, groups, o.Concurrency, o.Timeout.Milliseconds(), o.GiveUpAfter, o.Rate, o.MaxBody})
	if err != nil {
		return chunkCall{}, err
	}
	perGroup := (len(specs) + max(1, o.Concurrency) - 1) / max(1, o.Concurrency)
	deadline := o.Timeout*time.Duration(perGroup+1) + 10*time.Second
	if o.Rate > 0 {
		deadline += time.Duration(float64(2*len(specs))/o.Rate*float64(time.Second)) + retryWait
	}
	return chunkCall{expr: withSilent(silent) + "(..." + string(args) + ")", refs: refs, deadline: deadline, tokens: tokens, fetches: fetches}, nil
}

// sortGroupsByKind puts requests that need no preflight first.
func sortGroupsByKind(specs []jsSpec, groups [][]int) {
	sort.SliceStable(groups, func(a, b int) bool { return specs[groups[a][0]].Kind < specs[groups[b][0]].Kind })
}

// withSilent is batchJS with its counters starting at the given values.
func withSilent(s [2]int) string {
	return strings.Replace(batchJS, "const silent = [0, 0];", fmt.Sprintf("const silent = [%d, %d];", s[0], s[1]), 1)
}

// barrier fetches a data: URL: it leaves the machine never and Chrome
// interception not at all, and its requestWillBeSent follows every event
// before it on the same subscription.
func (p *originPage) barrier(ctx context.Context, id string) error {
	js := fmt.Sprintf(`fetch(%q).then(() => true, () => true)`, barrierPrefix+id)
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise))
	return err
}

func sortStrings(s []string) { sort.Strings(s) }
