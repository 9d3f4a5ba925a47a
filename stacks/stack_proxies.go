package stacks

import (
	"fmt"
	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
	"regexp"
	"strings"
)

// Apache httpd: SetEnvIf picks the allowed origin, Header always set sends
// the CORS headers on every status (Apache's own 401 and error pages
// included), and mod_rewrite in server context answers OPTIONS with 204
// before authentication runs.
var apacheStack = diagnosis.Register(&diagnosis.Stack{Name: "apache", Title: "Apache httpd", Verified: true,
	Detect: []diagnosis.DetectRule{{Header: "server", Match: regexp.MustCompile(`(?i)^apache`)}},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		parts := ApacheCORS(p)
		if cause == "auth-before-cors" {
			parts = append(parts, diagnosis.SnippetPart{Slot: "auth", Where: "Where the protected location requires a user (in .htaccess or <Directory>, mod_rewrite runs after authentication, so this is what exempts OPTIONS there)",
				Text: "<LimitExcept OPTIONS>\n    Require valid-user\n</LimitExcept>\n"})
		}
		return diagnosis.StackFix{Why: apacheWhy[cause], Parts: parts}, true
	}})

var apacheWhy = map[string]string{
	"no-cors-on-errors":    "Header set applies to successful answers only; Apache's own 401, 403 and error pages need Header always set.",
	"no-cors-on-preflight": "RewriteRule ... [R=200] makes Apache answer with its own page, which carries no Header set lines; answer OPTIONS with [R=204] and Header always set.",
	"auth-before-cors":     "Require valid-user applies to OPTIONS too: in server context mod_rewrite answers OPTIONS before authentication; elsewhere wrap Require in <LimitExcept OPTIONS>.",
	"multiple-acao":        "the application behind Apache sends Access-Control-Allow-Origin as well: Header always set replaces it; Header add would duplicate it.",
	"wildcard-all-origins": "SetEnvIf with an anchored, escaped regex allows exactly the listed origins; Header ... env=CORS_ORIGIN sends nothing to the others.",
	"origin-match":         "the SetEnvIf regex must be anchored (^...$) with escaped dots.",
}

// ApacheCORS is the Apache configuration that implements a policy, for a
// VirtualHost (server context). The Apache fixture runs exactly these lines.
func ApacheCORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("SetEnvIf Origin \"%s\" CORS_ORIGIN=$1\n", originRegexp(p)))
	line := func(name, value string) {
		b.WriteString(fmt.Sprintf("Header always set %s %q env=CORS_ORIGIN\n", name, value))
	}
	line("Access-Control-Allow-Origin", "%{CORS_ORIGIN}e")
	if p.Credentials {
		line("Access-Control-Allow-Credentials", "true")
	}
	line("Access-Control-Allow-Methods", strings.Join(policyMethods(p), ", "))
	if len(p.Headers) > 0 {
		line("Access-Control-Allow-Headers", strings.Join(p.Headers, ", "))
	}
	if p.MaxAge != nil {
		line("Access-Control-Max-Age", fmt.Sprint(*p.MaxAge))
	}
	if e := exposed(p); len(e) > 0 {
		line("Access-Control-Expose-Headers", strings.Join(e, ", "))
	}
	b.WriteString("Header always merge Vary Origin\n")
	b.WriteString("RewriteEngine On\nRewriteCond %{REQUEST_METHOD} OPTIONS\nRewriteRule ^ - [R=204,L]\n")
	return []diagnosis.SnippetPart{{Slot: "server", Where: "In the VirtualHost (server context: OPTIONS is answered before authentication)", Text: b.String()}}
}

// Caddy: header lines with a matcher for the allowed origins (they apply to
// every answer, errors included), respond 204 to preflights, and basicauth
// scoped to requests that are not OPTIONS (it runs before respond).
var caddyStack = diagnosis.Register(&diagnosis.Stack{Name: "caddy", Title: "Caddy", Verified: true,
	Detect: []diagnosis.DetectRule{{Header: "server", Match: regexp.MustCompile(`(?i)^caddy`)}},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		parts := CaddyCORS(p)
		if cause == "auth-before-cors" {
			parts = append(parts, diagnosis.SnippetPart{Slot: "auth", Where: "Scope the authentication to requests that are not OPTIONS (basicauth runs before respond)",
				Text: "@protected {\n    path PROTECTED_PATHS\n    not method OPTIONS\n}\nbasicauth @protected {\n    USERS\n}\n"})
		}
		return diagnosis.StackFix{Why: caddyWhy[cause], Parts: parts}, true
	}})

