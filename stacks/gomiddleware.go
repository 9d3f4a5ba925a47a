package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// GoCORS is the CORS configuration the Go middleware snippets render, from
// a policy: its lists, plus HEAD (rs/cors and go-chi/cors answer a method
// outside AllowedMethods with no CORS headers, and browsers send HEAD
// without asking). The Go fixtures build each middleware from exactly
// these values, so the snippets are tested in the real middleware.
type GoCORS struct {
	Origins, Methods, Headers, Expose []string
	Credentials                       bool
	MaxAge                            int
}

// GoCORSFor is the Go middleware configuration of a policy.
func GoCORSFor(p *scenarios.Policy) GoCORS {
	g := GoCORS{Origins: p.Origins, Headers: p.Headers, Expose: exposed(p), Credentials: p.Credentials}
	g.Methods = append([]string(nil), p.Methods...)
	for _, m := range []string{"GET", "HEAD", "POST"} {
		if !contains(g.Methods, m) {
			g.Methods = append(g.Methods, m)
		}
	}
	if p.MaxAge != nil {
		g.MaxAge = *p.MaxAge
	}
	return g
}

func goList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}

// goMiddleware is a Go middleware stack whose snippet renders GoCORS;
// why explains the causes the middleware itself is known for.
func goMiddleware(name, title string, why map[string]string, render func(GoCORS) string, signals ...diagnosis.Signal) *diagnosis.Stack {
	return diagnosis.Register(&diagnosis.Stack{Name: name, Title: title, Verified: true, Layer: diagnosis.LayerApp, Signals: signals,
		Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
			if !corsCauses[cause] {
				return diagnosis.StackFix{}, false
			}
			return diagnosis.StackFix{Why: why[cause], Parts: []diagnosis.SnippetPart{{Slot: "go", Where: "Where the router is built: the CORS middleware outermost, before authentication", Text: render(GoCORSFor(p))}}}, true
		}})
}

// echoedMethod is the rs/cors family's preflight: Access-Control-Allow-Methods
// is the requested method alone, and Vary lists the three request headers
// (one line for rs/cors, three for go-chi/cors, which browsers join with a
// newline).
func echoedMethod(what string, status int, vary string) diagnosis.Signal {
	return diagnosis.Signal{What: what, CORS: true, Seen: func(a diagnosis.Answer) (string, bool) {
		m, _ := a.Header("access-control-allow-methods")
		v, _ := a.Header("vary")
		if a.Preflight && a.Status == status && v == vary && m != "" && m == scenarios.NormalizeMethod(a.Request.Method) {
			return fmt.Sprintf("preflight %d with Access-Control-Allow-Methods: %s (the requested method) and Vary: %s", status, m, strings.ReplaceAll(v, "\n", ", ")), true
		}
		return "", false
	}}
}
