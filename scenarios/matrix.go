package scenarios

import (
	"fmt"
	"net/url"
	"sort"
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

// Expected is what a correct server makes the browser do for a case.
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
	// Status is the status the answer must have for the check to mean
	// anything (the errors family: a 404 must be a 404).
	Status int `json:"status,omitempty"`
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
	// Related are further requests observed for this case's judgement, each
	// from its own origin and with its own token, fetched as often as the
	// case's own request (the same request from another origin, to tell
	// whether the answer depends on the origin; the other candidate
	// requests of a cache check).
	Related []Request `json:"related,omitempty"`
	// Route is the route's declared path ("" for the target).
	Route string `json:"route,omitempty"`
	// HostileKind is the look-alike kind of a hostile origin (suffix, ...).
	HostileKind string `json:"hostileKind,omitempty"`
	// SkipReason is set when the policy's skip list names the case.
	SkipReason string `json:"skipReason,omitempty"`
	// Severity of a failure: "error", or "warning" for hygiene checks such as Vary.
	Severity string `json:"severity"`
	// ExpectStatus are statuses the policy says are expected answers.
	ExpectStatus []int `json:"expectStatus,omitempty"`
}

// Fetches is how many times the case's request is fetched (its repeats).
func (c Case) Fetches() int { return max(1, c.Repeat) }

// Observations is how many observations a case's judgement takes: its
// fetches, then the fetches of each related request.
func (c Case) Observations() int { return c.Fetches() * (1 + len(c.Related)) }

// Families in report order.
var Families = []string{"simple", "preflight", "disallowed", "credentials", "origins", "expose", "cache", "vary", "errors", "redirect"}

// originRole is an origin the matrix sends requests from.
type originRole struct {
	origin, kind string
	hostile      bool
	// compact: the origin gets a few requests that prove acceptance, not
	// the whole request set (the classes added after the first release).
	compact bool
}

// Discovery is what corscheck learned about the target before it built
// the matrix: the operations of its API description, and which routes
// redirect.
type Discovery struct {
	Operations []Operation
	// Redirecting holds the URLs of routes whose plain GET was redirected.
	Redirecting map[string]bool
	// Only, when set, limits the full matrix to these route URLs (the
	// adaptive matrix probes the others by their group's representative).
	Only map[string]bool
}

// Expand builds the conformance matrix for a policy and target URL. Every
// case has a unique, stable ID; cases the policy skips carry SkipReason.
func Expand(p *Policy, target string) ([]Case, error) {
	return ExpandWith(p, target, Discovery{})
}

// ExpandWith builds the matrix over every route, with what discovery found.
func ExpandWith(p *Policy, target string, d Discovery) ([]Case, error) {
	if err := CheckTargetURL(target); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	routes, err := Routes(p, target, d.Operations)
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, r := range routes {
		if d.Only != nil && !d.Only[r.URL] {
			continue
		}
		cases = append(cases, ExpandRoute(r, d.Redirecting[r.URL])...)
	}
	for i := range cases {
		for _, s := range p.Skip {
			if s.ID == cases[i].ID || strings.HasSuffix(s.ID, "*") && strings.HasPrefix(cases[i].ID, strings.TrimSuffix(s.ID, "*")) {
				cases[i].SkipReason = s.Reason
			}
		}
	}
	ApplyNever(cases, p.Never)
	if err := checkUniqueIDs(cases); err != nil {
		return nil, err
	}
	return cases, nil
}

// ExpandRoute is every family's cases on one route.
func ExpandRoute(r Route, redirects bool) []Case {
	p := r.Policy
	m := matrix{p: p, route: r, target: r.URL, creds: []Credentials{CredentialsOmit}, first: representative(p.Origins[0])}
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
	if redirects {
		m.redirect()
	}
	return m.cases
}

// matrix accumulates the cases of one route; a method per family.
type matrix struct {
	p       *Policy
	route   Route
	target  string
	creds   []Credentials // omit, and include when the policy allows credentials
	first   string        // the first allowed origin, for single-origin checks
	origins []originRole
	cases   []Case
}

// id builds a case ID: the parts, with the route's key before the last
// part (the origin), so the target's IDs are the first release's.
func (m *matrix) id(parts ...string) string {
	if m.route.Key != "" {
		last := parts[len(parts)-1]
		parts = append(append(parts[:len(parts)-1:len(parts)-1], m.route.Key), last)
	}
	return strings.Join(parts, ".")
}

