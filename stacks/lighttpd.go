package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// lighttpd (Debian's 1.4, mod_setenv built in, mod_magnet from
// lighttpd-modules-lua): a $REQUEST_HEADER["Origin"] condition per allowed
// origin with setenv.set-response-header (on every answer, lighttpd's own
// 401s included), Vary: Origin everywhere, and a mod_magnet Lua script that
// answers preflights with 204 in the raw-URL phase, before mod_auth and the
// proxy (the usual mod_setenv recipe leaves OPTIONS to the backend).
var lighttpdStack = diagnosis.Register(&diagnosis.Stack{Name: "lighttpd", Title: "lighttpd (mod_setenv + mod_magnet)", Verified: true, Layer: diagnosis.LayerProxy,
	Signals: []diagnosis.Signal{diagnosis.HeaderSignal("server", `(?i)^lighttpd`)},
	Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
		if !corsCauses[cause] {
			return diagnosis.StackFix{}, false
		}
		return diagnosis.StackFix{Why: lighttpdWhy[cause], Parts: LighttpdCORS(p)}, true
	},
	Mechanisms: map[string]string{
		"auth-before-cors":     "mod_auth refuses the preflight before the modules listed after it in server.modules run (mod_magnet's OPTIONS answer among them)",
		"no-cors-on-errors":    "mod_setenv listed after mod_auth in server.modules never sees the requests mod_auth refuses, so its 401 carries no CORS headers",
		"preflight-status":     "mod_setenv only adds headers: lighttpd passes OPTIONS to the backend, which does not answer it",
		"wildcard-all-origins": "setenv.add-response-header sends the same Access-Control-Allow-Origin to every origin",
	},
})

var lighttpdWhy = map[string]string{
	"options-not-routed":   "answer preflights in a mod_magnet script (magnet.attract-raw-url-to runs before mod_auth and mod_proxy).",
	"wildcard-all-origins": "set the CORS headers inside a $REQUEST_HEADER[\"Origin\"] == \"...\" condition per allowed origin.",
	"auth-before-cors":     "mod_magnet's attract-raw-url-to phase comes before mod_auth: answer OPTIONS there.",
}

// LighttpdCORS is the lighttpd configuration of a policy: the conditions
// (lighttpd.conf) and the preflight script (/etc/lighttpd/cors.lua). The
// lighttpd fixture runs exactly these.
func LighttpdCORS(p *scenarios.Policy) []diagnosis.SnippetPart {
	var conf strings.Builder
	conf.WriteString("setenv.add-response-header = ( \"Vary\" => \"Origin\" )\n")
	for _, o := range exactOrigins(p) {
		fmt.Fprintf(&conf, "$REQUEST_HEADER[\"Origin\"] == %q {\n  setenv.set-response-header = (\n    \"Access-Control-Allow-Origin\" => %q,\n", o, o)
		if p.Credentials {
			conf.WriteString("    \"Access-Control-Allow-Credentials\" => \"true\",\n")
		}
		if e := exposed(p); len(e) > 0 {
			fmt.Fprintf(&conf, "    \"Access-Control-Expose-Headers\" => %q,\n", strings.Join(e, ", "))
		}
		conf.WriteString("  )\n}\n")
	}
	conf.WriteString("magnet.attract-raw-url-to = ( \"/etc/lighttpd/cors.lua\" )\n")
	var lua strings.Builder
	lua.WriteString("-- Preflights end here, before mod_auth and mod_proxy; the Origin\n-- conditions in lighttpd.conf add Access-Control-Allow-Origin.\nlocal r = lighty.r\n")
	lua.WriteString("if r.req_attr[\"request.method\"] == \"OPTIONS\" and r.req_header[\"Access-Control-Request-Method\"] then\n")
	var conds []string
	for _, o := range exactOrigins(p) {
		conds = append(conds, fmt.Sprintf("r.req_header[\"Origin\"] == %q", o))
	}
	fmt.Fprintf(&lua, "  if %s then\n", strings.Join(conds, " or "))
	fmt.Fprintf(&lua, "    r.resp_header[\"Access-Control-Allow-Methods\"] = %q\n", strings.Join(policyMethods(p), ", "))
	if len(p.Headers) > 0 {
		fmt.Fprintf(&lua, "    r.resp_header[\"Access-Control-Allow-Headers\"] = %q\n", strings.Join(p.Headers, ", "))
	}
	fmt.Fprintf(&lua, "    r.resp_header[\"Access-Control-Max-Age\"] = \"%d\"\n", maxAgeSeconds(p))
	lua.WriteString("  end\n  return 204\nend\nreturn 0\n")
	return []diagnosis.SnippetPart{
		{Slot: "modules", Where: "server.modules (your other modules after these)",
			Replaces: "# mod_setenv and mod_magnet first: a module listed after mod_auth never sees a request mod_auth refuses.",
			Text:     "server.modules = ( \"mod_setenv\", \"mod_magnet\", \"mod_auth\", \"mod_authn_file\", \"mod_proxy\" )\n"},
		{Slot: "cors", Where: "In lighttpd.conf", Replaces: "# Replaces every Access-Control-* setenv line.", Text: conf.String()},
		{Slot: "lua", Where: "In /etc/lighttpd/cors.lua", Text: lua.String()},
	}
}

// The lighttpd configurations people ship, each failing in exactly its
// known ways.
var _ = addVariants(
	Variant{Stack: "lighttpd", Name: "lighttpd-setenv-recipe", Source: "the usual mod_setenv recipe: fixed Access-Control-* response headers with *, OPTIONS left to the backend",
		Slots: Slots{"cors": `setenv.add-response-header = (
  "Access-Control-Allow-Origin" => "*",
  "Access-Control-Allow-Headers" => "accept, origin, x-requested-with, content-type, x-transmission-session-id",
  "Access-Control-Expose-Headers" => "X-Transmission-Session-Id",
  "Access-Control-Allow-Methods" => "GET, POST, OPTIONS"
)
`},
		Findings: []string{"auth-before-cors", "expose-missing", "no-cors-on-errors", "preflight-status", "wildcard-all-origins"}},
)
