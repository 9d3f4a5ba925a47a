package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/corscheck/corscheck/scenarios"
)

// tokenParam is the query parameter that carries each probe's correlation
// token. It also gives every probe its own preflight-cache entry, which is
// keyed by URL: probes never share a cached preflight unless they are the
// repeats of one probe.
const tokenParam = "__corscheck"

// Fetch is one fetch() the origin page issues.
type Fetch struct {
	URL         string
	Method      string
	Headers     map[string]string
	Credentials scenarios.Credentials
	// ReadHeaders are response header names whose script-visible value is recorded.
	ReadHeaders []string
}

// Probe is what one case needs from the browser: fetches from one origin,
// run in order on the same URL and token, so a repeat can hit the preflight
// cache that the first fetch filled (cache scenarios) while no other probe
// can.
type Probe struct {
	Origin  string
	Fetches []Fetch
}

// ProbeFor is the probe that observes a case: its request, repeated as
// often as the case asks, reading the headers it reads.
func ProbeFor(c scenarios.Case) Probe {
	f := Fetch{URL: c.Request.URL, Method: c.Request.Method, Headers: c.Request.Headers, Credentials: c.Request.Credentials, ReadHeaders: c.Read}
	p := Probe{Origin: c.Request.Origin}
	for range c.Fetches() {
		p.Fetches = append(p.Fetches, f)
	}
	return p
}

// RunOptions tune a batch.
type RunOptions struct {
	// Timeout limits each fetch; a fetch that takes longer is an error, never "blocked".
	Timeout time.Duration
	// Concurrency is the number of probes in flight per origin page.
	Concurrency int
	// Pages is the number of origin pages working at once.
	Pages int
	// ChunkSize is how many probes one Evaluate runs.
	ChunkSize int
	// GiveUpAfter stops the batch when this many probes in a row got no
	// response at all (refused, reset, timed out): the target is down.
	GiveUpAfter int
	// OnChunk, when set, receives each finished chunk: probe indices and
	// their observations. Calls never overlap.
	OnChunk func(idx []int, obs [][]scenarios.Observation)
}

func (o RunOptions) withDefaults() RunOptions {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 6
	}
	if o.Pages <= 0 {
		o.Pages = 4
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 32
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = 12
	}
	return o
}

// ErrTargetDown marks probes that were not run because the target stopped answering.
var ErrTargetDown = errors.New("target stopped answering")

// Run executes the probes and returns, for each probe, one observation per
// fetch. It groups probes by origin (one tab each), runs several tabs at
// once and several fetches per tab, and builds every observation from that
// fetch's own DevTools events. Failures of the browser become Errored
// observations with the reason; Run returns an error only when ctx ends,
// and then the probes that did not finish are nil.
func (b *Browser) Run(ctx context.Context, probes []Probe, o RunOptions) ([][]scenarios.Observation, error) {
	o = o.withDefaults()
	out := make([][]scenarios.Observation, len(probes))
	runID := randomID()

	byOrigin := map[string][]int{}
	var origins []string
	for i, p := range probes {
		if _, ok := byOrigin[p.Origin]; !ok {
			origins = append(origins, p.Origin)
		}
		byOrigin[p.Origin] = append(byOrigin[p.Origin], i)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		silent    atomic.Int64 // probes in a row with no response at all
		downErr   atomic.Value
		progressM sync.Mutex
	)
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(o.Pages, len(origins)) {
		wg.Go(func() {
			for origin := range work {
				idx := byOrigin[origin]
				b.runOrigin(runCtx, origin, runID, probes, idx, out, o, func(chunk []int, anyResponse bool) {
					if anyResponse {
						silent.Store(0)
					} else if silent.Add(int64(len(chunk))) >= int64(o.GiveUpAfter) {
						downErr.CompareAndSwap(nil, fmt.Errorf("%w: %d probes in a row got no response", ErrTargetDown, silent.Load()))
						cancel()
					}
					if o.OnChunk != nil {
						obs := make([][]scenarios.Observation, len(chunk))
						for k, i := range chunk {
							obs[k] = out[i]
						}
						progressM.Lock()
						o.OnChunk(chunk, obs)
						progressM.Unlock()
					}
				})
			}
		})
	}
	for _, origin := range origins {
		select {
		case work <- origin:
		case <-runCtx.Done():
		}
	}
	close(work)
	wg.Wait()

	if err := ctx.Err(); err != nil {
		return out, err // probes not run stay nil: nothing was observed
	}
	if e, _ := downErr.Load().(error); e != nil {
		fillMissing(probes, out, b.Version, scenarios.ErrorNotRun, "not run: "+e.Error())
	}
	fillMissing(probes, out, b.Version, scenarios.ErrorBrowser, "not run: the browser went away")
	return out, nil
}

