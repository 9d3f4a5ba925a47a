package stacks

import (
	"fmt"
)

var _ = goMiddleware("go-chi-cors", "Go github.com/go-chi/cors", map[string]string{"no-cors-for-method": "go-chi/cors (a fork of an older rs/cors) answers a method outside AllowedMethods with no CORS headers; list HEAD."}, func(g GoCORS) string {
	return fmt.Sprintf("r.Use(cors.Handler(cors.Options{\n\tAllowedOrigins:   %s,\n\tAllowedMethods:   %s,\n\tAllowedHeaders:   %s,\n\tExposedHeaders:   %s,\n\tAllowCredentials: %t,\n\tMaxAge:           %d,\n})) // first r.Use, before authentication\n",
		goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), g.Credentials, g.MaxAge)
}, echoedMethod("go-chi/cors's preflight", 200, "Origin\nAccess-Control-Request-Method\nAccess-Control-Request-Headers"))
