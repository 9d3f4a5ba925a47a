package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// FastAPI (and Starlette) with Starlette's CORSMiddleware (Debian's
// python3-fastapi 0.92, python3-starlette 0.26): the middleware added last
// (Starlette runs the last-added middleware first, so it is outermost, in
// front of authentication), the policy's lists, never ["*"] with
// credentials (Starlette then echoes any Origin whenever a cookie comes),
// and errors answered inside it: Starlette's ServerErrorMiddleware sits
// outside every user middleware, so the 500 it makes of an exception
// never passes CORSMiddleware. Its characteristic answers: the preflight's
// "OK" (text/plain) and its "Disallowed CORS origin" 400.
var fastapiStack = diagnosis.Register(&diagnosis.Stack{Name: "fastapi", Title: "FastAPI / Starlette (CORSMiddleware)", Verified: true, Layer: diagnosis.LayerApp,
	Signals: []diagnosis.Signal{
		diagnosis.HeaderSignal("server", `(?i)^uvicorn|hypercorn`),
		{What: "Starlette's preflight answers (200 \"OK\" or 400 \"Disallowed CORS ...\", text/plain)", CORS: true, Seen: func(a diagnosis.Answer) (string, bool) {
			ct, _ := a.Header("content-type")
			cl, _ := a.Header("content-length")
			if a.Preflight && ct == "text/plain; charset=utf-8" && (a.Status == 200 && cl == "2" || a.Status == 400) {
				if _, ok := a.Header("access-control-allow-methods"); ok {
					return fmt.Sprintf("preflight %d text/plain with Access-Control-Allow-Methods", a.Status), true
				}
			}
			return "", false
		}},
	},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: fastapiWhy[cause], Parts: FastAPICORS(p)}, true
	},
	Mechanisms: map[string]string{
		"no-cors-on-errors":    "Starlette's ServerErrorMiddleware sits outside every user middleware, so the 500 it makes of an unhandled exception never passes CORSMiddleware",
		"auth-before-cors":     "a middleware added after CORSMiddleware runs before it (Starlette runs the last-added middleware first) and answered the preflight",
		"wildcard-all-origins": "allow_origins=[\"*\"] sends * to everyone, and with allow_credentials=True Starlette echoes any Origin with Access-Control-Allow-Credentials: true whenever a Cookie header comes",
	},
})

var fastapiWhy = map[string]string{
	"no-cors-on-errors":    "catch exceptions in a middleware added before CORSMiddleware (so it runs inside it) and answer 500 there: CORSMiddleware then adds its headers.",
	"auth-before-cors":     "add CORSMiddleware last: Starlette runs the last-added middleware first, so it answers preflights before authentication.",
	"wildcard-all-origins": "list the origins in allow_origins: [\"*\"] with allow_credentials=True echoes any Origin to cookie-carrying requests.",
}

// FastAPICORS is the FastAPI configuration of a policy: an error-catching
// middleware inside, then CORSMiddleware outside. The FastAPI fixture runs
// exactly these lines.
func FastAPICORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	var origins, regexes []string
	for _, o := range p.Origins {
		if strings.Contains(o, "://*.") {
			regexes = append(regexes, originRegexp(&scenarios.Policy{Origins: []string{o}}))
		} else {
			origins = append(origins, fmt.Sprintf("%q", o))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "app.add_middleware(\n    CORSMiddleware,\n    allow_origins=[%s],\n", strings.Join(origins, ", "))
	if len(regexes) > 0 {
		fmt.Fprintf(&b, "    allow_origin_regex=r\"%s\",\n", strings.Join(regexes, "|"))
	}
	fmt.Fprintf(&b, "    allow_methods=[%s],\n    allow_headers=[%s],\n    expose_headers=[%s],\n    allow_credentials=%s,\n    max_age=%d,\n)  # added last: it runs first, before authentication\n",
		quoted(policyMethods(p), `"`), quoted(p.Headers, `"`), quoted(exposed(p), `"`), pyBool(p.Credentials), maxAgeSeconds(p))
	errors := `@app.middleware("http")
async def errors_inside_cors(request, call_next):
    # Added before CORSMiddleware, so it runs inside it: the 500 passes
    # CORSMiddleware (ServerErrorMiddleware, outside it, would send none).
    try:
        return await call_next(request)
    except Exception:
        return JSONResponse({"error": "internal server error"}, status_code=500)
`
	return []diagnosis.SnippetPart{
		{Slot: "errors", Where: "Before app.add_middleware(CORSMiddleware, ...)", Text: errors},
		{Slot: "cors", Where: "After every other add_middleware and @app.middleware",
			Replaces: "# Replaces the CORSMiddleware line (allow_origins=[\"*\"] with allow_credentials=True echoes any Origin).", Text: b.String()},
	}
}

// The CORSMiddleware configurations people ship, each failing in exactly
// its known ways (Starlette's documentation and issues).
var _ = addVariants(
	Variant{Stack: "fastapi", Name: "fastapi-500-no-cors", Source: "the documented add_middleware(CORSMiddleware, ...), no error handling: an exception's 500 carries no CORS headers",
		Base: true, Slots: Slots{"errors": "# (no error handling of our own)\n"},
		Findings: []string{"no-cors-on-errors"}},
	Variant{Stack: "fastapi", Name: "fastapi-star-credentials", Default: DefaultCredentials, Source: "allow_origins=[\"*\"] with allow_credentials=True: * for anonymous requests, any Origin echoed when a cookie comes",
		Base: true, Slots: Slots{"cors": `app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True,
                   allow_methods=["*"], allow_headers=["*"])
`},
		Findings: []string{"expose-missing", "extra-headers", "extra-methods", "wildcard-all-origins"}},
)
