package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// TokenParam is the query parameter that carries each probe's correlation
// token. It also gives every probe its own preflight-cache entry, which is
// keyed by URL: probes never share a cached preflight unless they are the
// repeats of one probe.
const TokenParam = "__corscheck"

// jsSpec is one fetch as the page script receives it.
type jsSpec struct {
	URL            string            `json:"u"`
	Method         string            `json:"m"`
	Headers        map[string]string `json:"h"`
	Credentials    string            `json:"c"`
	Mode           string            `json:"mode"`
	Redirect       string            `json:"redirect"`
	ReferrerPolicy string            `json:"rp,omitempty"`
	Body           *string           `json:"b,omitempty"`
	// Kind is 1 for a preflighted fetch, 0 otherwise.
	Kind int `json:"k"`
}

// JSResult is what the page script reports for one fetch.
type JSResult struct {
	OK       bool              `json:"ok"`
	Status   int               `json:"status"`
	Type     string            `json:"type"`
	TimedOut bool              `json:"timedOut"`
	NotRun   bool              `json:"notRun"`
	Error    string            `json:"error"`
	Readable map[string]string `json:"readable"`
	Ms       float64           `json:"ms"`
	Body     *struct {
		Bytes    int64  `json:"bytes"`
		Complete bool   `json:"complete"`
		Capped   bool   `json:"capped"`
		Error    string `json:"error"`
	} `json:"body"`
}

// observation is a fetch's observation as the page script saw it; the
// engine's events add what crossed the wire.
func (js JSResult) Observation(origin string, f runner.Fetch, engine, version string) scenarios.Observation {
	ob := scenarios.Observation{
		Request:         f.Request(origin),
		DurationMs:      round(js.Ms),
		Browser:         version,
		Engine:          engine,
		ReadableHeaders: map[string]*string{},
	}
	js.fill(&ob, f)
	return ob
}

// fill copies what script saw into the observation.
func (js JSResult) fill(ob *scenarios.Observation, f runner.Fetch) {
	for _, name := range f.ReadHeaders {
		name = strings.ToLower(name)
		if v, ok := js.Readable[name]; ok && js.OK {
			ob.ReadableHeaders[name] = &v
		} else {
			ob.ReadableHeaders[name] = nil
		}
	}
	if !js.OK {
		return
	}
	ob.ResponseType = js.Type
	for name := range js.Readable {
		ob.ReadableNames = append(ob.ReadableNames, name)
	}
	sortStrings(ob.ReadableNames)
	if js.Body != nil {
		ob.Body = &scenarios.Body{Bytes: js.Body.Bytes, Complete: js.Body.Complete, Capped: js.Body.Capped, Error: js.Body.Error}
	}
}

// specOf is the fetch as the page script runs it, its URL marked with token.
func specOf(f runner.Fetch, token string) jsSpec {
	s := jsSpec{URL: withToken(f.URL, token), Method: f.Method, Headers: NonNil(f.Headers), Credentials: string(f.Credentials),
		Mode: f.Mode, Redirect: f.Redirect, ReferrerPolicy: f.ReferrerPolicy}
	if s.Credentials == "" {
		s.Credentials = string(scenarios.CredentialsSameOrigin) // fetch()'s default
	}
	if s.Mode == "" {
		s.Mode = "cors"
	}
	if s.Redirect == "" {
		s.Redirect = "follow"
	}
	if f.Body != "" {
		b := f.Body
		s.Body = &b
	}
	if f.Preflighted() {
		s.Kind = 1
	}
	return s
}

