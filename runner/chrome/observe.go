package chrome

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
	"github.com/corscheck/corscheck/scenarios"
)

// lookupFetch returns the actual request and its preflights for the seq-th
// fetch of a token. Callers hold c.mu.
func (c *collector) lookupFetch(token string, seq int) (actual *netRequest, preflights []*netRequest) {
	ids := c.actual[token]
	if seq >= len(ids) {
		return nil, nil
	}
	actual = c.reqs[ids[seq]]
	for _, id := range c.preflights[actual.id] {
		preflights = append(preflights, c.reqs[id])
	}
	return actual, preflights
}

// complete reports whether every event this fetch's observation needs has
// arrived: the actual request's terminal event, the raw response headers of
// every hop that got a response, and the preflights' events. Whether an
// allowed request had a preflight at all is settled by the barrier in
// runChunk. Callers hold c.mu.
func (c *collector) Complete(token string, seq int, js core.JSResult) bool {
	if js.NotRun {
		return true
	}
	actual, pfs := c.lookupFetch(token, seq)
	if actual == nil {
		// A fetch stopped before any request (a bad header, a no-cors fetch
		// with a method it forbids, a mode that refuses the URL) has no
		// network events; the last kind has a console sentence.
		return !js.OK && !js.TimedOut && (!strings.Contains(js.Error, "Failed to fetch") || len(c.console[token]) > 0)
	}
	if actual.terminal == terminalNone {
		return false
	}
	for _, pf := range pfs {
		if !pf.gotRaw() && pf.terminal == terminalNone {
			return false
		}
	}
	if len(actual.rawResp) < len(actual.hops)-1 {
		return false // a followed redirect's raw answer is still on its way
	}
	ce := scenarios.CorsError(actual.corsError)
	if actual.terminal == terminalOK || (ce != "" && !ce.IsPreflight()) {
		return actual.gotRaw()
	}
	if ce.IsPreflight() && len(pfs) == 0 {
		return false
	}
	return true
}

// observe builds the observation of one fetch from its events.
func (c *collector) Observe(origin, token string, seq int, f runner.Fetch, js core.JSResult, version string) scenarios.Observation {
	c.Mu.Lock()
	defer c.Mu.Unlock()
	ob := js.Observation(origin, f, runner.EngineChrome, version)
	actual, pfs := c.lookupFetch(token, seq)
	if len(pfs) > 0 {
		ob.Preflight = pfs[0].exchange()
		ob.Preflights = len(pfs)
	}
	if actual != nil {
		n := len(actual.hops)
		for i := 0; i+1 < n; i++ {
			ob.Redirects = append(ob.Redirects, actual.hop(i))
		}
		if n > 0 && (len(actual.rawResp) >= n || actual.gotResponse) {
			last := n - 1
			req := actual.hops[last].headers
			if last < len(actual.rawHeaders) {
				req = actual.rawHeaders[last]
			}
			ob.Response = &scenarios.Response{Status: actual.status, Headers: core.LowerKeys(actual.respHeaders), RequestHeaders: core.LowerKeys(req)}
			if last < len(actual.rawResp) {
				ob.Response.Status, ob.Response.Headers = actual.rawResp[last].StatusCode, core.LowerKeys(actual.rawResp[last].Headers)
			}
			if n > 1 {
				ob.Response.URL = core.WithoutToken(actual.hops[last].url)
			}
		}
		if len(actual.cookies) > 0 {
			for _, ck := range actual.cookies[0] {
				c := scenarios.Cookie{Name: ck.Cookie.Name}
				if len(ck.BlockedReasons) > 0 {
					c.Blocked = ck.BlockedReasons
				}
				ob.Cookies = append(ob.Cookies, c)
			}
			sort.Slice(ob.Cookies, func(i, j int) bool { return ob.Cookies[i].Name < ob.Cookies[j].Name })
		}
	}
	switch {
	case js.OK:
		ob.Outcome = scenarios.Allowed
	case js.NotRun:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorNotRun
		ob.Error = "not run: " + runner.ErrTargetDown.Error() + " (earlier fetches of this kind timed out)"
	case js.TimedOut:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorTimeout
		ob.Error = fmt.Sprintf("timed out: no response after %s", (time.Duration(js.Ms) * time.Millisecond).Round(time.Millisecond))
	case actual == nil:
		core.RefusedBeforeRequest(&ob, js.Error, c.console[token])
	default:
		classifyFailure(&ob, actual, pfs)
		if msgs := c.console[token]; len(msgs) > 0 && ob.Outcome == scenarios.Blocked {
			ob.ConsoleMessage = msgs[min(seq, len(msgs)-1)]
		}
	}
	return ob
}

