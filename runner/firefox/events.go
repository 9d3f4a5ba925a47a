package firefox

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
	"github.com/corscheck/corscheck/scenarios"
)

// WebDriver BiDi events, as Firefox sends them.
type (
	ffRequestData struct {
		Request string       `json:"request"`
		URL     string       `json:"url"`
		Method  string       `json:"method"`
		Headers []bidiHeader `json:"headers"`
		Cookies []struct {
			Name string `json:"name"`
		} `json:"cookies"`
	}
	ffNetworkEvent struct {
		Context       string        `json:"context"`
		IsBlocked     bool          `json:"isBlocked"`
		RedirectCount int           `json:"redirectCount"`
		Request       ffRequestData `json:"request"`
		Timestamp     float64       `json:"timestamp"`
		Response      *struct {
			URL     string       `json:"url"`
			Status  int          `json:"status"`
			Headers []bidiHeader `json:"headers"`
		} `json:"response"`
		ErrorText string `json:"errorText"`
	}
)

// ffHop is one request-response of a request (one per redirect).
type ffHop struct {
	url        string
	reqHeaders map[string]string
	status     int
	respHeader map[string]string
	gotResp    bool
	completed  bool
}

// ffRequest is one network request of a probe's fetch: the actual request
// (with its redirects) or a preflight.
type ffRequest struct {
	id        string
	token     string
	method    string
	preflight bool
	started   float64
	hops      []ffHop
	errorText string
	cookies   []string
}

func (r *ffRequest) terminal() bool {
	if r.errorText != "" {
		return true
	}
	if len(r.hops) == 0 {
		return false
	}
	last := r.hops[len(r.hops)-1]
	return last.completed
}

// exchange is a preflight as it crossed the wire.
func (r *ffRequest) exchange() *scenarios.Exchange {
	e := &scenarios.Exchange{RequestHeaders: map[string]string{}, ResponseHeaders: map[string]string{}}
	if len(r.hops) > 0 {
		e.Status = r.hops[0].status
		e.RequestHeaders = core.NonNil(r.hops[0].reqHeaders)
		e.ResponseHeaders = core.NonNil(r.hops[0].respHeader)
	}
	return e
}

type ffLog struct {
	ts   float64
	text string
}

// ffCollector holds one tab's network and log events, by probe token.
type ffCollector struct {
	core.Changes
	reqs    map[string]*ffRequest
	byToken map[string][]*ffRequest
	logs    map[string][]ffLog
	// urlToken maps the URLs requests went to (redirect hops have no
	// token) to their probe's token, for console messages that name them.
	urlToken map[string]string
}

func newFFCollector() *ffCollector {
	return &ffCollector{reqs: map[string]*ffRequest{}, byToken: map[string][]*ffRequest{}, logs: map[string][]ffLog{}, urlToken: map[string]string{}}
}

// forget drops the events of observed probes. A late event of a
// forgotten request finds no entry and is dropped (only beforeRequestSent
// creates one, and it comes first).
func (c *ffCollector) Forget(tokens []string) {
	c.Mu.Lock()
	defer c.Mu.Unlock()
	for _, tok := range tokens {
		for _, r := range c.byToken[tok] {
			delete(c.reqs, r.id)
			for _, h := range r.hops {
				if c.urlToken[h.url] == tok {
					delete(c.urlToken, h.url)
				}
			}
		}
		delete(c.byToken, tok)
		delete(c.logs, tok)
	}
}

var ffBlockedAt = regexp.MustCompile(`remote resource at ‘?(\S+?)’?\. \(Reason:`)

// ffEvent is any event corscheck subscribes to, decoded once: a network
// event's fields, or a log entry's (source, text; timestamp shared).
type ffEvent struct {
	ffNetworkEvent
	Source struct {
		Context string `json:"context"`
	} `json:"source"`
	Text string `json:"text"`
}

