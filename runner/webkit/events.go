package webkit

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
	"github.com/corscheck/corscheck/scenarios"
)

// wireExchange is one request a probe made, as the relay saw it cross the
// wire: the preflight, the actual request, or a redirect's next hop.
type wireExchange struct {
	token       string
	seq         int // which fetch of its probe (the marks before it)
	url         string
	method      string
	preflight   bool
	reqHeaders  map[string]string
	status      int
	respHeaders map[string]string
	gotResp     bool
	done        bool
	errKind     scenarios.ErrorKind
	err         string
	cookies     []string
}

func (x *wireExchange) terminal() bool { return x.gotResp || x.err != "" || x.done }

// wkFailure is what WebKit said about one failed load: the inspector's
// errorText, or a console line (mixed content).
type wkFailure struct {
	text    string
	console bool
}

// wkWire holds what the relay and the inspector saw, by probe token: the
// relay's exchanges, and WebKit's reasons. Both streams carry the marks a
// probe's page sends before its second and later fetches, so each event
// belongs to one fetch of one probe.
type wkWire struct {
	core.Changes
	exchanges map[string][]*wireExchange
	marks     map[string]int // token -> fetches begun (relay's view)
	urlToken  map[string]string
	// The inspector's view.
	inMarks  map[string]int
	requests map[string]wkInRequest // inspector request id -> its fetch
	failures map[string]map[int][]wkFailure
	// lastSecurity is the console's last security line (a reason).
	lastSecurity string
}

type wkInRequest struct {
	token string
	seq   int
}

func newWKWire() *wkWire {
	return &wkWire{exchanges: map[string][]*wireExchange{}, marks: map[string]int{}, urlToken: map[string]string{},
		inMarks: map[string]int{}, requests: map[string]wkInRequest{}, failures: map[string]map[int][]wkFailure{}}
}

// begin records a request arriving at the relay. Only a probe's request
// (its URL carries a token) or a hop a probe's answer redirected to is
// recorded and relayed; anything else gets nil.
func (w *wkWire) begin(r *wkRequest) *wireExchange {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	token := core.TokenOf(r.url)
	if token == "" {
		token = w.urlToken[r.url]
	}
	if token == "" {
		return nil
	}
	h := headerMapOf(r.headers)
	x := &wireExchange{token: token, seq: w.marks[token], url: r.url, method: r.method, reqHeaders: h,
		preflight: r.method == "OPTIONS" && h["access-control-request-method"] != ""}
	if ck := h["cookie"]; ck != "" {
		for _, part := range strings.Split(ck, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name != "" {
				x.cookies = append(x.cookies, name)
			}
		}
	}
	w.exchanges[token] = append(w.exchanges[token], x)
	w.Notify()
	return x
}

func (w *wkWire) respond(x *wireExchange, status int, headers []headerLine) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	x.status, x.respHeaders, x.gotResp = status, headerMapOf(headers), true
	if loc := x.respHeaders["location"]; loc != "" && status >= 300 && status < 400 {
		if base, err := url.Parse(x.url); err == nil {
			if u, err := base.Parse(loc); err == nil {
				w.urlToken[canonicalURL(u.String())] = x.token
			}
		}
	}
	w.Notify()
}

func (w *wkWire) fail(x *wireExchange, kind scenarios.ErrorKind, msg string) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	x.errKind, x.err, x.done = kind, msg, true
	w.Notify()
}

func (w *wkWire) finish(x *wireExchange) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	x.done = true
	w.Notify()
}

// mark records, in the relay's stream, that fetch k of the probe whose
// URL is u begins.
func (w *wkWire) mark(u string, k int) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	if token := core.TokenOf(u); token != "" {
		w.marks[token] = k
		w.Notify()
	}
}

var wkMarkURL = regexp.MustCompile(`/__corscheck__/mark\?k=(\d+)&u=([^&#\s]*)`)

