package diagnosis

import (
	"fmt"
	"github.com/corscheck/corscheck/scenarios"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Judged is one case with its observation and judgement, as the cause
// model reads it.
type Judged struct {
	Case scenarios.Case
	Obs  scenarios.Observation
	scenarios.Judgement
}

// Finding is one server behaviour that made cases fail, derived from the
// observations of all its cases: one cause, one finding, however many
// corsErrors it produced; two causes, two findings, even when the browser
// reported the same corsError.
type Finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	// Message names the behaviour and what it covers.
	Message string `json:"message"`
	// Fix says what to change, for any stack.
	Fix   string   `json:"fix,omitempty"`
	Cases []string `json:"cases"`
	// Cause is the kind of server behaviour (auth-before-cors, methods-missing, ...).
	Cause    string   `json:"cause,omitempty"`
	Routes   []string `json:"routes,omitempty"`
	Methods  []string `json:"methods,omitempty"`
	Headers  []string `json:"headers,omitempty"`
	Origins  []string `json:"origins,omitempty"`
	Statuses []int    `json:"statuses,omitempty"`
	// Fixes are the fix in each stack, the detected (or --stack) one first.
	Fixes []StackFix `json:"fixes,omitempty"`
	// Engines are the browsers the finding was seen in (when several ran).
	Engines []string `json:"engines,omitempty"`
	// Stack is the stack whose fixes come first: --stack, the route's
	// stack:, or the one its answers showed; Layer is where it sits.
	Stack string `json:"stack,omitempty"`
	Layer Layer  `json:"layer,omitempty"`
	// CredentialedRead is true when hostile origins could read answers to
	// credentialed requests (the victim's cookies): the most severe kind,
	// listed first.
	CredentialedRead bool `json:"credentialedRead,omitempty"`
}

// causeFacts is what one case contributes to its cause.
type causeFacts struct {
	kind     string // cause kind
	key      string // grouping key (kind, plus what splits causes of one kind)
	severity string
	method   string
	header   string
	origin   string
	status   int
	value    string // a header value at fault (a fixed ACAO, an invalid ACAC)
	how      string // how an allow list let a request through: echo, wildcard, listed
	// credRead: a hostile origin read a credentialed answer (the victim's
	// cookies went with it when cookieSent).
	credRead, cookieSent bool
}

// causeContext is what the cause model knows across cases.
type causeContext struct {
	// corsRoutes are the routes where some answer to an allowed origin
	// carried Access-Control-Allow-Origin; servedRoutes those where some
	// actual request from an allowed origin got a 2xx answer.
	corsRoutes, servedRoutes map[string]bool
	// acaoOn2xx / acaoOnPreflight: some 2xx actual answer, some preflight
	// answer to an allowed origin carried ACAO.
	acaoOn2xx, acaoOnPreflight bool
	// reflectsAny: an unrelated origin was allowed, with its own origin echoed.
	reflectsAny bool
	// wildcard: a hostile origin was allowed by Access-Control-Allow-Origin: *.
	wildcard bool
	// fixedACAO is the ACAO value sent to every allowed origin, when fixed.
	fixedACAO string
	// acaoByMethod: some 2xx actual answer to an allowed origin, with this
	// method, carried ACAO.
	acaoByMethod map[string]bool
}

// Causes derives the findings of a run from its judged cases.
func Causes(items []Judged, p *scenarios.Policy, stacks StackChoice) []Finding {
	ctx := newCauseContext(items)
	type group struct {
		f       *Finding
		facts   []causeFacts
		routes  map[string]bool
		engines map[string]bool
	}
	groups := map[string]*group{}
	var order []string
	for _, j := range items {
		fact, ok := ctx.cause(j)
		if !ok {
			continue
		}
		g := groups[fact.key]
		if g == nil {
			g = &group{f: &Finding{ID: fact.key, Cause: fact.kind, Severity: fact.severity}, routes: map[string]bool{}, engines: map[string]bool{}}
			groups[fact.key] = g
			order = append(order, fact.key)
		}
		g.facts = append(g.facts, fact)
		g.f.Cases = append(g.f.Cases, j.Case.ID)
		g.routes[routeOf(j.Case)] = true
		if j.Obs.Engine != "" {
			g.engines[j.Obs.Engine] = true
		}
		if g.f.Fix == "" {
			g.f.Fix = j.Fix
		}
	}
	var out []Finding
	for _, k := range order {
		g := groups[k]
		f := g.f
		f.Routes = slices.Sorted(maps.Keys(g.routes))
		for _, fact := range g.facts {
			f.Methods = addUnique(f.Methods, fact.method)
			f.Headers = addUnique(f.Headers, fact.header)
			f.Origins = addUnique(f.Origins, fact.origin)
			if fact.status != 0 && !containsInt(f.Statuses, fact.status) {
				f.Statuses = append(f.Statuses, fact.status)
			}
		}
		sort.Ints(f.Statuses)
		if len(g.engines) > 1 {
			f.Engines = slices.Sorted(maps.Keys(g.engines))
		}
		d, _ := stacks.For(f.Routes)
		mechanism := ""
		if st := StackByName(d.Stack); st != nil {
			mechanism = st.Mechanisms[f.Cause]
		}
		f.Message, f.Fix = describeCause(f, g.facts, p, f.Fix, len(g.routes) > 1 || multiRoute(items), mechanism)
		if lead := credentialedRead(f, g.facts); lead != "" {
			f.CredentialedRead = true
			f.Message = lead + f.Message
		}
		if d.Stack != "" {
			f.Stack, f.Layer = d.Stack, d.Layer
			if d.Proxy != "" && d.Evidence != "" {
				f.Message += fmt.Sprintf(" The headers on %s come from the application (%s: %s); %s in front passes them through, so the fix belongs in the application.", listRoutes(f.Routes), d.Stack, d.Evidence, d.Proxy)
			}
		}
		f.Fixes = fixesFor(f, p, d)
		out = append(out, *f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return findingRank(out[i]) < findingRank(out[j])
	})
	return out
}

