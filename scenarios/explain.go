package scenarios

import (
	"fmt"
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

// Stacks for which Explain has snippets, in display order.
var Stacks = []string{"express", "nginx", "apache", "aspnetcore", "go-rs-cors", "spring"}

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
		"the preflight (OPTIONS) was answered with a redirect; browsers never follow redirects for preflights",
		"Do not redirect OPTIONS (no http→https or trailing-slash redirect): answer it at the requested URL, or point clients at the final URL."},
	"MethodDisallowedByPreflightResponse": {fixMethods, "Access-Control-Allow-Methods",
		"method {param} is not listed in Access-Control-Allow-Methods of the preflight response (the list is case-sensitive)",
		"List {param}, spelled exactly so, in Access-Control-Allow-Methods on the preflight response."},
	"HeaderDisallowedByPreflightResponse": {fixHeaders, "Access-Control-Allow-Headers",
		"request header {param} is not listed in Access-Control-Allow-Headers of the preflight response",
		"List {param} in Access-Control-Allow-Headers on the preflight response (Authorization must be listed by name; * does not cover it with credentials)."},
	"InvalidAllowMethodsPreflightResponse": {fixMethods, "Access-Control-Allow-Methods",
		"Access-Control-Allow-Methods is not a comma-separated list of tokens (\"{param}\")",
		"Send Access-Control-Allow-Methods as a comma-separated list of method names, e.g. GET, POST, PUT."},
	"InvalidAllowHeadersPreflightResponse": {fixHeaders, "Access-Control-Allow-Headers",
		"Access-Control-Allow-Headers is not a comma-separated list of header names (\"{param}\")",
		"Send Access-Control-Allow-Headers as a comma-separated list of header names."},
}

// Explain turns an observation into a sentence, the header at fault and a
// fix, with snippets for common stacks. Unknown corsError values (a newer
// Chrome) get a generic explanation that still names the value.
func Explain(o Observation) Explanation {
	switch o.Outcome {
	case Allowed:
		return Explanation{Sentence: "Chrome allowed the request."}
	case Errored:
		return Explanation{Sentence: "No CORS verdict: " + o.Error, Fix: errorFix(o)}
	}
	key := o.CorsError
	row, ok := explanations[key]
	if !ok {
		row, ok = explanations[CorsError(strings.TrimPrefix(string(key), "Preflight"))]
	}
	if !ok {
		return Explanation{
			Sentence: fmt.Sprintf("Chrome blocked the request with %s (%s), a reason corscheck has no explanation for yet", o.CorsError, o.FailedParameter),
			Fix:      "Compare the response headers below with the Fetch Standard's CORS protocol; please report this corsError to corscheck.",
		}
	}
	param := o.FailedParameter
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
	fill := strings.NewReplacer("{origin}", o.Request.Origin, "{param}", param).Replace
	e := Explanation{
		Sentence: where + fill(row.sentence),
		Header:   row.header,
		Fix:      fill(row.fix),
		Snippets: snippets(row.kind, o),
	}
	return e
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
		return "Probe from an http origin, or serve the target over https."
	}
	return ""
}

