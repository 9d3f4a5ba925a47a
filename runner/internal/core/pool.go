package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// Pool is several browsers of one engine (--browser-url given more than
// once, or a comma-separated list) used as one: each origin's probes run in one
// browser, with the same isolation as a single one (a fresh browser
// context per origin page). A browser that dies mid-run has its probes run
// again on the others: its death is never reported as the server's fault.
type Pool struct {
	members []runner.Browser
	urls    []string
	engine  string

	mu   sync.Mutex
	dead map[int]bool
}

// Pinger is a browser that can say whether it still answers (a pool asks
// before dealing it probes, and after it lost some).
type Pinger interface {
	Alive(ctx context.Context) error
}

// StartPool attaches to every --browser-url endpoint with start (one
// endpoint each) and makes them one Browser.
func StartPool(ctx context.Context, o runner.Options, engine string, start func(ctx context.Context, o runner.Options) (runner.Browser, error)) (runner.Browser, error) {
	p := &Pool{urls: o.BrowserURLs, engine: engine, dead: map[int]bool{}}
	p.members = make([]runner.Browser, len(o.BrowserURLs))
	errs := make([]error, len(o.BrowserURLs))
	var wg sync.WaitGroup
	for i, u := range o.BrowserURLs {
		wg.Go(func() {
			one := o
			one.BrowserURLs = []string{u}
			p.members[i], errs[i] = start(ctx, one)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Engine is the members' engine.
func (p *Pool) Engine() string { return p.engine }

// Version is the first browser's version and the pool's size.
func (p *Pool) Version() string {
	return fmt.Sprintf("%s (pool of %d)", p.members[0].Version(), len(p.members))
}

// Size is the number of browsers in the pool.
func (p *Pool) Size() int { return len(p.members) }

// Close detaches from every browser.
func (p *Pool) Close() {
	for _, m := range p.members {
		if m != nil {
			m.Close()
		}
	}
}

// alive reports whether member i still answers.
func (p *Pool) alive(i int) bool {
	p.mu.Lock()
	if p.dead[i] {
		p.mu.Unlock()
		return false
	}
	p.mu.Unlock()
	pinger, ok := p.members[i].(Pinger)
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := pinger.Alive(ctx); err != nil {
		p.mu.Lock()
		p.dead[i] = true
		p.mu.Unlock()
		return false
	}
	return true
}

// Run spreads the probes over the live browsers, origin by origin, and runs
// again, on the browsers still alive, the probes a dead browser lost.
func (p *Pool) Run(ctx context.Context, probes []runner.Probe, o runner.RunOptions) ([][]scenarios.Observation, error) {
	out := make([][]scenarios.Observation, len(probes))
	pending := make([]int, len(probes))
	for i := range pending {
		pending[i] = i
	}
	var chunkMu sync.Mutex
	for round := 0; len(pending) > 0; round++ {
		var live []int
		for i := range p.members {
			if p.alive(i) {
				live = append(live, i)
			}
		}
		if len(live) == 0 {
			for _, i := range pending {
				out[i] = Errored(probes[i], p.members[0].Version(), p.engine, scenarios.ErrorBrowser, "browser: every browser of the pool went away ("+strings.Join(p.urls, ", ")+")")
			}
			return out, nil
		}
		// Origins are dealt to browsers in turn: an origin's probes stay
		// together (its page, its preflight cache).
		shares := make([][]int, len(live))
		byOrigin := map[string]int{}
		for _, i := range pending {
			k, ok := byOrigin[probes[i].Origin]
			if !ok {
				k = len(byOrigin) % len(live)
				byOrigin[probes[i].Origin] = k
			}
			shares[k] = append(shares[k], i)
		}
		lost := make([][]int, len(live))
		var wg sync.WaitGroup
		var runErr error
		var errMu sync.Mutex
		for k, m := range live {
			if len(shares[k]) == 0 {
				continue
			}
			wg.Go(func() {
				idx := shares[k]
				sub := make([]runner.Probe, len(idx))
				for j, i := range idx {
					sub[j] = probes[i]
				}
				so := o
				if o.OnChunk != nil {
					so.OnChunk = func(local []int, obs [][]scenarios.Observation) {
						// A probe the browser lost is reported once it is run again.
						var global []int
						var keep [][]scenarios.Observation
						for j, li := range local {
							if browserLost(obs[j]) {
								continue
							}
							global = append(global, idx[li])
							keep = append(keep, obs[j])
						}
						if len(global) > 0 {
							chunkMu.Lock()
							o.OnChunk(global, keep)
							chunkMu.Unlock()
						}
					}
				}
				res, err := p.members[m].Run(ctx, sub, so)
				if err != nil {
					errMu.Lock()
					runErr = err
					errMu.Unlock()
				}
				for j, i := range idx {
					out[i] = res[j]
					if res[j] != nil && browserLost(res[j]) && ctx.Err() == nil {
						lost[k] = append(lost[k], i)
					}
				}
			})
		}
		wg.Wait()
		if runErr != nil {
			return out, runErr
		}
		pending = nil
		for k, m := range live {
			if len(lost[k]) == 0 {
				continue
			}
			if p.alive(m) || round >= len(p.members) {
				// The browser lives: its failure is the observation.
				if o.OnChunk != nil {
					obs := make([][]scenarios.Observation, len(lost[k]))
					for j, i := range lost[k] {
						obs[j] = out[i]
					}
					o.OnChunk(lost[k], obs)
				}
				continue
			}
			pending = append(pending, lost[k]...)
		}
	}
	return out, nil
}

// browserLost reports whether a probe's observations are all browser
// failures (the browser went away), not anything the target did.
func browserLost(obs []scenarios.Observation) bool {
	if len(obs) == 0 {
		return false
	}
	for _, o := range obs {
		if o.ErrorKind != scenarios.ErrorBrowser {
			return false
		}
	}
	return true
}

// Attachable is an engine's start for one browser that makes several
// --browser-url endpoints a Pool of such browsers.
func Attachable(engine string, start func(ctx context.Context, o runner.Options) (runner.Browser, error)) func(ctx context.Context, o runner.Options) (runner.Browser, error) {
	return func(ctx context.Context, o runner.Options) (runner.Browser, error) {
		if len(o.BrowserURLs) > 1 {
			return StartPool(ctx, o, engine, start)
		}
		return start(ctx, o)
	}
}
