package stacks

import (
	"fmt"
	"strings"
)

var _ = goMiddleware("fiber", "Go Fiber (middleware/cors)", nil, func(g GoCORS) string {
	return fmt.Sprintf("app.Use(cors.New(cors.Config{\n\tAllowOrigins:     %q,\n\tAllowMethods:     %q,\n\tAllowHeaders:     %q,\n\tExposeHeaders:    %q,\n\tAllowCredentials: %t,\n\tMaxAge:           %d,\n})) // before authentication middleware\n",
		strings.Join(g.Origins, ","), strings.Join(g.Methods, ","), strings.Join(g.Headers, ","), strings.Join(g.Expose, ","), g.Credentials, g.MaxAge)
})