// handle records one event of the tab's.
func (c *ffCollector) handle(method string, ev *ffEvent) {
	switch method {
	case "network.beforeRequestSent", "network.responseStarted", "network.responseCompleted", "network.fetchError":
		c.Mu.Lock()
		defer c.Mu.Unlock()
		r := c.reqs[ev.Request.Request]
		if r == nil {
			if method != "network.beforeRequestSent" {
				return
			}
			token := core.TokenOf(ev.Request.URL)
			if token == "" {
				// A preflight to where a probe was redirected carries no
				// token; anything else without one is not a probe.
				token = c.urlToken[ev.Request.URL]
			}
			if token == "" {
				return // the origin page, the favicon: not a probe
			}
			h := headerMap(ev.Request.Headers)
			r = &ffRequest{id: ev.Request.Request, token: token, method: ev.Request.Method, started: ev.Timestamp,
				preflight: ev.Request.Method == "OPTIONS" && h["access-control-request-method"] != ""}
			for _, ck := range ev.Request.Cookies {
				r.cookies = append(r.cookies, ck.Name)
			}
			c.reqs[r.id] = r
			c.byToken[token] = append(c.byToken[token], r)
		}
		for len(r.hops) <= ev.RedirectCount {
			r.hops = append(r.hops, ffHop{})
		}
		hop := &r.hops[ev.RedirectCount]
		if hop.url == "" || method == "network.beforeRequestSent" {
			hop.url = ev.Request.URL
			c.urlToken[ev.Request.URL] = r.token
		}
		// The headers as sent (later events carry the final set).
		if len(ev.Request.Headers) > 0 {
			hop.reqHeaders = headerMap(ev.Request.Headers)
		}
		if ev.Response != nil && ev.Response.Status > 0 {
			hop.status, hop.respHeader, hop.gotResp = ev.Response.Status, headerMap(ev.Response.Headers), true
			if loc := hop.respHeader["location"]; loc != "" && hop.status >= 300 && hop.status < 400 {
				if base, err := url.Parse(hop.url); err == nil {
					if u, err := base.Parse(loc); err == nil {
						c.urlToken[u.String()] = r.token
					}
				}
			}
		}
		switch method {
		case "network.responseCompleted", "network.responseStarted":
			hop.completed = hop.gotResp
		case "network.fetchError":
			r.errorText = ev.ErrorText
		}
		c.Notify()
	case "log.entryAdded":
		e := ev
		if !strings.Contains(e.Text, "Cross-Origin Request") && !strings.Contains(e.Text, "mixed") {
			return
		}
		token, at := "", ""
		if m := ffBlockedAt.FindStringSubmatch(e.Text); m != nil {
			at = m[1]
			token = core.TokenOf(at)
		}
		c.Mu.Lock()
		if token == "" && at != "" {
			token = c.urlToken[at] // a redirect hop's URL
		}
		c.logs[token] = append(c.logs[token], ffLog{ts: e.Timestamp, text: e.Text})
		c.Notify()
		c.Mu.Unlock()
	}
}

// lookup returns the seq-th actual request of a token, its preflights and
// its console messages. A fetch's actual request is announced before its
// preflight, and the fetches of one probe run one after another, so
// everything of a token between two actual requests belongs to the
// first. Callers hold c.mu.
func (c *ffCollector) lookup(token string, seq int) (actual *ffRequest, pfs []*ffRequest, logs []string) {
	var actuals []*ffRequest
	for _, r := range c.byToken[token] {
		if !r.preflight {
			actuals = append(actuals, r)
		}
	}
	if seq >= len(actuals) {
		if len(actuals) == 0 {
			for _, l := range c.logs[token] {
				logs = append(logs, l.text)
			}
		}
		return nil, nil, logs
	}
	actual = actuals[seq]
	from, until := actual.started, 1e300
	if seq+1 < len(actuals) {
		until = actuals[seq+1].started
	}
	for _, r := range c.byToken[token] {
		if r.preflight && r.started >= from && r.started < until {
			pfs = append(pfs, r)
		}
	}
	sort.SliceStable(pfs, func(i, j int) bool { return pfs[i].started < pfs[j].started })
	for _, l := range c.logs[token] {
		if l.ts >= from-1000 && l.ts < until {
			logs = append(logs, l.text)
		}
	}
	return actual, pfs, logs
}

// complete reports whether the events a fetch's observation needs have
// arrived. Callers hold c.mu.
func (c *ffCollector) Complete(token string, seq int, js core.JSResult) bool {
	if js.NotRun || js.TimedOut {
		return true
	}
	actual, pfs, logs := c.lookup(token, seq)
	if actual == nil {
		return !js.OK && len(logs) > 0
	}
	for _, pf := range pfs {
		if !pf.terminal() {
			return false
		}
	}
	if js.OK {
		return actual.terminal()
	}
	// A rejected fetch: Firefox says why only in the console.
	return actual.terminal() && len(logs) > 0
}