// findingRank orders findings: any site reading the victim's data first,
// then errors, then warnings.
func findingRank(f Finding) int {
	if f.CredentialedRead {
		return -1
	}
	return severityRank(f.Severity)
}

func severityRank(s string) int {
	if s == "error" {
		return 0
	}
	return 1
}

func multiRoute(items []Judged) bool {
	for _, j := range items {
		if j.Case.Route != "" {
			return true
		}
	}
	return false
}

func routeOf(c scenarios.Case) string { return RouteName(c.Route, c.Request.URL) }

// RouteName is the route a case probed: its route, or its URL's path.
func RouteName(route, rawURL string) string {
	if route != "" {
		return route
	}
	if u, err := url.Parse(rawURL); err == nil && u.Path != "" {
		return u.Path
	}
	return "/"
}

func newCauseContext(items []Judged) *causeContext {
	ctx := &causeContext{corsRoutes: map[string]bool{}, servedRoutes: map[string]bool{}, acaoByMethod: map[string]bool{}}
	fixed, fixedSeen, fixedOK := "", map[string]bool{}, true
	for _, j := range items {
		o := j.Obs
		if j.Case.Hostile {
			if o.Outcome == scenarios.Allowed && j.Verdict == scenarios.Fail {
				acao, _ := o.Response.Header("access-control-allow-origin")
				switch {
				case acao == "*":
					ctx.wildcard = true
				case j.Case.HostileKind == "unrelated":
					ctx.reflectsAny = true
				}
			}
			continue
		}
		if o.Response != nil && o.Response.Status >= 200 && o.Response.Status < 300 {
			ctx.servedRoutes[routeOf(j.Case)] = true
		}
		if acao, ok := o.Preflight.ResponseHeader("access-control-allow-origin"); ok && acao != "" {
			ctx.acaoOnPreflight = true
			ctx.corsRoutes[routeOf(j.Case)] = true
		}
		if acao, ok := o.Response.Header("access-control-allow-origin"); ok && acao != "" {
			ctx.corsRoutes[routeOf(j.Case)] = true
			if o.Response.Status >= 200 && o.Response.Status < 300 {
				ctx.acaoOn2xx = true
				ctx.acaoByMethod[scenarios.NormalizeMethod(j.Case.Request.Method)] = true
			}
			if acao != j.Case.Request.Origin && acao != "*" {
				fixedSeen[j.Case.Request.Origin] = true
				if fixed == "" {
					fixed = acao
				} else if fixed != acao {
					fixedOK = false
				}
			}
		}
	}
	if fixedOK && fixed != "" {
		ctx.fixedACAO = fixed
	}
	return ctx
}