var caddyWhy = map[string]string{
	"auth-before-cors":     "basicauth comes before respond in Caddy's directive order, so a preflight meets authentication first; scope basicauth with not method OPTIONS.",
	"wildcard-all-origins": "a header matcher with the exact origins (header_regexp, anchored) sends Access-Control-Allow-Origin to those only.",
	"fixed-origin":         "header Access-Control-Allow-Origin with a fixed value names one origin; echo {http.request.header.Origin} for the matched ones.",
}

// CaddyCORS is the Caddyfile configuration that implements a policy, for
// a site block. The Caddy fixture runs exactly these lines.
func CaddyCORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("@cors_origin header_regexp Origin %s\n", originRegexp(p)))
	b.WriteString("header @cors_origin Access-Control-Allow-Origin \"{http.request.header.Origin}\"\n")
	if p.Credentials {
		b.WriteString("header @cors_origin Access-Control-Allow-Credentials true\n")
	}
	if e := exposed(p); len(e) > 0 {
		b.WriteString(fmt.Sprintf("header @cors_origin Access-Control-Expose-Headers %q\n", strings.Join(e, ", ")))
	}
	b.WriteString("header Vary Origin\n@cors_preflight {\n    method OPTIONS\n    header Access-Control-Request-Method *\n}\n")
	b.WriteString(fmt.Sprintf("header @cors_preflight Access-Control-Allow-Methods %q\n", strings.Join(policyMethods(p), ", ")))
	if len(p.Headers) > 0 {
		b.WriteString(fmt.Sprintf("header @cors_preflight Access-Control-Allow-Headers %q\n", strings.Join(p.Headers, ", ")))
	}
	if p.MaxAge != nil {
		b.WriteString(fmt.Sprintf("header @cors_preflight Access-Control-Max-Age %d\n", *p.MaxAge))
	}
	b.WriteString("respond @cors_preflight 204\n")
	return []diagnosis.SnippetPart{{Slot: "site", Where: "In the site block", Text: b.String()}}
}

// haproxy: http-after-response (not http-response) sets the CORS headers,
// because it also runs on the answers haproxy makes itself (return, auth,
// deny, errors); preflights are answered with return 204 before any
// authentication rule.
var haproxyStack = diagnosis.Register(&diagnosis.Stack{Name: "haproxy", Title: "HAProxy", Verified: true,
	Detect: []diagnosis.DetectRule{{Header: "server", Match: regexp.MustCompile(`(?i)^haproxy`)}},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: haproxyWhy[cause], Parts: HaproxyCORS(p)}, true
	}})

var haproxyWhy = map[string]string{
	"no-cors-on-errors":    "http-response rules never apply to answers haproxy generates itself (http-request auth, deny, return, its error pages); http-after-response rules do.",
	"no-cors-on-preflight": "a preflight answered with http-request return gets no http-response headers; set them with http-after-response.",
	"auth-before-cors":     "http-request rules run in order: the return 204 for preflights must come before http-request auth.",
}

