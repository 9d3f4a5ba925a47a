package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Hono 4 with hono/cors: on every path ("*"), before authentication, with
// the policy's origins as a list (the default sends *; an origin function
// that returns its argument echoes everyone).
var honoStack = diagnosis.Register(&diagnosis.Stack{Name: "hono", Title: "Hono (hono/cors)", Verified: true, Layer: diagnosis.LayerApp,
	Signals: []diagnosis.Signal{
		{What: "hono/cors's preflight (204 with Content-Type: text/plain; charset=UTF-8)", CORS: true, Seen: func(a diagnosis.Answer) (string, bool) {
			if ct, _ := a.Header("content-type"); a.Preflight && a.Status == 204 && ct == "text/plain; charset=UTF-8" {
				return "preflight 204 Content-Type: " + ct, true
			}
			return "", false
		}},
	},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: honoWhy[cause], Parts: HonoCORS(p)}, true
	},
	Mechanisms: map[string]string{
		"wildcard-all-origins": "cors() with no origin sends Access-Control-Allow-Origin: * (with credentials: true too, which browsers refuse)",
		"route-outside-cors":   "app.use(\"/api/items/*\", cors(...)) covers only the paths its pattern matches",
		"options-not-routed":   "cors() mounted on a path pattern answers only the preflights its pattern matches; Hono answers 404 to the others",
		"no-cors-on-errors":    "cors() mounted on a path pattern adds nothing to the answers of paths outside it",
	},
})

var honoWhy = map[string]string{
	"wildcard-all-origins": "give origin the list of allowed origins.",
	"route-outside-cors":   "mount cors() on \"*\" (or on every API path), before the routes.",
}

// HonoCORS is the hono/cors setup of a policy. The Hono fixture runs
// exactly these lines.
func HonoCORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	var b strings.Builder
	fmt.Fprintf(&b, "app.use(\"*\", cors({\n  origin: (origin) => (%s ? origin : null),\n", jsAllowed(p, "origin"))
	fmt.Fprintf(&b, "  allowMethods: %s,\n  allowHeaders: %s,\n  exposeHeaders: %s,\n  credentials: %t,\n  maxAge: %d,\n}));\n",
		jsList(policyMethods(p)), jsList(p.Headers), jsList(exposed(p)), p.Credentials, maxAgeSeconds(p))
	return []diagnosis.SnippetPart{{Slot: "cors", Where: "Before the routes and authentication",
		Replaces: "// Replaces every app.use(..., cors(...)).", Text: b.String()}}
}

// The hono/cors configurations people ship, each failing in exactly its
// known ways.
var _ = addVariants(
	Variant{Stack: "hono", Name: "hono-default-credentials", Default: DefaultCredentials, Source: "cors({ credentials: true }) with the default origin *",
		Base: true, Slots: Slots{"cors": "app.use(\"*\", cors({ credentials: true }));\n"},
		Findings: []string{"expose-missing", "extra-headers", "extra-methods", "max-age", "wildcard-all-origins"}},
	Variant{Stack: "hono", Name: "hono-path-pattern", Source: "cors() mounted on one path pattern only (app.use(\"/api/items/*\", ...)), the others outside it",
		Base: true, Slots: Slots{"cors": strings.Replace(HonoCORS(mustPolicy(StackPolicy))[0].Text, "app.use(\"*\", cors(", "app.use(\"/api/items\", cors(", 1)},
		Findings: []string{"no-cors-on-errors", "options-not-routed"}},
)