// cause assigns a judged case to the server behaviour behind it; false
// for cases that did not fail.
func (ctx *causeContext) cause(j Judged) (causeFacts, bool) {
	c, o := j.Case, j.Obs
	f := causeFacts{severity: "error", method: scenarios.NormalizeMethod(c.Request.Method), origin: c.Request.Origin}
	if j.Verdict == scenarios.Error {
		if j.Inconclusive {
			f.kind, f.status = "inconclusive", j.Status
			f.key = fmt.Sprintf("inconclusive.%d", j.Status)
			return f, true
		}
		f.kind = "error-" + string(o.ErrorKind)
		if o.ErrorKind == "" {
			f.kind = "error-unknown"
		}
		f.key, f.value = f.kind, o.Error
		return f, true
	}
	if j.Verdict != scenarios.Fail {
		return f, false
	}
	if c.Severity == "warning" {
		f.severity = "warning"
	}
	if o.Outcome == scenarios.Allowed && c.Expected.Outcome == scenarios.Blocked {
		return ctx.tooPermissive(j, f), true
	}
	if c.Check == scenarios.CheckCache && j.Header == "Access-Control-Max-Age" {
		// The cache check judges the first candidate that passed, which
		// need not be the case's first request: the value it saw.
		f.kind, f.key, f.value = "max-age", "max-age", j.Value
		return f, true
	}
	if j.Header == "Set-Cookie" {
		for _, ck := range o.Cookies {
			if !ck.Sent() {
				f.kind, f.value = "cookie-blocked", ck.Name
				f.key = "cookie-blocked." + ck.Name + "." + strings.Join(ck.Blocked, "-")
				return f, true
			}
		}
	}
	if o.Outcome == scenarios.Allowed {
		switch c.Check {
		case scenarios.CheckReadable:
			f.kind, f.key = "expose-missing", "expose-missing"
			for h := range c.Expected.Readable {
				f.header = h
			}
		case scenarios.CheckUnexposed:
			f.kind, f.key = "expose-extra", "expose-extra"
			for _, n := range o.ReadableNames {
				if !scenarios.IsSafelistedResponseHeader(n) && !containsFold(c.Read, n) {
					f.header = n
				}
			}
		case scenarios.CheckCache:
			f.kind, f.key = "max-age", "max-age"
			if o.Preflight != nil {
				f.value, _ = o.Preflight.ResponseHeader("access-control-max-age")
			}
		case scenarios.CheckVary:
			f.kind, f.key = "vary-missing", "vary-missing"
		default:
			f.kind, f.key = "other", "other."+c.Family
		}
		return f, true
	}
	return ctx.blocked(j, f), true
}

// tooPermissive is the cause of a request the server let through that
// the policy refuses.
func (ctx *causeContext) tooPermissive(j Judged, f causeFacts) causeFacts {
	c, o := j.Case, j.Obs
	acao, _ := o.Response.Header("access-control-allow-origin")
	if c.Hostile && c.Request.Credentials == scenarios.CredentialsInclude {
		// The attacker's own request: a page the victim visits makes the
		// browser send the victim's cookies, and reads the answer.
		f.credRead = true
		for _, ck := range o.Cookies {
			f.cookieSent = f.cookieSent || ck.Sent()
		}
	}
	switch {
	case c.Family == "credentials":
		f.kind = "credentials-allowed"
	case c.Hostile && acao == "*" || ctx.wildcard && c.Hostile:
		f.kind = "wildcard-all-origins"
	case c.Hostile && ctx.reflectsAny:
		f.kind = "reflect-any-origin" // null included: a server that echoes anything echoes null
	case c.Hostile && c.HostileKind == "null":
		f.kind = "null-allowed"
	case c.Hostile:
		// One origin check lets in every look-alike kind it fails: one
		// finding, with the mechanism inferred from the kinds. A shared
		// hosting allowlist, a localhost rule and a listed origin are
		// other mechanisms.
		f.kind, f.value = "origin-match", c.HostileKind
		switch c.HostileKind {
		case "third-party", "localhost-prefix", "listed":
			f.key = "origin-match." + c.HostileKind
		default:
			f.key = "origin-match"
		}
		return f
	case c.Expected.CorsError == "HeaderDisallowedByPreflightResponse",
		c.Family == "disallowed" && len(scenarios.UnsafeHeaderNames(c.Request.Headers)) > 0 && scenarios.IsSafelistedMethod(scenarios.NormalizeMethod(c.Request.Method)):
		// Whatever family the case is in: the policy refuses a header the
		// preflight answer allowed. How it allowed it is in the answer.
		f.kind = "extra-headers"
		f.header = strings.Join(scenarios.UnsafeAsWritten(c.Request.Headers), ", ")
		f.method = ""
		f.value, f.how = allowListHow(o.Preflight, "headers")
	case c.Expected.CorsError == "MethodDisallowedByPreflightResponse", c.Family == "disallowed":
		f.kind = "extra-methods"
		f.value, f.how = allowListHow(o.Preflight, "method")
	default:
		f.kind = "too-permissive"
	}
	f.key = f.kind
	return f
}