// HaproxyCORS is the haproxy configuration that implements a policy, for a
// frontend. The haproxy fixture runs exactly these lines.
func HaproxyCORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	var req, resp strings.Builder
	req.WriteString("http-request set-var(txn.cors_origin) req.hdr(Origin)\n")
	req.WriteString("http-request set-var(txn.cors_preflight) bool(true) if METH_OPTIONS { req.hdr(Access-Control-Request-Method) -m found }\n")
	req.WriteString(fmt.Sprintf("acl cors_allowed var(txn.cors_origin) -m reg %s\n", originRegexp(p)))
	req.WriteString("acl cors_preflight var(txn.cors_preflight) -m bool\n")
	req.WriteString("http-request return status 204 if cors_preflight\n")
	set := func(name, value, cond string) {
		resp.WriteString(fmt.Sprintf("http-after-response set-header %s %q if %s\n", name, value, cond))
	}
	set("Access-Control-Allow-Origin", "%[var(txn.cors_origin)]", "cors_allowed")
	if p.Credentials {
		set("Access-Control-Allow-Credentials", "true", "cors_allowed")
	}
	set("Access-Control-Allow-Methods", strings.Join(policyMethods(p), ", "), "cors_allowed cors_preflight")
	if len(p.Headers) > 0 {
		set("Access-Control-Allow-Headers", strings.Join(p.Headers, ", "), "cors_allowed cors_preflight")
	}
	if p.MaxAge != nil {
		set("Access-Control-Max-Age", fmt.Sprint(*p.MaxAge), "cors_allowed cors_preflight")
	}
	if e := exposed(p); len(e) > 0 {
		set("Access-Control-Expose-Headers", strings.Join(e, ", "), "cors_allowed !cors_preflight")
	}
	resp.WriteString("http-after-response add-header Vary Origin\n")
	return []diagnosis.SnippetPart{
		{Slot: "cors_request", Where: "In the frontend, before any http-request auth or deny rule", Text: req.String()},
		{Slot: "cors_response", Where: "In the frontend (http-after-response, not http-response: it also covers haproxy's own answers)", Text: resp.String()},
	}
}

// Express 5 with the npm cors package: cors() first, before
// authentication, routes and error handlers, with the policy's options
// (never the default, which allows every origin with *).
var expressStack = diagnosis.Register(&diagnosis.Stack{Name: "express", Title: "Express (npm cors)", Verified: true,
	Detect: []diagnosis.DetectRule{{Header: "x-powered-by", Match: regexp.MustCompile(`(?i)express`)}},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: expressWhy[cause], Parts: ExpressCORS(p)}, true
	}})

var expressWhy = map[string]string{
	"wildcard-all-origins": "cors() with no options sends Access-Control-Allow-Origin: * to everyone; give it the origin list.",
	"auth-before-cors":     "middleware runs in the order of app.use: cors() must come before the authentication middleware, or the 401 answers preflights.",
	"no-cors-on-errors":    "cors() must run before the middleware and routes that can answer with an error, so the headers are already on the response.",
	"fixed-origin":         "origin: \"https://...\" (a string) sends that value to every origin; give a list, and cors echoes the matching one.",
	"options-not-routed":   "app.options('/{*splat}', cors(opts)) answers preflights on every path (Express 5 syntax; '*' crashes Express 5 at start-up).",
}

// ExpressCORS is the Express 5 setup that implements a policy. The Express
// fixture runs exactly this code.
func ExpressCORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	js := func(list []string) string {
		q := make([]string, len(list))
		for i, s := range list {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	var b strings.Builder
	b.WriteString("const cors = require(\"cors\");\nconst corsOptions = {\n")
	if contains(p.Origins, "*") {
		b.WriteString("  origin: \"*\",\n")
	} else {
		var items []string
		for _, o := range p.Origins {
			if strings.Contains(o, "://*.") {
				items = append(items, "/"+strings.ReplaceAll(originRegexp(&scenarios.Policy{Origins: []string{o}}), "/", "\\/")+"/")
			} else {
				items = append(items, fmt.Sprintf("%q", o))
			}
		}
		b.WriteString("  origin: [" + strings.Join(items, ", ") + "],\n")
	}
	b.WriteString("  methods: " + js(policyMethods(p)) + ",\n")
	if len(p.Headers) > 0 {
		b.WriteString("  allowedHeaders: " + js(p.Headers) + ",\n")
	}
	if e := exposed(p); len(e) > 0 {
		b.WriteString("  exposedHeaders: " + js(e) + ",\n")
	}
	b.WriteString(fmt.Sprintf("  credentials: %t,\n", p.Credentials))
	if p.MaxAge != nil {
		b.WriteString(fmt.Sprintf("  maxAge: %d,\n", *p.MaxAge))
	}
	b.WriteString("};\napp.use(cors(corsOptions));\napp.options(\"/{*splat}\", cors(corsOptions)); // Express 5 path syntax\n")
	return []diagnosis.SnippetPart{{Slot: "cors", Where: "First, before authentication, routes and error handlers", Text: b.String()}}
}