// idEnd is id with the route's key last (families whose IDs end in the
// credentials mode).
func (m *matrix) idEnd(parts ...string) string {
	if m.route.Key != "" {
		parts = append(parts, m.route.Key)
	}
	return strings.Join(parts, ".")
}

func (m *matrix) where() string {
	if m.route.Key == "" {
		return ""
	}
	return " on " + m.route.Name()
}

func (m *matrix) add(c Case) {
	c.Route = m.route.Path
	c.Labels = append(c.Labels, m.route.Label())
	// A case that also sends other methods (a cache case's other
	// candidates) carries their labels too: --label-filter '!method:DELETE'
	// must exclude every case that would send a DELETE.
	for _, r := range c.Related {
		if l := "method:" + labelSafe(r.Method); !contains(c.Labels, l) {
			c.Labels = append(c.Labels, l)
		}
	}
	c.ExpectStatus = m.p.ExpectStatus
	if c.Severity == "" {
		c.Severity = "error"
	}
	m.cases = append(m.cases, c)
}

// withAuth adds the policy's auth headers (real users' credentials) to a
// request from an allowed origin: the real app sends them. A hostile page
// cannot: it knows none of the user's secrets, and the browser sends only
// the victim's cookies (ambient credentials), so requests from hostile
// origins never carry them. The values are ${VAR} references here; the
// suite fills them in.
func (m *matrix) withAuth(r Request) Request {
	if m.p.Auth == nil || len(m.p.Auth.Headers) == 0 || !m.p.OriginAllowed(r.Origin) {
		return r
	}
	h := copyHeaders(r.Headers)
	for k, v := range m.p.Auth.Headers {
		if _, set := lookup(h, k); !set {
			h[k] = v
		}
	}
	r.Headers = h
	return r
}

// outcome is a case whose expectation is the policy's verdict on its request.
func (m *matrix) outcome(id, family, title, spec string, r Request, o originRole) {
	out, ce := m.p.Expect(r)
	kind := o.kind
	if !o.hostile {
		kind = ""
	}
	m.add(Case{ID: id, Family: family, Title: title + m.where(), Spec: spec,
		Labels: labels(family, r, o.kind, o.hostile), Request: r, Hostile: o.hostile, HostileKind: kind, Check: CheckOutcome,
		Expected: Expected{Outcome: out, CorsError: ce}})
}

// sweep is the request set × every origin × each credentials mode. Requests
// from hostile origins form the origins family; the compact hostile classes
// get the requests that prove acceptance (a simple GET, a simple POST, the
// first preflighted request).
func (m *matrix) sweep() {
	variants := m.p.requestSet(m.route.Methods)
	compact := compactVariants(variants)
	for _, o := range m.origins {
		vs := variants
		if o.compact {
			vs = compact
		}
		for _, v := range vs {
			for _, cr := range m.creds {
				r := m.withAuth(Request{URL: m.target, Origin: o.origin, Method: v.method, Headers: copyHeaders(v.headers), Credentials: cr})
				family, title, spec := v.family, v.title, v.spec
				if o.hostile {
					family, title, spec = "origins", v.title+" from "+o.kind+" origin "+o.origin, SpecCORSCheck
				}
				m.outcome(m.id(v.key, string(cr), Slug(o.origin)), family,
					fmt.Sprintf("%s, credentials %s, from %s", title, cr, o.origin), spec, r, o)
			}
		}
	}
}

// compactVariants are the requests a compact hostile class gets.
func compactVariants(all []reqVariant) []reqVariant {
	var out []reqVariant
	for _, v := range all {
		if v.key == "simple.get" || v.key == "simple.post-text" {
			out = append(out, v)
		}
	}
	for _, v := range all {
		if v.family == "preflight" {
			return append(out, v)
		}
	}
	return out
}

var allowedRole = originRole{kind: "allowed"}

// credentials: with credentials: false, a credentialed request must fail.
func (m *matrix) credentials() {
	if m.p.Credentials {
		return
	}
	r := m.withAuth(Request{URL: m.target, Origin: m.first, Method: baseMethod(m.route.Methods), Headers: map[string]string{}, Credentials: CredentialsInclude})
	m.outcome(m.id("credentials.get.include", Slug(m.first)), "credentials",
		r.Method+" with credentials from "+m.first+" (policy: credentials false)", SpecCredentials, r, allowedRole)
}

