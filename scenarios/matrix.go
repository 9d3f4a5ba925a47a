package scenarios

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Check is what a case asserts about the browser's behaviour.
type Check string

// The checks a case can make.
const (
	// CheckOutcome compares allowed/blocked with the expectation.
	CheckOutcome Check = "outcome"
	// CheckReadable asserts script can read the listed response headers.
	CheckReadable Check = "readable"
	// CheckUnexposed asserts script can read no response header the policy does not expose.
	CheckUnexposed Check = "unexposed"
	// CheckCache asserts a repeat within max-age sends no second preflight
	// and Access-Control-Max-Age carries the policy's value.
	CheckCache Check = "cache"
	// CheckVary asserts Vary: Origin when ACAO depends on the origin.
	CheckVary Check = "vary"
)

// Expected is what a correct server makes Chrome do for a case.
type Expected struct {
	Outcome Outcome `json:"outcome"`
	// CorsError is the error a correct server makes Chrome report; informational.
	CorsError CorsError `json:"corsError,omitempty"`
	// Readable maps header names to whether script must be able to read them.
	Readable map[string]bool `json:"readable,omitempty"`
	// Preflights is the number of preflights a repeated request must cause.
	Preflights *int `json:"preflights,omitempty"`
	// MaxAge is the Access-Control-Max-Age the preflight must carry.
	MaxAge *int `json:"maxAge,omitempty"`
	// Vary is a token the Vary header must list.
	Vary string `json:"vary,omitempty"`
}

// Case is one cell of the conformance matrix: data, no behaviour. Run state
// lives in results, never here.
type Case struct {
	// ID is stable and explicit, derived from the cell's data, never its position.
	ID       string   `json:"id"`
	Family   string   `json:"family"`
	Title    string   `json:"title"`
	Spec     string   `json:"spec"`
	Labels   []string `json:"labels"`
	Request  Request  `json:"request"`
	Hostile  bool     `json:"hostile,omitempty"`
	Repeat   int      `json:"repeat,omitempty"`
	Read     []string `json:"read,omitempty"`
	Check    Check    `json:"check"`
	Expected Expected `json:"expected"`
	// SkipReason is set when the policy's skip list names the case.
	SkipReason string `json:"skipReason,omitempty"`
	// Severity of a failure: "error", or "warning" for hygiene checks such as Vary.
	Severity string `json:"severity"`
}

// Fetches is how many fetch() calls the case makes.
func (c Case) Fetches() int { return max(1, c.Repeat) }

// Families in report order.
var Families = []string{"simple", "preflight", "disallowed", "credentials", "origins", "expose", "cache", "vary", "errors"}

// reqVariant is one kind of request, swept over origins and credentials.
type reqVariant struct {
	key, title, family, spec string
	method                   string
	headers                  map[string]string
}

// headerValue gives a plausible value for a custom request header.
func sampleHeaderValue(name string) string {
	switch strings.ToLower(name) {
	case "authorization":
		return "Bearer corscheck"
	case "content-type":
		return "application/json"
	case "accept":
		return "application/json"
	}
	return "corscheck"
}

