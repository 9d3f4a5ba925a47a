package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// EngineJudgement is one browser's verdict on a case.
type EngineJudgement struct {
	Engine string
	Obs    []Observation
	Judgement
}

// Engines judges a case in each browser that observed it (engine order as
// given) and combines the verdicts: the case fails when it fails in any
// browser, since that browser's users break. When the browsers disagree on
// the same server answer, Difference labels it a browser difference (the
// known ones explained), never the server's fault.
func JudgeEngines(c Case, engines []string, obs map[string][]Observation) (Judgement, []EngineJudgement, string) {
	var per []EngineJudgement
	for _, e := range engines {
		o, ok := obs[e]
		if !ok {
			continue
		}
		per = append(per, EngineJudgement{Engine: e, Obs: o, Judgement: Judge(c, o)})
	}
	if len(per) == 0 {
		return Judgement{Verdict: Error, Message: describeRequest(c.Request) + ": no observation"}, nil, ""
	}
	if len(per) == 1 {
		return per[0].Judgement, per, ""
	}
	diff := BrowserDifference(c, per)
	// A browser that refused the request before any CORS check for a
	// reason of its own (WebKit's mixed content) has no verdict on the
	// server; the others decide.
	var judged []EngineJudgement
	for _, p := range per {
		if !mixedContentOnly(p) {
			judged = append(judged, p)
		}
	}
	if len(judged) == 0 {
		judged = per
	}
	combined := judged[0].Judgement
	for _, p := range judged[1:] {
		if rank(p.Verdict) > rank(combined.Verdict) {
			combined = p.Judgement
		}
	}
	agree := true
	for _, p := range per[1:] {
		agree = agree && p.Verdict == per[0].Verdict
	}
	if !agree {
		var parts []string
		for _, p := range per {
			parts = append(parts, fmt.Sprintf("%s %s", EngineTitle(p.Engine), p.Verdict))
		}
		combined.Message = strings.Join(parts, ", ") + ": " + combined.Message
		if diff != "" {
			combined.Message += " [browser difference: " + diff + "]"
		}
	}
	return combined, per, diff
}

func rank(v Verdict) int {
	switch v {
	case Fail:
		return 3
	case Error:
		return 2
	case Pass:
		return 1
	}
	return 0
}

// mixedContentOnly reports whether a browser blocked every fetch of the
// case as mixed content (WebKitDeviations["mixed-content"]).
func mixedContentOnly(p EngineJudgement) bool {
	if len(p.Obs) == 0 {
		return false
	}
	for _, o := range p.Obs {
		if o.ErrorKind != ErrorMixedContent {
			return false
		}
	}
	return true
}

// EngineTitle is a browser engine's name for people: Chrome, Firefox, WebKit.
func EngineTitle(e string) string {
	switch e {
	case "firefox":
		return "Firefox"
	case "webkit":
		return "WebKit"
	}
	return "Chrome"
}

// BrowserDifference explains why browsers that saw the same server answer
// did different things: a known deviation by name, a generic label, or ""
// when they agree (or when the server itself answered differently).
func BrowserDifference(c Case, per []EngineJudgement) string {
	if len(per) < 2 {
		return ""
	}
	// Each browser against the first (Chrome in report order): the
	// first difference found names the case's.
	for _, other := range per[1:] {
		if d := engineDifference(c, per[0], other); d != "" {
			return d
		}
	}
	if len(per) > 2 {
		for _, other := range per[2:] {
			if d := engineDifference(c, per[1], other); d != "" {
				return d
			}
		}
	}
	return ""
}

