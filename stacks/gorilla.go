package stacks

import (
	"fmt"
)

var _ = goMiddleware("gorilla-handlers", "Go github.com/gorilla/handlers", map[string]string{"vary-missing": "gorilla/handlers adds Vary: Origin only when more than one origin is allowed; wrap it to add Vary: Origin always."}, func(g GoCORS) string {
	creds := ""
	if g.Credentials {
		creds = "\n\thandlers.AllowCredentials(),"
	}
	return fmt.Sprintf("varyOrigin := func(h http.Handler) http.Handler {\n\treturn http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Add(\"Vary\", \"Origin\"); h.ServeHTTP(w, r) })\n}\nhandler := varyOrigin(handlers.CORS(\n\thandlers.AllowedOrigins(%s),\n\thandlers.AllowedMethods(%s),\n\thandlers.AllowedHeaders(%s),\n\thandlers.ExposedHeaders(%s),%s\n\thandlers.MaxAge(%d),\n)(router))\n",
		goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), creds, g.MaxAge)
})