// get is a simple GET (the route's base method) from the first origin,
// with credentials if allowed.
func (m *matrix) get() Request {
	return m.withAuth(Request{URL: m.target, Origin: m.first, Method: baseMethod(m.route.Methods), Headers: map[string]string{}, Credentials: m.creds[len(m.creds)-1]})
}

// expose: each exposed header readable, nothing else readable; with
// credentials and without, so a broken credentialed path does not hide
// what the exposed headers do.
func (m *matrix) expose() {
	for _, cr := range m.creds {
		get := m.get()
		get.Credentials = cr
		cred := string(cr)
		for _, h := range m.p.ExposeHeaders {
			if h == "*" {
				continue
			}
			m.add(Case{ID: m.idEnd("expose", strings.ToLower(h), cred), Family: "expose",
				Title: "script can read exposed header " + h + ", credentials " + cred + m.where(), Spec: SpecExposeHeaders,
				Labels: labels("expose", get, "allowed", false), Request: get, Read: []string{h}, Check: CheckReadable,
				Expected: Expected{Outcome: Allowed, Readable: map[string]bool{strings.ToLower(h): true}}})
		}
		if !contains(m.p.ExposeHeaders, "*") || get.Credentials == CredentialsInclude {
			m.add(Case{ID: m.idEnd("expose.unlisted", cred), Family: "expose",
				Title: "script can read no response header outside exposeHeaders and the safelist, credentials " + cred + m.where(), Spec: SpecSafelistResponse,
				Labels: labels("expose", get, "allowed", false), Request: get, Read: m.p.ExposeHeaders, Check: CheckUnexposed,
				Expected: Expected{Outcome: Allowed}})
		}
	}
}

// cache: a preflighted request that passes, repeated within maxAge, sends no
// second preflight (two with maxAge 0), and its preflight carries the
// policy's Access-Control-Max-Age. Which request passes is known only once
// they ran, so the case carries every preflighted request the policy allows
// as a candidate (the first repeated, the others related); the judgement
// uses the first candidate whose first fetch was allowed.
func (m *matrix) cache() {
	if m.p.MaxAge == nil {
		return
	}
	age, want := *m.p.MaxAge, 1
	if age == 0 {
		want = 2
	}
	for _, cr := range m.creds {
		cands := cacheCandidates(m.p, m.route.Methods, m.target, m.first, cr)
		for i := range cands {
			cands[i] = m.withAuth(cands[i])
		}
		r := cands[0]
		m.add(Case{ID: m.idEnd("cache.repeat", string(cr)), Family: "cache",
			Title: fmt.Sprintf("a preflighted request repeated within maxAge %ds sends %d preflight(s), credentials %s%s", age, want, cr, m.where()), Spec: SpecPreflightCache,
			Labels: labels("cache", r, "allowed", false), Request: r, Repeat: 2, Related: cands[1:], Check: CheckCache,
			Expected: Expected{Outcome: Allowed, Preflights: &want, MaxAge: &age}})
	}
}

// vary: when the answer depends on the origin (compared with what another
// origin gets), it must say so with Vary: Origin (a warning when missing).
func (m *matrix) vary() {
	for _, o := range m.origins {
		if o.hostile {
			continue
		}
		r := m.get()
		r.Origin = o.origin
		other := Request{URL: r.URL, Origin: "https://corscheck-attacker.test", Method: r.Method, Headers: map[string]string{}, Credentials: r.Credentials}
		if m.p.OriginAllowed(other.Origin) {
			other.Origin = "null"
		}
		other = m.withAuth(other)
		m.add(Case{ID: m.id("vary.origin", Slug(o.origin)), Family: "vary",
			Title: "responses whose Access-Control-Allow-Origin depends on the origin carry Vary: Origin, from " + o.origin + m.where(), Spec: SpecVary,
			Labels: labels("vary", r, "allowed", false), Request: r, Related: []Request{other}, Check: CheckVary,
			Expected: Expected{Outcome: Allowed, Vary: "Origin"}, Severity: "warning"})
	}
}