// allowListHow is the preflight answer's Access-Control-Allow-Methods or
// -Headers and how it let the request through: "echo" when it repeats the
// Access-Control-Request-* header, "wildcard" for *, else "listed".
func allowListHow(pf *scenarios.Exchange, what string) (value, how string) {
	if pf == nil {
		return "", ""
	}
	value, _ = pf.ResponseHeader("access-control-allow-" + map[string]string{"headers": "headers", "method": "methods"}[what])
	asked := scenarios.HeaderValue(pf.RequestHeaders, "access-control-request-"+what)
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", "")) }
	switch {
	case strings.TrimSpace(value) == "*":
		return value, "wildcard"
	case value != "" && norm(value) == norm(asked):
		return value, "echo"
	}
	return value, "listed"
}

// allowListMechanism says how an allow list let requests through, from
// what the preflight answers showed.
func allowListMechanism(facts []causeFacts, n int, header, request string) string {
	hows := map[string]bool{}
	listed := ""
	for _, f := range facts {
		hows[f.how] = true
		if f.how == "listed" && listed == "" {
			listed = f.value
		}
	}
	switch {
	case hows["wildcard"]:
		return fmt.Sprintf("%s is *", header)
	case hows["listed"]:
		return fmt.Sprintf("%s lists %s (%q)", header, itThem(n), scenarios.Visible(listed))
	case hows["echo"]:
		return fmt.Sprintf("the server echoes %s into %s", request, header)
	}
	return fmt.Sprintf("the server echoes %s or lists too much", request)
}

// blocked is the cause of a request the policy allows that the browser
// blocked.
func (ctx *causeContext) blocked(j Judged, f causeFacts) causeFacts {
	c, o := j.Case, j.Obs
	ce := o.CorsError
	set := func(kind string) causeFacts { f.kind, f.key = kind, kind; return f }
	route := routeOf(c)
	// A route that serves content with no CORS at all while others have
	// it: served outside the CORS layer. One cause for all its symptoms.
	// (A route whose every answer is an auth refusal is not that.)
	if len(ctx.corsRoutes) > 0 && !ctx.corsRoutes[route] && ctx.servedRoutes[route] {
		if o.Preflight != nil {
			f.status = o.Preflight.Status
		}
		return set("route-outside-cors")
	}
	if pf := o.Preflight; pf != nil && ce.IsPreflight() {
		acao, hasACAO := pf.ResponseHeader("access-control-allow-origin")
		switch {
		case ce == "PreflightDisallowedRedirect", pf.Status >= 300 && pf.Status < 400 && pf.Status != 304:
			// Chrome names the redirect; Firefox says the preflight did not succeed.
			f.status = pf.Status
			return set("preflight-redirect")
		case pf.Status == 401 || pf.Status == 403 || pf.Status == 407:
			f.status = pf.Status
			return set("auth-before-cors")
		case (pf.Status == 404 || pf.Status == 405 || pf.Status == 501) && (!hasACAO || acao == ""):
			f.status = pf.Status
			return set("options-not-routed")
		case pf.Status >= 200 && pf.Status < 300 && (!hasACAO || acao == "") && ctx.acaoOn2xx:
			return set("no-cors-on-preflight")
		case pf.Status < 200 || pf.Status > 299:
			f.status = pf.Status
			return set("preflight-status")
		case ce == "MethodDisallowedByPreflightResponse":
			f.method = o.FailedParameter
			if f.method == "" {
				f.method = scenarios.NormalizeMethod(c.Request.Method) // Firefox does not name it
			}
			return set("methods-missing")
		case ce == "HeaderDisallowedByPreflightResponse":
			f.header, f.method = o.FailedParameter, ""
			return set("headers-missing")
		case ce == "InvalidAllowMethodsPreflightResponse":
			f.value = scenarios.HeaderValue(pf.ResponseHeaders, "access-control-allow-methods")
			return set("invalid-methods-list")
		case ce == "InvalidAllowHeadersPreflightResponse":
			f.value = scenarios.HeaderValue(pf.ResponseHeaders, "access-control-allow-headers")
			return set("invalid-headers-list")
		}
	}
	base := scenarios.CorsError(strings.TrimPrefix(string(ce), "Preflight"))
	var acao string
	if o.Response != nil {
		acao, _ = o.Response.Header("access-control-allow-origin")
	}
	if ce.IsPreflight() && o.Preflight != nil {
		acao, _ = o.Preflight.ResponseHeader("access-control-allow-origin")
	}
	switch {
	case ce == "RedirectContainsCredentials":
		return set("redirect-credentials")
	case o.Response != nil && o.Response.URL != "" && len(o.Redirects) > 0 && !ce.IsPreflight():
		f.value = scenarios.OriginOf(o.Response.URL)
		return set("redirect-destination")
	case base == "WildcardOriginNotAllowed" && ctx.wildcard:
		return set("wildcard-all-origins")
	case base == "WildcardOriginNotAllowed":
		return set("wildcard-with-credentials")
	case base == "MultipleAllowOriginValues":
		f.value = o.FailedParameter
		return set("multiple-acao")
	case base == "InvalidAllowOriginValue":
		f.value = o.FailedParameter
		return set("invalid-acao")
	case base == "AllowOriginMismatch" && ctx.fixedACAO != "" && acao == ctx.fixedACAO:
		f.value = acao
		return set("fixed-origin")
	case base == "AllowOriginMismatch":
		f.value = o.FailedParameter
		return set("origin-mismatch")
	case base == "InvalidAllowCredentials":
		// Chrome names the value; Firefox does not: read it from the answer.
		value, present := o.FailedParameter, o.FailedParameter != ""
		if !present {
			h := map[string]string(nil)
			if o.Response != nil {
				h = o.Response.Headers
			}
			if ce.IsPreflight() && o.Preflight != nil {
				h = o.Preflight.ResponseHeaders
			}
			value, present = scenarios.HeaderLookup(h, "access-control-allow-credentials")
		}
		if !present {
			return set("acac-missing")
		}
		f.value = value
		return set("acac-invalid")
	case base == "MissingAllowOriginHeader":
		st := 0
		if o.Response != nil {
			st = o.Response.Status
		}
		switch {
		case ce.IsPreflight():
			return set("no-acao")
		case st >= 400 && ctx.acaoOn2xx:
			f.status = st
			return set("no-cors-on-errors")
		case st >= 200 && st < 300 && ctx.acaoOn2xx && !ctx.acaoByMethod[scenarios.NormalizeMethod(c.Request.Method)]:
			return set("no-cors-for-method")
		case ctx.acaoOnPreflight && !ctx.acaoOn2xx:
			return set("no-cors-on-actual")
		}
		return set("no-acao")
	case ce.IsLocalNetworkAccess():
		return set("local-network-access")
	}
	f.value = string(ce)
	f.kind, f.key = "other", "other."+string(ce)
	return f
}

