package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Django with django-cors-headers (Debian's python3-django-cors-headers
// 3.14): CorsMiddleware first in MIDDLEWARE (before CommonMiddleware and
// any authentication), corsheaders once in INSTALLED_APPS, and the policy's
// lists as CORS_* settings, with the settings that allow more (every
// origin, regexes) set to nothing. The snippet's statements are idempotent:
// they work on a project that already has the middleware. Its
// characteristic answers: Vary: origin in lower case, and Django's default
// security headers (X-Frame-Options: DENY, X-Content-Type-Options).
var djangoStack = diagnosis.Register(&diagnosis.Stack{Name: "django", Title: "Django (django-cors-headers)", Verified: true, Layer: diagnosis.LayerApp,
	Signals: []diagnosis.Signal{
		{What: "django-cors-headers' preflight answer (an empty Django HttpResponse: 200, text/html, no Allow)", CORS: true, Seen: func(a diagnosis.Answer) (string, bool) {
			ct, _ := a.Header("content-type")
			_, allow := a.Header("allow")
			_, cors := a.Header("access-control-allow-origin")
			if a.Preflight && a.Status == 200 && ct == "text/html; charset=utf-8" && !allow && cors {
				return "preflight 200 Content-Type: text/html; charset=utf-8 without Allow", true
			}
			return "", false
		}},
		diagnosis.HeaderSignal("x-frame-options", `^DENY$`),
		diagnosis.HeaderSignal("cross-origin-opener-policy", `^same-origin$`),
	},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: djangoWhy[cause], Parts: DjangoCORS(p)}, true
	},
	Mechanisms: map[string]string{
		"auth-before-cors":   "a middleware listed before corsheaders.middleware.CorsMiddleware answered the preflight (Django runs MIDDLEWARE top down)",
		"no-cors-on-errors":  "a middleware listed before corsheaders.middleware.CorsMiddleware answered, so its answer never passed CorsMiddleware (Django runs MIDDLEWARE top down)",
		"reflect-any-origin": "CORS_ALLOW_ALL_ORIGINS = True echoes every Origin, and with CORS_ALLOW_CREDENTIALS = True adds Access-Control-Allow-Credentials: true to it",
		"origin-match":       "a CORS_ALLOWED_ORIGIN_REGEXES entry matches more than the allowed origins",
	},
})

var djangoWhy = map[string]string{
	"auth-before-cors":   "CorsMiddleware must come first in MIDDLEWARE: a middleware above it answers OPTIONS before it can.",
	"reflect-any-origin": "set CORS_ALLOW_ALL_ORIGINS = False (and the old CORS_ORIGIN_ALLOW_ALL) and list CORS_ALLOWED_ORIGINS.",
	"origin-match":       "drop CORS_ALLOWED_ORIGIN_REGEXES (or anchor and escape each regex) and list the exact origins.",
}

// DjangoCORS is the django-cors-headers configuration of a policy, for the
// end of settings.py. The Django fixture runs exactly these lines.
func DjangoCORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	var b strings.Builder
	b.WriteString("# corsheaders once, and CorsMiddleware first (before CommonMiddleware and any authentication):\n")
	b.WriteString("INSTALLED_APPS = [a for a in INSTALLED_APPS if a != \"corsheaders\"] + [\"corsheaders\"]\n")
	b.WriteString("MIDDLEWARE = [\"corsheaders.middleware.CorsMiddleware\"] + [m for m in MIDDLEWARE if m != \"corsheaders.middleware.CorsMiddleware\"]\n")
	b.WriteString("# Nothing beyond the list: these win over any earlier line of settings.py.\n")
	b.WriteString("CORS_ALLOW_ALL_ORIGINS = CORS_ORIGIN_ALLOW_ALL = False\n")
	b.WriteString("CORS_ALLOWED_ORIGIN_REGEXES = CORS_ORIGIN_REGEX_WHITELIST = []\n")
	var exact, regexes []string
	for _, o := range p.Origins {
		if strings.Contains(o, "://*.") {
			regexes = append(regexes, "r\""+originRegexp(&scenarios.Policy{Origins: []string{o}})+"\"")
		} else {
			exact = append(exact, fmt.Sprintf("%q", o))
		}
	}
	fmt.Fprintf(&b, "CORS_ALLOWED_ORIGINS = [%s]\n", strings.Join(exact, ", "))
	if len(regexes) > 0 {
		fmt.Fprintf(&b, "CORS_ALLOWED_ORIGIN_REGEXES = [%s]\n", strings.Join(regexes, ", "))
	}
	fmt.Fprintf(&b, "CORS_ALLOW_METHODS = [%s]\n", quoted(policyMethods(p), `"`))
	fmt.Fprintf(&b, "CORS_ALLOW_HEADERS = [%s]\n", quoted(p.Headers, `"`))
	fmt.Fprintf(&b, "CORS_EXPOSE_HEADERS = [%s]\n", quoted(exposed(p), `"`))
	fmt.Fprintf(&b, "CORS_ALLOW_CREDENTIALS = %s\n", pyBool(p.Credentials))
	fmt.Fprintf(&b, "CORS_PREFLIGHT_MAX_AGE = %d\n", maxAgeSeconds(p))
	return []diagnosis.SnippetPart{{Slot: "cors", Where: "At the end of settings.py",
		Replaces: "# Replaces every CORS_* line and the corsheaders entries of INSTALLED_APPS and MIDDLEWARE.", Text: b.String()}}
}

// The django-cors-headers configurations people ship, each failing in
// exactly its known ways (its README's warnings, its issues).
var _ = addVariants(
	Variant{Stack: "django", Name: "django-allow-all-credentials", Default: DefaultCredentials, Source: "CORS_ALLOW_ALL_ORIGINS = True with CORS_ALLOW_CREDENTIALS = True: every origin echoed, with credentials",
		Slots: Slots{"cors": `INSTALLED_APPS += ["corsheaders"]
MIDDLEWARE.insert(0, "corsheaders.middleware.CorsMiddleware")
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = True
`},
		Findings: []string{"expose-missing", "extra-methods", "headers-missing", "max-age", "reflect-any-origin"}},
	Variant{Stack: "django", Name: "django-regex-and-defaults", Source: "an unanchored CORS_ALLOWED_ORIGIN_REGEXES entry and the default lists (no X-Request-ID, no exposed headers, a day's max-age)",
		Slots: Slots{"cors": `INSTALLED_APPS += ["corsheaders"]
MIDDLEWARE.insert(0, "corsheaders.middleware.CorsMiddleware")
CORS_ALLOWED_ORIGIN_REGEXES = [r"https://.*example\.com"]
CORS_ALLOW_CREDENTIALS = True
`},
		Findings: []string{"expose-missing", "extra-methods", "headers-missing", "max-age", "origin-match"}},
	Variant{Stack: "django", Name: "django-middleware-order", Source: "CorsMiddleware appended after the project's authentication middleware",
		Slots: Slots{"middleware": `[
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django_app.BasicAuthMiddleware",
]`, "cors": strings.Replace(DjangoCORS(mustPolicy(StackPolicy))[0].Text,
			"MIDDLEWARE = [\"corsheaders.middleware.CorsMiddleware\"] + [m for m in MIDDLEWARE if m != \"corsheaders.middleware.CorsMiddleware\"]",
			"MIDDLEWARE += [\"corsheaders.middleware.CorsMiddleware\"]", 1)},
		Findings: []string{"auth-before-cors", "no-cors-on-errors"}},
)
