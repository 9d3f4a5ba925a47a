package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// A Cloudflare Worker in front of the API: written from its documentation.
var _ = unverified("cloudflare", "Cloudflare (Worker in front of the API)", []diagnosis.Signal{rule("server", `(?i)^cloudflare`), rule("cf-ray", `.`)},
	map[string]string{"multiple-acao": "Cloudflare Transform Rules and the origin both add Access-Control-Allow-Origin: keep one."},
	func(p *scenarios.Policy) string {
		return fmt.Sprintf("const allowed = [%s];\nexport default {\n  async fetch(request) {\n    const origin = request.headers.get(\"Origin\");\n    const ok = allowed.includes(origin);\n    const cors = ok ? {\"Access-Control-Allow-Origin\": origin, \"Access-Control-Allow-Credentials\": \"%t\", \"Vary\": \"Origin\"} : {\"Vary\": \"Origin\"};\n    if (request.method === \"OPTIONS\" && request.headers.has(\"Access-Control-Request-Method\")) {\n      return new Response(null, {status: 204, headers: ok ? {...cors, \"Access-Control-Allow-Methods\": %q,\n        \"Access-Control-Allow-Headers\": %q, \"Access-Control-Max-Age\": \"%d\"} : cors});\n    }\n    const upstream = await fetch(request);\n    const response = new Response(upstream.body, upstream);\n    for (const [k, v] of Object.entries(cors)) response.headers.set(k, v);\n    return response;\n  },\n};\n",
			quoted(exactOrigins(p), `"`), p.Credentials, strings.Join(policyMethods(p), ", "), strings.Join(p.Headers, ", "), maxAgeSeconds(p))
	})