// engineDifference is BrowserDifference for two browsers.
func engineDifference(c Case, a, b EngineJudgement) string {
	if len(a.Obs) == 0 || len(b.Obs) == 0 {
		return ""
	}
	if mixedContentOnly(a) != mixedContentOnly(b) {
		return WebKitDeviations["mixed-content"]
	}
	oa, ob := a.Obs[0], b.Obs[0]
	sameOutcome := oa.Outcome == ob.Outcome
	sameReason := oa.CorsError == ob.CorsError
	preflightsA, preflightsB := countPreflights(a.Obs), countPreflights(b.Obs)
	if c.Check == CheckCache && (!PreflightCacheReliable(oa.Engine, c.Request.URL) || !PreflightCacheReliable(ob.Engine, c.Request.URL)) {
		// One engine's preflight count varies between runs: the counts are
		// not compared, and where the policy expects reuse the deviation is
		// named whatever this run's count was, so two runs say the same.
		preflightsA, preflightsB = 0, 0
		if sameOutcome && a.Verdict == Pass && b.Verdict == Pass && expectsReuse(c, a.Obs, b.Obs) {
			return FirefoxDeviations["preflight-cache-dns-check"]
		}
	}
	if sameOutcome && sameReason && a.Verdict == b.Verdict && preflightsA == preflightsB {
		return ""
	}
	if !sameServerAnswer(oa, ob) {
		return ""
	}
	if a.Engine == "webkit" || b.Engine == "webkit" {
		wk, other := ob, oa
		if a.Engine == "webkit" {
			wk, other = oa, ob
		}
		switch {
		case wk.CorsError == "PreflightInvalidStatus" && strings.HasPrefix(string(other.CorsError), "Preflight") && other.CorsError != "PreflightInvalidStatus":
			return WebKitDeviations["preflight-status-before-origin"]
		case sameOutcome && a.Verdict == b.Verdict && preflightsA == preflightsB:
			return ""
		}
		return "the browsers disagree on the same server answer (no known deviation explains it)"
	}
	ff, ch := ob, oa
	if a.Engine == "firefox" {
		ff, ch = oa, ob
	}
	switch {
	case ch.CorsError == "MultipleAllowOriginValues" || ch.CorsError == "PreflightMultipleAllowOriginValues":
		if strings.HasSuffix(string(ff.CorsError), "AllowOriginMismatch") {
			return FirefoxDeviations["acao-list"]
		}
	case ch.CorsError == "RedirectContainsCredentials" && ff.Outcome == Errored:
		return FirefoxDeviations["userinfo-redirect"]
	case ch.Outcome == Allowed && ff.CorsError == "HeaderDisallowedByPreflightResponse" && strings.EqualFold(ff.FailedParameter, "authorization"):
		return ChromeDeviations["acah-wildcard-authorization"]
	case sameOutcome && a.Verdict == b.Verdict && preflightsA == preflightsB:
		return "" // the same behaviour, named differently (Chrome's corsError, Firefox's message)
	}
	return "the browsers disagree on the same server answer (no known deviation explains it)"
}

// expectsReuse: the policy expects fewer preflights than fetches, so an
// engine that reuses its cache and one that may not can differ.
func expectsReuse(c Case, a, b []Observation) bool {
	want := c.Expected.Preflights
	return want != nil && (*want < len(a) || *want < len(b))
}

func countPreflights(obs []Observation) int {
	n := 0
	for _, o := range obs {
		if o.Preflight != nil {
			n++
		}
	}
	return n
}

// sameServerAnswer reports whether two browsers got the same CORS-relevant
// answer: the same statuses and Access-Control-* / Vary headers.
func sameServerAnswer(a, b Observation) bool {
	key := func(o Observation) string {
		var parts []string
		add := func(prefix string, status int, h map[string]string) {
			parts = append(parts, fmt.Sprintf("%s%d", prefix, status))
			var names []string
			for k := range h {
				lk := strings.ToLower(k)
				if strings.HasPrefix(lk, "access-control-") || lk == "vary" || lk == "location" {
					names = append(names, lk+"="+h[k])
				}
			}
			sort.Strings(names)
			parts = append(parts, names...)
		}
		if o.Preflight != nil {
			add("P", o.Preflight.Status, o.Preflight.ResponseHeaders)
		}
		if o.Response != nil {
			add("R", o.Response.Status, o.Response.Headers)
		}
		return strings.Join(parts, "|")
	}
	return key(a) == key(b)
}