// batchJS runs groups of fetches: groups in parallel (limit at a time), the
// fetches of a group in order. Each fetch has its own timeout, measured
// from its own start and covering the body. The body is read and thrown
// away chunk by chunk up to maxBody (never buffered whole), so a huge body
// costs no memory; its size and whether it completed are recorded. The
// default cache mode is kept: "no-store" or "no-cache" would also make
// Chrome skip the preflight cache (seen on Chromium 156), and the token
// already makes every URL unique.
//
// Fetches of one kind (preflighted or not) that time out giveUpAfter times
// in a row stop the rest of that kind: the target does not answer them.
// With rate > 0, fetch starts are spaced to stay under rate requests per
// second, a preflighted fetch counting twice.
const batchJS = `(async (specs, groups, limit, timeoutMs, giveUpAfter, rate, maxBody) => {
  const results = new Array(specs.length);
  const silent = [0, 0];
  let nextSlot = 0;
  async function slot(weight) {
    if (!(rate > 0)) return;
    const now = performance.now();
    const at = Math.max(now, nextSlot);
    nextSlot = at + 1000 * weight / rate;
    if (at > now) await new Promise(r => setTimeout(r, at - now));
  }
  async function one(i) {
    const s = specs[i];
    if (silent[s.k] >= giveUpAfter) { results[i] = {ok: false, notRun: true, error: "", ms: 0}; return; }
    await slot(s.k ? 2 : 1);
    const t0 = performance.now();
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; ctl.abort(); }, timeoutMs);
    const init = {method: s.m, headers: s.h, credentials: s.c, mode: s.mode, redirect: s.redirect, signal: ctl.signal};
    if (s.rp) init.referrerPolicy = s.rp;
    if (s.b !== undefined) init.body = s.b;
    let r;
    try {
      r = await fetch(s.u, init);
    } catch (e) {
      clearTimeout(timer);
      if (timedOut) silent[s.k]++;
      results[i] = {ok: false, timedOut, error: String(e), ms: performance.now() - t0};
      return;
    }
    silent[s.k] = 0;
    const readable = {};
    for (const [k, v] of r.headers) readable[k] = v;
    const body = {bytes: 0, complete: false, capped: false, error: ""};
    if (r.body) {
      const reader = r.body.getReader();
      try {
        for (;;) {
          const {done, value} = await reader.read();
          if (done) { body.Complete = true; break; }
          body.bytes += value.length;
          if (body.bytes >= maxBody) { body.capped = true; reader.cancel().catch(() => {}); break; }
        }
      } catch (e) {
        body.error = timedOut ? "timed out reading the body" : String(e);
      }
    } else {
      body.Complete = true;
    }
    clearTimeout(timer);
    results[i] = {ok: true, status: r.status, type: r.type, readable, body, ms: performance.now() - t0};
  }
  let next = 0;
  async function worker() {
    while (next < groups.length) {
      const g = groups[next++];
      for (let k = 0; k < g.length; k++) {
        // Where the engine's record of the wire needs it (WebKit), the
        // page marks the start of a probe's second and later fetches.
        if (k > 0 && self.__corscheckMark) await self.__corscheckMark(specs[g[k]].u, k);
        await one(g[k]);
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, groups.length)}, worker));
  return results;
})`

// Errored is an observation per fetch of p, all with the same error.
func Errored(p runner.Probe, version, engine string, kind scenarios.ErrorKind, msg string) []scenarios.Observation {
	obs := make([]scenarios.Observation, len(p.Fetches))
	for k, f := range p.Fetches {
		obs[k] = scenarios.Observation{
			Request:         f.Request(p.Origin),
			Outcome:         scenarios.Errored,
			ErrorKind:       kind,
			Error:           msg,
			Browser:         version,
			Engine:          engine,
			ReadableHeaders: map[string]*string{},
		}
	}
	return obs
}

func fillMissing(probes []runner.Probe, out [][]scenarios.Observation, version, engine string, kind scenarios.ErrorKind, msg string) {
	for i := range out {
		if out[i] == nil {
			out[i] = Errored(probes[i], version, engine, kind, msg)
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
	return u + sep + TokenParam + "=" + url.QueryEscape(token) + frag
}

func randomID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func LowerKeys(h map[string]string) map[string]string {
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

func NonNil(h map[string]string) map[string]string {
	if h == nil {
		return map[string]string{}
	}
	return h
}

func round(ms float64) float64 { return float64(int64(ms*10+0.5)) / 10 }

// retryable reports whether an observation's answer says "come back later"
// (429 or 503 with Retry-After), and how long to wait, capped.
func retryable(obs []scenarios.Observation, maxWait time.Duration) (time.Duration, bool) {
	for _, o := range obs {
		for _, st := range []struct {
			status int
			h      map[string]string
		}{{statusOf(o.Response), headersOf(o.Response)}, {preflightStatus(o.Preflight), preflightHeaders(o.Preflight)}} {
			if st.status != 429 && !(st.status == 503 && st.h["retry-after"] != "") {
				continue
			}
			wait := time.Second
			if ra := strings.TrimSpace(st.h["retry-after"]); ra != "" {
				if n, err := time.ParseDuration(ra + "s"); err == nil && n >= 0 {
					wait = n
				} else if t, err := time.Parse(time.RFC1123, ra); err == nil {
					wait = time.Until(t)
				}
			}
			return min(max(wait, 100*time.Millisecond), maxWait), true
		}
	}
	return 0, false
}

func statusOf(r *scenarios.Response) int {
	if r == nil {
		return 0
	}
	return r.Status
}

func headersOf(r *scenarios.Response) map[string]string {
	if r == nil {
		return nil
	}
	return r.Headers
}

func preflightStatus(e *scenarios.Exchange) int {
	if e == nil {
		return 0
	}
	return e.Status
}

func preflightHeaders(e *scenarios.Exchange) map[string]string {
	if e == nil {
		return nil
	}
	return e.ResponseHeaders
}

// describeErr is an error as one line for an observation.
func describeErr(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "the browser did not finish the batch in time"
	}
	return fmt.Sprint(err)
}
