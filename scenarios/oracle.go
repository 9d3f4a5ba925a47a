package scenarios

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Fetch Standard sections the oracle and the cases rest on.
const (
	SpecCORSCheck        = "https://fetch.spec.whatwg.org/#cors-check"
	SpecPreflight        = "https://fetch.spec.whatwg.org/#cors-preflight-fetch"
	SpecSafelistHeader   = "https://fetch.spec.whatwg.org/#cors-safelisted-request-header"
	SpecSafelistMethod   = "https://fetch.spec.whatwg.org/#cors-safelisted-method"
	SpecPreflightCache   = "https://fetch.spec.whatwg.org/#cors-preflight-cache"
	SpecExposeHeaders    = "https://fetch.spec.whatwg.org/#http-access-control-expose-headers"
	SpecSafelistResponse = "https://fetch.spec.whatwg.org/#cors-safelisted-response-header-name"
	SpecVary             = "https://fetch.spec.whatwg.org/#cors-protocol-and-http-caches"
	SpecOrigin           = "https://fetch.spec.whatwg.org/#origin-header"
	SpecCredentials      = "https://fetch.spec.whatwg.org/#cors-protocol-and-credentials"
	SpecMethodNormalize  = "https://fetch.spec.whatwg.org/#concept-method-normalize"
	SpecRedirect         = "https://fetch.spec.whatwg.org/#http-redirect-fetch"
)

// ChromeMaxAge is Chrome's cap on Access-Control-Max-Age (seconds); the
// spec leaves the cap to the browser.
const ChromeMaxAge = 7200

// NormalizeMethod is what fetch() sends for a method: it upper-cases only
// DELETE, GET, HEAD, OPTIONS, POST and PUT.
func NormalizeMethod(m string) string {
	if normalizedMethods[strings.ToUpper(m)] {
		return strings.ToUpper(m)
	}
	return m
}

// IsSafelistedHeader reports whether a request header is CORS-safelisted,
// value included (Fetch: CORS-safelisted request-header).
func IsSafelistedHeader(name, value string) bool {
	if len(value) > 128 {
		return false
	}
	switch strings.ToLower(name) {
	case "accept":
		return !hasUnsafeByte(value)
	case "accept-language", "content-language":
		for _, c := range []byte(value) {
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || strings.IndexByte(" *,-.;=", c) >= 0) {
				return false
			}
		}
		return true
	case "content-type":
		if hasUnsafeByte(value) {
			return false
		}
		essence, _, _ := strings.Cut(strings.ToLower(value), ";")
		switch strings.TrimSpace(essence) {
		case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
			return true
		}
		return false
	case "range":
		return isSimpleRange(value)
	}
	return false
}

func hasUnsafeByte(v string) bool {
	for _, c := range []byte(v) {
		if c < 0x20 && c != '\t' || c == 0x7f || strings.IndexByte("\"():<>?@[\\]{}", c) >= 0 {
			return true
		}
	}
	return false
}

func isSimpleRange(v string) bool {
	rest, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return false
	}
	start, end, ok := strings.Cut(rest, "-")
	if !ok || start == "" || !allDigits(start) || (end != "" && !allDigits(end)) {
		return false
	}
	return true
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// UnsafeHeaderNames returns the lower-cased, sorted names of the request's
// non-safelisted headers: what Access-Control-Request-Headers carries.
func UnsafeHeaderNames(headers map[string]string) []string {
	var out []string
	total := 0
	for n, v := range headers {
		if IsSafelistedHeader(n, v) {
			total += len(v)
			continue
		}
		out = append(out, strings.ToLower(n))
	}
	if total > 1024 { // safelisted values together above 1024 bytes: all of them count
		out = out[:0]
		for n := range headers {
			out = append(out, strings.ToLower(n))
		}
	}
	sort.Strings(out)
	return out
}

// NeedsPreflight reports whether the browser sends a preflight for the request.
func NeedsPreflight(r Request) bool {
	return !safelistedMethods[NormalizeMethod(r.Method)] || len(UnsafeHeaderNames(r.Headers)) > 0
}

