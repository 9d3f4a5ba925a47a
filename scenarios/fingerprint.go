package scenarios

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/url"
	"sort"
	"strings"
)

// The adaptive matrix: most routes of one API share one CORS layer, so
// corscheck first asks every route a few questions (its fingerprint),
// groups routes that answer alike, runs the full matrix on one
// representative and a sample of each group, and covers the others by
// their representative. A sampled member that answers the full matrix
// differently means the fingerprint missed something: its whole group is
// then probed in full.

// AdaptiveMinRoutes is the number of routes from which the matrix is
// adaptive (below it every route is probed in full).
const AdaptiveMinRoutes = 10

// FingerprintRequests are the requests that fingerprint a route: a simple
// GET and a preflighted (credentialed when the policy allows credentials)
// request from the first allowed origin, the same GET from a suffix
// look-alike origin, and a preflight for a method nobody allows.
func FingerprintRequests(r Route) []Request {
	p := r.Policy
	allowed := representative(p.Origins[0])
	creds := CredentialsOmit
	if p.Credentials {
		creds = CredentialsInclude
	}
	method, headers := "GET", map[string]string{"X-Corscheck-Fingerprint": "1"}
	for _, m := range r.methods() {
		if !safelistedMethods[NormalizeMethod(m)] && m != "*" {
			method, headers = m, map[string]string{}
			break
		}
	}
	for _, h := range p.Headers {
		if h != "*" && !IsSafelistedHeader(h, "x") {
			headers = map[string]string{h: "1"}
			break
		}
	}
	return []Request{
		{URL: r.URL, Origin: allowed, Method: "GET", Headers: map[string]string{}, Credentials: creds},
		{URL: r.URL, Origin: allowed, Method: method, Headers: headers, Credentials: creds},
		{URL: r.URL, Origin: suffixLookalike(allowed), Method: "GET", Headers: map[string]string{}, Credentials: creds},
		{URL: r.URL, Origin: allowed, Method: "CORSCHECK", Headers: map[string]string{}, Credentials: creds},
	}
}

// methods are the route's methods (OpenAPI) or its policy's.
func (r Route) methods() []string {
	if len(r.Methods) > 0 {
		return r.Methods
	}
	return r.Policy.Methods
}

// suffixLookalike is https://evil + host: it catches an origin check that
// reflects anything or matches the end of the host.
func suffixLookalike(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return "https://corscheck-attacker.test"
	}
	return u.Scheme + "://evil" + u.Host
}

// AnswerSignature is the CORS-relevant part of what a browser observed:
// outcome, reason, status classes and the Access-Control-* and Vary
// headers of the preflight and the response, with the request's origin
// written as {origin} so routes that reflect it compare equal.
func AnswerSignature(o Observation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s", o.Outcome, o.CorsError)
	if o.Outcome == Errored {
		fmt.Fprintf(&b, "|%s", o.ErrorKind)
	}
	headers := func(prefix string, status int, h map[string]string) {
		fmt.Fprintf(&b, "|%s%dxx", prefix, status/100)
		var kv []string
		for k, v := range h {
			lk := strings.ToLower(k)
			if strings.HasPrefix(lk, "access-control-") || lk == "vary" {
				if o.Request.Origin != "" {
					v = strings.ReplaceAll(v, o.Request.Origin, "{origin}")
				}
				kv = append(kv, lk+"="+v)
			}
		}
		sort.Strings(kv)
		b.WriteString(strings.Join(kv, ";"))
	}
	if o.Preflight != nil {
		headers("P", o.Preflight.Status, o.Preflight.ResponseHeaders)
	}
	if o.Response != nil {
		headers("R", o.Response.Status, o.Response.Headers)
	}
	return b.String()
}

// RouteGroup is routes that answered their fingerprint alike under the
// same policy.
type RouteGroup struct {
	// Routes are the members' URLs in declaration order; the first is the
	// representative.
	Routes []string
	// Sampled are the members probed in full besides the representative.
	Sampled []string
	// Why is the group's fingerprint, in words, for the report.
	Why string
}

// GroupRoutes groups routes by their fingerprint signatures (one per
// fingerprint request) and their policy, keeping declaration order, and
// picks samplePerGroup members of each to probe in full besides the
// representative (stable: the same members every run).
func GroupRoutes(routes []Route, signatures map[string][]string, samplePerGroup int) []RouteGroup {
	var out []RouteGroup
	idx := map[string]int{}
	for _, r := range routes {
		pol, _ := json.Marshal(r.Policy)
		key := strings.Join(signatures[r.URL], "\n") + "\n" + string(pol) + "\n" + strings.Join(r.Methods, ",")
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, RouteGroup{Why: describeFingerprint(signatures[r.URL])})
		}
		out[i].Routes = append(out[i].Routes, r.URL)
	}
	for i := range out {
		members := append([]string(nil), out[i].Routes[1:]...)
		sort.Slice(members, func(a, b int) bool { return stableHash(members[a]) < stableHash(members[b]) })
		if len(members) > samplePerGroup {
			members = members[:samplePerGroup]
		}
		out[i].Sampled = members
	}
	return out
}

func stableHash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// describeFingerprint says in words what the group's routes answered.
func describeFingerprint(sigs []string) string {
	names := []string{"GET from the allowed origin", "preflighted request", "GET from a look-alike origin", "preflight for an unknown method"}
	var parts []string
	for i, s := range sigs {
		if i >= len(names) {
			break
		}
		outcome, _, _ := strings.Cut(s, "|")
		parts = append(parts, names[i]+": "+outcome)
	}
	return "same answers to the fingerprint (" + strings.Join(parts, ", ") + ")"
}

// CaseShape is a case's ID without its route key: the same check on
// another route has the same shape.
func CaseShape(c Case, r Route) string {
	if r.Key == "" {
		return c.ID
	}
	return strings.Replace(c.ID, "."+r.Key, "", 1)
}
