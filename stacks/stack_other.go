package stacks

import (
	"fmt"
	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
	"regexp"
	"strings"
)

// Stacks that cannot run on corscheck's machine: their snippets are
// written from each project's documentation and shown as unverified.

// unverified registers a documentation-based stack.
func unverified(name, title string, detect []diagnosis.DetectRule, why map[string]string, render func(p *scenarios.Policy) string) *diagnosis.Stack {
	return diagnosis.Register(&diagnosis.Stack{Name: name, Title: title, Detect: detect,
		Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
			if !corsCauses[cause] {
				return diagnosis.StackFix{}, false
			}
			return diagnosis.StackFix{Why: why[cause], Snippet: render(p)}, true
		}})
}

func quoted(list []string, q string) string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = q + s + q
	}
	return strings.Join(out, ", ")
}

func rule(header, re string) diagnosis.DetectRule {
	return diagnosis.DetectRule{Header: header, Match: regexp.MustCompile(re)}
}

func maxAgeSeconds(p *scenarios.Policy) int {
	if p.MaxAge == nil {
		return 600
	}
	return *p.MaxAge
}

var (
	_ = unverified("aspnetcore", "ASP.NET Core", []diagnosis.DetectRule{rule("server", `(?i)^kestrel`), rule("x-powered-by", `(?i)asp\.net`)},
		map[string]string{"auth-before-cors": "UseCors must come after UseRouting and before UseAuthentication and UseAuthorization, or preflights meet authentication."},
		func(p *scenarios.Policy) string {
			creds := ""
			if p.Credentials {
				creds = "\n    .AllowCredentials()"
			}
			return fmt.Sprintf("builder.Services.AddCors(o => o.AddPolicy(\"api\", p => p\n    .WithOrigins(%s)\n    .WithMethods(%s)\n    .WithHeaders(%s)\n    .WithExposedHeaders(%s)%s\n    .SetPreflightMaxAge(TimeSpan.FromSeconds(%d))));\n// ...\napp.UseRouting();\napp.UseCors(\"api\");          // after UseRouting, before authentication\napp.UseAuthentication();\napp.UseAuthorization();\n",
				quoted(exactOrigins(p), `"`), quoted(p.Methods, `"`), quoted(p.Headers, `"`), quoted(exposed(p), `"`), creds, maxAgeSeconds(p))
		})
	_ = unverified("spring", "Spring Boot / Spring Security", nil,
		map[string]string{"auth-before-cors": "with http.cors(...) Spring Security's CorsFilter answers preflights before authentication."},
		func(p *scenarios.Policy) string {
			return fmt.Sprintf("@Bean\nCorsConfigurationSource corsConfigurationSource() {\n    CorsConfiguration c = new CorsConfiguration();\n    c.setAllowedOrigins(List.of(%s));\n    c.setAllowedMethods(List.of(%s));\n    c.setAllowedHeaders(List.of(%s));\n    c.setExposedHeaders(List.of(%s));\n    c.setAllowCredentials(%t);\n    c.setMaxAge(%dL);\n    UrlBasedCorsConfigurationSource s = new UrlBasedCorsConfigurationSource();\n    s.registerCorsConfiguration(\"/**\", c);\n    return s;\n}\n// in the SecurityFilterChain:\nhttp.cors(Customizer.withDefaults());\n",
				quoted(exactOrigins(p), `"`), quoted(policyMethods(p), `"`), quoted(p.Headers, `"`), quoted(exposed(p), `"`), p.Credentials, maxAgeSeconds(p))
		})
	_ = unverified("django", "Django (django-cors-headers)", []diagnosis.DetectRule{rule("server", `(?i)wsgiserver|gunicorn`)},
		map[string]string{"auth-before-cors": "CorsMiddleware must be placed as high as possible in MIDDLEWARE, before any middleware that can answer (CommonMiddleware, authentication)."},
		func(p *scenarios.Policy) string {
			return fmt.Sprintf("INSTALLED_APPS += [\"corsheaders\"]\nMIDDLEWARE.insert(0, \"corsheaders.middleware.CorsMiddleware\")  # first\nCORS_ALLOWED_ORIGINS = [%s]\nCORS_ALLOW_METHODS = [%s]\nCORS_ALLOW_HEADERS = [%s]\nCORS_EXPOSE_HEADERS = [%s]\nCORS_ALLOW_CREDENTIALS = %s\nCORS_PREFLIGHT_MAX_AGE = %d\n",
				quoted(exactOrigins(p), `"`), quoted(policyMethods(p), `"`), quoted(p.Headers, `"`), quoted(exposed(p), `"`), pyBool(p.Credentials), maxAgeSeconds(p))
		})
	_ = unverified("flask", "Flask (flask-cors)", []diagnosis.DetectRule{rule("server", `(?i)werkzeug`)}, nil,
		func(p *scenarios.Policy) string {
			return fmt.Sprintf("from flask_cors import CORS\nCORS(app, origins=[%s], methods=[%s], allow_headers=[%s],\n     expose_headers=[%s], supports_credentials=%s, max_age=%d)\n",
				quoted(exactOrigins(p), `"`), quoted(policyMethods(p), `"`), quoted(p.Headers, `"`), quoted(exposed(p), `"`), pyBool(p.Credentials), maxAgeSeconds(p))
		})
	_ = unverified("fastapi", "FastAPI / Starlette (CORSMiddleware)", []diagnosis.DetectRule{rule("server", `(?i)uvicorn|hypercorn`)},
		map[string]string{"auth-before-cors": "add CORSMiddleware last: Starlette runs the last-added middleware first (outermost)."},
		func(p *scenarios.Policy) string {
			return fmt.Sprintf("from fastapi.middleware.cors import CORSMiddleware\napp.add_middleware(CORSMiddleware, allow_origins=[%s], allow_methods=[%s],\n                   allow_headers=[%s], expose_headers=[%s],\n                   allow_credentials=%s, max_age=%d)  # added last: runs first\n",
				quoted(exactOrigins(p), `"`), quoted(policyMethods(p), `"`), quoted(p.Headers, `"`), quoted(exposed(p), `"`), pyBool(p.Credentials), maxAgeSeconds(p))
		})
	_ = unverified("rails", "Rails (rack-cors)", []diagnosis.DetectRule{rule("server", `(?i)puma|webrick|passenger`), rule("x-runtime", `^[0-9.]+$`)},
		map[string]string{"auth-before-cors": "insert_before 0 puts Rack::Cors in front of every other middleware, authentication included."},
		func(p *scenarios.Policy) string {
			methods := make([]string, 0, len(p.Methods)+1)
			for _, m := range policyMethods(p) {
				methods = append(methods, ":"+strings.ToLower(m))
			}
			return fmt.Sprintf("Rails.application.config.middleware.insert_before 0, Rack::Cors do\n  allow do\n    origins %s\n    resource \"*\", headers: [%s], methods: [%s],\n      expose: [%s], credentials: %t, max_age: %d\n  end\nend\n",
				quoted(exactOrigins(p), `"`), quoted(p.Headers, `"`), strings.Join(methods, ", "), quoted(exposed(p), `"`), p.Credentials, maxAgeSeconds(p))
		})
	_ = unverified("go", "Go net/http (hand-written)", nil, nil,
		func(p *scenarios.Policy) string {
			creds := ""
			if p.Credentials {
				creds = "\n\t\t\tw.Header().Set(\"Access-Control-Allow-Credentials\", \"true\")"
			}
			return fmt.Sprintf("var allowed = map[string]bool{%s}\n\nfunc withCORS(next http.Handler) http.Handler {\n\treturn http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {\n\t\tw.Header().Add(\"Vary\", \"Origin\")\n\t\tif o := r.Header.Get(\"Origin\"); allowed[o] {\n\t\t\tw.Header().Set(\"Access-Control-Allow-Origin\", o)%s\n\t\t\tw.Header().Set(\"Access-Control-Expose-Headers\", %q)\n\t\t\tif r.Method == http.MethodOptions && r.Header.Get(\"Access-Control-Request-Method\") != \"\" {\n\t\t\t\tw.Header().Set(\"Access-Control-Allow-Methods\", %q)\n\t\t\t\tw.Header().Set(\"Access-Control-Allow-Headers\", %q)\n\t\t\t\tw.Header().Set(\"Access-Control-Max-Age\", \"%d\")\n\t\t\t\tw.WriteHeader(http.StatusNoContent)\n\t\t\t\treturn\n\t\t\t}\n\t\t}\n\t\tnext.ServeHTTP(w, r)\n\t})\n}\n// handler := withCORS(auth(mux)): CORS outermost\n",
				quoted(exactOrigins(p), `"`)+": true", creds, strings.Join(exposed(p), ", "), strings.Join(policyMethods(p), ", "), strings.Join(p.Headers, ", "), maxAgeSeconds(p))
		})
	_ = unverified("envoy", "Envoy (cors filter)", []diagnosis.DetectRule{rule("server", `(?i)^envoy`), rule("x-envoy-upstream-service-time", `.`)}, nil,
		func(p *scenarios.Policy) string {
			var matches []string
			for _, o := range exactOrigins(p) {
				matches = append(matches, fmt.Sprintf("{exact: %q}", o))
			}
			return fmt.Sprintf("# on the route (and envoy.filters.http.cors before envoy.filters.http.router in http_filters)\ntyped_per_filter_config:\n  envoy.filters.http.cors:\n    \"@type\": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy\n    allow_origin_string_match: [%s]\n    allow_methods: %q\n    allow_headers: %q\n    expose_headers: %q\n    allow_credentials: %t\n    max_age: \"%d\"\n",
				strings.Join(matches, ", "), strings.Join(policyMethods(p), ", "), strings.Join(p.Headers, ", "), strings.Join(exposed(p), ", "), p.Credentials, maxAgeSeconds(p))
		})
	_ = unverified("cloudflare", "Cloudflare (Worker in front of the API)", []diagnosis.DetectRule{rule("server", `(?i)^cloudflare`), rule("cf-ray", `.`)},
		map[string]string{"multiple-acao": "Cloudflare Transform Rules and the origin both add Access-Control-Allow-Origin: keep one."},
		func(p *scenarios.Policy) string {
			return fmt.Sprintf("const allowed = [%s];\nexport default {\n  async fetch(request) {\n    const origin = request.headers.get(\"Origin\");\n    const ok = allowed.includes(origin);\n    const cors = ok ? {\"Access-Control-Allow-Origin\": origin, \"Access-Control-Allow-Credentials\": \"%t\", \"Vary\": \"Origin\"} : {\"Vary\": \"Origin\"};\n    if (request.method === \"OPTIONS\" && request.headers.has(\"Access-Control-Request-Method\")) {\n      return new Response(null, {status: 204, headers: ok ? {...cors, \"Access-Control-Allow-Methods\": %q,\n        \"Access-Control-Allow-Headers\": %q, \"Access-Control-Max-Age\": \"%d\"} : cors});\n    }\n    const upstream = await fetch(request);\n    const response = new Response(upstream.body, upstream);\n    for (const [k, v] of Object.entries(cors)) response.headers.set(k, v);\n    return response;\n  },\n};\n",
				quoted(exactOrigins(p), `"`), p.Credentials, strings.Join(policyMethods(p), ", "), strings.Join(p.Headers, ", "), maxAgeSeconds(p))
		})
	_ = unverified("aws", "AWS API Gateway (HTTP API) / CloudFront", []diagnosis.DetectRule{rule("x-amzn-requestid", `.`), rule("x-amz-apigw-id", `.`), rule("x-amz-cf-id", `.`), rule("via", `(?i)cloudfront`)},
		map[string]string{"no-cors-on-errors": "API Gateway adds the CORS headers to its own error answers only when CORS is configured on the API (not by a Lambda integration)."},
		func(p *scenarios.Policy) string {
			return fmt.Sprintf("aws apigatewayv2 update-api --api-id $API_ID --cors-configuration \\\n  'AllowOrigins=%s,AllowMethods=%s,AllowHeaders=%s,ExposeHeaders=%s,AllowCredentials=%t,MaxAge=%d'\n# CloudFront in front: forward the Origin header to the origin and include it in the cache key.\n",
				strings.Join(exactOrigins(p), ","), strings.Join(policyMethods(p), ","), strings.Join(p.Headers, ","), strings.Join(exposed(p), ","), p.Credentials, maxAgeSeconds(p))
		})
)

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
