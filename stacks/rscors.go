package stacks

import (
	"fmt"
)

var _ = goMiddleware("go-rs-cors", "Go github.com/rs/cors", map[string]string{"no-cors-for-method": "rs/cors answers a method outside AllowedMethods (HEAD included) with no CORS headers; list HEAD."}, func(g GoCORS) string {
	return fmt.Sprintf("c := cors.New(cors.Options{\n\tAllowedOrigins:   %s,\n\tAllowedMethods:   %s,\n\tAllowedHeaders:   %s,\n\tExposedHeaders:   %s,\n\tAllowCredentials: %t,\n\tMaxAge:           %d,\n})\nhandler := c.Handler(mux) // outermost: preflights never reach authentication\n",
		goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), g.Credentials, g.MaxAge)
}, echoedMethod("rs/cors's preflight", 204, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"))
