package stacks

import (
	"regexp"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// The helpers every stack's snippets share.

// policyList is a policy list for a config: the allowed request headers,
// methods (with OPTIONS) or exposed headers.
func exposed(p *scenarios.Policy) []string {
	var out []string
	for _, h := range p.ExposeHeaders {
		if h != "*" {
			out = append(out, h)
		}
	}
	return out
}

// exactOrigins are the policy's origins without patterns, for stacks that
// match exact strings.
func exactOrigins(p *scenarios.Policy) []string {
	var out []string
	for _, o := range p.Origins {
		if o != "*" && !strings.Contains(o, "*") {
			out = append(out, o)
		}
	}
	return out
}

// originRegexp is an anchored regular expression matching the policy's
// origins exactly (dots escaped; *.domain patterns as one or more labels).
func originRegexp(p *scenarios.Policy) string {
	var alts []string
	for _, o := range p.Origins {
		if o == "*" {
			return "^.*$"
		}
		q := regexp.QuoteMeta(o)
		q = strings.Replace(q, `://\*\.`, `://([a-z0-9-]+\.)+`, 1)
		alts = append(alts, q)
	}
	return "^(" + strings.Join(alts, "|") + ")$"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// policyMethods are the policy's methods with OPTIONS, for a config.
func policyMethods(p *scenarios.Policy) []string { return diagnosis.PolicyMethods(p) }

var corsCauses = map[string]bool{}

func init() {
	for _, c := range diagnosis.CORSCauses() {
		corsCauses[c] = true
	}
}