// describeCause words a finding from its facts: the mechanism, and
// everything it covers.
func describeCause(f *Finding, facts []causeFacts, p *scenarios.Policy, caseFix string, showRoutes bool, mechanism string) (msg, fix string) {
	first := facts[0]
	n := len(f.Cases)
	on := ""
	if showRoutes && len(f.Routes) > 0 {
		on = " on " + listRoutes(f.Routes)
	}
	statuses := joinInts(f.Statuses)
	origins := ""
	if vis := visibleAll(f.Origins); len(vis) > 6 {
		origins = strings.Join(vis[:6], ", ") + fmt.Sprintf(" and %d more", len(vis)-6)
	} else if len(vis) > 0 {
		origins = strings.Join(vis, ", ")
	}
	allowed := strings.Join(p.Origins, ", ")
	text := map[string][2]string{
		"route-outside-cors": {fmt.Sprintf("%s %s no CORS at all (no Access-Control-Allow-Origin on any answer%s), while other routes do: %s served outside the CORS middleware",
			listRoutes(f.Routes), hasHave(len(f.Routes)), statusNote("OPTIONS answered", statuses), itThey(len(f.Routes))),
			"Put these routes behind the same CORS layer as the others (mount them after the CORS middleware, or add the CORS headers to their location/block)."},
		"auth-before-cors": {fmt.Sprintf("OPTIONS is answered %s by authentication before CORS runs%s: preflights carry no credentials, so an auth layer in front of CORS refuses every one", statuses, on),
			"Let preflights (OPTIONS) through before authentication: answer them in the CORS layer, or exempt OPTIONS from the auth rule."},
		"options-not-routed": {fmt.Sprintf("OPTIONS is not routed%s: the preflight got %s without CORS headers", on, statuses),
			"Answer OPTIONS with 204 and the CORS headers on every route (the CORS middleware before the router, or an OPTIONS route)."},
		"preflight-redirect": {fmt.Sprintf("OPTIONS is redirected%s (%s): browsers never follow a redirect for a preflight", on, statuses),
			"Do not redirect OPTIONS (login, http→https, trailing slash): answer it at the requested URL with 204 and the CORS headers."},
		"no-cors-on-preflight": {fmt.Sprintf("preflight answers carry no CORS headers%s although actual responses do: the OPTIONS handler sends its own headers and drops the CORS ones", on),
			"Send the CORS headers (Access-Control-Allow-Origin, -Methods, -Headers, -Credentials, -Max-Age) on the answer to OPTIONS too."},
		"preflight-status": {fmt.Sprintf("preflights are answered %s%s", statuses, on), "Answer OPTIONS preflights with 204 (or 200) and the CORS headers."},
		"methods-missing": {fmt.Sprintf("Access-Control-Allow-Methods lacks %s%s (the list is case-sensitive)", strings.Join(visibleAll(f.Methods), ", "), on),
			fmt.Sprintf("List every method clients use, spelled exactly: Access-Control-Allow-Methods: %s.", strings.Join(policyMethods(p), ", "))},
		"headers-missing": {fmt.Sprintf("Access-Control-Allow-Headers lacks %s%s", strings.Join(visibleAll(f.Headers), ", "), on),
			fmt.Sprintf("List every request header clients send: Access-Control-Allow-Headers: %s (Authorization by name).", strings.Join(p.Headers, ", "))},
		"invalid-methods-list": {fmt.Sprintf("Access-Control-Allow-Methods is not a list of method names (%q)%s", scenarios.Visible(first.value), on),
			"Send Access-Control-Allow-Methods as a comma-separated list of method names."},
		"invalid-headers-list": {fmt.Sprintf("Access-Control-Allow-Headers is not a list of header names (%q)%s", scenarios.Visible(first.value), on),
			"Send Access-Control-Allow-Headers as a comma-separated list of header names."},
		"no-cors-on-errors": {fmt.Sprintf("responses with status %s carry no CORS headers%s, while 2xx responses do: the browser hides the error from the app%s", statuses, on, orGeneric(mechanism, " (an add_header/Header set without always, an error page or auth answer generated before or outside the CORS layer)")),
			"Send the CORS headers on every response, error statuses and server-generated pages included."},
		"no-cors-for-method": {fmt.Sprintf("actual %s requests get no CORS headers%s, while other methods do: the CORS layer skips methods outside its allowed list (rs/cors and go-chi/cors do, even for HEAD, which browsers send without asking)", strings.Join(visibleAll(f.Methods), ", "), on),
			fmt.Sprintf("Add %s to the CORS layer's allowed methods.", strings.Join(visibleAll(f.Methods), ", "))},
		"no-cors-on-actual": {fmt.Sprintf("actual responses carry no Access-Control-Allow-Origin%s although preflights do", on),
			"Send Access-Control-Allow-Origin (and -Credentials) on actual responses too, not only on the preflight."},
		"no-acao": {fmt.Sprintf("no response carries Access-Control-Allow-Origin%s: CORS is not configured for %s", on, allowed),
			fmt.Sprintf("Send Access-Control-Allow-Origin for the allowed origins (%s) on every response.", allowed)},
		"wildcard-all-origins": {fmt.Sprintf("every origin is allowed (Access-Control-Allow-Origin: *) although the policy lists %s: any site can read these responses, and credentialed requests fail (browsers refuse * with credentials)", allowed),
			fmt.Sprintf("Allow the listed origins only: echo the request's Origin when it is one of %s, with Access-Control-Allow-Credentials: true and Vary: Origin; send nothing to other origins.", allowed)},
		"wildcard-with-credentials": {"Access-Control-Allow-Origin is * on credentialed requests, which browsers never accept" + on,
			"For credentialed requests echo the allowed origin instead of *, with Access-Control-Allow-Credentials: true and Vary: Origin."},
		"multiple-acao": {fmt.Sprintf("Access-Control-Allow-Origin is sent twice (%s)%s: two layers (app and proxy, CDN or framework) both add it", scenarios.Visible(first.value), on),
			"Send Access-Control-Allow-Origin from one layer only: remove it from the app or from the proxy."},
		"invalid-acao": {fmt.Sprintf("Access-Control-Allow-Origin is not an origin (%s)%s", scenarios.Visible(first.value), on), "Send the origin exactly as scheme://host[:port], no path or trailing slash."},
		"fixed-origin": {fmt.Sprintf("Access-Control-Allow-Origin is the fixed value %s for every origin%s, so the other allowed origins are refused", scenarios.Visible(first.value), on),
			"Echo the request's Origin when it is one of the allowed origins (a fixed value can name one origin only), with Vary: Origin."},
		"origin-mismatch":      {fmt.Sprintf("Access-Control-Allow-Origin names another origin (%s)%s", scenarios.Visible(first.value), on), "Echo the request's exact Origin when it is allowed."},
		"acac-missing":         {"credentialed responses lack Access-Control-Allow-Credentials: true" + on, "Send Access-Control-Allow-Credentials: true (exactly) with the echoed origin on credentialed responses and preflights."},
		"acac-invalid":         {fmt.Sprintf("Access-Control-Allow-Credentials is %q, not exactly true%s", scenarios.Visible(first.value), on), "Send Access-Control-Allow-Credentials: true, lower case, exactly."},
		"redirect-credentials": {"a redirect leads to a URL with credentials in it (user:password@)" + on, "Redirect to a URL without user information."},
		"redirect-destination": {fmt.Sprintf("requests are redirected to %s%s, whose answer the browser refuses: after a redirect from one origin to another the browser sends Origin: null", scenarios.Visible(first.value), on),
			"Do not redirect CORS requests across origins, or make the destination allow them (Access-Control-Allow-Origin: * without credentials, or null)."},
		"credentials-allowed": {"credentialed requests are allowed (Access-Control-Allow-Credentials: true) although the policy says credentials: false" + on,
			"Do not send Access-Control-Allow-Credentials: true, or set credentials: true in the policy."},
		"null-allowed": {"the opaque origin null is allowed" + on + ": any page can produce it (a sandboxed iframe, a data: URL)", "Never allow Origin: null; remove \"null\" from the allowed origins."},
		"reflect-any-origin": {fmt.Sprintf("the server echoes any Origin back (%s were allowed)%s: any site can read these responses", origins, on),
			fmt.Sprintf("Compare the Origin with the allowed origins (%s) as exact strings and echo it only when it is one of them.", allowed)},
		"origin-match": {fmt.Sprintf("the origin check lets in origins the policy refuses (%s)%s: %s", origins, on, originMechanism(kindsOf(facts))),
			fmt.Sprintf("Compare the Origin with the exact allowed origins (%s) as whole strings: no prefix, suffix, substring or unanchored regex match.", allowed)},
		"extra-methods": {fmt.Sprintf("methods the policy does not allow are allowed (%s)%s: %s", strings.Join(visibleAll(f.Methods), ", "), on, allowListMechanism(facts, len(f.Methods), "Access-Control-Allow-Methods", "Access-Control-Request-Method")),
			fmt.Sprintf("List only the policy's methods in Access-Control-Allow-Methods: %s.", strings.Join(policyMethods(p), ", "))},
		"extra-headers": {fmt.Sprintf("request headers the policy does not allow are allowed (%s)%s: %s", strings.Join(visibleAll(f.Headers), ", "), on, allowListMechanism(facts, len(f.Headers), "Access-Control-Allow-Headers", "Access-Control-Request-Headers")),
			fmt.Sprintf("List only the policy's headers in Access-Control-Allow-Headers: %s.", strings.Join(p.Headers, ", "))},
		"expose-missing": {fmt.Sprintf("script cannot read %s%s: Access-Control-Expose-Headers does not list %s", strings.Join(visibleAll(f.Headers), ", "), on, itThem(len(f.Headers))),
			fmt.Sprintf("Send Access-Control-Expose-Headers: %s on actual responses.", strings.Join(p.ExposeHeaders, ", "))},
		"expose-extra": {fmt.Sprintf("script can read %s, which the policy does not expose%s", strings.Join(visibleAll(f.Headers), ", "), on),
			"Expose only the policy's exposeHeaders in Access-Control-Expose-Headers (and never *)."},
		"max-age": {fmt.Sprintf("preflights are not cached as the policy says (%s, want %s)%s", maxAgeQuote(first.value), maxAgeOf(p), on),
			fmt.Sprintf("Send Access-Control-Max-Age: %s on preflight responses.", maxAgeOf(p))},
		"vary-missing": {"Access-Control-Allow-Origin depends on the origin but responses lack Vary: Origin" + on + ", so a shared cache can serve one origin's answer to another",
			"Add Vary: Origin to every response whose Access-Control-Allow-Origin depends on the request's origin."},
		"cookie-blocked":       {fmt.Sprintf("CORS allows credentialed requests, but the browser sends no cookie %s%s", scenarios.Visible(first.value), on), caseFix},
		"inconclusive":         {fmt.Sprintf("requests from hostile origins were answered %s without CORS headers%s: they never reached the CORS layer, so whether it refuses those origins is unknown", statuses, on), scenarios.StatusFix(first.status)},
		"local-network-access": {"the browser's Local Network Access rules refused requests" + on + ": not the server's CORS policy", "Run without --local-network-access."},
	}
	if t, ok := text[f.Cause]; ok {
		msg, fix = t[0], t[1]
	} else if strings.HasPrefix(f.Cause, "error-") {
		msg, fix = fmt.Sprintf("no CORS verdict (%s)%s: %s", strings.TrimPrefix(f.Cause, "error-"), on, scenarios.Visible(first.value)), caseFix
	} else if f.Cause == "too-permissive" {
		msg, fix = "the browser allowed requests the policy refuses"+on, caseFix
	} else {
		msg, fix = "the browser blocked requests the policy allows"+on, caseFix
		if first.value != "" {
			msg = fmt.Sprintf("the browser blocked requests the policy allows (%s)%s", scenarios.Visible(first.value), on)
		}
	}
	if fix == "" {
		fix = caseFix
	}
	if mechanism != "" && f.Cause != "no-cors-on-errors" {
		msg += "; " + mechanism
	}
	return fmt.Sprintf("%s (%d case%s)", msg, n, pluralS(n)), fix
}

