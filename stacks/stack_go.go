package stacks

import (
	"fmt"
	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
	"strings"
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
func goMiddleware(name, title string, why map[string]string, render func(GoCORS) string) *diagnosis.Stack {
	return diagnosis.Register(&diagnosis.Stack{Name: name, Title: title, Verified: true,
		Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
			if !corsCauses[cause] {
				return diagnosis.StackFix{}, false
			}
			return diagnosis.StackFix{Why: why[cause], Parts: []diagnosis.SnippetPart{{Slot: "go", Where: "Where the router is built: the CORS middleware outermost, before authentication", Text: render(GoCORSFor(p))}}}, true
		}})
}

var (
	_ = goMiddleware("go-rs-cors", "Go github.com/rs/cors", map[string]string{"no-cors-for-method": "rs/cors answers a method outside AllowedMethods (HEAD included) with no CORS headers; list HEAD."}, func(g GoCORS) string {
		return fmt.Sprintf("c := cors.New(cors.Options{\n\tAllowedOrigins:   %s,\n\tAllowedMethods:   %s,\n\tAllowedHeaders:   %s,\n\tExposedHeaders:   %s,\n\tAllowCredentials: %t,\n\tMaxAge:           %d,\n})\nhandler := c.Handler(mux) // outermost: preflights never reach authentication\n",
			goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), g.Credentials, g.MaxAge)
	})
	_ = goMiddleware("go-chi-cors", "Go github.com/go-chi/cors", map[string]string{"no-cors-for-method": "go-chi/cors (a fork of an older rs/cors) answers a method outside AllowedMethods with no CORS headers; list HEAD."}, func(g GoCORS) string {
		return fmt.Sprintf("r.Use(cors.Handler(cors.Options{\n\tAllowedOrigins:   %s,\n\tAllowedMethods:   %s,\n\tAllowedHeaders:   %s,\n\tExposedHeaders:   %s,\n\tAllowCredentials: %t,\n\tMaxAge:           %d,\n})) // first r.Use, before authentication\n",
			goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), g.Credentials, g.MaxAge)
	})
	_ = goMiddleware("gorilla-handlers", "Go github.com/gorilla/handlers", map[string]string{"vary-missing": "gorilla/handlers adds Vary: Origin only when more than one origin is allowed; wrap it to add Vary: Origin always."}, func(g GoCORS) string {
		creds := ""
		if g.Credentials {
			creds = "\n\thandlers.AllowCredentials(),"
		}
		return fmt.Sprintf("varyOrigin := func(h http.Handler) http.Handler {\n\treturn http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Add(\"Vary\", \"Origin\"); h.ServeHTTP(w, r) })\n}\nhandler := varyOrigin(handlers.CORS(\n\thandlers.AllowedOrigins(%s),\n\thandlers.AllowedMethods(%s),\n\thandlers.AllowedHeaders(%s),\n\thandlers.ExposedHeaders(%s),%s\n\thandlers.MaxAge(%d),\n)(router))\n",
			goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), creds, g.MaxAge)
	})
	_ = goMiddleware("echo", "Go Echo (middleware.CORSWithConfig)", nil, func(g GoCORS) string {
		return fmt.Sprintf("e.Use(middleware.CORSWithConfig(middleware.CORSConfig{\n\tAllowOrigins:     %s,\n\tAllowMethods:     %s,\n\tAllowHeaders:     %s,\n\tExposeHeaders:    %s,\n\tAllowCredentials: %t,\n\tMaxAge:           %d,\n})) // before authentication middleware\n",
			goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), g.Credentials, g.MaxAge)
	})
	_ = goMiddleware("gin-cors", "Go Gin (gin-contrib/cors)", nil, func(g GoCORS) string {
		return fmt.Sprintf("r.Use(cors.New(cors.Config{\n\tAllowOrigins:     %s,\n\tAllowMethods:     %s,\n\tAllowHeaders:     %s,\n\tExposeHeaders:    %s,\n\tAllowCredentials: %t,\n\tMaxAge:           %d * time.Second,\n})) // before authentication middleware\n",
			goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), g.Credentials, g.MaxAge)
	})
	_ = goMiddleware("fiber", "Go Fiber (middleware/cors)", nil, func(g GoCORS) string {
		return fmt.Sprintf("app.Use(cors.New(cors.Config{\n\tAllowOrigins:     %q,\n\tAllowMethods:     %q,\n\tAllowHeaders:     %q,\n\tExposeHeaders:    %q,\n\tAllowCredentials: %t,\n\tMaxAge:           %d,\n})) // before authentication middleware\n",
			strings.Join(g.Origins, ","), strings.Join(g.Methods, ","), strings.Join(g.Headers, ","), strings.Join(g.Expose, ","), g.Credentials, g.MaxAge)
	})
)
