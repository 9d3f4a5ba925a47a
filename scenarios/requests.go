package scenarios

import "strings"

// reqVariant is one kind of request, swept over origins and credentials.
type reqVariant struct {
	key, title, family, spec string
	method                   string
	headers                  map[string]string
}

// sampleHeaderValue gives a plausible value for a custom request header.
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

// customMethods are the non-safelisted methods a route is probed with: the
// methods it serves (from an API description) or else the policy's.
func (p *Policy) customMethods(served []string) []string {
	list := p.Methods
	if served != nil {
		list = served
	}
	var out []string
	for _, m := range list {
		if !safelistedMethods[m] && m != "*" && m != "OPTIONS" {
			out = append(out, m)
		}
	}
	return out
}

// Serves reports whether a route's API description declares a method
// (served nil: no description, every method may be probed). HEAD counts
// as declared with GET: HTTP servers answer HEAD wherever they answer GET.
func Serves(served []string, method string) bool {
	if served == nil {
		return true
	}
	m := strings.ToUpper(method)
	return contains(served, m) || m == "HEAD" && contains(served, "GET")
}

// baseMethod is the method a route's header checks ride on: GET, or where
// an API description does not declare GET, the first safelisted method it
// declares, else its first method.
func baseMethod(served []string) string {
	if Serves(served, "GET") {
		return "GET"
	}
	for _, m := range served {
		if safelistedMethods[m] {
			return m
		}
	}
	return served[0]
}

// requestSet is the sweep of requests tried from every origin. served are
// the route's own methods (nil: the policy's); on a route an API
// description declares, only its methods are sent (plus the preflights).
func (p *Policy) requestSet(served []string) []reqVariant {
	base := baseMethod(served)
	var v []reqVariant
	for _, s := range []reqVariant{
		{"simple.get", "simple GET", "simple", SpecSafelistMethod, "GET", nil},
		{"simple.head", "simple HEAD", "simple", SpecSafelistMethod, "HEAD", nil},
		{"simple.post-form", "simple POST, form content type", "simple", SpecSafelistHeader, "POST", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		{"simple.post-text", "simple POST, text/plain", "simple", SpecSafelistHeader, "POST", map[string]string{"Content-Type": "text/plain"}},
	} {
		if Serves(served, s.method) {
			v = append(v, s)
		}
	}
	custom := p.customMethods(served)
	for _, m := range custom {
		family, title := "preflight", m+" (preflighted method)"
		if !contains(p.Methods, m) && !contains(p.Methods, "*") {
			family, title = "disallowed", m+" (served by the API, not in the policy)"
		}
		v = append(v, reqVariant{"preflight.method." + strings.ToLower(m), title, family, SpecPreflight, m, nil})
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
		v = append(v, reqVariant{"preflight.header." + strings.ToLower(h), base + " with " + h + " (preflighted header)", "preflight", SpecPreflight, base, map[string]string{h: sampleHeaderValue(h)}})
	}
	if len(hdrs) > 1 {
		m := "POST"
		if !Serves(served, m) {
			m = base
		}
		for _, c := range custom {
			if contains(p.Methods, c) {
				m = c
				break
			}
		}
		all := map[string]string{}
		for _, h := range hdrs {
			all[h] = sampleHeaderValue(h)
		}
		v = append(v, reqVariant{"preflight.headers-all", m + " with every allowed header", "preflight", SpecPreflight, m, all})
	}
	if !containsFold(hdrs, "content-type") {
		jm := "POST"
		if !Serves(served, jm) {
			jm = base
		}
		v = append(v, reqVariant{"preflight.json", jm + " with Content-Type: application/json", "preflight", SpecSafelistHeader, jm, map[string]string{"Content-Type": "application/json"}})
	}
	if !containsFold(hdrs, "authorization") {
		v = append(v, reqVariant{"preflight.authorization", base + " with Authorization", "preflight", SpecPreflight, base, map[string]string{"Authorization": "Bearer corscheck"}})
	}
	unlisted := ""
	for _, m := range []string{"PATCH", "PROPFIND", "PURGE"} {
		// A method no API operation declares is never sent to one: on a
		// described route the disallowed methods are the declared ones
		// outside the policy (above).
		if !contains(p.Methods, m) && !contains(custom, m) && served == nil {
			unlisted = m
			break
		}
	}
	if unlisted != "" {
		v = append(v, reqVariant{"disallowed.method." + strings.ToLower(unlisted), unlisted + " (method not in the policy)", "disallowed", SpecPreflight, unlisted, nil})
	}
	v = append(v, reqVariant{"disallowed.header", base + " with X-Corscheck-Unlisted (header not in the policy)", "disallowed", SpecPreflight, base, map[string]string{"X-Corscheck-Unlisted": "1"}})
	lower := ""
	if served == nil {
		lower = "patch"
	}
	for _, m := range custom {
		if !normalizedMethods[m] {
			lower = strings.ToLower(m)
			break
		}
	}
	if lower != "" {
		v = append(v, reqVariant{"disallowed.lowercase-method", "lower-case method " + lower + " (methods are case-sensitive)", "disallowed", SpecMethodNormalize, lower, nil})
	}
	return v
}

// maxCacheCandidates bounds the requests a cache case tries.
const maxCacheCandidates = 4

// cacheCandidates are the preflighted requests the policy allows, in order
// of preference: each allowed non-safelisted method, then GET with each
// allowed non-safelisted header, then a JSON POST when allowed. The cache
// check repeats the first one that passes, so one refused method does not
// hide a missing max-age. There is always at least one (a PUT).
func cacheCandidates(p *Policy, served []string, target, origin string, cr Credentials) []Request {
	var out []Request
	for _, m := range p.customMethods(served) {
		if contains(p.Methods, m) {
			out = append(out, Request{URL: target, Origin: origin, Method: m, Headers: map[string]string{}, Credentials: cr})
		}
	}
	for _, h := range p.Headers {
		if h != "*" && !IsSafelistedHeader(h, sampleHeaderValue(h)) {
			out = append(out, Request{URL: target, Origin: origin, Method: baseMethod(served), Headers: map[string]string{h: sampleHeaderValue(h)}, Credentials: cr})
		}
	}
	if len(out) == 0 {
		// Nothing preflighted is allowed: a request that needs a preflight
		// all the same, on a method the route serves.
		if Serves(served, "PUT") {
			out = append(out, Request{URL: target, Origin: origin, Method: "PUT", Headers: map[string]string{}, Credentials: cr})
		} else {
			out = append(out, Request{URL: target, Origin: origin, Method: baseMethod(served), Headers: map[string]string{"Content-Type": "application/json"}, Credentials: cr})
		}
	}
	return out[:min(len(out), maxCacheCandidates)]
}
