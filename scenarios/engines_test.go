package scenarios

import (
	"strings"
	"testing"
)

// Combining browsers: a failure in any browser fails the case, the message
// says which browser did what, and a disagreement on the same server
// answer is labelled a browser difference; a different server answer is not.
func TestJudgeEngines(t *testing.T) {
	c := byID(mustExpand(t, samplePolicy(t)))["simple.get.include.https-app.example.com"]
	answer := &Response{Status: 200, Headers: map[string]string{"access-control-allow-origin": "https://app.example.com", "access-control-allow-credentials": "true"}}
	allowed := Observation{Request: c.Request, Outcome: Allowed, Response: answer, Engine: "chrome"}
	blocked := Observation{Request: c.Request, Outcome: Blocked, CorsError: "AllowOriginMismatch", Response: answer, Engine: "firefox", BrowserReason: "CORSAllowOriginNotMatchingOrigin"}
	j, per, diff := JudgeEngines(c, []string{"chrome", "firefox"}, map[string][]Observation{"chrome": {allowed}, "firefox": {blocked}})
	if j.Verdict != Fail || len(per) != 2 || per[0].Verdict != Pass || per[1].Verdict != Fail {
		t.Fatalf("combined %s, per %+v", j.Verdict, per)
	}
	if !strings.HasPrefix(j.Message, "Chrome pass, Firefox fail: ") || diff == "" || !strings.Contains(j.Message, "browser difference") {
		t.Fatalf("message %q, difference %q", j.Message, diff)
	}
	// The server answered Firefox differently: not the browsers' doing.
	other := blocked
	other.Response = &Response{Status: 200, Headers: map[string]string{"access-control-allow-origin": "https://other.example.com"}}
	if _, _, d := JudgeEngines(c, []string{"chrome", "firefox"}, map[string][]Observation{"chrome": {allowed}, "firefox": {other}}); d != "" {
		t.Fatalf("a different server answer labelled a browser difference: %q", d)
	}
	// Agreement: no label, the first browser's judgement.
	ff := allowed
	ff.Engine = "firefox"
	j, _, d := JudgeEngines(c, []string{"chrome", "firefox"}, map[string][]Observation{"chrome": {allowed}, "firefox": {ff}})
	if j.Verdict != Pass || d != "" {
		t.Fatalf("agreement: %s %q", j.Verdict, d)
	}
	// One engine: exactly Judge.
	if j, per, _ := JudgeEngines(c, []string{"chrome"}, map[string][]Observation{"chrome": {allowed}}); j != Judge(c, []Observation{allowed}) || len(per) != 1 {
		t.Fatal("a single engine is not plain Judge")
	}
}
