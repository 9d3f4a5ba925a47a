package stacks

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// AWS API Gateway and CloudFront: written from their documentation.
var _ = unverified("aws", "AWS API Gateway (HTTP API) / CloudFront", []diagnosis.Signal{rule("x-amzn-requestid", `.`), rule("x-amz-apigw-id", `.`), rule("x-amz-cf-id", `.`), rule("via", `(?i)cloudfront`)},
	map[string]string{"no-cors-on-errors": "API Gateway adds the CORS headers to its own error answers only when CORS is configured on the API (not by a Lambda integration)."},
	func(p *scenarios.Policy) string {
		return fmt.Sprintf("aws apigatewayv2 update-api --api-id $API_ID --cors-configuration \\\n  'AllowOrigins=%s,AllowMethods=%s,AllowHeaders=%s,ExposeHeaders=%s,AllowCredentials=%t,MaxAge=%d'\n# CloudFront in front: forward the Origin header to the origin and include it in the cache key.\n",
			strings.Join(exactOrigins(p), ","), strings.Join(policyMethods(p), ","), strings.Join(p.Headers, ","), strings.Join(exposed(p), ","), p.Credentials, maxAgeSeconds(p))
	})