// maxAgeQuote is the recorded Access-Control-Max-Age for a message.
func maxAgeQuote(v string) string {
	if v == "" {
		return "no Access-Control-Max-Age"
	}
	return fmt.Sprintf("Access-Control-Max-Age: %s", scenarios.Visible(v))
}

// orGeneric is ": mechanism" when the stack names it, else the generic
// guess.
func orGeneric(mechanism, generic string) string {
	if mechanism != "" {
		return ": " + mechanism
	}
	return generic
}

// credentialedRead is the lead of a finding whose cases include hostile
// origins reading credentialed answers: who can read the victim's data,
// on which routes, and whether the cookies travelled. "" when none.
func credentialedRead(f *Finding, facts []causeFacts) string {
	n, sent := 0, 0
	for _, x := range facts {
		if x.credRead {
			n++
			if x.cookieSent {
				sent++
			}
		}
	}
	if n == 0 {
		return ""
	}
	who := "any site"
	if f.Cause == "origin-match" {
		who = "sites whose names pass the origin check"
	}
	cookies := fmt.Sprintf("the cookies travelled on %d of %d", sent, n)
	if sent == 0 {
		cookies = "no cookie travelled in this browser, but a signed-in user's would"
	}
	return fmt.Sprintf("%s can read responses sent with the victim's cookies on %s (%d credentialed request%s read by hostile origins; %s): ", capitalize(who), listRoutes(f.Routes), n, pluralS(n), cookies)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func listRoutes(rs []string) string {
	vis := visibleAll(rs)
	if len(vis) > 8 {
		return strings.Join(vis[:8], ", ") + fmt.Sprintf(" and %d more routes", len(vis)-8)
	}
	if len(vis) == 1 {
		return "route " + vis[0]
	}
	return "routes " + strings.Join(vis, ", ")
}

func statusNote(prefix, statuses string) string {
	if statuses == "" {
		return ""
	}
	return "; " + prefix + " " + statuses
}

func hasHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

func itThey(n int) string {
	if n == 1 {
		return "it is"
	}
	return "they are"
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

func visibleAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = scenarios.Visible(s)
	}
	return out
}

