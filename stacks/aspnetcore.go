package stacks

import (
	"fmt"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// ASP.NET Core: written from its documentation (no .NET here).
var _ = unverified("aspnetcore", "ASP.NET Core", []diagnosis.Signal{rule("server", `(?i)^kestrel`), rule("x-powered-by", `(?i)asp\.net`)},
	map[string]string{"auth-before-cors": "UseCors must come after UseRouting and before UseAuthentication and UseAuthorization, or preflights meet authentication."},
	func(p *scenarios.Policy) string {
		creds := ""
		if p.Credentials {
			creds = "\n    .AllowCredentials()"
		}
		return fmt.Sprintf("builder.Services.AddCors(o => o.AddPolicy(\"api\", p => p\n    .WithOrigins(%s)\n    .WithMethods(%s)\n    .WithHeaders(%s)\n    .WithExposedHeaders(%s)%s\n    .SetPreflightMaxAge(TimeSpan.FromSeconds(%d))));\n// ...\napp.UseRouting();\napp.UseCors(\"api\");          // after UseRouting, before authentication\napp.UseAuthentication();\napp.UseAuthorization();\n",
			quoted(exactOrigins(p), `"`), quoted(p.Methods, `"`), quoted(p.Headers, `"`), quoted(exposed(p), `"`), creds, maxAgeSeconds(p))
	})
