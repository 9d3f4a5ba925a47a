package scenarios

import (
	"fmt"
	"net/url"
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
	ID      string   `json:"id"`
	Family  string   `json:"family"`
	Title   string   `json:"title"`
	Spec    string   `json:"spec"`
	Labels  []string `json:"labels"`
	Request Request  `json:"request"`
	Hostile bool     `json:"hostile,omitempty"`
	Repeat  int      `json:"repeat,omitempty"`
	// Related are further requests observed for this case's judgement, each
	// from its own origin and with its own token (e.g. the same request from
	// another origin, to tell whether the answer depends on the origin).
	Related  []Request `json:"related,omitempty"`
	Read     []string  `json:"read,omitempty"`
	Check    Check     `json:"check"`
	Expected Expected  `json:"expected"`
	// SkipReason is set when the policy's skip list names the case.
	SkipReason string `json:"skipReason,omitempty"`
	// Severity of a failure: "error", or "warning" for hygiene checks such as Vary.
	Severity string `json:"severity"`
}

// Fetches is how many times the case's request is fetched (its repeats).
func (c Case) Fetches() int { return max(1, c.Repeat) }

// Observations is how many observations a case's judgement takes: its
// fetches, then one per related request.
func (c Case) Observations() int { return c.Fetches() + len(c.Related) }

// Families in report order.
var Families = []string{"simple", "preflight", "disallowed", "credentials", "origins", "expose", "cache", "vary", "errors"}

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
