package runner

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/corscheck/corscheck/scenarios"
)

// batch is one Run's shared state, whichever the engine: the probes, their
// observations as they arrive, the options, the run's token prefix and the
// per-kind silence counts.
type batch struct {
	probes  []Probe
	out     [][]scenarios.Observation
	o       RunOptions
	runID   string
	version string
	engine  string
	kinds   kindState
	mu      sync.Mutex // OnChunk calls never overlap
	// intern shares the header sets and texts of the run's observations:
	// a batch holds every observation until it ends.
	intern scenarios.Interner
}

// originWork is the probes of one origin.
type originWork struct {
	origin string
	idx    []int
}

// runByOrigin is the skeleton of every engine's Run: probes grouped by
// origin (a page each), o.Pages workers taking origins in turn, the rate
// shared between them. worker runs until work is closed. It returns an
// error only when ctx ends (probes not run stay nil: nothing was
// observed); otherwise a probe no worker finished becomes a browser error.
func runByOrigin(ctx context.Context, probes []Probe, o RunOptions, version, engine string, worker func(bt *batch, work <-chan originWork)) ([][]scenarios.Observation, error) {
	o = o.withDefaults()
	bt := &batch{probes: probes, out: make([][]scenarios.Observation, len(probes)), o: o, runID: randomID(), version: version, engine: engine}
	byOrigin := map[string][]int{}
	var origins []string
	for i, p := range probes {
		if _, ok := byOrigin[p.Origin]; !ok {
			origins = append(origins, p.Origin)
		}
		byOrigin[p.Origin] = append(byOrigin[p.Origin], i)
	}
	if o.Rate > 0 {
		// Pages share the rate: each gets its part.
		bt.o.Rate /= float64(min(o.Pages, len(origins)))
	}
	work := make(chan originWork)
	var wg sync.WaitGroup
	for range min(o.Pages, len(origins)) {
		wg.Go(func() { worker(bt, work) })
	}
	for _, origin := range origins {
		select {
		case work <- originWork{origin, byOrigin[origin]}:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return bt.out, err
	}
	fillMissing(probes, bt.out, version, engine, scenarios.ErrorBrowser, "not run: the browser went away")
	return bt.out, nil
}

// report hands finished probes to OnChunk.
func (bt *batch) report(chunk []int) {
	if bt.o.OnChunk == nil {
		return
	}
	obs := make([][]scenarios.Observation, len(chunk))
	for k, i := range chunk {
		obs[k] = bt.out[i]
	}
	bt.mu.Lock()
	bt.o.OnChunk(chunk, obs)
	bt.mu.Unlock()
}

// fail makes the probes browser errors (never the server's fault) and
// reports them.
func (bt *batch) fail(ids []int, err error) {
	for _, i := range ids {
		bt.out[i] = errored(bt.probes[i], bt.version, bt.engine, scenarios.ErrorBrowser, "browser: "+describeErr(err))
	}
	bt.report(ids)
}

// store keeps a chunk's observations, counts the kinds that got no answer,
// and says whether a fetch timed out (the page's connections may be held).
// transient reports whether a probe met a network error (not a timeout,
// not a CORS verdict): worth one more try before it counts.
func transient(obs []scenarios.Observation) bool {
	for _, o := range obs {
		if o.Outcome == scenarios.Errored && o.ErrorKind == scenarios.ErrorNetwork {
			return true
		}
	}
	return false
}

func (bt *batch) store(chunk []int, obs [][]scenarios.Observation) (timedOut bool) {
	for k, i := range chunk {
		bt.intern.Observations(obs[k])
		bt.out[i] = obs[k]
		bt.kinds.record(bt.probes[i].Fetches, obs[k])
		for _, ob := range obs[k] {
			timedOut = timedOut || ob.ErrorKind == scenarios.ErrorTimeout
		}
	}
	return timedOut
}

// retryLater tries again, after the answer's Retry-After (capped), the
// probes of a chunk that were answered 429 "too many requests" (or 503
// with Retry-After): a rate limiter's answer says nothing about CORS. A
// probe that met a network error (a reset, a garbled answer) is tried once
// more at once: one transient error is not a finding. run runs some probes
// again on the same page under another token.
func (bt *batch) retryLater(ctx context.Context, chunk []int, run func(runID string, again []int) ([][]scenarios.Observation, error)) {
	retried := map[int]bool{} // probes tried again after a network error
	for attempt := 1; attempt <= retries; attempt++ {
		var again []int
		wait := time.Duration(0)
		for _, i := range chunk {
			if d, ok := retryable(bt.out[i], retryWait); ok {
				again = append(again, i)
				wait = max(wait, d)
			} else if !retried[i] && transient(bt.out[i]) {
				again = append(again, i)
				retried[i] = true
			}
		}
		if len(again) == 0 {
			return
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		obs, err := run(fmt.Sprintf("%s-retry%d", bt.runID, attempt), again)
		if err != nil {
			return
		}
		for k, i := range again {
			bt.intern.Observations(obs[k])
			bt.out[i] = obs[k]
		}
	}
}