// runOrigin runs the probes idx of one origin in chunks on one tab.
func (b *Browser) runOrigin(ctx context.Context, origin, runID string, probes []Probe, idx []int,
	out [][]scenarios.Observation, o RunOptions, report func(chunk []int, anyResponse bool)) {
	if ctx.Err() != nil {
		return
	}
	page, err := b.openOriginPage(ctx, origin)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		for _, i := range idx {
			out[i] = errored(probes[i], b.Version, scenarios.ErrorBrowser, err.Error())
		}
		report(idx, true)
		return
	}
	defer page.close()
	for start := 0; start < len(idx); start += o.ChunkSize {
		if ctx.Err() != nil {
			return
		}
		chunk := idx[start:min(start+o.ChunkSize, len(idx))]
		obs, err := page.runChunk(ctx, runID, probes, chunk, o, b.Version)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			for _, i := range chunk {
				out[i] = errored(probes[i], b.Version, scenarios.ErrorBrowser, "browser: "+err.Error())
			}
			report(chunk, true)
			continue
		}
		anyResponse := false
		for k, i := range chunk {
			out[i] = obs[k]
			for _, ob := range obs[k] {
				// A preflight that was sent but never answered is no sign of life.
				if ob.Response != nil && ob.Response.Status > 0 || ob.Preflight != nil && ob.Preflight.Status > 0 {
					anyResponse = true
				}
			}
		}
		report(chunk, anyResponse)
	}
}

// jsSpec is one fetch as the page script receives it.
type jsSpec struct {
	URL         string            `json:"u"`
	Method      string            `json:"m"`
	Headers     map[string]string `json:"h"`
	Credentials string            `json:"c"`
}

// jsResult is what the page script reports for one fetch.
type jsResult struct {
	OK       bool              `json:"ok"`
	Status   int               `json:"status"`
	TimedOut bool              `json:"timedOut"`
	NotRun   bool              `json:"notRun"`
	Error    string            `json:"error"`
	Readable map[string]string `json:"readable"`
	Ms       float64           `json:"ms"`
}

// batchJS runs groups of fetches with the default cache mode: "no-store"
// or "no-cache" would also make Chrome skip the preflight cache (seen on
// Chromium 156), and the token already makes every URL unique.
//
// batchJS runs groups of fetches: groups in parallel (limit at a time), the
// fetches of a group in order. Each fetch has its own timeout, measured from
// its own start, and reports the response headers script can read.
const batchJS = `(async (specs, groups, limit, timeoutMs, giveUpAfter) => {
  const results = new Array(specs.length);
  let silent = 0;
  async function one(i) {
    const s = specs[i];
    if (silent >= giveUpAfter) { results[i] = {ok: false, notRun: true, error: "", ms: 0}; return; }
    const t0 = performance.now();
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; ctl.abort(); }, timeoutMs);
    try {
      const r = await fetch(s.u, {method: s.m, headers: s.h, credentials: s.c, mode: "cors",
        redirect: "follow", signal: ctl.signal});
      const readable = {};
      for (const [k, v] of r.headers) readable[k] = v;
      try { await r.arrayBuffer(); } catch (e) {}
      silent = 0;
      results[i] = {ok: true, status: r.status, readable, ms: performance.now() - t0};
    } catch (e) {
      if (timedOut) silent++;
      results[i] = {ok: false, timedOut, error: String(e), ms: performance.now() - t0};
    } finally { clearTimeout(timer); }
  }
  let next = 0;
  async function worker() {
    while (next < groups.length) {
      const g = groups[next++];
      for (const i of g) await one(i);
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, groups.length)}, worker));
  return results;
})`

// settle bounds how long events may trail the fetch promises.
const settle = 2 * time.Second