func addUnique(list []string, s string) []string {
	if s == "" || contains(list, s) {
		return list
	}
	return append(list, s)
}

func containsInt(list []int, n int) bool {
	for _, v := range list {
		if v == n {
			return true
		}
	}
	return false
}

// policyMethods are the policy's methods with OPTIONS, as a server lists them.
// PolicyMethods are the policy's methods with OPTIONS (what
// Access-Control-Allow-Methods lists), for the stacks' snippets.
func PolicyMethods(p *scenarios.Policy) []string { return policyMethods(p) }

func policyMethods(p *scenarios.Policy) []string {
	out := append([]string(nil), p.Methods...)
	if !contains(out, "OPTIONS") {
		out = append(out, "OPTIONS")
	}
	return out
}

func maxAgeOf(p *scenarios.Policy) string {
	if p.MaxAge == nil {
		return "600"
	}
	return strconv.Itoa(*p.MaxAge)
}

// kindsOf are the hostile kinds of a finding's cases.
func kindsOf(facts []causeFacts) []string {
	var kinds []string
	for _, f := range facts {
		kinds = addUnique(kinds, f.value)
	}
	return kinds
}

// originMechanism names what is wrong with an origin check, from the
// look-alike kinds it lets in.
func originMechanism(kinds []string) string {
	has := map[string]bool{}
	for _, k := range kinds {
		has[k] = true
	}
	var why []string
	for _, k := range []string{"prefix", "suffix", "suffix-dash", "unescaped-dot", "special-chars", "substring", "subdomain", "apex", "downgrade", "port", "third-party", "localhost-prefix", "listed"} {
		if !has[k] {
			continue
		}
		switch k {
		case "suffix-dash":
			if has["suffix"] {
				continue
			}
		case "subdomain", "downgrade", "port":
			if has["suffix"] || has["suffix-dash"] || has["prefix"] || has["special-chars"] {
				continue // implied by a suffix, prefix or loose match
			}
		}
		why = append(why, scenarios.HostileKinds[k])
	}
	return strings.Join(why, "; ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
