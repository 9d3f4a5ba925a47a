package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// haproxy: http-after-response (not http-response) sets the CORS headers,
// because it also runs on the answers haproxy makes itself (return, auth,
// deny, errors); preflights are answered with return 204 before any
// authentication rule.
var haproxyStack = diagnosis.Register(&diagnosis.Stack{Name: "haproxy", Title: "HAProxy", Verified: true, Layer: diagnosis.LayerProxy,
	Signals: []diagnosis.Signal{diagnosis.HeaderSignal("server", `(?i)^haproxy`)},
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

// The haproxy configurations people copy, each failing in exactly its known ways.
var _ = addVariants(
	Variant{Stack: "haproxy", Name: "haproxy-recipe", Source: "a haproxy CORS recipe: http-request return for OPTIONS after the auth rule, http-response set-header",
		Slots: Slots{"cors_response": `http-request return status 204 hdr Access-Control-Allow-Origin "https://app.example.com" hdr Access-Control-Allow-Credentials true hdr Access-Control-Allow-Methods "GET, POST, PUT, DELETE, OPTIONS" hdr Access-Control-Allow-Headers "Content-Type, Authorization, X-Request-ID" hdr Access-Control-Max-Age 600 if METH_OPTIONS
http-response set-header Access-Control-Allow-Origin "https://app.example.com"
http-response set-header Access-Control-Allow-Credentials true
http-response set-header Access-Control-Expose-Headers X-Total-Count
`},
		Findings: []string{"auth-before-cors", "no-cors-on-errors"}},
)
