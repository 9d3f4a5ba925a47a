package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/scenarios"
)

// Go net/http, hand-written: written from the Fetch Standard.
var _ = unverified("go", "Go net/http (hand-written)", nil, nil,
	func(p *scenarios.Policy) string {
		creds := ""
		if p.Credentials {
			creds = "\n\t\t\tw.Header().Set(\"Access-Control-Allow-Credentials\", \"true\")"
		}
		return fmt.Sprintf("var allowed = map[string]bool{%s}\n\nfunc withCORS(next http.Handler) http.Handler {\n\treturn http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {\n\t\tw.Header().Add(\"Vary\", \"Origin\")\n\t\tif o := r.Header.Get(\"Origin\"); allowed[o] {\n\t\t\tw.Header().Set(\"Access-Control-Allow-Origin\", o)%s\n\t\t\tw.Header().Set(\"Access-Control-Expose-Headers\", %q)\n\t\t\tif r.Method == http.MethodOptions && r.Header.Get(\"Access-Control-Request-Method\") != \"\" {\n\t\t\t\tw.Header().Set(\"Access-Control-Allow-Methods\", %q)\n\t\t\t\tw.Header().Set(\"Access-Control-Allow-Headers\", %q)\n\t\t\t\tw.Header().Set(\"Access-Control-Max-Age\", \"%d\")\n\t\t\t\tw.WriteHeader(http.StatusNoContent)\n\t\t\t\treturn\n\t\t\t}\n\t\t}\n\t\tnext.ServeHTTP(w, r)\n\t})\n}\n// handler := withCORS(auth(mux)): CORS outermost\n",
			quoted(exactOrigins(p), `"`)+": true", creds, strings.Join(exposed(p), ", "), strings.Join(policyMethods(p), ", "), strings.Join(p.Headers, ", "), maxAgeSeconds(p))
	})
