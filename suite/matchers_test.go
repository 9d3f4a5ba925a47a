package suite

import (
	"strings"
	"testing"

	"github.com/corscheck/corscheck/scenarios"
)

// Ginkgo failure messages (go test ./suite) show target text as visible
// escapes and never a secret.
func TestConformToMessageIsSafe(t *testing.T) {
	c := scenarios.Case{ID: "simple.get.include.https-app.example.com", Request: scenarios.Request{URL: "http://127.0.0.1:1/api", Origin: "https://app.example.com",
		Method: "GET", Headers: map[string]string{"Authorization": "Bearer s3cret-token"}, Credentials: scenarios.CredentialsInclude},
		Check: scenarios.CheckOutcome, Expected: scenarios.Expected{Outcome: scenarios.Allowed}}
	o := scenarios.Observation{Request: c.Request, Outcome: scenarios.Blocked, CorsError: "AllowOriginMismatch", FailedParameter: "x\x1b[2J\u202e(13 cases)",
		ConsoleMessage: "Access to fetch ... 'x\x1b[2J\u202e'", Response: &scenarios.Response{Status: 200, Headers: map[string]string{
			"access-control-allow-origin": "x\x1b[2J\u202e(13 cases)"}, RequestHeaders: map[string]string{"authorization": "Bearer s3cret-token"}}}
	m := ConformTo(c, "s3cret-token")
	if ok, _ := m.Match([]scenarios.Observation{o}); ok {
		t.Fatal("a mismatch matched")
	}
	msg := m.FailureMessage([]scenarios.Observation{o})
	if strings.ContainsAny(msg, "\x1b\u202e") || strings.Contains(msg, "s3cret-token") {
		t.Errorf("unsafe failure message:\n%s", msg)
	}
	if !strings.Contains(msg, `\u202e`) {
		t.Errorf("the value is not shown:\n%s", msg)
	}
}