// inspectorEvent takes WebKit's inspector events: requests (and marks) to
// place each failure in its fetch, failures with their reasons, and the
// console's mixed content refusals.
func (w *wkWire) inspectorEvent(method string, params json.RawMessage) {
	switch method {
	case "Network.requestWillBeSent":
		var ev struct {
			RequestID string `json:"requestId"`
			Request   struct {
				URL string `json:"url"`
			} `json:"request"`
		}
		if json.Unmarshal(params, &ev) != nil {
			return
		}
		w.Mu.Lock()
		defer w.Mu.Unlock()
		if m := wkMarkURL.FindStringSubmatch(ev.Request.URL); m != nil {
			if u, err := url.QueryUnescape(m[2]); err == nil {
				if token := core.TokenOf(u); token != "" {
					w.inMarks[token], _ = strconv.Atoi(m[1])
				}
			}
			return
		}
		if _, known := w.requests[ev.RequestID]; known {
			return // a redirect's next hop: the same load
		}
		if token := core.TokenOf(ev.Request.URL); token != "" {
			w.requests[ev.RequestID] = wkInRequest{token, w.inMarks[token]}
		}
	case "Network.loadingFailed":
		var ev struct {
			RequestID string `json:"requestId"`
			ErrorText string `json:"errorText"`
			Canceled  bool   `json:"canceled"`
		}
		if json.Unmarshal(params, &ev) != nil {
			return
		}
		w.Mu.Lock()
		defer w.Mu.Unlock()
		r, ok := w.requests[ev.RequestID]
		if !ok {
			return
		}
		text := ev.ErrorText
		if text == "" && ev.Canceled {
			text = "canceled"
		}
		w.addFailure(r.token, r.seq, wkFailure{text: text})
	case "Console.messageAdded":
		var ev struct {
			Message struct {
				Source string `json:"source"`
				Text   string `json:"text"`
				URL    string `json:"url"`
			} `json:"message"`
		}
		if json.Unmarshal(params, &ev) != nil {
			return
		}
		m := ev.Message
		w.Mu.Lock()
		defer w.Mu.Unlock()
		switch {
		case m.Source == "security" && m.URL == "":
			// WebKit's reason, logged just before the fetch's rejection.
			w.lastSecurity = m.Text
		case strings.HasPrefix(m.Text, "Fetch API cannot load "):
			// "Fetch API cannot load URL due to access control checks.":
			// the only trace of a load refused before the network (mixed
			// content), with the security line before it as its reason.
			u, _, _ := strings.Cut(strings.TrimPrefix(m.Text, "Fetch API cannot load "), " ")
			token := core.TokenOf(u)
			if token == "" {
				return
			}
			text := w.lastSecurity
			if text == "" {
				text = m.Text
			}
			w.lastSecurity = ""
			w.addFailure(token, w.inMarks[token], wkFailure{text: text, console: true})
		}
	}
}

func (w *wkWire) addFailure(token string, seq int, f wkFailure) {
	if w.failures[token] == nil {
		w.failures[token] = map[int][]wkFailure{}
	}
	w.failures[token][seq] = append(w.failures[token][seq], f)
	w.Notify()
}

// forget drops the events of observed probes.
func (w *wkWire) Forget(tokens []string) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	for _, t := range tokens {
		for u, tok := range w.urlToken {
			if tok == t {
				delete(w.urlToken, u)
			}
		}
		delete(w.exchanges, t)
		delete(w.marks, t)
		delete(w.inMarks, t)
		delete(w.failures, t)
		for id, r := range w.requests {
			if r.token == t {
				delete(w.requests, id)
			}
		}
	}
}

// fetchOf returns the exchanges of the seq-th fetch of a token: its
// preflights and its actual request's hops, in wire order. Callers hold mu.
func (w *wkWire) fetchOf(token string, seq int) (pfs, hops []*wireExchange) {
	for _, x := range w.exchanges[token] {
		if x.seq != seq {
			continue
		}
		if x.preflight {
			pfs = append(pfs, x)
		} else {
			hops = append(hops, x)
		}
	}
	return pfs, hops
}

