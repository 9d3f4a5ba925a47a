package runner

import (
	"errors"
	"time"

	"github.com/corscheck/corscheck/scenarios"
)

// Fetch is one fetch() the origin page issues.
type Fetch struct {
	URL         string
	Method      string
	Headers     map[string]string
	Credentials scenarios.Credentials
	// Mode, Redirect, ReferrerPolicy and Body are fetch() options; empty
	// means fetch()'s default.
	Mode, Redirect, ReferrerPolicy, Body string
	// ReadHeaders are response header names whose script-visible value is recorded.
	ReadHeaders []string
}

// FetchOf is the fetch that issues a request.
func FetchOf(r scenarios.Request) Fetch {
	return Fetch{URL: r.URL, Method: r.Method, Headers: r.Headers, Credentials: r.Credentials,
		Mode: r.Mode, Redirect: r.Redirect, ReferrerPolicy: r.ReferrerPolicy, Body: r.Body}
}

// Request is the fetch as an observation records it.
func (f Fetch) Request(origin string) scenarios.Request {
	h := f.Headers
	if h == nil {
		h = map[string]string{}
	}
	return scenarios.Request{URL: f.URL, Origin: origin, Method: f.Method, Headers: h, Credentials: f.Credentials,
		Mode: f.Mode, Redirect: f.Redirect, ReferrerPolicy: f.ReferrerPolicy, Body: f.Body}
}

// Preflighted reports whether the browser sends a preflight for the fetch
// (its first hop): it counts double for rate limits and has its own
// "target stopped answering" count.
func (f Fetch) Preflighted() bool {
	r := f.Request("")
	return r.ModeOrDefault() == "cors" && scenarios.NeedsPreflight(r)
}

// Probe is what one case needs from the browser: fetches from one origin,
// run in order on the same URL and token, so a repeat can hit the preflight
// cache that the first fetch filled (cache scenarios) while no other probe
// can.
type Probe struct {
	Origin  string
	Fetches []Fetch
}

// ProbesFor are the probes that observe a case: its request, repeated as
// often as the case asks, reading the headers it reads; then one probe per
// related request (e.g. the same request from another origin, to compare).
func ProbesFor(c scenarios.Case) []Probe {
	f := FetchOf(c.Request)
	f.ReadHeaders = c.Read
	p := Probe{Origin: c.Request.Origin}
	for range c.Fetches() {
		p.Fetches = append(p.Fetches, f)
	}
	out := []Probe{p}
	for _, r := range c.Related {
		rf := FetchOf(r)
		rf.ReadHeaders = c.Read
		rp := Probe{Origin: r.Origin}
		for range c.Fetches() {
			rp.Fetches = append(rp.Fetches, rf)
		}
		out = append(out, rp)
	}
	return out
}

// ProbeFor is the main probe of a case (without related requests).
func ProbeFor(c scenarios.Case) Probe { return ProbesFor(c)[0] }

// RunOptions tune a batch.
type RunOptions struct {
	// Timeout limits each fetch, body included; a fetch that takes longer
	// is an error, never "blocked".
	Timeout time.Duration
	// Concurrency is the number of probes in flight per origin page.
	Concurrency int
	// Pages is the number of origin pages working at once.
	Pages int
	// ChunkSize is how many probes one Evaluate runs.
	ChunkSize int
	// GiveUpAfter stops probes of one kind (preflighted, or not) when this
	// many of that kind in a row got no response at all (refused, reset,
	// timed out): the target does not answer them. The other kind goes on.
	GiveUpAfter int
	// Rate limits requests per second to the target, preflights included
	// (0: no limit).
	Rate float64
	// MaxBody is how many body bytes the page reads (and discards) before
	// it stops reading (default 1 MiB).
	MaxBody int64
	// Setup is applied to every origin page (cookies, certificate errors).
	Setup PageSetup
	// OnChunk, when set, receives each finished chunk: probe indices and
	// their observations. Calls never overlap.
	OnChunk func(idx []int, obs [][]scenarios.Observation)
}

func (o RunOptions) WithDefaults() RunOptions {
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
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	return o
}

// ErrTargetDown marks probes that were not run because the target stopped answering.
var ErrTargetDown = errors.New("target stopped answering")
