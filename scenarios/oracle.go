package scenarios

import (
	"net/url"
	"sort"
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

// Verdict of the oracle for raw exchanges: what Chrome decides given the
// preflight response (nil when none was needed or it was cached) and the
// actual response.
type OracleResult struct {
	Outcome         Outcome
	CorsError       CorsError
	FailedParameter string
}

// Decide runs the Fetch Standard's CORS protocol, with Chrome's check order
// and deviations, over the responses a server actually sent. preflight is
// nil when no preflight went out (not needed, or served from cache).
func Decide(r Request, preflight *Exchange, actual *Response) OracleResult {
	include := r.Credentials == CredentialsInclude
	if preflight != nil {
		// Chrome checks the redirect before anything else, then the CORS
		// check (origin, credentials), and only then the status: a 404
		// without ACAO reports the missing header, not the status.
		if preflight.Status >= 300 && preflight.Status < 400 {
			return OracleResult{Blocked, "PreflightDisallowedRedirect", ""}
		}
		if ce, param := corsCheck(r.Origin, include, preflight.ResponseHeaders); ce != "" {
			return OracleResult{Blocked, "Preflight" + ce, param}
		}
		if preflight.Status < 200 || preflight.Status > 299 {
			return OracleResult{Blocked, "PreflightInvalidStatus", ""}
		}
		methods, ok := tokenList(headerValue(preflight.ResponseHeaders, "access-control-allow-methods"))
		if !ok {
			return OracleResult{Blocked, "InvalidAllowMethodsPreflightResponse", headerValue(preflight.ResponseHeaders, "access-control-allow-methods")}
		}
		allowed, ok := tokenList(headerValue(preflight.ResponseHeaders, "access-control-allow-headers"))
		if !ok {
			return OracleResult{Blocked, "InvalidAllowHeadersPreflightResponse", headerValue(preflight.ResponseHeaders, "access-control-allow-headers")}
		}
		m := NormalizeMethod(r.Method)
		if !safelistedMethods[m] && !contains(methods, m) && !(contains(methods, "*") && !include) {
			return OracleResult{Blocked, "MethodDisallowedByPreflightResponse", m}
		}
		for _, h := range UnsafeHeaderNames(r.Headers) {
			// Chrome deviation (spec: "*" never covers Authorization).
			if !containsFold(allowed, h) && !(contains(allowed, "*") && !include) {
				return OracleResult{Blocked, "HeaderDisallowedByPreflightResponse", h}
			}
		}
	}
	if actual == nil {
		return OracleResult{Errored, "", ""}
	}
	if ce, param := corsCheck(r.Origin, include, actual.Headers); ce != "" {
		return OracleResult{Blocked, ce, param}
	}
	return OracleResult{Allowed, "", ""}
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