// wkReasons are the errorTexts of WebCore's CORS checks
// (CrossOriginAccessControl.cpp, CrossOriginPreflightChecker.cpp), by the
// corsError Chrome gives the same failure.
var wkReasons = []struct {
	re *regexp.Regexp
	// ce is the corsError for a block of the actual response; a block of
	// the preflight adds Preflight where Chrome's vocabulary has it.
	ce    scenarios.CorsError
	param int // the submatch naming the parameter, 0 for none
	// origin marks the Access-Control-Allow-Origin and -Credentials
	// family, whose name and parameter come from the refused answer.
	origin bool
}{
	{regexp.MustCompile(`^Preflight response is not successful\. Status code: (\d+)`), "PreflightInvalidStatus", 0, false},
	{regexp.MustCompile(`^Method (.+) is not allowed by Access-Control-Allow-Methods\.`), "MethodDisallowedByPreflightResponse", 1, false},
	{regexp.MustCompile(`^Request header field (.+) is not allowed by Access-Control-Allow-Headers\.`), "HeaderDisallowedByPreflightResponse", 1, false},
	{regexp.MustCompile(`^Header Access-Control-Allow-Headers has an invalid value`), "InvalidAllowHeadersPreflightResponse", 0, false},
	{regexp.MustCompile(`^Header Access-Control-Allow-Methods has an invalid value`), "InvalidAllowMethodsPreflightResponse", 0, false},
	{regexp.MustCompile(`(?:has|contains) credentials`), "RedirectContainsCredentials", 0, false},
	{regexp.MustCompile(`^Access-Control-Allow-Origin cannot contain more than one origin\.`), "MultipleAllowOriginValues", 0, true},
	{regexp.MustCompile(`^Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true\.`), "WildcardOriginNotAllowed", 0, true},
	{regexp.MustCompile(`^Credentials flag is true, but Access-Control-Allow-Credentials is not "true"\.`), "InvalidAllowCredentials", 0, true},
	{regexp.MustCompile(`^Origin (\S+) is not allowed by Access-Control-Allow-Origin\.`), "AllowOriginMismatch", 0, true},
}

// Reason is what a WebKit errorText means in Chrome's corsError
// vocabulary, for a block of the preflight or of the actual response, with
// the parameter Chrome would name. WebKit says "Origin X is not allowed by
// Access-Control-Allow-Origin" for a missing header, a mismatch and a value
// that is no origin alike, and names no value: for that family the name
// and the parameter come from the refused answer's headers h, checked for
// the page's origin (credentials: include). ok is false for a text that is
// not a CORS reason (a network error).
func Reason(text string, preflight bool, origin string, include bool, h map[string]string) (ce scenarios.CorsError, param string, ok bool) {
	text = strings.TrimSpace(text)
	if rest, found := strings.CutPrefix(text, "Cross-origin redirection to "); found {
		// "... denied by Cross-Origin Resource Sharing policy: REASON"
		if _, reason, ok := strings.Cut(rest, "policy: "); ok {
			text = reason
		}
	}
	for _, r := range wkReasons {
		m := r.re.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		ce = r.ce
		if r.param > 0 {
			param = m[r.param]
		}
		if ce == "HeaderDisallowedByPreflightResponse" {
			param = strings.ToLower(param) // as Chrome names it
		}
		if r.origin {
			if named, p := scenarios.CORSCheck(origin, include, h); named != "" {
				ce, param = named, p
			}
		}
		if preflight {
			switch ce {
			case "MissingAllowOriginHeader", "AllowOriginMismatch", "MultipleAllowOriginValues", "InvalidAllowOriginValue", "WildcardOriginNotAllowed", "InvalidAllowCredentials":
				ce = "Preflight" + ce
			}
		}
		return ce, param, true
	}
	return "", "", false
}

