package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Koa 2 with @koa/cors 5: first in app.use order, with an origin function
// that checks the allowed origins (its origin option takes one string or a
// function, never a list; with credentials: true and no origin it echoes
// every Origin). Its characteristic answer: a 204 preflight whose Vary is
// Origin only, with Access-Control-Allow-Methods as given.
var koaStack = diagnosis.Register(&diagnosis.Stack{Name: "koa", Title: "Koa (@koa/cors)", Verified: true, Layer: diagnosis.LayerApp,
	Signals: []diagnosis.Signal{
		{What: "@koa/cors's preflight (204, no body headers, a comma list without spaces)", CORS: true, Seen: func(a diagnosis.Answer) (string, bool) {
			m, _ := a.Header("access-control-allow-methods")
			_, ct := a.Header("content-type")
			_, cl := a.Header("content-length")
			v, _ := a.Header("vary")
			if a.Preflight && a.Status == 204 && !ct && !cl && v == "Origin" && strings.Contains(m, ",") && !strings.Contains(m, ", ") {
				return "preflight 204 Access-Control-Allow-Methods: " + m, true
			}
			return "", false
		}},
	},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: koaWhy[cause], Parts: KoaCORS(p)}, true
	},
	Mechanisms: map[string]string{
		"reflect-any-origin": "@koa/cors with credentials: true and no origin echoes every request's Origin",
		"auth-before-cors":   "a middleware used before cors() answered the preflight (Koa runs middleware in app.use order)",
	},
})

var koaWhy = map[string]string{
	"reflect-any-origin": "give origin a function that returns the Origin only when it is allowed (the option takes no list).",
	"auth-before-cors":   "app.use(cors(...)) first, before the authentication middleware.",
}

// KoaCORS is the @koa/cors setup of a policy. The Koa fixture runs exactly
// these lines.
func KoaCORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	var b strings.Builder
	b.WriteString("const cors = require(\"@koa/cors\");\n")
	fmt.Fprintf(&b, "app.use(cors({\n  // origin takes one string or a function, never a list: check it here.\n  origin: (ctx) => {\n    const origin = ctx.get(\"Origin\");\n    return %s ? origin : \"\";\n  },\n", jsAllowed(p, "origin"))
	fmt.Fprintf(&b, "  allowMethods: %s,\n  allowHeaders: %s,\n  exposeHeaders: %s,\n  credentials: %t,\n  maxAge: %d,\n  keepHeadersOnError: true,\n}));\n",
		jsList(policyMethods(p)), jsList(p.Headers), jsList(exposed(p)), p.Credentials, maxAgeSeconds(p))
	return []diagnosis.SnippetPart{{Slot: "cors", Where: "First in app.use order, before authentication and the routes",
		Replaces: "// Replaces every app.use(cors(...)).", Text: b.String()}}
}

// The @koa/cors configurations people ship, each failing in exactly its
// known ways.
var _ = addVariants(
	Variant{Stack: "koa", Name: "koa-cors-credentials", Default: DefaultCredentials, Source: "cors({ credentials: true }) with no origin: @koa/cors then echoes every Origin",
		Base: true, Slots: Slots{"cors": "const cors = require(\"@koa/cors\");\napp.use(cors({ credentials: true, exposeHeaders: [\"X-Total-Count\"], maxAge: 600 }));\n"},
		Findings: []string{"extra-headers", "extra-methods", "reflect-any-origin"}},
)