// FirefoxExpect adjusts the oracle's answer (the Fetch Standard with
// Chrome's deviations) to what Firefox reports for the same exchange: its
// documented deviations (FirefoxDeviations) and its coarser reasons.
func FirefoxExpect(want OracleResult, o Observation) OracleResult {
	base := CorsError(strings.TrimPrefix(string(want.CorsError), "Preflight"))
	pre := CorsError("")
	if base != want.CorsError {
		pre = "Preflight"
	}
	switch base {
	case "MethodDisallowedByPreflightResponse", "InvalidAllowCredentials", "MultipleAllowOriginValues":
		// reason-detail: Firefox does not name the method, the value or the values.
		want.FailedParameter = ""
	case "InvalidAllowOriginValue":
		// Firefox reports a value that is not an origin as a mismatch, naming it.
		want.CorsError = pre + "AllowOriginMismatch"
	case "RedirectContainsCredentials":
		// userinfo-redirect: a generic "CORS request did not succeed".
		want.CorsError = ""
	}
	if want.Outcome == Errored && want.CorsError == "" && len(o.Redirects) > 0 && o.Preflights > 1 && o.CorsError == "PreflightAllowOriginMismatch" {
		// redirect-tainted-origin: the preflight after the redirect, whose
		// answer the observation does not carry, decides in Firefox.
		want = OracleResult{Blocked, o.CorsError, o.FailedParameter}
	}
	if base == "MultipleAllowOriginValues" && o.CorsError == pre+"AllowOriginMismatch" {
		// acao-list: one header holding a list is a mismatch, naming the
		// list (BiDi shows two header lines and one list alike).
		want.CorsError = pre + "AllowOriginMismatch"
		want.FailedParameter = acaoSent(o, pre != "")
	}
	return want
}

// acaoSent is the Access-Control-Allow-Origin the answer carried, its
// header lines joined by newlines when it sent several.
func acaoSent(o Observation, preflight bool) string {
	h := map[string]string(nil)
	if o.Response != nil {
		h = o.Response.Headers
	}
	if preflight && o.Preflight != nil {
		h = o.Preflight.ResponseHeaders
	}
	v, _ := lookup(h, "access-control-allow-origin")
	return v
}

// FirefoxPreflightsFor is the range of preflights Firefox sends for a
// request fetched `fetches` times: as PreflightsFor, except that repeats
// may each send one (FirefoxDeviations["preflight-cache-dns-check"]).
func FirefoxPreflightsFor(o Observation, fetches int) (lo, hi int) {
	n := PreflightsFor(o, fetches)
	if PreflightCacheReliable("firefox", o.Request.URL) || n == 0 {
		return n, n
	}
	return n, max(n, PreflightsFor(o, 1)*fetches)
}

// WebKitMaxAge is WebKit's cap on Access-Control-Max-Age (seconds).
const WebKitMaxAge = 600

// WebKitDeviations names where WebKit (WebKitGTK 2.50, Safari's engine)
// departs from Chrome 156 on the same server answer, each seen on this
// machine; a difference between browsers that one of these explains is a
// browser difference, never the server's fault.
var WebKitDeviations = map[string]string{
	"mixed-content":                  "WebKit blocks an https page's fetch to any http URL, loopback included, before any CORS check (\"Not allowed to request resource\"); Chrome and Firefox let https pages reach http://127.0.0.1 and http://localhost. Safari's users on an https site cannot call an http API at all: test WebKit against the https URL.",
	"preflight-status-before-origin": "WebKit checks a preflight's status before its Access-Control-Allow-Origin: a 404 or 401 without CORS headers is \"Preflight response is not successful\" (PreflightInvalidStatus); Chrome reports PreflightMissingAllowOriginHeader. Both block.",
	"max-age-cap":                    "Access-Control-Max-Age is capped at 600 s (10 minutes); Chrome caps it at 7200 s, Firefox at 86400 s.",
	"origin-reason":                  "WebKit says \"Origin X is not allowed by Access-Control-Allow-Origin\" for a missing header and a mismatch alike; corscheck names the case (MissingAllowOriginHeader, AllowOriginMismatch, ...) from the header the answer carried.",
	"third-party-cookies":            "Intelligent Tracking Prevention (on in Safari, and in corscheck's WebKit unless --cookie-mode allow-third-party) withholds the API site's cookies from a cross-site page's credentialed fetch.",
}

// WebKitExpect adjusts the oracle's answer (the Fetch Standard with
// Chrome's deviations) to what WebKit reports for the same exchange.
func WebKitExpect(want OracleResult, o Observation) OracleResult {
	if o.Preflight != nil && (o.Preflight.Status < 200 || o.Preflight.Status > 299) && strings.HasPrefix(string(want.CorsError), "Preflight") {
		// preflight-status-before-origin
		want.CorsError, want.FailedParameter = "PreflightInvalidStatus", ""
	}
	return want
}