// errors: an error answer (404 by default, or the policy's errorPaths),
// simple and preflighted, still carries CORS headers; the case checks the
// answer had that status, else it proves nothing.
func (m *matrix) errors() {
	type errCase struct {
		status int
		url    string
		key    string
	}
	var list []errCase
	base := strings.TrimSuffix(strings.SplitN(m.target, "?", 2)[0], "/")
	if path, ok := m.p.ErrorPaths[404]; ok && m.route.Key == "" {
		list = append(list, errCase{404, m.pathURL(path), "not-found"})
	} else {
		list = append(list, errCase{404, base + "/" + MissingPath, "not-found"})
	}
	if m.route.Key == "" {
		var statuses []int
		for s := range m.p.ErrorPaths {
			if s != 404 {
				statuses = append(statuses, s)
			}
		}
		sort.Ints(statuses)
		for _, s := range statuses {
			list = append(list, errCase{s, m.pathURL(m.p.ErrorPaths[s]), fmt.Sprintf("status-%d", s)})
		}
	}
	for _, e := range list {
		for _, cr := range m.creds {
			r := m.withAuth(Request{URL: e.url, Origin: m.first, Method: "GET", Headers: map[string]string{}, Credentials: cr})
			out, ce := m.p.Expect(r)
			m.add(Case{ID: m.idEnd("errors."+e.key, string(cr)), Family: "errors",
				Title: fmt.Sprintf("a %d response still carries CORS headers, credentials %s%s", e.status, cr, m.where()), Spec: SpecCORSCheck,
				Labels: labels("errors", r, "allowed", false), Request: r, Check: CheckOutcome,
				Expected: Expected{Outcome: out, CorsError: ce, Status: e.status}})
			pr := m.withAuth(cacheCandidates(m.p, m.route.Methods, e.url, m.first, cr)[0])
			out, ce = m.p.Expect(pr)
			m.add(Case{ID: m.idEnd("errors."+e.key+"-preflighted", string(cr)), Family: "errors",
				Title: fmt.Sprintf("%s answered %d: the preflight and the %d carry CORS headers, credentials %s%s", pr.Method, e.status, e.status, cr, m.where()), Spec: SpecCORSCheck,
				Labels: labels("errors", pr, "allowed", false), Request: pr, Check: CheckOutcome,
				Expected: Expected{Outcome: out, CorsError: ce, Status: e.status}})
		}
	}
}

// pathURL is a path on the target's host.
func (m *matrix) pathURL(path string) string {
	u, err := url.Parse(m.target)
	if err != nil {
		return m.target
	}
	u.Path, u.RawQuery, u.RawPath = path, "", ""
	return u.String()
}

// redirect: the route redirects, so the matrix observes what happens to a
// request that follows it: a plain GET and a preflighted request from an
// allowed origin must still work (the preflight never follows a redirect;
// after a cross-origin hop the browser sends Origin: null), and a hostile
// origin must still be refused at every hop.
func (m *matrix) redirect() {
	for _, cr := range m.creds {
		get := m.withAuth(Request{URL: m.target, Origin: m.first, Method: baseMethod(m.route.Methods), Headers: map[string]string{}, Credentials: cr})
		m.outcome(m.idEnd("redirect.get", string(cr)), "redirect", get.Method+" that the server redirects, credentials "+string(cr)+", from "+m.first, SpecRedirect, get, allowedRole)
		pf := m.withAuth(cacheCandidates(m.p, m.route.Methods, m.target, m.first, cr)[0])
		m.outcome(m.idEnd("redirect.preflighted", string(cr)), "redirect", pf.Method+" (preflighted) that the server redirects, credentials "+string(cr)+", from "+m.first, SpecRedirect, pf, allowedRole)
		hostile := Request{URL: get.URL, Origin: "https://corscheck-attacker.test", Method: get.Method, Headers: map[string]string{}, Credentials: cr}
		if !m.p.OriginAllowed(hostile.Origin) {
			m.outcome(m.idEnd("redirect.hostile-get", string(cr)), "redirect", "GET that the server redirects, credentials "+string(cr)+", from the unrelated origin "+hostile.Origin,
				SpecRedirect, hostile, originRole{origin: hostile.Origin, kind: "unrelated", hostile: true})
		}
	}
}

func labels(family string, r Request, originKind string, hostile bool) []string {
	l := []string{"family:" + family, "method:" + labelSafe(r.Method), "credentials:" + string(r.Credentials)}
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

// labelSafe keeps a label value free of the characters Ginkgo reserves.
func labelSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune("&|!,()/", r) {
			return '-'
		}
		return r
	}, s)
}

func copyHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

func checkUniqueIDs(cases []Case) error {
	ids := make(map[string]bool, len(cases))
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

// MissingPath is the path segment of the errors family's 404 request:
// corscheck's own, so no route answers it.
const MissingPath = "__corscheck_missing__"
