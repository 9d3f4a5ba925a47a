package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// nginx: a map picks the allowed origin in http {}, add_header ... always
// sends the CORS headers on every status, and OPTIONS is answered with
// return 204 in the location (the rewrite phase, before auth_basic).
var nginxStack = diagnosis.Register(&diagnosis.Stack{Name: "nginx", Title: "nginx", Verified: true, Layer: diagnosis.LayerProxy,
	Signals: []diagnosis.Signal{diagnosis.HeaderSignal("server", `(?i)^nginx`)},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: nginxWhy[cause], Parts: NginxCORS(p)}, true
	}})

var nginxWhy = map[string]string{
	"no-cors-on-errors":    "nginx applies add_header to 2xx and 3xx answers only, unless the line ends with always: 401, 404 and 500 answers lose the CORS headers.",
	"no-cors-on-preflight": "an add_header inside if ($request_method = OPTIONS) (or any nested block) replaces every add_header of the location: the CORS lines must be repeated inside it.",
	"auth-before-cors":     "auth_basic runs in the access phase; return 204 for OPTIONS in the location runs in the rewrite phase, before it, so preflights never meet authentication.",
	"route-outside-cors":   "a location with add_header of its own inherits none from outside: put the CORS lines in every location that serves the API.",
	"multiple-acao":        "the app behind nginx sends Access-Control-Allow-Origin too: keep one layer (proxy_hide_header Access-Control-Allow-Origin; in nginx, or drop it in the app).",
	"wildcard-all-origins": "map $http_origin lists the allowed origins exactly; the mapped value is empty for any other origin, and nginx omits an empty header.",
	"fixed-origin":         "a fixed add_header Access-Control-Allow-Origin names one origin; the map echoes whichever allowed origin asked.",
	"reflect-any-origin":   "add_header ... $http_origin echoes any origin; map it through the list of allowed origins first.",
	"origin-match":         "a regex in the map must be anchored and escaped (~^https://app\\.example\\.com$); exact strings are safer.",
	"methods-missing":      "Access-Control-Allow-Methods lists every method clients use, in the OPTIONS block.",
}

// NginxCORS is the nginx configuration that implements a policy: the map
// (in http {}) and the location lines. The nginx fixture runs exactly
// these lines, so every nginx snippet corscheck prints is tested.
func NginxCORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	var http strings.Builder
	http.WriteString("map $http_origin $cors_origin {\n    default \"\";\n")
	for _, o := range p.Origins {
		switch {
		case o == "*":
			http.WriteString("    ~. \"*\";\n")
		case strings.Contains(o, "://*."):
			http.WriteString(fmt.Sprintf("    \"~%s\" $http_origin;\n", originRegexp(&scenarios.Policy{Origins: []string{o}})))
		default:
			http.WriteString(fmt.Sprintf("    %q $http_origin;\n", o))
		}
	}
	http.WriteString("}\n")
	creds := ""
	if p.Credentials {
		creds = "true"
	}
	http.WriteString(fmt.Sprintf("map $cors_origin $cors_credentials {\n    default \"%s\";\n    \"\" \"\";\n}\n", creds))

	common := []string{
		"add_header Access-Control-Allow-Origin $cors_origin always;",
		"add_header Access-Control-Allow-Credentials $cors_credentials always;",
		"add_header Vary Origin always;",
	}
	var loc strings.Builder
	loc.WriteString("# OPTIONS is answered here, in the rewrite phase: before auth_basic, and\n")
	loc.WriteString("# with every CORS line repeated (add_header in if replaces the outer ones).\n")
	loc.WriteString("if ($request_method = OPTIONS) {\n")
	for _, l := range common {
		loc.WriteString("    " + l + "\n")
	}
	loc.WriteString(fmt.Sprintf("    add_header Access-Control-Allow-Methods %q always;\n", strings.Join(policyMethods(p), ", ")))
	if len(p.Headers) > 0 {
		loc.WriteString(fmt.Sprintf("    add_header Access-Control-Allow-Headers %q always;\n", strings.Join(p.Headers, ", ")))
	}
	if p.MaxAge != nil {
		loc.WriteString(fmt.Sprintf("    add_header Access-Control-Max-Age %d always;\n", *p.MaxAge))
	}
	loc.WriteString("    return 204;\n}\n")
	for _, l := range common {
		loc.WriteString(l + "\n")
	}
	if e := exposed(p); len(e) > 0 {
		loc.WriteString(fmt.Sprintf("add_header Access-Control-Expose-Headers %q always;\n", strings.Join(e, ", ")))
	}
	return []diagnosis.SnippetPart{
		{Slot: "http", Where: "In http {} (a map may not appear in server or location)", Text: http.String()},
		{Slot: "location", Where: "In every location that serves the API (always: on every status)", Text: loc.String()},
	}
}

// The snippet configuration of a policy without PUT and without a max-age:
// PUT is refused, and the missing max-age must still be reported (through
// the DELETE preflight that passes).
var _ = addVariants(Variant{Stack: "nginx", Name: "nginx-no-put-no-max-age",
	Source:   "the snippet configuration without PUT and without Access-Control-Max-Age",
	Slots:    CorrectSlots("nginx", mustPolicy("origins: [https://app.example.com]\nmethods: [GET, POST, DELETE]\nheaders: [Content-Type, Authorization, X-Request-ID]\ncredentials: true\nexposeHeaders: [X-Total-Count]\n")),
	Findings: []string{"methods-missing", "max-age"}})

// The nginx configurations people copy, each failing in exactly its known ways.
var _ = addVariants(
	Variant{Stack: "nginx", Name: "article-nginx", Source: "the enable-cors.org nginx block: a fixed origin, add_header without always, an OPTIONS if block",
		Slots: Slots{"location": `if ($request_method = 'OPTIONS') {
    add_header 'Access-Control-Allow-Origin' 'https://app.example.com';
    add_header 'Access-Control-Allow-Methods' 'GET, POST, OPTIONS';
    add_header 'Access-Control-Allow-Headers' 'DNT,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range';
    add_header 'Access-Control-Max-Age' 1728000;
    add_header 'Content-Type' 'text/plain; charset=utf-8';
    add_header 'Content-Length' 0;
    return 204;
}
add_header 'Access-Control-Allow-Origin' 'https://app.example.com';
add_header 'Access-Control-Allow-Methods' 'GET, POST, OPTIONS';
add_header 'Access-Control-Allow-Headers' 'DNT,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range';
add_header 'Access-Control-Expose-Headers' 'Content-Length,Content-Range';
`},
		// The fixed origin without Access-Control-Allow-Credentials lets
		// requests without credentials through, and there script cannot
		// read X-Total-Count: only exposed Content-Length, Content-Range.
		Findings: []string{"acac-missing", "expose-missing", "no-cors-on-errors", "headers-missing", "methods-missing", "max-age"}},
	Variant{Stack: "nginx", Name: "nginx-if-replaces", Source: "CORS lines outside an OPTIONS if block that has add_header lines of its own",
		Slots: Slots{"location": `add_header Access-Control-Allow-Origin $http_origin always;
add_header Access-Control-Allow-Credentials true always;
add_header Access-Control-Expose-Headers X-Total-Count always;
add_header Vary Origin always;
if ($request_method = OPTIONS) {
    add_header Access-Control-Allow-Methods "GET, POST, PUT, DELETE, OPTIONS";
    add_header Access-Control-Allow-Headers "Content-Type, Authorization, X-Request-ID";
    add_header Access-Control-Max-Age 600;
    return 204;
}
`},
		Findings: []string{"no-cors-on-preflight", "reflect-any-origin"}},
)
