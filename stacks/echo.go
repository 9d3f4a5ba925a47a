package stacks

import (
	"fmt"
)

var _ = goMiddleware("echo", "Go Echo (middleware.CORSWithConfig)", nil, func(g GoCORS) string {
	return fmt.Sprintf("e.Use(middleware.CORSWithConfig(middleware.CORSConfig{\n\tAllowOrigins:     %s,\n\tAllowMethods:     %s,\n\tAllowHeaders:     %s,\n\tExposeHeaders:    %s,\n\tAllowCredentials: %t,\n\tMaxAge:           %d,\n})) // before authentication middleware\n",
		goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), g.Credentials, g.MaxAge)
})