// exchange is a preflight as it crossed the wire.
func (r *netRequest) exchange() *scenarios.Exchange {
	e := &scenarios.Exchange{Status: r.status, ResponseHeaders: core.LowerKeys(r.respHeaders)}
	if len(r.hops) > 0 {
		e.RequestHeaders = core.LowerKeys(r.hops[0].headers)
	}
	if len(r.rawHeaders) > 0 {
		e.RequestHeaders = core.LowerKeys(r.rawHeaders[0])
	}
	if len(r.rawResp) > 0 {
		e.Status, e.ResponseHeaders = r.rawResp[0].StatusCode, core.LowerKeys(r.rawResp[0].Headers)
	}
	if e.ResponseHeaders == nil {
		e.ResponseHeaders = map[string]string{}
	}
	if e.RequestHeaders == nil {
		e.RequestHeaders = map[string]string{}
	}
	return e
}

// hop is the i-th followed redirect of a request.
func (r *netRequest) hop(i int) scenarios.Hop {
	h := scenarios.Hop{URL: core.WithoutToken(r.hops[i].url), Status: r.hops[i].redirectStatus,
		RequestHeaders: core.LowerKeys(r.hops[i].headers), ResponseHeaders: core.LowerKeys(r.hops[i].redirectHeaders)}
	if i < len(r.rawHeaders) {
		h.RequestHeaders = core.LowerKeys(r.rawHeaders[i])
	}
	if i < len(r.rawResp) {
		h.Status, h.ResponseHeaders = r.rawResp[i].StatusCode, core.LowerKeys(r.rawResp[i].Headers)
	}
	return h
}

// classifyFailure tells a CORS block from a network error, a certificate or
// name error, a Local Network Access block and mixed content, from the
// failed request's own events.
func classifyFailure(ob *scenarios.Observation, actual *netRequest, pfs []*netRequest) {
	ce, param := actual.corsError, actual.failedParam
	failed := actual
	for _, pf := range pfs {
		if ce == "" && pf.corsError != "" {
			ce, param = pf.corsError, pf.failedParam
		}
		if pf.errorText != "" && !pf.gotRaw() {
			failed = pf // the preflight never got an answer: its error is the cause
		}
	}
	ob.NetError = failed.errorText
	switch {
	case ce != "" && scenarios.CorsError(ce).IsLocalNetworkAccess():
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorLocalNetworkAccess
		ob.CorsError, ob.FailedParameter = scenarios.CorsError(ce), param
		ob.Error = "the browser's Local Network Access rules blocked this request (" + ce + "); this is not the server's CORS policy. Run without --local-network-access to test CORS alone."
	case ce != "":
		ob.Outcome = scenarios.Blocked
		ob.CorsError, ob.FailedParameter = scenarios.CorsError(ce), param
	case actual.blockedReason == "mixed-content":
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorMixedContent
		ob.Error = "mixed content: an https origin page may not fetch an http URL (except loopback); use an https target, or an http origin"
	case actual.blockedReason != "":
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorBrowser
		ob.Error = "the browser blocked the request before CORS (" + actual.blockedReason + ")"
	case ob.Request.Redirect == "error" && ob.Response != nil && ob.Response.Status >= 300 && ob.Response.Status < 400:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorRedirectMode
		ob.Error = fmt.Sprintf("the page asked fetch() to fail on redirects (redirect: \"error\") and the server answered %d: no CORS verdict", ob.Response.Status)
	default:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, core.NetErrorKind(failed.errorText)
		ob.Error = "network error: " + failed.errorText
	}
}