// snippets returns per-stack configuration for the fix, filled with the
// request's origin, method and headers.
func snippets(k fixKind, o Observation) map[string]string {
	origin := o.Request.Origin
	method := NormalizeMethod(o.Request.Method)
	headers := strings.Join(o.Request.HeaderNames(), ", ")
	if headers == "" {
		headers = "Content-Type"
	}
	quoted := func(list string) string {
		parts := strings.Split(list, ", ")
		for i, p := range parts {
			parts[i] = `"` + p + `"`
		}
		return strings.Join(parts, ", ")
	}
	cred := o.Request.Credentials == CredentialsInclude
	switch k {
	case fixAllowOrigin, fixOneOrigin, fixWildcard, fixCredentials:
		return map[string]string{
			"express":    fmt.Sprintf("app.use(cors({ origin: [%q], credentials: %t }));  // before routes and auth; app.options('*', cors(...))", origin, cred),
			"nginx":      fmt.Sprintf("map $http_origin $cors_origin { default \"\"; %q $http_origin; }\nadd_header Access-Control-Allow-Origin $cors_origin always;\nadd_header Access-Control-Allow-Credentials \"true\" always;\nadd_header Vary Origin always;", origin),
			"apache":     fmt.Sprintf("SetEnvIf Origin \"^%s$\" CORS_ORIGIN=$0\nHeader always set Access-Control-Allow-Origin \"%%{CORS_ORIGIN}e\" env=CORS_ORIGIN\nHeader always set Access-Control-Allow-Credentials \"true\" env=CORS_ORIGIN\nHeader always merge Vary Origin", regexpQuote(origin)),
			"aspnetcore": fmt.Sprintf("builder.Services.AddCors(o => o.AddDefaultPolicy(p => p.WithOrigins(%q)%s));\napp.UseCors();  // before UseAuthentication", origin, ternary(cred, ".AllowCredentials()", "")),
			"go-rs-cors": fmt.Sprintf("cors.New(cors.Options{AllowedOrigins: []string{%q}, AllowCredentials: %t}).Handler(mux)", origin, cred),
			"spring":     fmt.Sprintf("@CrossOrigin(origins = %q, allowCredentials = \"%t\")  // or CorsRegistry.addMapping(\"/**\").allowedOrigins(%q)", origin, cred, origin),
		}
	case fixPreflightStatus, fixRedirect:
		return map[string]string{
			"express":    "app.options('*', cors(corsOptions));  // register before auth middleware",
			"nginx":      "if ($request_method = OPTIONS) { add_header Access-Control-Allow-Origin $cors_origin always; add_header Access-Control-Allow-Methods \"" + method + "\" always; return 204; }",
			"apache":     "RewriteCond %{REQUEST_METHOD} OPTIONS\nRewriteRule ^(.*)$ $1 [R=204,L]\nHeader always set Access-Control-Allow-Origin \"%{CORS_ORIGIN}e\" env=CORS_ORIGIN",
			"aspnetcore": "app.UseCors();  // must come before app.UseAuthentication() and app.UseHttpsRedirection() for OPTIONS",
			"go-rs-cors": "handler := cors.New(opts).Handler(authMiddleware(mux))  // CORS outermost, so OPTIONS never reaches auth",
			"spring":     "http.cors(Customizer.withDefaults());  // Spring Security lets preflights through before authentication",
		}
	case fixMethods:
		return map[string]string{
			"express":    fmt.Sprintf("cors({ methods: [%q] })", method),
			"nginx":      fmt.Sprintf("add_header Access-Control-Allow-Methods \"GET, POST, %s\" always;", method),
			"apache":     fmt.Sprintf("Header always set Access-Control-Allow-Methods \"GET, POST, %s\"", method),
			"aspnetcore": fmt.Sprintf("p.WithMethods(%q)", method),
			"go-rs-cors": fmt.Sprintf("cors.Options{AllowedMethods: []string{%q}}", method),
			"spring":     fmt.Sprintf(".allowedMethods(%q)", method),
		}
	case fixHeaders:
		return map[string]string{
			"express":    fmt.Sprintf("cors({ allowedHeaders: [%s] })", quoted(headers)),
			"nginx":      fmt.Sprintf("add_header Access-Control-Allow-Headers \"%s\" always;", headers),
			"apache":     fmt.Sprintf("Header always set Access-Control-Allow-Headers \"%s\"", headers),
			"aspnetcore": fmt.Sprintf("p.WithHeaders(%s)", quoted(headers)),
			"go-rs-cors": fmt.Sprintf("cors.Options{AllowedHeaders: []string{%s}}", quoted(headers)),
			"spring":     fmt.Sprintf(".allowedHeaders(%s)", quoted(headers)),
		}
	}
	return nil
}

func regexpQuote(s string) string {
	return strings.NewReplacer(".", `\.`, ":", `\:`, "/", `\/`).Replace(s)
}

func ternary(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}
