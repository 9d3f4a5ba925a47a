package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Express 5 with the npm cors package: cors() first, before
// authentication, routes and error handlers, with the policy's options
// (never the default, which allows every origin with *).
var expressStack = diagnosis.Register(&diagnosis.Stack{Name: "express", Title: "Express (npm cors)", Verified: true, Layer: diagnosis.LayerApp,
	Signals: []diagnosis.Signal{diagnosis.HeaderSignal("x-powered-by", `(?i)express`)},
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

// The express configurations people copy, each failing in exactly its known ways.
var _ = addVariants(
	Variant{Stack: "express", Name: "article-express", Default: DefaultOutOfTheBox, Source: "the article's Express setup: app.use(cors()) with no options",
		Slots:    Slots{"cors": "const cors = require(\"cors\");\napp.use(cors());\n"},
		Findings: []string{"expose-missing", "extra-headers", "extra-methods", "max-age", "wildcard-all-origins"}},
)
