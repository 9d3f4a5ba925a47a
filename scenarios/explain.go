package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// Explanation is what a developer needs for one blocked fetch: a sentence
// they understand, the header at fault, the fix, and the fix in their stack.
type Explanation struct {
	Sentence string            `json:"sentence"`
	Header   string            `json:"header,omitempty"`
	Fix      string            `json:"fix"`
	Snippets map[string]string `json:"snippets,omitempty"`
}

// fixKind groups corsErrors that share a remedy.
type fixKind int

const (
	fixNone fixKind = iota
	fixAllowOrigin
	fixOneOrigin
	fixWildcard
	fixCredentials
	fixPreflightStatus
	fixRedirect
	fixMethods
	fixHeaders
)

type explanationRow struct {
	kind     fixKind
	header   string
	sentence string
	fix      string
}

var explanations = map[CorsError]explanationRow{
	"MissingAllowOriginHeader": {fixAllowOrigin, "Access-Control-Allow-Origin",
		"the response has no Access-Control-Allow-Origin header, so the browser will not let {origin} read it",
		"Send Access-Control-Allow-Origin: {origin} on every response to an allowed origin, error responses (4xx/5xx) and OPTIONS included."},
	"AllowOriginMismatch": {fixAllowOrigin, "Access-Control-Allow-Origin",
		"the server allowed a different origin ({param}), not {origin}",
		"Echo the request's exact Origin ({origin}) when it is allowed, instead of a fixed value."},
	"MultipleAllowOriginValues": {fixOneOrigin, "Access-Control-Allow-Origin",
		"Access-Control-Allow-Origin carries several values ({param}); browsers accept exactly one",
		"Send one Access-Control-Allow-Origin value: two layers (app and proxy, CDN or framework) both add it; remove one."},
	"InvalidAllowOriginValue": {fixAllowOrigin, "Access-Control-Allow-Origin",
		"Access-Control-Allow-Origin is not a valid origin ({param})",
		"Send the origin exactly as scheme://host[:port], with no path or trailing slash: {origin}."},
	"WildcardOriginNotAllowed": {fixWildcard, "Access-Control-Allow-Origin",
		"the server answered Access-Control-Allow-Origin: * to a request with credentials, which browsers never accept",
		"For credentialed requests echo the origin ({origin}) instead of *, send Access-Control-Allow-Credentials: true and Vary: Origin."},
	"InvalidAllowCredentials": {fixCredentials, "Access-Control-Allow-Credentials",
		"the request carries credentials but Access-Control-Allow-Credentials is not exactly true (got \"{param}\")",
		"Send Access-Control-Allow-Credentials: true (lower case, exactly) with the echoed origin on credentialed responses and preflights."},
	"PreflightInvalidStatus": {fixPreflightStatus, "",
		"the preflight (OPTIONS) got a non-2xx status: often an auth middleware or a missing OPTIONS route",
		"Answer OPTIONS preflights with 204 and the CORS headers before authentication and routing run."},
	"PreflightDisallowedRedirect": {fixRedirect, "Location",
		"the preflight (OPTIONS) was answered with a redirect{location}: your OPTIONS handler redirects, often to a login page or to add a trailing slash, and browsers never follow redirects for preflights",
		"Do not redirect OPTIONS (no login, http→https or trailing-slash redirect): answer it at the requested URL with 204 and the CORS headers, or point clients at the final URL."},
	"MethodDisallowedByPreflightResponse": {fixMethods, "Access-Control-Allow-Methods",
		"method {param} is not listed in Access-Control-Allow-Methods of the preflight response (the list is case-sensitive)",
		"List {param}, spelled exactly so, in Access-Control-Allow-Methods on the preflight response."},
	"HeaderDisallowedByPreflightResponse": {fixHeaders, "Access-Control-Allow-Headers",
		"request header {param} is not listed in Access-Control-Allow-Headers of the preflight response",
		"List {param} in Access-Control-Allow-Headers on the preflight response (Authorization must be listed by name; * does not cover it with credentials)."},
	"InvalidAllowMethodsPreflightResponse": {fixMethods, "Access-Control-Allow-Methods",
		"Access-Control-Allow-Methods is not a comma-separated list of tokens{paramq}",
		"Send Access-Control-Allow-Methods as a comma-separated list of method names, e.g. GET, POST, PUT."},
	"InvalidAllowHeadersPreflightResponse": {fixHeaders, "Access-Control-Allow-Headers",
		"Access-Control-Allow-Headers is not a comma-separated list of header names{paramq}",
		"Send Access-Control-Allow-Headers as a comma-separated list of header names, e.g. Content-Type, X-Request-ID."},
	"RedirectContainsCredentials": {fixRedirect, "Location",
		"the server redirected a cross-origin request to a URL with credentials in it (user:password@host){location}, which browsers refuse",
		"Redirect to a URL without user information; pass credentials in a header or cookie instead."},
	"DisallowedByMode": {fixNone, "",
		"the page asked for fetch() mode same-origin (or a redirect mode the request's mode forbids) and the URL is another origin: the page refused it before any request, whatever the server sends",
		"Nothing to change on the server: use mode \"cors\" (fetch()'s default) for a cross-origin API."},
	"CorsDisabledScheme": {fixNone, "",
		"the URL's scheme does not support CORS (only http and https do)",
		"Call the API over http or https."},
	"InvalidResponse": {fixNone, "",
		"the preflight failed with a network error instead of an HTTP answer (the connection was reset, or the answer was not HTTP)",
		"Make the server answer OPTIONS with an HTTP response: check proxies and load balancers that drop OPTIONS."},
	"NoCorsRedirectModeNotFollow": {fixNone, "",
		"a no-cors request with redirect mode other than follow was redirected, which browsers refuse",
		"Nothing to change on the server: a no-cors fetch must use redirect: \"follow\"."},
	"PreflightMissingAllowExternal": {fixNone, "",
		"the preflight to a private-network address lacked Access-Control-Allow-Private-Network: true (the browser's Private Network Access rules)",
		"Answer such preflights with Access-Control-Allow-Private-Network: true, or run corscheck without --local-network-access to test CORS alone."},
	"PreflightInvalidAllowExternal": {fixNone, "",
		"the preflight to a private-network address carried an invalid Access-Control-Allow-Private-Network (the browser's Private Network Access rules)",
		"Send Access-Control-Allow-Private-Network: true exactly, or run corscheck without --local-network-access to test CORS alone."},
}

