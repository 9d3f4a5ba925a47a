package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/scenarios"
)

// jsList is a list as a JavaScript array of strings.
func jsList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// jsOrigins is the policy's origins for a middleware that takes an array
// of strings and RegExps (a *.domain pattern as an anchored RegExp).
func jsOrigins(p *scenarios.Policy) string {
	var items []string
	for _, o := range p.Origins {
		if strings.Contains(o, "://*.") {
			items = append(items, "/"+strings.ReplaceAll(originRegexp(&scenarios.Policy{Origins: []string{o}}), "/", "\\/")+"/")
		} else {
			items = append(items, fmt.Sprintf("%q", o))
		}
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// jsAllowed is a JavaScript expression that is true when the variable
// origin is one of the policy's origins.
func jsAllowed(p *scenarios.Policy, origin string) string {
	return fmt.Sprintf("%s.some((o) => typeof o === \"string\" ? o === %s : o.test(%s))", jsOrigins(p), origin, origin)
}
