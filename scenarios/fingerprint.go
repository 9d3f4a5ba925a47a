package scenarios

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
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

// FingerprintSlots name the questions a fingerprint asks, in order.
var FingerprintSlots = []string{"GET from the allowed origin", "preflighted request", "GET from a look-alike origin", "preflight for an unknown method"}

// Fingerprint picks a route's fingerprint among the route's selected cases:
// the requests of cases the run sends anyway, so fingerprinting sends
// nothing the user excluded. Each slot is the first case (by its ID
// without the route key) that asks that question: a simple GET from the
// first allowed origin, a preflighted request from it, a GET from the
// suffix look-alike origin, a preflight for a method the policy does not
// list, each with credentials when the policy allows them. A slot no
// selected case fills is absent (nil); routes compare slot by slot.
func Fingerprint(r Route, selected []Case) []*Request {
	p := r.Policy
	allowed := representative(p.Origins[0])
	creds := CredentialsOmit
	if p.Credentials {
		creds = CredentialsInclude
	}
	slots := make([]*Request, len(FingerprintSlots))
	shapes := make([]string, len(FingerprintSlots))
	for i := range selected {
		c := &selected[i]
		if c.Route != r.Path || c.SkipReason != "" || c.Check != CheckOutcome || len(c.Related) > 0 || c.Request.Credentials != creds {
			continue
		}
		slot := -1
		switch {
		case c.Family == "simple" && c.Request.Method == "GET" && c.Request.Origin == allowed:
			slot = 0
		case c.Family == "preflight" && c.Request.Origin == allowed:
			slot = 1
		case c.Family == "origins" && c.HostileKind == "suffix" && c.Request.Method == "GET":
			slot = 2
		case c.Family == "disallowed" && strings.HasPrefix(c.ID, "disallowed.method.") && c.Request.Origin == allowed:
			slot = 3
		}
		if slot < 0 {
			continue
		}
		// Safe methods first (a fingerprint must not log the user out),
		// then the smallest shape.
		shape := CaseShape(*c, r)
		if m := c.Request.Method; m != "GET" && m != "HEAD" {
			shape = "~" + shape
		}
		if slots[slot] == nil || shape < shapes[slot] {
			req := c.Request
			slots[slot], shapes[slot] = &req, shape
		}
	}
	return slots
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

// NotAsked is the signature of a fingerprint slot no selected case fills.
const NotAsked = "-"

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
	names := FingerprintSlots
	var parts []string
	for i, s := range sigs {
		if i >= len(names) {
			break
		}
		if s == NotAsked {
			continue
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