// OriginAllowed reports whether a policy allows an origin: exactly, by a
// subdomain pattern (https://*.example.com matches one or more labels before
// .example.com with the same scheme and port), or by "*".
func (p *Policy) OriginAllowed(origin string) bool {
	for _, o := range p.Origins {
		if o == "*" || o == origin {
			return true
		}
		if scheme, rest, ok := strings.Cut(o, "://*."); ok && origin != "null" {
			u, err := url.Parse(origin)
			if err != nil || u.Scheme != scheme {
				continue
			}
			want, _ := url.Parse(scheme + "://" + rest)
			if u.Port() == want.Port() && strings.HasSuffix(u.Hostname(), "."+want.Hostname()) {
				return true
			}
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Expect returns what Chrome does with the request when the server
// implements the policy correctly, and why when it blocks: the corsError a
// correct server would make Chrome report.
func (p *Policy) Expect(r Request) (Outcome, CorsError) {
	include := r.Credentials == CredentialsInclude
	preflight := NeedsPreflight(r)
	prefix := CorsError("")
	if preflight {
		prefix = "Preflight"
	}
	if !p.OriginAllowed(r.Origin) {
		// A correct server sends no ACAO for an origin it refuses.
		return Blocked, prefix + "MissingAllowOriginHeader"
	}
	if include && !p.Credentials {
		return Blocked, prefix + "InvalidAllowCredentials"
	}
	if preflight {
		m := NormalizeMethod(r.Method)
		if !safelistedMethods[m] && !contains(p.Methods, m) && !(contains(p.Methods, "*") && !include) {
			return Blocked, "MethodDisallowedByPreflightResponse"
		}
		for _, h := range UnsafeHeaderNames(r.Headers) {
			// Chrome deviation: ACAH "*" without credentials also covers Authorization.
			if !containsFold(p.Headers, h) && !(contains(p.Headers, "*") && !include) {
				return Blocked, "HeaderDisallowedByPreflightResponse"
			}
		}
	}
	return Allowed, ""
}

// OracleResult is the oracle's verdict on raw exchanges: what the browser
// decides given the responses a server actually sent.
type OracleResult struct {
	Outcome         Outcome
	CorsError       CorsError
	FailedParameter string
}

// Decide runs the Fetch Standard's CORS protocol, with Chrome's check order
// and deviations, over the responses a server actually sent to a request
// that was not redirected. preflight is nil when no preflight went out (not
// needed, or served from cache).
func Decide(r Request, preflight *Exchange, actual *Response) OracleResult {
	return DecideChain(r, preflight, nil, actual)
}

// DecideObservation is Decide over everything an observation recorded:
// the preflight, every redirect hop and the final response.
func DecideObservation(o Observation) OracleResult {
	return DecideChain(o.Request, o.Preflight, o.Redirects, o.Response)
}

// DecideChain runs the CORS protocol over a request's preflight, the
// redirects it followed and its final response:
//
//   - the mode first: same-origin refuses another origin before any request
//     (DisallowedByMode); no-cors never fails the CORS check (the response
//     is opaque);
//   - a same-origin request needs no CORS check; a cross-origin one needs
//     it on every response, redirects included, with the origin the browser
//     sends on that hop: after a redirect from one origin to another, while
//     the request was already cross-origin, the origin is tainted and the
//     browser sends Origin: null (Fetch, HTTP-redirect fetch, step 12);
//   - a redirect to a URL with credentials (user:pass@) is refused for a
//     cross-origin request (RedirectContainsCredentials).
//
// Redirect mode manual stops at the first redirect (an opaque redirect).
func DecideChain(r Request, preflight *Exchange, hops []Hop, actual *Response) OracleResult {
	include := r.Credentials == CredentialsInclude
	page := r.Origin
	first := originOf(r.URL)
	switch r.ModeOrDefault() {
	case "same-origin":
		if first != page {
			return OracleResult{Blocked, "DisallowedByMode", ""}
		}
	case "no-cors":
		if actual == nil && len(hops) == 0 {
			return OracleResult{Errored, "", ""}
		}
		return OracleResult{Allowed, "", ""}
	}
	if preflight != nil && first != page {
		// Chrome checks the redirect before anything else, then the CORS
		// check (origin, credentials), and only then the status: a 404
		// without ACAO reports the missing header, not the status.
		if res, ok := preflightFails(r, preflight, include); ok {
			return res
		}
	}
	sent := page     // the Origin header the browser sends on the current hop
	current := r.URL // the current hop's URL
	tainted := false // a cross-origin redirect happened while cross-origin
	for _, h := range hops {
		if originOf(current) != page || tainted {
			if ce, param := corsCheck(sent, include, h.ResponseHeaders); ce != "" {
				return OracleResult{Blocked, ce, param}
			}
		}
		if r.RedirectOrDefault() == "manual" {
			return OracleResult{Allowed, "", ""}
		}
		loc, err := url.Parse(h.Location())
		if err != nil {
			return OracleResult{Errored, "", ""}
		}
		base, _ := url.Parse(current)
		next := base.ResolveReference(loc)
		if next.User != nil && (originOf(next.String()) != page || tainted) {
			return OracleResult{Blocked, "RedirectContainsCredentials", ""}
		}
		if originOf(next.String()) != originOf(current) && originOf(current) != page {
			tainted = true
		}
		if tainted {
			sent = "null"
		}
		current = next.String()
	}
	if actual == nil {
		return OracleResult{Errored, "", ""}
	}
	crossNow := originOf(current) != page || tainted
	if crossNow {
		if ce, param := corsCheck(sent, include, actual.Headers); ce != "" {
			return OracleResult{Blocked, ce, param}
		}
	}
	if loc, isRedirect := actual.Header("location"); isRedirect && isRedirectStatus(actual.Status) {
		// The last answer is a redirect the browser did not follow.
		switch r.RedirectOrDefault() {
		case "error":
			return OracleResult{Errored, "", ""} // the page refused redirects: no CORS verdict
		case "follow":
			base, _ := url.Parse(current)
			if next, err := url.Parse(loc); err == nil && base.ResolveReference(next).User != nil && (crossNow || originOf(base.ResolveReference(next).String()) != page) {
				return OracleResult{Blocked, "RedirectContainsCredentials", ""}
			}
		}
	}
	return OracleResult{Allowed, "", ""}
}

// isRedirectStatus reports the Fetch Standard's redirect statuses (304 is
// not one: a preflight answered 304 fails on its status).
func isRedirectStatus(s int) bool {
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308
}

// preflightFails runs the checks on a preflight response, in Chrome's
// order; ok is true when the preflight fails.
func preflightFails(r Request, preflight *Exchange, include bool) (OracleResult, bool) {
	if isRedirectStatus(preflight.Status) {
		return OracleResult{Blocked, "PreflightDisallowedRedirect", ""}, true
	}
	if ce, param := corsCheck(r.Origin, include, preflight.ResponseHeaders); ce != "" {
		return OracleResult{Blocked, "Preflight" + ce, param}, true
	}
	if preflight.Status < 200 || preflight.Status > 299 {
		return OracleResult{Blocked, "PreflightInvalidStatus", ""}, true
	}
	// Chrome reports these two with an empty failedParameter.
	methods, ok := tokenList(headerValue(preflight.ResponseHeaders, "access-control-allow-methods"))
	if !ok {
		return OracleResult{Blocked, "InvalidAllowMethodsPreflightResponse", ""}, true
	}
	allowed, ok := tokenList(headerValue(preflight.ResponseHeaders, "access-control-allow-headers"))
	if !ok {
		return OracleResult{Blocked, "InvalidAllowHeadersPreflightResponse", ""}, true
	}
	m := NormalizeMethod(r.Method)
	if !safelistedMethods[m] && !contains(methods, m) && !(contains(methods, "*") && !include) {
		return OracleResult{Blocked, "MethodDisallowedByPreflightResponse", m}, true
	}
	for _, h := range UnsafeHeaderNames(r.Headers) {
		// Chrome deviation (spec: "*" never covers Authorization); see
		// ChromeDeviations["acah-wildcard-authorization"].
		if !containsFold(allowed, h) && !(contains(allowed, "*") && !include) {
			return OracleResult{Blocked, "HeaderDisallowedByPreflightResponse", h}, true
		}
	}
	return OracleResult{}, false
}

// originOf is the serialised origin of a URL (scheme://host[:port], no
// default port), or "null" for a URL without one.
func originOf(raw string) string {
	if raw == "null" {
		return "null"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "null"
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); p == "443" && u.Scheme == "https" || p == "80" && u.Scheme == "http" {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return u.Scheme + "://" + host
}

// corsCheck is the Fetch CORS check in Chrome's order, returning the error
// name without the Preflight prefix.
func corsCheck(origin string, include bool, h map[string]string) (CorsError, string) {
	acao, ok := lookup(h, "access-control-allow-origin")
	if !ok {
		return "MissingAllowOriginHeader", ""
	}
	// Two header lines reach Chrome joined with ", ".
	acao = strings.ReplaceAll(acao, "\n", ", ")
	if acao == "*" {
		if include {
			return "WildcardOriginNotAllowed", ""
		}
		return "", ""
	}
	if strings.ContainsAny(acao, " ,") {
		return "MultipleAllowOriginValues", acao
	}
	if acao != "null" {
		if u, err := url.Parse(acao); err != nil || u.Scheme == "" || u.Host == "" {
			return "InvalidAllowOriginValue", acao
		}
	}
	if acao != origin {
		return "AllowOriginMismatch", acao
	}
	if include {
		if acac, _ := lookup(h, "access-control-allow-credentials"); acac != "true" {
			return "InvalidAllowCredentials", acac
		}
	}
	return "", ""
}

func headerValue(h map[string]string, name string) string {
	v, _ := lookup(h, name)
	return strings.ReplaceAll(v, "\n", ", ")
}

// tokenList parses a comma-separated list of tokens (ACAM, ACAH); ok is
// false when an entry is not a token.
func tokenList(v string) ([]string, bool) {
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if checkToken("", part, true) != nil {
			return nil, false
		}
		out = append(out, part)
	}
	return out, true
}

// safelistedResponseHeaders are readable from script without exposure.
var safelistedResponseHeaders = []string{"cache-control", "content-language", "content-length", "content-type", "expires", "last-modified", "pragma"}

// ExposedTo reports whether script may read a response header under the
// policy (safelisted, or listed in exposeHeaders, or "*" without credentials).
func (p *Policy) ExposedTo(header string, cred Credentials) bool {
	h := strings.ToLower(header)
	if h == "set-cookie" || h == "set-cookie2" {
		return false
	}
	if contains(safelistedResponseHeaders, h) || containsFold(p.ExposeHeaders, h) {
		return true
	}
	return contains(p.ExposeHeaders, "*") && cred != CredentialsInclude
}

// ReadableNames are the response header names script can read from a
// response the browser handed to the page, per the Fetch Standard: for a
// CORS response the safelisted names and those Access-Control-Expose-Headers
// lists ("*" means all, only without credentials); for a same-origin
// response every name; for an opaque (no-cors) one none. Set-Cookie is
// never readable.
func ReadableNames(r Request, tainted bool, finalURL string, h map[string]string) []string {
	cross := tainted || originOf(finalURL) != r.Origin
	if r.ModeOrDefault() == "no-cors" && cross {
		return nil
	}
	exposed := map[string]bool{}
	star := false
	if v, ok := lookup(h, "access-control-expose-headers"); ok {
		names, valid := tokenList(strings.ReplaceAll(v, "\n", ","))
		if valid {
			for _, n := range names {
				if n == "*" {
					star = r.Credentials != CredentialsInclude
				}
				exposed[strings.ToLower(n)] = true
			}
		}
	}
	var out []string
	for name := range h {
		n := strings.ToLower(name)
		if n == "set-cookie" || n == "set-cookie2" {
			continue
		}
		if !cross || contains(safelistedResponseHeaders, n) || exposed[n] || star {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Tainted reports whether an observation's redirects made its origin
// opaque: a hop from one origin to another while already cross-origin.
func Tainted(r Request, hops []Hop) bool {
	current := r.URL
	for _, h := range hops {
		loc, err := url.Parse(h.Location())
		if err != nil {
			return false
		}
		base, _ := url.Parse(current)
		next := base.ResolveReference(loc).String()
		if originOf(next) != originOf(current) && originOf(current) != r.Origin {
			return true
		}
		current = next
	}
	return false
}

// MaxAge is the preflight cache lifetime the browser takes from a
// preflight response: Access-Control-Max-Age when it is an integer (capped
// at Chrome's 7200 s), else the default 5 s. Chrome deviation
// (ChromeDeviations["negative-max-age"]): a negative value is not a
// parse failure there but a lifetime of 0, so nothing is cached.
func MaxAge(preflight *Exchange) int {
	v, ok := preflight.ResponseHeader("access-control-max-age")
	if !ok {
		return 5
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 5
	}
	return max(0, min(n, ChromeMaxAge))
}

// ChromeDeviations names where Chrome 156 departs from the Fetch Standard,
// with the Chromium source that causes it. The oracle follows Chrome in
// each; the corpus has a row for each.
var ChromeDeviations = map[string]string{
	"preflight-origin-before-status": "Chrome checks a preflight's Access-Control-Allow-Origin before its status, so a 404 or 401 without CORS headers reports PreflightMissingAllowOriginHeader, not PreflightInvalidStatus (services/network/cors/preflight_controller.cc: CheckPreflightAccessAndReportError runs cors::CheckAccess first).",
	"acah-wildcard-authorization":    "Access-Control-Allow-Headers: * without credentials also covers Authorization; the spec says it never does. Chrome only reports a deprecation issue (services/network/public/cpp/cors/preflight_result.cc: EnsureAllowedCrossOriginHeaders, has_authorization_covered_by_wildcard_on_preflight).",
	"max-age-cap":                    "Access-Control-Max-Age is capped at 7200 s (services/network/public/cpp/cors/preflight_result.cc: kMaxTimeout); Firefox caps at 86400 s.",
	"negative-max-age":               "A negative Access-Control-Max-Age is a lifetime of 0 (nothing cached), not a parse failure with the default 5 s (preflight_result.cc parses it as an integer and clamps it).",
	"invalid-list-parameter":         "InvalidAllowMethodsPreflightResponse and InvalidAllowHeadersPreflightResponse carry an empty failedParameter.",
}

// FirefoxMaxAge is Firefox's cap on Access-Control-Max-Age (seconds).
const FirefoxMaxAge = 86400

// FirefoxDeviations names where Firefox ESR 153 departs from Chrome 156 on
// the same server answer, each seen on this machine; a difference between
// the two browsers that one of these explains is a browser difference,
// never the server's fault.
var FirefoxDeviations = map[string]string{
	"preflight-cache-dns-check": "Firefox drops a cached preflight when the host's DNS record is newer than the cache entry (a DNS-rebinding defence: CheckDNSCache in netwerk/protocol/http/nsCORSListenerProxy.cpp). An IP-literal host has no DNS record, so its repeats always send a new preflight; on loopback a named host's record can be newer than an entry stamped by Firefox's coarse clock a few milliseconds later, so its repeats sometimes do, varying between runs. The preflight's Access-Control-Max-Age decides the verdict; Chrome and WebKit reuse the cached preflight.",
	"acao-list":                 "An Access-Control-Allow-Origin holding a comma-separated list is reported as a mismatch (CORSAllowOriginNotMatchingOrigin); Chrome reports MultipleAllowOriginValues. Both block.",
	"userinfo-redirect":         "A redirect to a URL with user:password@ fails with a generic network error (no CORS message); Chrome reports RedirectContainsCredentials.",
	"max-age-cap":               "Access-Control-Max-Age is capped at 86400 s (24 h); Chrome caps it at 7200 s (2 h).",
	"redirect-tainted-origin":   "A preflighted request redirected to a third origin: Firefox sends a second preflight there and refuses an answer that allows only null (it compares with the page's origin); Chrome gives no CORS verdict for such a chain.",
	"acao-invalid-value":        "An Access-Control-Allow-Origin that is not an origin (empty, a bare host) is reported as a mismatch naming the value; Chrome reports InvalidAllowOriginValue. Both block.",
	"reason-detail":             "Firefox's console reasons are coarser than Chrome's corsError: no method name for a method missing from Access-Control-Allow-Methods, no Access-Control-Allow-Credentials value; failedParameter stays empty there.",
}

// PreflightCacheReliable reports whether the engine reuses a cached
// preflight every time the answer allows it. Firefox does not on loopback
// (FirefoxDeviations["preflight-cache-dns-check"]): whether a repeat sends
// a new preflight depends on timing, so its count proves nothing about
// the server, whose Access-Control-Max-Age decides the verdict.
func PreflightCacheReliable(engine, rawURL string) bool {
	return engine != "firefox"
}

// MaxAgeCap is the engine's cap on Access-Control-Max-Age.
func MaxAgeCap(engine string) int {
	switch engine {
	case "firefox":
		return FirefoxMaxAge
	case "webkit":
		return WebKitMaxAge
	}
	return ChromeMaxAge
}

// PreflightsFor is how many preflights a server sees for a request fetched
// `fetches` times in a row, given what the first fetch observed: one for a
// cross-origin request that needs one, and one more for each followed
// redirect to another URL that still needs one; repeats send none while a
// passed preflight is cached (max-age above 0), and one each otherwise.
func PreflightsFor(o Observation, fetches int) int {
	r := o.Request
	if r.ModeOrDefault() != "cors" || !NeedsPreflight(r) || originOf(r.URL) == r.Origin {
		return 0
	}
	first := 1
	method := r.Method
	for _, h := range o.Redirects {
		if h.Status == 303 || (h.Status == 301 || h.Status == 302) && NormalizeMethod(method) == "POST" {
			method = "GET"
		}
		rr := r
		rr.Method = method
		if NeedsPreflight(rr) {
			first++
		}
	}
	if o.Preflight == nil {
		return first * fetches
	}
	cached := o.Outcome != Blocked || !o.CorsError.IsPreflight()
	if cached && MaxAge(o.Preflight) > 0 && len(o.Redirects) == 0 {
		return first
	}
	return first * fetches
}