// complete reports whether the events a fetch's observation needs are in:
// every exchange on the wire answered or failed, and, for a rejected
// fetch, WebKit's reason (when the inspector is there). Callers hold mu.
func (w *wkWire) completeFetch(token string, seq int, js core.JSResult, inspector bool) bool {
	if js.NotRun || js.TimedOut {
		return true
	}
	if !js.OK && !strings.Contains(js.Error, "Load failed") {
		return true // refused before any load (a mode, a forbidden header): nothing on the wire
	}
	pfs, hops := w.fetchOf(token, seq)
	for _, x := range pfs {
		if !x.terminal() {
			return false
		}
	}
	if js.OK {
		return len(hops) > 0 && hops[len(hops)-1].gotResp
	}
	for _, x := range hops {
		if !x.terminal() {
			return false
		}
	}
	if !inspector {
		return true
	}
	return len(w.failures[token][seq]) > 0
}

// observeFetch builds one fetch's observation from the wire and WebKit's
// reasons. cookies are the page setup's cookies: a credentialed request
// that went without one the URL's site holds had it withheld. Callers hold mu.
func (w *wkWire) observeFetch(origin, token string, seq int, f runner.Fetch, js core.JSResult, version string, cookies []runner.CookieSpec) scenarios.Observation {
	ob := js.Observation(origin, f, runner.EngineWebKit, version)
	pfs, hops := w.fetchOf(token, seq)
	if len(pfs) > 0 {
		p := pfs[0]
		ob.Preflight = &scenarios.Exchange{Status: p.status, RequestHeaders: core.NonNil(p.reqHeaders), ResponseHeaders: core.NonNil(p.respHeaders)}
		ob.Preflights = len(pfs)
	}
	for i := 0; i+1 < len(hops); i++ {
		h := hops[i]
		ob.Redirects = append(ob.Redirects, scenarios.Hop{URL: core.WithoutToken(h.url), Status: h.status, RequestHeaders: core.NonNil(h.reqHeaders), ResponseHeaders: core.NonNil(h.respHeaders)})
	}
	var last *wireExchange
	if n := len(hops); n > 0 {
		last = hops[n-1]
		if last.gotResp {
			ob.Response = &scenarios.Response{Status: last.status, Headers: core.NonNil(last.respHeaders), RequestHeaders: core.NonNil(last.reqHeaders)}
			if n > 1 {
				ob.Response.URL = core.WithoutToken(last.url)
			}
		}
		ob.Cookies = wkCookies(origin, hops[0], f, cookies)
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
	// The inspector's errorText when the load reached the network; the
	// console's line otherwise.
	var fails []wkFailure
	for _, console := range []bool{false, true} {
		for _, fl := range w.failures[token][seq] {
			if fl.console == console {
				fails = append(fails, fl)
			}
		}
	}
	if len(pfs) == 0 && len(hops) == 0 && len(fails) > 0 && fails[0].console && strings.HasPrefix(origin, "https:") && strings.HasPrefix(f.URL, "http:") {
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorMixedContent
		ob.ConsoleMessage, ob.BrowserReason = fails[0].text, fails[0].text
		ob.Error = "mixed content: WebKit blocks an https page's fetch to any http URL, loopback included, before CORS (Safari's users cannot call it at all); test WebKit against an https target"
		return ob
	}
	// A wire failure (the relay could not reach the target, or its
	// certificate was refused) is the cause, whatever WebKit made of it.
	for _, x := range append(append([]*wireExchange{}, pfs...), hops...) {
		if x.err != "" && !x.gotResp {
			ob.Outcome, ob.ErrorKind, ob.NetError = scenarios.Errored, x.errKind, x.err
			ob.Error = "network error: " + x.err
			return ob
		}
	}
	if last == nil && len(pfs) == 0 && ob.Request.ModeOrDefault() == "same-origin" {
		ob.Outcome, ob.CorsError, ob.BrowserReason = scenarios.Blocked, "DisallowedByMode", "same-origin mode"
		return ob
	}
	// Blocked at the preflight when the actual request never went out
	// after the last preflight.
	preflightFailed := len(pfs) > 0 && (last == nil || !last.gotResp)
	var refused map[string]string
	if preflightFailed {
		refused = pfs[len(pfs)-1].respHeaders
	} else if last != nil {
		refused = last.respHeaders
	}
	include := f.Credentials == scenarios.CredentialsInclude
	for _, fl := range fails {
		ce, param, ok := Reason(fl.text, preflightFailed, origin, include, refused)
		if !ok {
			continue
		}
		ob.Outcome, ob.CorsError, ob.FailedParameter = scenarios.Blocked, ce, param
		ob.BrowserReason, ob.ConsoleMessage = fl.text, fl.text
		return ob
	}
	if ob.Request.RedirectOrDefault() == "error" && last != nil && last.gotResp && last.status >= 300 && last.status < 400 {
		ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorRedirectMode
		ob.Error = fmt.Sprintf("the page asked fetch() to fail on redirects (redirect: \"error\") and the server answered %d: no CORS verdict", last.status)
		return ob
	}
	answered := last != nil && last.gotResp || len(pfs) > 0 && pfs[len(pfs)-1].gotResp
	text := ""
	if len(fails) > 0 {
		text = fails[0].text
	}
	if answered && text != "" {
		// An answer came back and WebKit refused it for a reason that
		// is not one of its CORS checks' texts.
		ob.Outcome, ob.BrowserReason, ob.ConsoleMessage = scenarios.Blocked, text, text
		return ob
	}
	ob.Outcome, ob.ErrorKind = scenarios.Errored, scenarios.ErrorBrowser
	ob.Error = "fetch failed: " + js.Error
	if text != "" {
		ob.Error += " (" + text + ")"
		ob.NetError = text
		if !answered {
			ob.ErrorKind = scenarios.ErrorNetwork
			ob.Error = "network error: " + text
		}
	}
	return ob
}

// wkCookies lists, for a credentialed request, the cookies it carried and
// the page setup's cookies for its URL it went without: WebKit's
// Intelligent Tracking Prevention withholds them when the page's site is
// not the API's.
func wkCookies(origin string, x *wireExchange, f runner.Fetch, setup []runner.CookieSpec) []scenarios.Cookie {
	var out []scenarios.Cookie
	sent := map[string]bool{}
	for _, name := range x.cookies {
		sent[name] = true
		out = append(out, scenarios.Cookie{Name: name})
	}
	if f.Credentials != scenarios.CredentialsInclude {
		return out
	}
	for _, c := range setup {
		if sent[c.Name] || !cookieCovers(c, x.url) {
			continue
		}
		reason := "NotSent"
		if !runner.SameSite(origin, x.url) {
			reason = "ThirdPartyBlockedByITP"
		}
		out = append(out, scenarios.Cookie{Name: c.Name, Blocked: []string{reason}})
	}
	return out
}

// cookieCovers reports whether a cookie set for its URL/Domain/Path
// applies to a request URL.
func cookieCovers(c runner.CookieSpec, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	domain := strings.ToLower(strings.TrimPrefix(c.Domain, "."))
	switch {
	case domain != "":
		if host != domain && !strings.HasSuffix(host, "."+domain) {
			return false
		}
	default:
		cu, err := url.Parse(c.URL)
		if err != nil || !strings.EqualFold(cu.Hostname(), host) {
			return false
		}
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	if c.Secure && u.Scheme != "https" && !core.LoopbackLiteral(host) && host != "localhost" {
		return false
	}
	return strings.HasPrefix(u.Path, path) || u.Path == "" && path == "/"
}
