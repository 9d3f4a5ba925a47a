package stacks

import (
	"fmt"

	"github.com/corscheck/corscheck/scenarios"
)

// Spring Boot / Spring Security: written from its documentation (no JVM service here).
var _ = unverified("spring", "Spring Boot / Spring Security", nil,
	map[string]string{"auth-before-cors": "with http.cors(...) Spring Security's CorsFilter answers preflights before authentication."},
	func(p *scenarios.Policy) string {
		return fmt.Sprintf("@Bean\nCorsConfigurationSource corsConfigurationSource() {\n    CorsConfiguration c = new CorsConfiguration();\n    c.setAllowedOrigins(List.of(%s));\n    c.setAllowedMethods(List.of(%s));\n    c.setAllowedHeaders(List.of(%s));\n    c.setExposedHeaders(List.of(%s));\n    c.setAllowCredentials(%t);\n    c.setMaxAge(%dL);\n    UrlBasedCorsConfigurationSource s = new UrlBasedCorsConfigurationSource();\n    s.registerCorsConfiguration(\"/**\", c);\n    return s;\n}\n// in the SecurityFilterChain:\nhttp.cors(Customizer.withDefaults());\n",
			quoted(exactOrigins(p), `"`), quoted(policyMethods(p), `"`), quoted(p.Headers, `"`), quoted(exposed(p), `"`), p.Credentials, maxAgeSeconds(p))
	})
