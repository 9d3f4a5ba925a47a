package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Apache httpd: SetEnvIf picks the allowed origin, Header always set sends
// the CORS headers on every status (Apache's own 401 and error pages
// included), and mod_rewrite in server context answers OPTIONS with 204
// before authentication runs.
var apacheStack = diagnosis.Register(&diagnosis.Stack{Name: "apache", Title: "Apache httpd", Verified: true, Layer: diagnosis.LayerProxy,
	Signals: []diagnosis.Signal{diagnosis.HeaderSignal("server", `(?i)^apache`)},
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

// The apache configurations people copy, each failing in exactly its known ways.
var _ = addVariants(
	Variant{Stack: "apache", Name: "article-apache", Source: "Header set without always, RewriteRule [R=200] for OPTIONS (per-directory), a fixed origin",
		Slots: Slots{"server": `Header set Access-Control-Allow-Origin "https://app.example.com"
Header set Access-Control-Allow-Methods "POST, GET, OPTIONS"
Header set Access-Control-Allow-Headers "Content-Type"
`, "location": `<Location /api>
    RewriteEngine On
    RewriteCond %{REQUEST_METHOD} OPTIONS
    RewriteRule ^(.*)$ $1 [R=200,L]
</Location>
`},
		Findings: []string{"acac-missing", "auth-before-cors", "expose-missing", "no-cors-on-errors", "no-cors-on-preflight"}},
)