// firefoxReasons maps Firefox's console message (its security.properties
// key, recognised by the reason text) to Chrome's corsError vocabulary,
// for a block of the actual response and of the preflight. An empty
// Chrome name means there is no exact counterpart.
var firefoxReasons = []struct {
	key, match        string
	actual, preflight scenarios.CorsError
	param             bool // the message names the failed parameter (%2$S)
}{
	{"CORSMissingAllowOrigin2", "(Reason: CORS header ‘Access-Control-Allow-Origin’ missing)", "MissingAllowOriginHeader", "PreflightMissingAllowOriginHeader", false},
	{"CORSMultipleAllowOriginNotAllowed", "(Reason: Multiple CORS header ‘Access-Control-Allow-Origin’ not allowed)", "MultipleAllowOriginValues", "PreflightMultipleAllowOriginValues", false},
	{"CORSAllowOriginNotMatchingOrigin", "(Reason: CORS header ‘Access-Control-Allow-Origin’ does not match ‘", "AllowOriginMismatch", "PreflightAllowOriginMismatch", true},
	{"CORSNotSupportingCredentials", "(Reason: Credential is not supported if the CORS header ‘Access-Control-Allow-Origin’ is ‘*’)", "WildcardOriginNotAllowed", "PreflightWildcardOriginNotAllowed", false},
	{"CORSMissingAllowCredentials", "(Reason: expected ‘true’ in CORS header ‘Access-Control-Allow-Credentials’)", "InvalidAllowCredentials", "PreflightInvalidAllowCredentials", false},
	{"CORSMethodNotFound", "(Reason: Did not find method in CORS header ‘Access-Control-Allow-Methods’)", "MethodDisallowedByPreflightResponse", "MethodDisallowedByPreflightResponse", false},
	{"CORSMissingAllowHeaderFromPreflight2", "is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response", "HeaderDisallowedByPreflightResponse", "HeaderDisallowedByPreflightResponse", true},
	{"CORSInvalidAllowMethod", "in CORS header ‘Access-Control-Allow-Methods’)", "InvalidAllowMethodsPreflightResponse", "InvalidAllowMethodsPreflightResponse", false},
	{"CORSInvalidAllowHeader", "in CORS header ‘Access-Control-Allow-Headers’)", "InvalidAllowHeadersPreflightResponse", "InvalidAllowHeadersPreflightResponse", false},
	{"CORSPreflightDidNotSucceed3", "(Reason: CORS preflight response did not succeed)", "PreflightInvalidStatus", "PreflightInvalidStatus", false},
	{"CORSExternalRedirectNotAllowed", "(Reason: CORS request external redirect not allowed)", "", "PreflightDisallowedRedirect", false},
	{"CORSRequestNotHttp", "(Reason: CORS request not http)", "CorsDisabledScheme", "CorsDisabledScheme", false},
	{"CORSDisabled", "(Reason: CORS disabled)", "CorsDisabledScheme", "CorsDisabledScheme", false},
	{"CORSOriginHeaderNotAdded", "(Reason: CORS header ‘Origin’ cannot be added)", "", "", false},
	{"CORSDidNotSucceed2", "(Reason: CORS request did not succeed)", "", "", false},
}

var ffParam = regexp.MustCompile(`does not match ‘([^’]*)’|header ‘([^’]*)’ is not allowed`)

// Reason is what a Firefox console message means: its key, the
// corsError with Chrome's name (for the actual response or the preflight),
// and the parameter the message names. ok is false for a message that is
// not one of Firefox's CORS reasons.
func Reason(text string, preflight bool) (key string, ce scenarios.CorsError, param string, ok bool) {
	for _, r := range firefoxReasons {
		if !strings.Contains(text, r.match) {
			continue
		}
		ce = r.actual
		if preflight {
			ce = r.preflight
		}
		if r.param {
			if m := ffParam.FindStringSubmatch(text); m != nil {
				param = m[1] + m[2]
			}
		}
		return r.key, ce, param, true
	}
	return "", "", "", false
}

// ffErrorKind sorts Firefox's network error names like NetErrorKind does
// Chrome's.
func ffErrorKind(text string) scenarios.ErrorKind {
	switch {
	case strings.HasPrefix(text, "SEC_ERROR_"), strings.HasPrefix(text, "SSL_ERROR_"), strings.HasPrefix(text, "MOZILLA_PKIX_ERROR_"),
		strings.Contains(text, "NS_ERROR_GENERATE_FAILURE(SEC"):
		return scenarios.ErrorTLS
	case text == "NS_ERROR_UNKNOWN_HOST":
		return scenarios.ErrorDNS
	case text == "NS_ERROR_PORT_ACCESS_NOT_ALLOWED":
		return scenarios.ErrorUnsafePort
	}
	return scenarios.ErrorNetwork
}

