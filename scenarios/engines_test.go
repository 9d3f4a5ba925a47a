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

// The preflight cache in Firefox is judged on the server's answer: a
// repeat that sent a second preflight although Access-Control-Max-Age is
// as the policy says is Firefox's DNS check, a labelled browser
// difference; the same count in Chrome fails. A second sample that passes
// stands, labelled with the first one's failure.
func TestPreflightCacheJudgedOnTheAnswer(t *testing.T) {
	c := byID(mustExpand(t, samplePolicy(t)))["cache.repeat.include"]
	pf := &Exchange{Status: 204, ResponseHeaders: map[string]string{"access-control-max-age": "600", "access-control-allow-origin": "https://app.example.com"}}
	resp := &Response{Status: 200, Headers: map[string]string{"access-control-allow-origin": "https://app.example.com"}}
	obs := func(engine string, preflights int) []Observation {
		var out []Observation
		for i := range c.Fetches() {
			o := Observation{Request: c.Request, Outcome: Allowed, Response: resp, Engine: engine}
			if i < preflights {
				o.Preflight = pf
			}
			out = append(out, o)
		}
		return out
	}
	if j := Judge(c, obs("firefox", 2)); j.Verdict != Pass || !strings.Contains(j.Message, "DNS") {
		t.Errorf("Firefox, two preflights, max-age 600: %s %q", j.Verdict, j.Message)
	}
	if j := Judge(c, obs("chrome", 2)); j.Verdict != Fail {
		t.Errorf("Chrome, two preflights: %s", j.Verdict)
	}
	if j := Judge(c, obs("webkit", 1)); j.Verdict != Pass {
		t.Errorf("WebKit, one preflight: %s %q", j.Verdict, j.Message)
	}
	bad := *pf
	bad.ResponseHeaders = map[string]string{"access-control-max-age": "5"}
	o := obs("firefox", 1)
	o[0].Preflight = &bad
	if j := Judge(c, o); j.Verdict != Fail || j.Header != "Access-Control-Max-Age" {
		t.Errorf("Firefox, max-age 5 against a policy of 600: %s %q", j.Verdict, j.Message)
	}
	second := obs("chrome", 1)
	second[0].Resampled = "a first sample failed: two preflights"
	if j := Judge(c, second); j.Verdict != Pass || !strings.Contains(j.Message, "timing-dependent: a first sample failed") {
		t.Errorf("a passing second sample: %s %q", j.Verdict, j.Message)
	}

	// Whether Firefox reused the cached preflight this time changes
	// nothing a run writes: the same judgement, the same browser
	// difference beside Chrome, one preflight or two.
	once, twice := Judge(c, obs("firefox", 1)), Judge(c, obs("firefox", 2))
	if once != twice {
		t.Errorf("Firefox's judgement depends on its preflight count:\n%+v\n%+v", once, twice)
	}
	chrome := obs("chrome", 1)
	_, _, d1 := JudgeEngines(c, []string{"chrome", "firefox"}, map[string][]Observation{"chrome": chrome, "firefox": obs("firefox", 1)})
	_, _, d2 := JudgeEngines(c, []string{"chrome", "firefox"}, map[string][]Observation{"chrome": chrome, "firefox": obs("firefox", 2)})
	if d1 != d2 || !strings.Contains(d1, "CheckDNSCache") {
		t.Errorf("the difference beside Chrome depends on Firefox's count: %q vs %q", d1, d2)
	}
	// A server whose answer fails the policy in both is no browser difference.
	badPF := &Exchange{Status: 204, ResponseHeaders: map[string]string{"access-control-max-age": "5", "access-control-allow-origin": "https://app.example.com"}}
	withBad := func(o []Observation) []Observation {
		for i := range o {
			if o[i].Preflight != nil {
				o[i].Preflight = badPF
			}
		}
		return o
	}
	if _, _, d := JudgeEngines(c, []string{"chrome", "firefox"}, map[string][]Observation{"chrome": withBad(obs("chrome", 1)), "firefox": withBad(obs("firefox", 2))}); d != "" {
		t.Errorf("max-age 5 failing in both labelled a browser difference: %q", d)
	}
}

// WebKit's mixed content refusal is a browser difference, out of the
// combined verdict; its preflight-status-first reason is a known one.
func TestWebKitDeviations(t *testing.T) {
	c := byID(mustExpand(t, samplePolicy(t)))["simple.get.include.https-app.example.com"]
	answer := &Response{Status: 200, Headers: map[string]string{"access-control-allow-origin": "https://app.example.com", "access-control-allow-credentials": "true"}}
	chrome := Observation{Request: c.Request, Outcome: Allowed, Response: answer, Engine: "chrome"}
	mixed := Observation{Request: c.Request, Outcome: Errored, ErrorKind: ErrorMixedContent, Error: "mixed content", Engine: "webkit"}
	j, per, diff := JudgeEngines(c, []string{"chrome", "webkit"}, map[string][]Observation{"chrome": {chrome}, "webkit": {mixed}})
	if j.Verdict != Pass || per[1].Verdict != Error || !strings.Contains(diff, "https page's fetch to any http URL") {
		t.Errorf("mixed content in WebKit: combined %s, WebKit %s, difference %q", j.Verdict, per[1].Verdict, diff)
	}
	if j := Judge(c, []Observation{mixed}); j.Verdict != Error {
		t.Errorf("WebKit alone with mixed content: %s", j.Verdict)
	}
	if EngineTitle("webkit") != "WebKit" || MaxAgeCap("webkit") != 600 {
		t.Error("WebKit's name or cap")
	}
	want := OracleResult{Outcome: Blocked, CorsError: "PreflightMissingAllowOriginHeader"}
	o := Observation{Preflight: &Exchange{Status: 404}}
	if got := WebKitExpect(want, o); got.CorsError != "PreflightInvalidStatus" {
		t.Errorf("a 404 preflight in WebKit: %s", got.CorsError)
	}
}