// runChunk runs some probes on this page in one Evaluate and builds their
// observations.
func (p *originPage) runChunk(ctx context.Context, runID string, probes []Probe, chunk []int, o RunOptions, version string) ([][]scenarios.Observation, error) {
	var specs []jsSpec
	var groups [][]int
	type ref struct {
		token string
		seq   int
		fetch Fetch
	}
	var refs []ref
	for _, i := range chunk {
		token := fmt.Sprintf("%s.%d", runID, i)
		var g []int
		for seq, f := range probes[i].Fetches {
			if f.Credentials == "" {
				f.Credentials = scenarios.CredentialsSameOrigin // fetch()'s default
			}
			g = append(g, len(specs))
			specs = append(specs, jsSpec{URL: withToken(f.URL, token), Method: f.Method, Headers: nonNil(f.Headers), Credentials: string(f.Credentials)})
			refs = append(refs, ref{token, seq, f})
		}
		groups = append(groups, g)
	}
	args, err := json.Marshal([]any{specs, groups, o.Concurrency, o.Timeout.Milliseconds(), max(o.Concurrency, 6)})
	if err != nil {
		return nil, err
	}
	expr := batchJS + "(..." + string(args) + ")"
	// The whole chunk may take a timeout per sequential fetch, plus slack.
	deadline := o.Timeout*time.Duration(len(specs)/max(1, o.Concurrency)+2) + 10*time.Second
	evalCtx, cancel := context.WithTimeout(p.ctx, deadline)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	results, err := chromedp.Run(evalCtx, chromedp.Evaluate[[]jsResult](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, err
	}
	if len(results) != len(specs) {
		return nil, fmt.Errorf("page returned %d results for %d fetches", len(results), len(specs))
	}

	// Event types arrive on separate subscriptions, so an actual request's
	// loadingFinished can be handled before its preflight's
	// requestWillBeSent. A barrier request, issued after every fetch of the
	// chunk settled, comes after all their requestWillBeSent events; once
	// its own is seen, every preflight of the chunk is known.
	barrierID := fmt.Sprintf("%s.%d", runID, chunk[0])
	if err := p.barrier(evalCtx, barrierID); err != nil {
		return nil, err
	}
	p.events.waitComplete(ctx, func(c *collector) bool {
		if !c.barriers[barrierID] {
			return false
		}
		for k, r := range refs {
			if !c.complete(r.token, r.seq, results[k]) {
				return false
			}
		}
		return true
	}, settle)

	out := make([][]scenarios.Observation, len(chunk))
	k := 0
	for n, i := range chunk {
		for range probes[i].Fetches {
			r := refs[k]
			out[n] = append(out[n], p.events.observe(p.origin, r.token, r.seq, r.fetch, results[k], version))
			k++
		}
	}
	return out, nil
}

// barrierPath is the page-relative path of barrier requests.
const barrierPath = "__corscheck__/barrier-"

// barrier fetches a URL on the page's own origin that the page's Fetch
// handler answers, so its events follow every event before it.
func (p *originPage) barrier(ctx context.Context, id string) error {
	js := fmt.Sprintf(`fetch(%q, {mode: "no-cors", cache: "no-store"}).then(() => true, () => true)`, p.base+strings.TrimPrefix(barrierPath, "__corscheck__/")+id)
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise))
	return err
}

func errored(p Probe, version string, kind scenarios.ErrorKind, msg string) []scenarios.Observation {
	obs := make([]scenarios.Observation, len(p.Fetches))
	for k, f := range p.Fetches {
		obs[k] = scenarios.Observation{
			Request:         scenarios.Request{URL: f.URL, Origin: p.Origin, Method: f.Method, Headers: nonNil(f.Headers), Credentials: f.Credentials},
			Outcome:         scenarios.Errored,
			ErrorKind:       kind,
			Error:           msg,
			Browser:         version,
			ReadableHeaders: map[string]*string{},
		}
	}
	return obs
}

func fillMissing(probes []Probe, out [][]scenarios.Observation, version string, kind scenarios.ErrorKind, msg string) {
	for i := range out {
		if out[i] == nil {
			out[i] = errored(probes[i], version, kind, msg)
		}
	}
}

func withToken(u, token string) string {
	frag := ""
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u, frag = u[:i], u[i:]
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + tokenParam + "=" + url.QueryEscape(token) + frag
}

func randomID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func prefer(a, b map[string]string) map[string]string {
	if a != nil {
		return a
	}
	return b
}

func lowerKeys(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		lk := strings.ToLower(k)
		if old, ok := out[lk]; ok {
			v = old + "\n" + v
		}
		out[lk] = v
	}
	return out
}

func nonNil(h map[string]string) map[string]string {
	if h == nil {
		return map[string]string{}
	}
	return h
}

func firstNonZero(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func round(ms float64) float64 { return float64(int64(ms*10+0.5)) / 10 }
