package diagnosis

import (
	"strings"

	"github.com/corscheck/corscheck/scenarios"
)

// Explain is scenarios.Explain with each stack's snippet for the one
// blocked fetch: the stack's CORS configuration for a policy that allows
// exactly that request.
func Explain(o scenarios.Observation) scenarios.Explanation {
	e := scenarios.Explain(o)
	if o.Outcome == scenarios.Blocked {
		e.Snippets = observationSnippets(o.CorsError, o)
	}
	return e
}

// ExplainFor is Explain with the snippet of one stack only ("" for none):
// what a case's explanation keeps once the run's stack is known.
func ExplainFor(o scenarios.Observation, stack string) scenarios.Explanation {
	e := scenarios.Explain(o)
	if stack == "" || o.Outcome != scenarios.Blocked {
		return e
	}
	if v, ok := observationSnippets(o.CorsError, o)[stack]; ok {
		e.Snippets = map[string]string{stack: v}
	}
	return e
}

// explainCauses maps a corsError to the cause whose stack fixes apply.
var explainCauses = map[scenarios.CorsError]string{
	"MissingAllowOriginHeader": "no-acao", "AllowOriginMismatch": "origin-mismatch", "MultipleAllowOriginValues": "multiple-acao",
	"InvalidAllowOriginValue": "invalid-acao", "WildcardOriginNotAllowed": "wildcard-with-credentials", "InvalidAllowCredentials": "acac-invalid",
	"PreflightDisallowedRedirect": "preflight-redirect", "MethodDisallowedByPreflightResponse": "methods-missing",
	"HeaderDisallowedByPreflightResponse": "headers-missing", "InvalidAllowMethodsPreflightResponse": "invalid-methods-list",
	"InvalidAllowHeadersPreflightResponse": "invalid-headers-list",
}

// observationSnippets are the stack fixes for one blocked fetch: the
// stacks' CORS configuration for a policy that allows exactly that request.
func observationSnippets(ce scenarios.CorsError, o scenarios.Observation) map[string]string {
	cause, ok := explainCauses[ce]
	if !ok {
		cause, ok = explainCauses[scenarios.CorsError(strings.TrimPrefix(string(ce), "Preflight"))]
	}
	if ce == "PreflightInvalidStatus" || ce == "PreflightMissingAllowOriginHeader" && o.Preflight != nil && o.Preflight.Status >= 300 {
		cause, ok = "auth-before-cors", true
		if o.Preflight != nil && (o.Preflight.Status == 404 || o.Preflight.Status == 405) {
			cause = "options-not-routed"
		}
	}
	if !ok || o.Request.Origin == "" {
		return nil
	}
	p := &scenarios.Policy{Origins: []string{o.Request.Origin}, Methods: []string{"GET", "POST"}, Credentials: o.Request.Credentials == scenarios.CredentialsInclude}
	if m := scenarios.NormalizeMethod(o.Request.Method); !contains(p.Methods, m) && !strings.ContainsAny(m, " ,") {
		p.Methods = append(p.Methods, m)
	}
	for _, h := range o.Request.HeaderNames() {
		if !scenarios.IsSafelistedHeader(h, o.Request.Headers[h]) {
			p.Headers = append(p.Headers, h)
		}
	}
	age := 600
	p.MaxAge = &age
	out := map[string]string{}
	for _, fx := range FixesFor(&Finding{Cause: cause}, p, "") {
		out[fx.Stack] = fx.Snippet
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
