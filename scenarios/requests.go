package scenarios

import "strings"

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
