package stacks

import (
	"fmt"
)

var _ = goMiddleware("gin-cors", "Go Gin (gin-contrib/cors)", nil, func(g GoCORS) string {
	return fmt.Sprintf("r.Use(cors.New(cors.Config{\n\tAllowOrigins:     %s,\n\tAllowMethods:     %s,\n\tAllowHeaders:     %s,\n\tExposeHeaders:    %s,\n\tAllowCredentials: %t,\n\tMaxAge:           %d * time.Second,\n})) // before authentication middleware\n",
		goList(g.Origins), goList(g.Methods), goList(g.Headers), goList(g.Expose), g.Credentials, g.MaxAge)
})
