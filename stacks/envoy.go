package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// Envoy's cors filter: written from its documentation.
var _ = unverified("envoy", "Envoy (cors filter)", []diagnosis.Signal{rule("server", `(?i)^envoy`), rule("x-envoy-upstream-service-time", `.`)}, nil,
	func(p *scenarios.Policy) string {
		var matches []string
		for _, o := range exactOrigins(p) {
			matches = append(matches, fmt.Sprintf("{exact: %q}", o))
		}
		return fmt.Sprintf("# on the route (and envoy.filters.http.cors before envoy.filters.http.router in http_filters)\ntyped_per_filter_config:\n  envoy.filters.http.cors:\n    \"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy\n    allow_origin_string_match: [%s]\n    allow_methods: %q\n    allow_headers: %q\n    expose_headers: %q\n    allow_credentials: %t\n    max_age: \"%d\"\n",
			strings.Join(matches, ", "), strings.Join(policyMethods(p), ", "), strings.Join(p.Headers, ", "), strings.Join(exposed(p), ", "), p.Credentials, maxAgeSeconds(p))
	})
