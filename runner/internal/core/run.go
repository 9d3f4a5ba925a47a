package core

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// Batch is one Run's shared state, whichever the engine: the probes, their
// observations as they arrive, the options, the run's token prefix and the
// per-kind silence counts.
type Batch struct {
	Probes  []runner.Probe
	out     [][]scenarios.Observation
	Opts    runner.RunOptions
	RunID   string
	Version string
	Engine  string
	Kinds   KindState
	Mu      sync.Mutex // OnChunk calls never overlap
	// intern shares the header sets and texts of the run's observations:
	// a Batch holds every observation until it ends.
	intern scenarios.Interner
}

// OriginWork is the probes of one origin.
type OriginWork struct {
	Origin string
	Idx    []int
}

// RunByOrigin is the skeleton of every engine's Run: probes grouped by
// origin (a page each), o.Pages workers taking origins in turn, the rate
// shared between them. worker runs until work is closed. It returns an
// error only when ctx ends (probes not run stay nil: nothing was
// observed); otherwise a probe no worker finished becomes a browser error.
func RunByOrigin(ctx context.Context, probes []runner.Probe, o runner.RunOptions, version, engine string, worker func(bt *Batch, work <-chan OriginWork)) ([][]scenarios.Observation, error) {
	o = o.WithDefaults()
	bt := &Batch{Probes: probes, out: make([][]scenarios.Observation, len(probes)), Opts: o, RunID: randomID(), Version: version, Engine: engine}
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
		bt.Opts.Rate /= float64(min(o.Pages, len(origins)))
	}
	work := make(chan OriginWork)
	var wg sync.WaitGroup
	for range min(o.Pages, len(origins)) {
		wg.Go(func() { worker(bt, work) })
	}
	for _, origin := range origins {
		select {
		case work <- OriginWork{origin, byOrigin[origin]}:
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
func (bt *Batch) Report(chunk []int) {
	if bt.Opts.OnChunk == nil {
		return
	}
	obs := make([][]scenarios.Observation, len(chunk))
	for k, i := range chunk {
		obs[k] = bt.out[i]
	}
	bt.Mu.Lock()
	bt.Opts.OnChunk(chunk, obs)
	bt.Mu.Unlock()
}

// fail makes the probes browser errors (never the server's fault) and
// reports them.
func (bt *Batch) Fail(ids []int, err error) {
	for _, i := range ids {
		bt.out[i] = Errored(bt.Probes[i], bt.Version, bt.Engine, scenarios.ErrorBrowser, "browser: "+describeErr(err))
	}
	bt.Report(ids)
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

func (bt *Batch) Store(chunk []int, obs [][]scenarios.Observation) (timedOut bool) {
	for k, i := range chunk {
		bt.intern.Observations(obs[k])
		bt.out[i] = obs[k]
		bt.Kinds.Record(bt.Probes[i].Fetches, obs[k])
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
func (bt *Batch) RetryLater(ctx context.Context, chunk []int, run func(runID string, again []int) ([][]scenarios.Observation, error)) {
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
		obs, err := run(fmt.Sprintf("%s-retry%d", bt.RunID, attempt), again)
		if err != nil {
			return
		}
		for k, i := range again {
			bt.intern.Observations(obs[k])
			bt.out[i] = obs[k]
		}
	}
}
