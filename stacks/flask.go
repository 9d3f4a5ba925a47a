package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Flask with Flask-CORS (Debian's python3-flask-cors 3.0): one CORS(app,
// resources=...) call with the policy's lists, a before_request hook that
// answers preflights before authentication and routing (Flask answers 404
// to an OPTIONS on a path it does not know, and a before_request auth hook
// answers 401), and Vary: Origin on every answer (Flask-CORS adds it only
// for several origins). Its characteristic answers: a preflight answered by
// Flask's automatic OPTIONS (200 with an Allow header), and Flask-CORS's
// Access-Control-Allow-Methods, the sorted method list.
var flaskStack = diagnosis.Register(&diagnosis.Stack{Name: "flask", Title: "Flask (Flask-CORS)", Verified: true, Layer: diagnosis.LayerApp,
	Signals: []diagnosis.Signal{
		diagnosis.HeaderSignal("server", `(?i)werkzeug`),
		{What: "Flask's automatic OPTIONS answer (200 with Allow) carrying the CORS headers", CORS: true, Seen: func(a diagnosis.Answer) (string, bool) {
			allow, okA := a.Header("allow")
			_, okO := a.Header("access-control-allow-origin")
			ct, _ := a.Header("content-type")
			if a.Preflight && a.Status == 200 && okA && okO && strings.HasPrefix(ct, "text/html") {
				return "preflight 200 with Allow: " + allow + " and Content-Type: text/html", true
			}
			return "", false
		}},
	},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: flaskWhy[cause], Parts: FlaskCORS(p, cause)}, true
	},
	Mechanisms: map[string]string{
		"auth-before-cors":   "a before_request hook that checks authentication runs for OPTIONS too, and its 401 answers the preflight (Flask-CORS only adds headers to it)",
		"options-not-routed": "Flask answers an OPTIONS on a path it does not route with 404, and Flask-CORS only adds its headers to that 404",
		"preflight-status":   "Flask answers an OPTIONS on a path it does not route with 404, and Flask-CORS only adds its headers to that 404",
		"reflect-any-origin": "Flask-CORS's default origins='*' echoes the request's Origin (send_wildcard is off), and with supports_credentials=True it adds Access-Control-Allow-Credentials: true to it",
		"vary-missing":       "Flask-CORS adds Vary: Origin only when several origins (or a regex) are allowed",
	},
})

var flaskWhy = map[string]string{
	"reflect-any-origin": "CORS(app) with the default origins='*' echoes any Origin; list the origins (resources={r\"/api/*\": {\"origins\": [...]}}).",
	"auth-before-cors":   "exempt OPTIONS from the before_request authentication hook (and answer preflights before it).",
	"preflight-status":   "answer preflights in a before_request hook (make_default_options_response) so a path Flask does not route still gets a 2xx preflight.",
	"options-not-routed": "answer preflights in a before_request hook (make_default_options_response) so a path Flask does not route still gets a 2xx preflight.",
	"vary-missing":       "add Vary: Origin in an after_request hook: Flask-CORS adds it only for several origins.",
}

// FlaskCORS is the Flask-CORS configuration of a policy, for the place
// where the app is created: it replaces every CORS(...) call and
// @cross_origin decorator. The Flask fixture runs exactly these lines.
func FlaskCORS(p *scenarios.Policy, cause string) []diagnosis.SnippetPart {
	origins := pyOrigins(p)
	var b strings.Builder
	fmt.Fprintf(&b, "CORS(app, resources={r\"/*\": {\"origins\": %s}},\n", origins)
	fmt.Fprintf(&b, "     methods=[%s],\n", quoted(policyMethods(p), `"`))
	fmt.Fprintf(&b, "     allow_headers=[%s],\n", quoted(p.Headers, `"`))
	fmt.Fprintf(&b, "     expose_headers=[%s],\n", quoted(exposed(p), `"`))
	fmt.Fprintf(&b, "     supports_credentials=%s, max_age=%d)\n\n\n", pyBool(p.Credentials), maxAgeSeconds(p))
	b.WriteString(`@app.before_request
def answer_preflight():
    # Preflights are answered here, before authentication and routing: a
    # path Flask does not route would answer 404. Flask-CORS adds its headers.
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return app.make_default_options_response()


@app.after_request
def vary_origin(response):
    response.vary.add("Origin")  # Flask-CORS adds it only for several origins
    return response
`)
	parts := []diagnosis.SnippetPart{{Slot: "cors", Where: "Where the app is created, once",
		Replaces: "# Replaces every CORS(...) call and @cross_origin decorator of the app.", Text: b.String()}}
	if cause == "auth-before-cors" {
		parts = append([]diagnosis.SnippetPart{{Slot: "auth", Where: "Your before_request authentication hook",
			Replaces: "# The same hook, with OPTIONS let through (needs_sign_in stands for your check).",
			Text: `@app.before_request
def require_user():
    # OPTIONS is exempt: preflights carry no credentials.
    if request.method != "OPTIONS" and needs_sign_in(request):
        return jsonify(error="sign in"), 401, {"WWW-Authenticate": 'Basic realm="api"'}
`}}, parts...)
	}
	return parts
}

// pyOrigins is the policy's origins as a Python list (a *.domain pattern as
// an anchored regex string, which Flask-CORS and Starlette accept).
func pyOrigins(p *scenarios.Policy) string {
	var items []string
	for _, o := range p.Origins {
		if strings.Contains(o, "://*.") {
			items = append(items, "r\""+originRegexp(&scenarios.Policy{Origins: []string{o}})+"\"")
			continue
		}
		items = append(items, fmt.Sprintf("%q", o))
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// The Flask-CORS configurations people ship, each failing in exactly its
// known ways (Flask-CORS's documentation and issues).
var _ = addVariants(
	Variant{Stack: "flask", Name: "flask-cors-default", Default: DefaultOutOfTheBox, Source: "CORS(app), the quick start: origins='*' echoes any Origin (send_wildcard is off), without Access-Control-Allow-Credentials",
		Slots:    Slots{"cors": "CORS(app)\n"},
		Findings: []string{"acac-missing", "expose-missing", "extra-headers", "extra-methods", "max-age", "preflight-status", "reflect-any-origin"}},
	Variant{Stack: "flask", Name: "flask-cors-credentials-any-origin", Default: DefaultCredentials, Source: "CORS(app, supports_credentials=True), the usual answer to 'credentials do not work': any site can read credentialed answers",
		Slots:    Slots{"cors": "CORS(app, supports_credentials=True)\n"},
		Findings: []string{"expose-missing", "extra-headers", "extra-methods", "max-age", "preflight-status", "reflect-any-origin"}},
	Variant{Stack: "flask", Name: "flask-before-request-auth", Source: "a before_request authentication hook registered before CORS(app, ...), without exempting OPTIONS",
		Slots: Slots{"auth": `@app.before_request
def require_user():
    if needs_sign_in(request):
        return jsonify(error="sign in"), 401, {"WWW-Authenticate": 'Basic realm="api"'}
`},
		Base:     true,
		Findings: []string{"auth-before-cors"}},
)
