package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/corscheck/corscheck/scenarios"
)

// waitComplete blocks until done reports true (checked under the lock after
// every event), ctx ends, or limit passes. Events that never come leave the
// observation with what did come.
func (c *collector) waitComplete(ctx context.Context, done func(*collector) bool, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		c.mu.Lock()
		ok, changed := done(c), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// lookupFetch returns the actual request and its preflight for the seq-th
// fetch of a token. Callers hold c.mu.
func (c *collector) lookupFetch(token string, seq int) (actual, preflight *netRequest) {
	ids := c.actual[token]
	if seq >= len(ids) {
		return nil, nil
	}
	actual = c.reqs[ids[seq]]
	if id, ok := c.preflight[actual.id]; ok {
		preflight = c.reqs[id]
	}
	return actual, preflight
}

// complete reports whether every event this fetch's observation needs has
// arrived: the actual request's terminal event, its raw response headers
// when a response came, and, when Chrome blamed the preflight or a
// preflight was seen, the preflight's events. Whether an allowed request
// had a preflight at all is settled by the barrier in runChunk. Callers
// hold c.mu.
func (c *collector) complete(token string, seq int, js jsResult) bool {
	if js.NotRun {
		return true
	}
	actual, pf := c.lookupFetch(token, seq)
	if actual == nil {
		// A fetch stopped before any request (mixed content, bad header) has no events.
		return !js.OK && !js.TimedOut && !strings.Contains(js.Error, "Failed to fetch")
	}
	if actual.terminal == terminalNone {
		return false
	}
	if pf != nil && !pf.gotRaw && pf.terminal == terminalNone {
		return false
	}
	ce := scenarios.CorsError(actual.corsError)
	if actual.terminal == terminalOK || (ce != "" && !ce.IsPreflight()) {
		return actual.gotRaw
	}
	if ce.IsPreflight() && pf == nil {
		return false
	}
	return true
}

// observe builds the observation of one fetch from its events.
func (c *collector) observe(origin, token string, seq int, f Fetch, js jsResult, version string) scenarios.Observation {
	c.mu.Lock()
	defer c.mu.Unlock()
	ob := scenarios.Observation{
		Request:         scenarios.Request{URL: f.URL, Origin: origin, Method: f.Method, Headers: nonNil(f.Headers), Credentials: f.Credentials},
		DurationMs:      round(js.Ms),
		Browser:         version,
		ReadableHeaders: map[string]*string{},
	}
	for _, name := range f.ReadHeaders {
		name = strings.ToLower(name)
		if v, ok := js.Readable[name]; ok && js.OK {
			ob.ReadableHeaders[name] = &v
		} else {
			ob.ReadableHeaders[name] = nil
		}
	}
	if js.OK {
		for name := range js.Readable {
			ob.ReadableNames = append(ob.ReadableNames, name)
		}
		sort.Strings(ob.ReadableNames)
	}
	actual, pf := c.lookupFetch(token, seq)
	if pf != nil {
		ob.Preflight = &scenarios.Exchange{
			Status:          firstNonZero(pf.rawStatus, pf.status),
			RequestHeaders:  lowerKeys(prefer(pf.rawHeaders, pf.headers)),
			ResponseHeaders: lowerKeys(prefer(pf.rawResp, pf.respHeaders)),
		}
		if !pf.gotRaw && !pf.gotResponse {
			ob.Preflight.ResponseHeaders = map[string]string{}
		}
	}
	if actual != nil && (actual.gotRaw || actual.gotResponse) {
		ob.Response = &scenarios.Response{
			Status:         firstNonZero(actual.rawStatus, actual.status),
			Headers:        lowerKeys(prefer(actual.rawResp, actual.respHeaders)),
			RequestHeaders: lowerKeys(prefer(actual.rawHeaders, actual.headers)),
		}
	}
	switch {
	case js.OK:
		ob.Outcome = scenarios.Allowed
	case js.NotRun:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorNotRun
		ob.Error = "not run: " + ErrTargetDown.Error() + " (earlier fetches in this batch timed out)"
	case js.TimedOut:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorTimeout
		ob.Error = fmt.Sprintf("timed out: no response after %s", (time.Duration(js.Ms) * time.Millisecond).Round(time.Millisecond))
	case actual == nil:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorBrowser
		ob.Error = "fetch failed before any request was sent: " + js.Error
	default:
		c.classifyFailure(&ob, actual, pf)
		if msgs := c.console[token]; len(msgs) > 0 && ob.Outcome == scenarios.Blocked {
			ob.ConsoleMessage = msgs[min(seq, len(msgs)-1)]
		}
	}
	return ob
}

// classifyFailure tells a CORS block from a network error, a Local Network
// Access block and mixed content, from the failed request's own events.
func (c *collector) classifyFailure(ob *scenarios.Observation, actual, pf *netRequest) {
	ce, param := actual.corsError, actual.failedParam
	if ce == "" && pf != nil {
		ce, param = pf.corsError, pf.failedParam
	}
	ob.NetError = actual.errorText
	switch {
	case ce != "" && scenarios.CorsError(ce).IsLocalNetworkAccess():
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorLocalNetworkAccess
		ob.CorsError, ob.FailedParameter = scenarios.CorsError(ce), param
		ob.Error = "Chrome's Local Network Access rules blocked this request (" + ce + "); this is not the server's CORS policy. Run without --local-network-access to test CORS alone."
	case ce != "":
		ob.Outcome = scenarios.Blocked
		ob.CorsError, ob.FailedParameter = scenarios.CorsError(ce), param
	case actual.blockedReason == "mixed-content":
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorMixedContent
		ob.Error = "mixed content: an https origin page may not fetch an http URL (except loopback); use an http origin or an https target"
	case actual.blockedReason != "":
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorBrowser
		ob.Error = "Chrome blocked the request before CORS (" + actual.blockedReason + ")"
	default:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorNetwork
		failed := actual
		if pf != nil && pf.errorText != "" && !pf.gotRaw {
			failed = pf
		}
		ob.Error = "network error: " + failed.errorText
	}
}