// requestSet is the sweep of requests tried from every origin.
func (p *Policy) requestSet() []reqVariant {
	v := []reqVariant{
		{"simple.get", "simple GET", "simple", SpecSafelistMethod, "GET", nil},
		{"simple.head", "simple HEAD", "simple", SpecSafelistMethod, "HEAD", nil},
		{"simple.post-form", "simple POST, form content type", "simple", SpecSafelistHeader, "POST", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		{"simple.post-text", "simple POST, text/plain", "simple", SpecSafelistHeader, "POST", map[string]string{"Content-Type": "text/plain"}},
	}
	var custom []string
	for _, m := range p.Methods {
		if !safelistedMethods[m] && m != "*" && m != "OPTIONS" {
			custom = append(custom, m)
			v = append(v, reqVariant{"preflight.method." + strings.ToLower(m), m + " (preflighted method)", "preflight", SpecPreflight, m, nil})
		}
	}
	var hdrs []string
	for _, h := range p.Headers {
		if h == "*" {
			continue
		}
		hdrs = append(hdrs, h)
		if IsSafelistedHeader(h, sampleHeaderValue(h)) {
			continue
		}
		v = append(v, reqVariant{"preflight.header." + strings.ToLower(h), "GET with " + h + " (preflighted header)", "preflight", SpecPreflight, "GET", map[string]string{h: sampleHeaderValue(h)}})
	}
	if len(hdrs) > 1 {
		m := "POST"
		if len(custom) > 0 {
			m = custom[0]
		}
		all := map[string]string{}
		for _, h := range hdrs {
			all[h] = sampleHeaderValue(h)
		}
		v = append(v, reqVariant{"preflight.headers-all", m + " with every allowed header", "preflight", SpecPreflight, m, all})
	}
	if !containsFold(hdrs, "content-type") {
		v = append(v, reqVariant{"preflight.json", "POST with Content-Type: application/json", "preflight", SpecSafelistHeader, "POST", map[string]string{"Content-Type": "application/json"}})
	}
	if !containsFold(hdrs, "authorization") {
		v = append(v, reqVariant{"preflight.authorization", "GET with Authorization", "preflight", SpecPreflight, "GET", map[string]string{"Authorization": "Bearer corscheck"}})
	}
	unlisted := ""
	for _, m := range []string{"PATCH", "PROPFIND", "PURGE"} {
		if !contains(p.Methods, m) {
			unlisted = m
			break
		}
	}
	if unlisted != "" {
		v = append(v, reqVariant{"disallowed.method." + strings.ToLower(unlisted), unlisted + " (method not in the policy)", "disallowed", SpecPreflight, unlisted, nil})
	}
	v = append(v, reqVariant{"disallowed.header", "GET with X-Corscheck-Unlisted (header not in the policy)", "disallowed", SpecPreflight, "GET", map[string]string{"X-Corscheck-Unlisted": "1"}})
	lower := "patch"
	for _, m := range custom {
		if !normalizedMethods[m] {
			lower = strings.ToLower(m)
			break
		}
	}
	v = append(v, reqVariant{"disallowed.lowercase-method", "lower-case method " + lower + " (methods are case-sensitive)", "disallowed", SpecMethodNormalize, lower, nil})
	return v
}

// hostileOrigin is an origin an attacker can use, with what it imitates.
type hostileOrigin struct {
	origin, kind string
}

// Hostile origins generated from one allowed origin or pattern.
func hostileFrom(allowed string) []hostileOrigin {
	pattern := false
	if scheme, rest, ok := strings.Cut(allowed, "://*."); ok {
		allowed, pattern = scheme+"://"+rest, true
	}
	u, err := url.Parse(allowed)
	if err != nil || u.Host == "" {
		return nil
	}
	host, port := u.Hostname(), u.Port()
	withPort := func(scheme, h string) string {
		if port != "" {
			return scheme + "://" + h + ":" + port
		}
		return scheme + "://" + h
	}
	out := []hostileOrigin{
		{withPort(u.Scheme, "evil"+host), "suffix"},
		{withPort(u.Scheme, "evil-"+host), "suffix-dash"},
		{withPort(u.Scheme, host+".evil.test"), "prefix"},
	}
	if pattern {
		out = append(out, hostileOrigin{allowed, "apex"})
	} else {
		out = append(out, hostileOrigin{withPort(u.Scheme, "x."+host), "subdomain"})
	}
	if u.Scheme == "https" {
		out = append(out, hostileOrigin{withPort("http", host), "downgrade"})
	}
	other := 8443
	if port != "" {
		n, _ := strconv.Atoi(port)
		other = n + 1
		if other > 65535 {
			other = n - 1
		}
	} else if u.Scheme == "http" {
		other = 8080
	}
	out = append(out, hostileOrigin{u.Scheme + "://" + host + ":" + strconv.Itoa(other), "port"})
	return out
}

// representative returns a concrete origin for a policy origin entry.
func representative(o string) string {
	if o == "*" {
		return "https://any.corscheck.test"
	}
	if scheme, rest, ok := strings.Cut(o, "://*."); ok {
		return scheme + "://corscheck." + rest
	}
	return o
}

// Slug turns an origin into an ID-safe fragment: https://app.example.com:8443 → https-app.example.com-8443.
func Slug(origin string) string {
	s := strings.ReplaceAll(origin, "://", "-")
	s = strings.ReplaceAll(s, ":", "-")
	s = strings.ReplaceAll(s, "*", "star")
	return strings.ReplaceAll(s, "/", "-")
}

// originRole is an origin the matrix sends requests from.
type originRole struct {
	origin, kind string
	hostile      bool
}

// Expand builds the conformance matrix for a policy and target URL. Every
// case has a unique, stable ID; cases the policy skips carry SkipReason.
func Expand(p *Policy, target string) ([]Case, error) {
	if err := CheckTargetURL(target); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	m := matrix{p: p, target: target, creds: []Credentials{CredentialsOmit}, first: representative(p.Origins[0])}
	if p.Credentials {
		m.creds = append(m.creds, CredentialsInclude)
	}
	m.origins = p.originRoles()
	m.sweep()
	m.credentials()
	m.expose()
	m.cache()
	m.vary()
	m.errors()
	for i := range m.cases {
		for _, s := range p.Skip {
			if s.ID == m.cases[i].ID || strings.HasSuffix(s.ID, "*") && strings.HasPrefix(m.cases[i].ID, strings.TrimSuffix(s.ID, "*")) {
				m.cases[i].SkipReason = s.Reason
			}
		}
	}
	if err := checkUniqueIDs(m.cases); err != nil {
		return nil, err
	}
	return m.cases, nil
}

// matrix accumulates the cases of one expansion; a method per family.
type matrix struct {
	p       *Policy
	target  string
	creds   []Credentials // omit, and include when the policy allows credentials
	first   string        // the first allowed origin, for single-origin checks
	origins []originRole
	cases   []Case
}

// originRoles lists the allowed origins, then the hostile ones generated
// from them, then refuseOrigins, each once and never one the policy allows.
func (p *Policy) originRoles() []originRole {
	var origins []originRole
	seen := map[string]bool{}
	for _, o := range p.Origins {
		r := representative(o)
		if !seen[r] {
			seen[r] = true
			origins = append(origins, originRole{r, "allowed", false})
		}
	}
	addHostile := func(o, kind string) {
		if !seen[o] && !p.OriginAllowed(o) {
			seen[o] = true
			origins = append(origins, originRole{o, kind, true})
		}
	}
	addHostile("null", "null")
	addHostile("https://corscheck-attacker.test", "unrelated")
	for _, o := range p.Origins {
		if o != "*" {
			for _, h := range hostileFrom(o) {
				addHostile(h.origin, h.kind)
			}
		}
	}
	for _, o := range p.RefuseOrigins {
		addHostile(o, "listed")
	}
	return origins
}

// outcome is a case whose expectation is the policy's verdict on its request.
func (m *matrix) outcome(id, family, title, spec string, r Request, hostile bool, originKind string) {
	out, ce := m.p.Expect(r)
	m.cases = append(m.cases, Case{ID: id, Family: family, Title: title, Spec: spec,
		Labels: labels(family, r, originKind, hostile), Request: r, Hostile: hostile, Check: CheckOutcome,
		Expected: Expected{Outcome: out, CorsError: ce}, Severity: "error"})
}

// sweep is the request set × every origin × each credentials mode on the
// target, and the request set from the first origin on each extra path.
// Requests from hostile origins form the origins family.
func (m *matrix) sweep() {
	urls := []string{m.target}
	for _, path := range m.p.Paths {
		u, _ := url.Parse(m.target)
		u.Path, u.RawQuery = path, ""
		urls = append(urls, u.String())
	}
	variants := m.p.requestSet()
	for ui, u := range urls {
		pathKey := ""
		if ui > 0 {
			pathKey = ".path-" + strings.Trim(Slug(m.p.Paths[ui-1]), "-")
		}
		for oi, o := range m.origins {
			if ui > 0 && oi > 0 {
				break // extra paths: the first allowed origin only
			}
			for _, v := range variants {
				for _, cr := range m.creds {
					r := Request{URL: u, Origin: o.origin, Method: v.method, Headers: copyHeaders(v.headers), Credentials: cr}
					family, title, spec := v.family, v.title, v.spec
					if o.hostile {
						family, title, spec = "origins", v.title+" from "+o.kind+" origin "+o.origin, SpecCORSCheck
					}
					m.outcome(fmt.Sprintf("%s.%s%s.%s", v.key, cr, pathKey, Slug(o.origin)), family,
						fmt.Sprintf("%s, credentials %s, from %s", title, cr, o.origin), spec, r, o.hostile, o.kind)
				}
			}
		}
	}
}

// credentials: with credentials: false, a credentialed request must fail.
func (m *matrix) credentials() {
	if m.p.Credentials {
		return
	}
	r := Request{URL: m.target, Origin: m.first, Method: "GET", Headers: map[string]string{}, Credentials: CredentialsInclude}
	m.outcome("credentials.get.include."+Slug(m.first), "credentials",
		"simple GET with credentials from "+m.first+" (policy: credentials false)", SpecCredentials, r, false, "allowed")
}

// get is a simple GET from the first origin, with credentials if allowed.
func (m *matrix) get() Request {
	return Request{URL: m.target, Origin: m.first, Method: "GET", Headers: map[string]string{}, Credentials: m.creds[len(m.creds)-1]}
}

// expose: each exposed header readable, nothing else readable.
func (m *matrix) expose() {
	get := m.get()
	cred := string(get.Credentials)
	for _, h := range m.p.ExposeHeaders {
		if h == "*" {
			continue
		}
		m.cases = append(m.cases, Case{ID: "expose." + strings.ToLower(h) + "." + cred, Family: "expose",
			Title: "script can read exposed header " + h + ", credentials " + cred, Spec: SpecExposeHeaders,
			Labels: labels("expose", get, "allowed", false), Request: get, Read: []string{h}, Check: CheckReadable,
			Expected: Expected{Outcome: Allowed, Readable: map[string]bool{strings.ToLower(h): true}}, Severity: "error"})
	}
	if !contains(m.p.ExposeHeaders, "*") || get.Credentials == CredentialsInclude {
		m.cases = append(m.cases, Case{ID: "expose.unlisted." + cred, Family: "expose",
			Title: "script can read no response header outside exposeHeaders and the safelist, credentials " + cred, Spec: SpecSafelistResponse,
			Labels: labels("expose", get, "allowed", false), Request: get, Read: m.p.ExposeHeaders, Check: CheckUnexposed,
			Expected: Expected{Outcome: Allowed}, Severity: "error"})
	}
}

// cache: a repeat within maxAge sends no second preflight (two with maxAge
// 0), and the preflight carries the policy's Access-Control-Max-Age.
func (m *matrix) cache() {
	if m.p.MaxAge == nil {
		return
	}
	age, want := *m.p.MaxAge, 1
	if age == 0 {
		want = 2
	}
	for _, cr := range m.creds {
		r := cacheRequest(m.p, m.target, m.first)
		r.Credentials = cr
		m.cases = append(m.cases, Case{ID: "cache.repeat." + string(cr), Family: "cache",
			Title: fmt.Sprintf("%s repeated within maxAge %ds sends %d preflight(s), credentials %s", r.Method, age, want, cr), Spec: SpecPreflightCache,
			Labels: labels("cache", r, "allowed", false), Request: r, Repeat: 2, Check: CheckCache,
			Expected: Expected{Outcome: Allowed, Preflights: &want, MaxAge: &age}, Severity: "error"})
	}
}

// vary: Vary: Origin from every allowed origin (a warning when missing).
func (m *matrix) vary() {
	for _, o := range m.origins {
		if o.hostile {
			continue
		}
		r := m.get()
		r.Origin = o.origin
		m.cases = append(m.cases, Case{ID: "vary.origin." + Slug(o.origin), Family: "vary",
			Title: "responses whose Access-Control-Allow-Origin depends on the origin carry Vary: Origin, from " + o.origin, Spec: SpecVary,
			Labels: labels("vary", r, "allowed", false), Request: r, Check: CheckVary,
			Expected: Expected{Outcome: Allowed, Vary: "Origin"}, Severity: "warning"})
	}
}

// errors: a 404, simple and preflighted, still carries CORS headers.
func (m *matrix) errors() {
	missing := strings.TrimSuffix(strings.SplitN(m.target, "?", 2)[0], "/") + "/__corscheck_missing__"
	for _, cr := range m.creds {
		r := Request{URL: missing, Origin: m.first, Method: "GET", Headers: map[string]string{}, Credentials: cr}
		m.outcome("errors.not-found."+string(cr), "errors", "a 404 response still carries CORS headers, credentials "+string(cr), SpecCORSCheck, r, false, "allowed")
		pr := cacheRequest(m.p, missing, m.first)
		pr.Credentials = cr
		m.outcome("errors.not-found-preflighted."+string(cr), "errors",
			pr.Method+" to a missing resource: the preflight and the 404 carry CORS headers, credentials "+string(cr), SpecCORSCheck, pr, false, "allowed")
	}
}

// cacheRequest is the preflighted request the cache cases repeat: the first
// allowed non-safelisted method, else GET with the first allowed header.
func cacheRequest(p *Policy, target, origin string) Request {
	r := Request{URL: target, Origin: origin, Method: "PUT", Headers: map[string]string{}}
	for _, m := range p.Methods {
		if !safelistedMethods[m] && m != "*" && m != "OPTIONS" {
			r.Method = m
			return r
		}
	}
	for _, h := range p.Headers {
		if h != "*" && !IsSafelistedHeader(h, sampleHeaderValue(h)) {
			r.Method, r.Headers = "GET", map[string]string{h: sampleHeaderValue(h)}
			return r
		}
	}
	return r
}

func labels(family string, r Request, originKind string, hostile bool) []string {
	l := []string{"family:" + family, "method:" + r.Method, "credentials:" + string(r.Credentials)}
	if hostile {
		l = append(l, "origin:hostile", "hostile:"+originKind)
	} else {
		l = append(l, "origin:allowed")
	}
	if NeedsPreflight(r) {
		l = append(l, "preflight")
	} else {
		l = append(l, "simple")
	}
	return l
}

func copyHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

func checkUniqueIDs(cases []Case) error {
	ids := map[string]bool{}
	for _, c := range cases {
		if ids[c.ID] {
			return fmt.Errorf("internal error: duplicate case ID %q", c.ID)
		}
		ids[c.ID] = true
	}
	return nil
}

// FamilyCounts summarises a matrix, for --list and the README.
func FamilyCounts(cases []Case) map[string]int {
	out := map[string]int{}
	for _, c := range cases {
		out[c.Family]++
	}
	return out
}

// FamilyRank orders families for reports: the position in Families, and
// unknown families last.
func FamilyRank(family string) int {
	for i, f := range Families {
		if f == family {
			return i
		}
	}
	return len(Families)
}
