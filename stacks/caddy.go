package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Caddy: header lines with a matcher for the allowed origins (they apply to
// every answer, errors included), respond 204 to preflights, and basicauth
// scoped to requests that are not OPTIONS (it runs before respond).
var caddyStack = diagnosis.Register(&diagnosis.Stack{Name: "caddy", Title: "Caddy", Verified: true, Layer: diagnosis.LayerProxy,
	Signals: []diagnosis.Signal{diagnosis.HeaderSignal("server", `(?i)^caddy`)},
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

// The caddy configurations people copy, each failing in exactly its known ways.
var _ = addVariants(
	Variant{Stack: "caddy", Name: "caddy-recipe", Source: "a Caddy CORS recipe: fixed header lines, respond 204 to OPTIONS, basicauth on the private path",
		Slots: Slots{"site": `@cors_preflight method OPTIONS
header Access-Control-Allow-Origin "https://app.example.com"
header Access-Control-Allow-Methods "GET, POST, PUT, DELETE, OPTIONS"
header Access-Control-Allow-Headers "Content-Type, Authorization, X-Request-ID"
respond @cors_preflight 204
`},
		Findings: []string{"acac-missing", "auth-before-cors", "expose-missing", "max-age"}},
)
