package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Fastify 5 with @fastify/cors 10: registered before any hook that can
// answer (it runs in onRequest, in registration order), with the policy's
// lists (origin: true echoes every Origin; the default sends *). Its
// characteristic answer: a 204 preflight with Content-Length: 0 and a
// Vary listing Access-Control-Request-Headers.
var fastifyStack = diagnosis.Register(&diagnosis.Stack{Name: "fastify", Title: "Fastify (@fastify/cors)", Verified: true, Layer: diagnosis.LayerApp,
	Signals: []diagnosis.Signal{
		diagnosis.HeaderSignal("keep-alive", `^timeout=72$`), // Fastify's keepAliveTimeout
		{What: "@fastify/cors's preflight (204, Content-Length: 0, no Content-Type)", CORS: true, Seen: func(a diagnosis.Answer) (string, bool) {
			cl, _ := a.Header("content-length")
			_, ct := a.Header("content-type")
			ka, _ := a.Header("keep-alive")
			if a.Preflight && a.Status == 204 && cl == "0" && !ct && ka == "timeout=72" {
				return "preflight 204 Content-Length: 0, Keep-Alive: timeout=72", true
			}
			return "", false
		}},
	},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: fastifyWhy[cause], Parts: FastifyCORS(p, cause)}, true
	},
	Mechanisms: map[string]string{
		"auth-before-cors":   "an onRequest hook added before @fastify/cors was registered answered the preflight (hooks run in registration order, and an unawaited register() adds its hook later)",
		"no-cors-on-errors":  "an onRequest hook added before @fastify/cors was registered answered before the CORS headers were set",
		"reflect-any-origin": "origin: true echoes every request's Origin",
	},
})

var fastifyWhy = map[string]string{
	"auth-before-cors":   "register @fastify/cors before the authentication hook, or let OPTIONS through it.",
	"reflect-any-origin": "give origin the list of allowed origins, not true.",
}

// FastifyCORS is the @fastify/cors registration of a policy. The Fastify
// fixture runs exactly these lines.
func FastifyCORS(p *scenarios.Policy, cause string) []diagnosis.SnippetPart {
	var b strings.Builder
	b.WriteString("// Awaited, so its onRequest hook runs before the hooks added below it.\n")
	fmt.Fprintf(&b, "await app.register(require(\"@fastify/cors\"), {\n  origin: %s,\n  methods: %s,\n", jsOrigins(p), jsList(policyMethods(p)))
	fmt.Fprintf(&b, "  allowedHeaders: %s,\n  exposedHeaders: %s,\n  credentials: %t,\n  maxAge: %d,\n});\n",
		jsList(p.Headers), jsList(exposed(p)), p.Credentials, maxAgeSeconds(p))
	parts := []diagnosis.SnippetPart{{Slot: "cors", Where: "Right after creating the app, before any authentication hook",
		Replaces: "// Replaces every @fastify/cors registration.", Text: b.String()}}
	if cause == "auth-before-cors" || cause == "no-cors-on-errors" {
		parts = append(parts,
			diagnosis.SnippetPart{Slot: "auth_early", Replaces: "// Move your authentication hook below the @fastify/cors registration:", Text: "\n"},
			diagnosis.SnippetPart{Slot: "auth", Where: "Your authentication hook, after the registration", Replaces: "// The same hook, with OPTIONS let through (needsSignIn stands for your check).",
				Text: "app.addHook(\"onRequest\", async (req, reply) => {\n  if (req.method !== \"OPTIONS\" && needsSignIn(req)) {\n    return reply.code(401).header(\"WWW-Authenticate\", 'Basic realm=\"api\"').send({ error: \"sign in\" });\n  }\n});\n"})
	}
	return parts
}

// The @fastify/cors configurations people ship, each failing in exactly
// its known ways.
var _ = addVariants(
	Variant{Stack: "fastify", Name: "fastify-origin-true", Default: DefaultCredentials, Source: "origin: true with credentials: true, the README's 'reflect the request origin' option",
		Base: true, Slots: Slots{"cors": "await app.register(require(\"@fastify/cors\"), { origin: true, credentials: true, exposedHeaders: [\"X-Total-Count\"], maxAge: 600 });\n"},
		Findings: []string{"extra-headers", "extra-methods", "reflect-any-origin"}},
	Variant{Stack: "fastify", Name: "fastify-auth-hook-first", Source: "an onRequest authentication hook added before @fastify/cors is registered (or with the registration not awaited)",
		Base: true, Slots: Slots{"auth": "\n", "auth_early": "app.addHook(\"onRequest\", async (req, reply) => {\n  if (needsSignIn(req)) {\n    return reply.code(401).header(\"WWW-Authenticate\", 'Basic realm=\"api\"').send({ error: \"sign in\" });\n  }\n});\n"},
		Findings: []string{"auth-before-cors", "no-cors-on-errors"}},
)
