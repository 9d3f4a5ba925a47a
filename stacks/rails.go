package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Rails and Rack with rack-cors (Debian's ruby-rack-cors 1.1): Rack::Cors
// first in the middleware stack (Rails: insert_before 0), one allow block
// with the policy's lists, and exceptions turned into a 500 inside it (an
// exception passes Rack::Cors on its way out, and the server's own 500
// carries no CORS headers; Rails' ShowExceptions sits inside Rack::Cors
// when it is inserted at 0). Its characteristic answers: an empty 200
// preflight, and Access-Control-Allow-Methods and -Max-Age on actual
// responses too.
var railsStack = diagnosis.Register(&diagnosis.Stack{Name: "rails", Title: "Rails / Rack (rack-cors)", Verified: true, Layer: diagnosis.LayerApp,
	Signals: []diagnosis.Signal{
		diagnosis.HeaderSignal("server", `(?i)puma|webrick|passenger`),
		diagnosis.HeaderSignal("x-runtime", `^[0-9.]+$`),
		{What: "rack-cors's Access-Control-Allow-Methods and -Max-Age on actual responses", CORS: true, Seen: func(a diagnosis.Answer) (string, bool) {
			_, m := a.Header("access-control-allow-methods")
			age, ok := a.Header("access-control-max-age")
			_, server := a.Header("server") // puma sends none; a proxy that sends these lines names itself
			if !a.Preflight && m && ok && !server {
				return "Access-Control-Max-Age: " + age + " on an actual response", true
			}
			return "", false
		}},
	},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: railsWhy[cause], Parts: RackCORS(p, cause)}, true
	},
	Mechanisms: map[string]string{
		"no-cors-on-errors":    "an answer made in front of Rack::Cors (a middleware before it) or the server's own 500 for an exception (which passes Rack::Cors on its way out) carries no CORS headers",
		"no-cors-on-preflight": "rack-cors answers a preflight for a method or header outside its lists with an empty 200, no CORS headers at all",
		"auth-before-cors":     "a middleware in front of Rack::Cors answered the preflight (Rails: insert_before 0 puts Rack::Cors in front of every other middleware)",
		"max-age":              "rack-cors sends max_age: 7200 unless the resource says otherwise",
		"origin-match":         "an origins regexp without \\A and \\z matches anywhere in the Origin",
	},
})

var railsWhy = map[string]string{
	"auth-before-cors":  "insert_before 0 puts Rack::Cors in front of every other middleware, authentication included.",
	"no-cors-on-errors": "turn exceptions into a 500 in a middleware inside Rack::Cors (Rails does, with ShowExceptions, when Rack::Cors is inserted at 0).",
	"origin-match":      "list exact origins (strings), or anchor a regexp with \\A and \\z.",
}

// RackCORS is the rack-cors configuration of a policy. The Rack fixture
// runs exactly these lines (Rails takes the same allow block).
func RackCORS(p *scenarios.Policy, cause string) []diagnosis.SnippetPart {
	methods := make([]string, 0, len(p.Methods)+2)
	for _, m := range append(policyMethods(p), "HEAD") {
		if s := ":" + strings.ToLower(m); !contains(methods, s) {
			methods = append(methods, s)
		}
	}
	var origins []string
	for _, o := range p.Origins {
		if strings.Contains(o, "://*.") {
			origins = append(origins, "/\\A"+strings.TrimSuffix(strings.TrimPrefix(originRegexp(&scenarios.Policy{Origins: []string{o}}), "^"), "$")+"\\z/")
		} else {
			origins = append(origins, fmt.Sprintf("%q", o))
		}
	}
	var b strings.Builder
	b.WriteString("# Rails: config/initializers/cors.rb, the same allow block in\n")
	b.WriteString("#   Rails.application.config.middleware.insert_before 0, Rack::Cors do ... end\n")
	b.WriteString("use Rack::Cors do\n  allow do\n")
	fmt.Fprintf(&b, "    origins %s\n", strings.Join(origins, ", "))
	fmt.Fprintf(&b, "    resource \"*\", headers: [%s], methods: [%s],\n", quoted(p.Headers, `"`), strings.Join(methods, ", "))
	fmt.Fprintf(&b, "      expose: [%s], credentials: %t, max_age: %d\n", quoted(exposed(p), `"`), p.Credentials, maxAgeSeconds(p))
	b.WriteString("  end\nend\n")
	errors := `# Inside Rack::Cors (used after it): an exception becomes a 500 that
# passes Rack::Cors, so it carries the CORS headers.
class ErrorsAsJSON
  def initialize(app)
    @app = app
  end

  def call(env)
    @app.call(env)
  rescue StandardError
    [500, { "content-type" => "application/json" }, ['{"error":"internal server error"}']]
  end
end
use ErrorsAsJSON
`
	parts := []diagnosis.SnippetPart{
		{Slot: "cors", Where: "First in the middleware stack (config.ru, or Rails' insert_before 0)",
			Replaces: "# Replaces every Rack::Cors block.", Text: b.String()},
		{Slot: "errors", Where: "After Rack::Cors (Rails: ActionDispatch::ShowExceptions does this)", Text: errors},
	}
	if cause == "auth-before-cors" || cause == "no-cors-on-errors" {
		parts = append(parts,
			diagnosis.SnippetPart{Slot: "auth", Replaces: "# Take your authentication middleware out of the place in front of Rack::Cors:", Text: "\n"},
			diagnosis.SnippetPart{Slot: "auth_late", Where: "After Rack::Cors", Text: "use Authentication  # your authentication middleware, now behind Rack::Cors\n"})
	}
	return parts
}

// The rack-cors configurations people ship, each failing in exactly its
// known ways (rack-cors's README and issues).
var _ = addVariants(
	Variant{Stack: "rails", Name: "rack-cors-readme", Default: DefaultOutOfTheBox, Source: "the README's allow block: origins as an unanchored regexp, methods [:get, :post, :options], headers :any, no max_age",
		Base: true, Slots: Slots{"cors": `use Rack::Cors do
  allow do
    origins /app\.example\.com/
    resource "*", headers: :any, methods: [:get, :post, :options], credentials: true
  end
end
`},
		Findings: []string{"expose-missing", "extra-headers", "max-age", "no-cors-on-preflight", "origin-match"}},
	Variant{Stack: "rails", Name: "rack-cors-not-first", Source: "an authentication middleware in front of Rack::Cors (config.middleware.use Rack::Cors instead of insert_before 0)",
		Base: true, Slots: Slots{"auth": "use Authentication  # in front of Rack::Cors\n"},
		Findings: []string{"auth-before-cors", "no-cors-on-errors"}},
	Variant{Stack: "rails", Name: "rack-cors-500", Source: "rack-cors without an exception handler inside it: the server's 500 carries no CORS headers",
		Base: true, Slots: Slots{"errors": "# (no exception handling of our own)\n"},
		Findings: []string{"no-cors-on-errors"}},
)