// browserRuleErrors are corsError values from the browser's Local (Private)
// Network Access rules: about where the page and the target live, not the
// server's CORS policy.
var browserRuleErrors = []CorsError{"InsecureLocalNetwork", "InvalidLocalNetworkAccess", "LocalNetworkAccessPermissionDenied",
	"InsecurePrivateNetwork", "InvalidPrivateNetworkAccess", "UnexpectedPrivateNetworkAccess", "PrivateNetworkAccessPermissionDenied",
	"PrivateNetworkAccessPermissionUnavailable", "PreflightMissingAllowPrivateNetwork", "PreflightInvalidAllowPrivateNetwork",
	"PreflightMissingPrivateNetworkAccessId", "PreflightMissingPrivateNetworkAccessName", "PreflightMissingAllowLocalNetwork", "PreflightInvalidAllowLocalNetwork"}

// KnownCorsErrors lists every corsError Chrome 156 can report (its
// DevTools protocol's CorsError enum and services/network/public/mojom/
// cors.mojom) with the Preflight variants of the CORS check: each has an
// explanation and a fix.
func KnownCorsErrors() []CorsError {
	var out []CorsError
	for k := range explanations {
		out = append(out, k)
		if row := explanations[k]; row.kind == fixAllowOrigin || row.kind == fixOneOrigin || row.kind == fixWildcard || row.kind == fixCredentials {
			out = append(out, "Preflight"+k)
		}
	}
	out = append(out, browserRuleErrors...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Explain turns an observation into a sentence, the header at fault and a
// fix (diagnosis.Explain adds each stack's snippet). Unknown corsError
// values (a newer Chrome) get a generic explanation that still names the
// value.
func Explain(o Observation) Explanation {
	switch o.Outcome {
	case Allowed:
		return Explanation{Sentence: "Chrome allowed the request."}
	case Errored:
		return Explanation{Sentence: "No CORS verdict: " + o.Error, Fix: errorFix(o)}
	}
	key := o.CorsError
	if key.IsLocalNetworkAccess() {
		return Explanation{Sentence: fmt.Sprintf("the browser's Local Network Access rules refused the request (%s): they are about where the page and the target live, not the server's CORS policy", key),
			Fix: "Run corscheck without --local-network-access to test CORS alone, or serve the page and the target from the same address space."}
	}
	row, ok := explanations[key]
	if !ok {
		row, ok = explanations[CorsError(strings.TrimPrefix(string(key), "Preflight"))]
	}
	if !ok {
		param := ""
		if o.FailedParameter != "" {
			param = " (" + Visible(o.FailedParameter) + ")"
		}
		return Explanation{
			Sentence: fmt.Sprintf("%s blocked the request with %s%s, a reason corscheck %s has no explanation for yet", o.engineName(), Visible(string(o.CorsError)), param, "this version of"),
			Fix:      "Compare the response headers below with the Fetch Standard's CORS protocol; please report this corsError to corscheck.",
		}
	}
	param := Visible(o.FailedParameter)
	if strings.HasSuffix(string(key), "InvalidAllowCredentials") && param == "" {
		row.sentence = "the request carries credentials but the response has no Access-Control-Allow-Credentials: true"
	}
	if row.kind == fixAllowOrigin && key != "" && strings.HasSuffix(string(key), "Mismatch") && param == "" {
		param = "another origin"
	}
	where := ""
	if key.IsPreflight() {
		where = "preflight: "
	}
	// Chrome checks the preflight's origin before its status, so a 404 or
	// 401 from a router or auth layer shows up as a missing header.
	if key == "PreflightMissingAllowOriginHeader" && o.Preflight != nil && (o.Preflight.Status < 200 || o.Preflight.Status > 299) {
		row = explanations["PreflightInvalidStatus"]
		row.header = "Access-Control-Allow-Origin"
		row.sentence = fmt.Sprintf("the preflight (OPTIONS) got status %d without CORS headers: the OPTIONS route is missing or an auth layer answered before CORS", o.Preflight.Status)
		row.fix += " Send Access-Control-Allow-Origin: {origin} on that response."
	}
	paramq := ""
	if param != "" {
		paramq = fmt.Sprintf(" (%q)", param)
	}
	location := ""
	if loc := redirectLocation(o); loc != "" {
		location = " to " + Visible(loc)
	}
	fill := strings.NewReplacer("{origin}", Visible(o.Request.Origin), "{param}", param, "{paramq}", paramq, "{location}", location).Replace
	sentence := where + fill(row.sentence)
	if hop := redirectedTo(o); hop != "" && !key.IsPreflight() && key != "RedirectContainsCredentials" {
		sentence = fmt.Sprintf("after the server redirected the request to %s: %s", Visible(hop), sentence)
		if sentOrigin(o) == "null" {
			sentence += "; after a redirect from one origin to another the browser sends Origin: null, so that server must allow null (or * without credentials), or the first server must not redirect across origins"
		}
	}
	e := Explanation{
		Sentence: sentence,
		Header:   row.header,
		Fix:      fill(row.fix),
	}
	return e
}

// redirectLocation is where the failing preflight or redirect pointed.
func redirectLocation(o Observation) string {
	if o.CorsError == "PreflightDisallowedRedirect" && o.Preflight != nil {
		v, _ := o.Preflight.ResponseHeader("location")
		return v
	}
	if o.CorsError == "RedirectContainsCredentials" {
		if len(o.Redirects) > 0 {
			return o.Redirects[len(o.Redirects)-1].Location()
		}
		if v, ok := o.Response.Header("location"); ok {
			return v
		}
	}
	return ""
}

// redirectedTo is the URL that gave the failing answer when it is not the
// request's URL.
func redirectedTo(o Observation) string {
	if o.Response != nil && o.Response.URL != "" && len(o.Redirects) > 0 {
		return o.Response.URL
	}
	return ""
}

// sentOrigin is the Origin header the browser sent on the last hop.
func sentOrigin(o Observation) string {
	if o.Response == nil {
		return ""
	}
	v, _ := lookup(o.Response.RequestHeaders, "origin")
	return v
}

func errorFix(o Observation) string {
	switch o.ErrorKind {
	case ErrorTimeout, ErrorNotRun:
		return "The target did not answer in time: check it is up, or raise --timeout."
	case ErrorNetwork:
		return "The target could not be reached: check the URL, that the server is running and listening on that address."
	case ErrorLocalNetworkAccess:
		return "Run without --local-network-access, or serve the page and the target from the same address space."
	case ErrorMixedContent:
		return "Serve the target over https, or probe from an http origin."
	case ErrorTLS:
		return "The browser refused the target's certificate: pass its CA with --ca-cert FILE, or --insecure."
	case ErrorDNS:
		return "The target's host name does not resolve: map it with --resolve HOST:ADDR (or resolve: in the policy)."
	case ErrorUnsafePort:
		return "Browsers refuse to connect to this port (it belongs to another protocol): serve the target on another port."
	case ErrorBrowser:
		return "The browser failed, not the server: run again; if it repeats, check the browser with corscheck probe."
	}
	return ""
}