// observe builds one fetch's observation from a Firefox tab's events.
func (c *ffCollector) Observe(origin, token string, seq int, f runner.Fetch, js core.JSResult, version string) scenarios.Observation {
	c.Mu.Lock()
	defer c.Mu.Unlock()
	ob := js.Observation(origin, f, runner.EngineFirefox, version)
	actual, pfs, logs := c.lookup(token, seq)
	if len(pfs) > 0 {
		ob.Preflight = pfs[0].exchange()
		ob.Preflights = len(pfs)
	}
	if actual != nil {
		n := len(actual.hops)
		for i := 0; i+1 < n; i++ {
			h := actual.hops[i]
			ob.Redirects = append(ob.Redirects, scenarios.Hop{URL: core.WithoutToken(h.url), Status: h.status,
				RequestHeaders: core.NonNil(h.reqHeaders), ResponseHeaders: core.NonNil(h.respHeader)})
		}
		if n > 0 && actual.hops[n-1].gotResp {
			last := actual.hops[n-1]
			ob.Response = &scenarios.Response{Status: last.status, Headers: core.NonNil(last.respHeader), RequestHeaders: core.NonNil(last.reqHeaders)}
			if n > 1 {
				ob.Response.URL = core.WithoutToken(last.url)
			}
		}
		for _, name := range actual.cookies {
			ob.Cookies = append(ob.Cookies, scenarios.Cookie{Name: name})
		}
	}
	switch {
	case js.OK:
		ob.Outcome = scenarios.Allowed
		return ob
	case js.NotRun:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorNotRun
		ob.Error = "not run: " + runner.ErrTargetDown.Error() + " (earlier fetches of this kind timed out)"
		return ob
	case js.TimedOut:
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorTimeout
		ob.Error = fmt.Sprintf("timed out: no response after %s", (time.Duration(js.Ms) * time.Millisecond).Round(time.Millisecond))
		return ob
	}
	if actual == nil && ob.Request.ModeOrDefault() == "same-origin" {
		// Refused before any request: the mode forbids another origin.
		ob.Outcome, ob.CorsError = scenarios.Blocked, "DisallowedByMode"
		ob.BrowserReason = "same-origin mode"
		return ob
	}
	// Blocked at the preflight when the actual request never got an answer.
	preflightFailed := len(pfs) > 0 && (actual == nil || len(actual.hops) == 0 || !actual.hops[len(actual.hops)-1].gotResp)
	failed := actual
	for _, pf := range pfs {
		if pf.errorText != "" && !pf.hops[0].gotResp {
			failed = pf // the preflight never got an answer: its error is the cause
		}
	}
	if failed != nil {
		ob.NetError = failed.errorText
	}
	for _, text := range logs {
		if strings.Contains(text, "mixed active content") {
			ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorMixedContent
			ob.Error = "mixed content: an https origin page may not fetch an http URL (except loopback); use an https target, or an http origin"
			return ob
		}
	}
	for _, text := range logs {
		key, ce, param, ok := Reason(text, preflightFailed)
		if !ok || key == "CORSDidNotSucceed2" {
			continue
		}
		ob.Outcome, ob.CorsError, ob.FailedParameter = scenarios.Blocked, ce, param
		ob.BrowserReason, ob.ConsoleMessage = key, text
		return ob
	}
	if ob.Request.RedirectOrDefault() == "error" && len(ob.Redirects) == 0 && ob.Response != nil && ob.Response.Status >= 300 && ob.Response.Status < 400 {
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorRedirectMode
		ob.Error = fmt.Sprintf("the page asked fetch() to fail on redirects (redirect: \"error\") and the server answered %d: no CORS verdict", ob.Response.Status)
		return ob
	}
	text := ""
	if len(logs) > 0 {
		text = logs[0]
	}
	answered := false
	if actual != nil {
		for _, h := range actual.hops {
			answered = answered || h.gotResp
		}
	}
	if failed == nil || failed.errorText == "" || failed.errorText == "NS_ERROR_DOM_BAD_URI" || answered && text != "" {
		if text != "" && failed != nil && (answered || len(failed.hops) > 0 && failed.hops[len(failed.hops)-1].gotResp) {
			// An answer came back and Firefox refused it, saying only that
			// the request did not succeed (e.g. a redirect to user:pass@).
			key, _, _, _ := Reason(text, false)
			if key == "" {
				key = "unknown"
			}
			ob.Outcome, ob.BrowserReason, ob.ConsoleMessage = scenarios.Blocked, key, text
			return ob
		}
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorBrowser
		ob.Error = "fetch failed: " + js.Error
		if text != "" {
			ob.Error += " (" + text + ")"
		}
		return ob
	}
	ob.Outcome, ob.ErrorKind = scenarios.Errored, ffErrorKind(failed.errorText)
	ob.Error = "network error: " + failed.errorText
	return ob
}
