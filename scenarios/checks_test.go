package scenarios

import (
	"strings"
	"testing"
)

func allowedObs(r Request, status int, h map[string]string) Observation {
	return Observation{Request: r, Outcome: Allowed, Response: &Response{Status: status, Headers: h}, ReadableHeaders: map[string]*string{}}
}

// The vary check fires only when the answer depends on the origin.
func TestVaryProvesItsPremise(t *testing.T) {
	c := byID(mustExpand(t, samplePolicy(t)))["vary.origin.https-app.example.com"]
	other := c.Related[0]
	fixed := hdrs("access-control-allow-origin", "https://example.com")
	if j := Judge(c, []Observation{allowedObs(c.Request, 200, fixed), allowedObs(other, 200, fixed)}); j.Verdict != Pass {
		t.Errorf("a fixed ACAO sent to every origin needs no Vary: %s", j.Message)
	}
	echo := hdrs("access-control-allow-origin", c.Request.Origin)
	if j := Judge(c, []Observation{allowedObs(c.Request, 200, echo), allowedObs(other, 200, hdrs())}); j.Verdict != Fail || !strings.Contains(j.Message, "got no Access-Control-Allow-Origin") {
		t.Errorf("ACAO present for one origin, absent for another, no Vary: %v %s", j.Verdict, j.Message)
	}
	withVary := hdrs("access-control-allow-origin", c.Request.Origin, "vary", "Accept-Encoding, Origin")
	if j := Judge(c, []Observation{allowedObs(c.Request, 200, withVary), allowedObs(other, 200, hdrs())}); j.Verdict != Pass {
		t.Errorf("with Vary: Origin: %s", j.Message)
	}
}

// The cache check uses the first preflighted request that passed; when
// none did it says "not checked" with the reasons.
func TestCacheProvesItsPremise(t *testing.T) {
	c := byID(mustExpand(t, samplePolicy(t)))["cache.repeat.include"]
	refused := Observation{Request: c.Request, Outcome: Blocked, CorsError: "MethodDisallowedByPreflightResponse", FailedParameter: "PUT"}
	del := c.Related[0]
	pf := &Exchange{Status: 204, ResponseHeaders: hdrs("access-control-allow-origin", del.Origin)}
	delObs := Observation{Request: del, Outcome: Allowed, Preflight: pf, Response: &Response{Status: 200}}
	obs := []Observation{refused, refused, delObs, {Request: del, Outcome: Allowed, Response: &Response{Status: 200}}}
	for range c.Related[1:] {
		obs = append(obs, refused, refused)
	}
	j := Judge(c, obs)
	if j.Verdict != Fail || j.Header != "Access-Control-Max-Age" || !strings.Contains(j.Message, "DELETE") {
		t.Errorf("PUT refused, DELETE passes without max-age: want the missing max-age reported on DELETE, got %v %s", j.Verdict, j.Message)
	}
	var none []Observation
	for range 1 + len(c.Related) {
		none = append(none, refused, refused)
	}
	if j := Judge(c, none); j.Verdict != Skipped || !strings.HasPrefix(j.Message, "not checked: no preflighted request passed") {
		t.Errorf("nothing passed: %v %s", j.Verdict, j.Message)
	}
}

// The errors check verifies the status it claims.
func TestErrorsProveTheirStatus(t *testing.T) {
	c := byID(mustExpand(t, samplePolicy(t)))["errors.not-found.include"]
	if c.Expected.Status != 404 {
		t.Fatalf("status %d", c.Expected.Status)
	}
	j := Judge(c, []Observation{allowedObs(c.Request, 200, hdrs("access-control-allow-origin", c.Request.Origin, "access-control-allow-credentials", "true"))})
	if j.Verdict != Skipped || !strings.Contains(j.Message, "not checked: the target answered 200 at") {
		t.Errorf("a 404 case answered 200: %v %s", j.Verdict, j.Message)
	}
	p := samplePolicy(t)
	p.ErrorPaths = map[int]string{404: "/missing", 500: "/boom"}
	ids := byID(mustExpand(t, p))
	if ids["errors.not-found.include"].Request.URL != "http://127.0.0.1:8080/missing" || ids["errors.status-500.include"].Expected.Status != 500 {
		t.Errorf("errorPaths: %q %+v", ids["errors.not-found.include"].Request.URL, ids["errors.status-500.include"].Expected)
	}
}

// Answers that are not about CORS are marked, and a hostile origin refused
// only by an auth layer or a rate limiter is inconclusive, never a pass.
func TestNonCORSStatus(t *testing.T) {
	ids := byID(mustExpand(t, samplePolicy(t)))
	hostile := ids["simple.get.include.https-evilapp.example.com"]
	o := Observation{Request: hostile.Request, Outcome: Blocked, CorsError: "MissingAllowOriginHeader", Response: &Response{Status: 429, Headers: hdrs()}}
	if j := Judge(hostile, []Observation{o}); j.Verdict != Error || !j.Inconclusive || j.Status != 429 || !strings.Contains(j.Message, "inconclusive") {
		t.Errorf("hostile 429: %+v", j)
	}
	hostile.ExpectStatus = []int{429}
	if j := Judge(hostile, []Observation{o}); j.Verdict != Pass {
		t.Errorf("expectStatus 429: %+v", j)
	}
	allowed := ids["simple.get.include.https-app.example.com"]
	ok := allowedObs(allowed.Request, 401, hdrs("access-control-allow-origin", allowed.Request.Origin, "access-control-allow-credentials", "true"))
	if j := Judge(allowed, []Observation{ok}); j.Verdict != Pass || j.Status != 401 || !strings.Contains(j.Message, "answered 401") {
		t.Errorf("allowed 401 with CORS headers: %+v", j)
	}
}

// A cookie the browser refused on a credentialed request the policy allows
// fails the case with the browser's reason and the fix.
func TestCookieThatDidNotTravel(t *testing.T) {
	c := byID(mustExpand(t, samplePolicy(t)))["simple.get.include.https-app.example.com"]
	o := allowedObs(c.Request, 200, hdrs("access-control-allow-origin", c.Request.Origin, "access-control-allow-credentials", "true"))
	o.Cookies = []Cookie{{Name: "session", Blocked: []string{"SameSiteLax"}}, {Name: "theme"}}
	j := Judge(c, []Observation{o})
	if j.Verdict != Fail || !strings.Contains(j.Message, "CORS allowed it, but Chrome sent no cookie session: SameSite") || !strings.Contains(j.Fix, "SameSite=None; Secure") {
		t.Errorf("%+v", j)
	}
}

// Redirect chains: the origin is tainted after a cross-origin hop of a
// cross-origin request, not after a same-origin first hop.
func TestDecideRedirects(t *testing.T) {
	api, cdn := "http://127.0.0.1:1000", "http://127.0.0.1:2000"
	hop := func(from, to string, h map[string]string) Hop {
		return Hop{URL: from, Status: 302, ResponseHeaders: with(h, "location", to)}
	}
	creds := Request{URL: api + "/x", Origin: api, Method: "GET", Credentials: CredentialsInclude}
	echo := hdrs("access-control-allow-origin", api, "access-control-allow-credentials", "true")
	if got := DecideChain(creds, nil, []Hop{hop(api+"/x", cdn+"/y", hdrs())}, &Response{Status: 200, Headers: echo}); got.Outcome != Allowed {
		t.Errorf("same-origin first hop, then the CDN echoes the page's origin: %+v", got)
	}
	cross := Request{URL: cdn + "/a", Origin: "https://app.example.com", Method: "GET", Credentials: CredentialsOmit}
	acao := func(v string) map[string]string { return hdrs("access-control-allow-origin", v) }
	got := DecideChain(cross, nil, []Hop{hop(cdn+"/a", api+"/b", acao("https://app.example.com"))}, &Response{Status: 200, Headers: acao("https://app.example.com")})
	if got.Outcome != Blocked || got.CorsError != "AllowOriginMismatch" {
		t.Errorf("cross → cross: the destination must allow null: %+v", got)
	}
	if got := DecideChain(cross, nil, []Hop{hop(cdn+"/a", api+"/b", acao("https://app.example.com"))}, &Response{Status: 200, Headers: acao("null")}); got.Outcome != Allowed {
		t.Errorf("null allowed after the taint: %+v", got)
	}
	if got := DecideChain(cross, nil, []Hop{hop(cdn+"/a", api+"/b", hdrs())}, &Response{Status: 200, Headers: acao("*")}); got.CorsError != "MissingAllowOriginHeader" {
		t.Errorf("the redirect itself needs CORS headers: %+v", got)
	}
	if got := DecideChain(cross, nil, []Hop{hop(cdn+"/a", "http://u:p@127.0.0.1:2000/c", acao("https://app.example.com"))}, nil); got.CorsError != "RedirectContainsCredentials" {
		t.Errorf("userinfo: %+v", got)
	}
	same := cross
	same.Mode = "same-origin"
	if got := DecideChain(same, nil, nil, nil); got.CorsError != "DisallowedByMode" {
		t.Errorf("same-origin mode: %+v", got)
	}
}

func with(h map[string]string, kv ...string) map[string]string {
	m := copyHeaders(h)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Every corsError Chrome 156 can report has an explanation and a fix that
// are not the generic one; an unknown value still gets one that names it.
func TestEveryCorsErrorIsExplained(t *testing.T) {
	for _, ce := range KnownCorsErrors() {
		e := Explain(Observation{Request: Request{Origin: "https://app.example.com"}, Outcome: Blocked, CorsError: ce})
		if e.Sentence == "" || e.Fix == "" || strings.Contains(e.Sentence, "no explanation") || strings.Contains(e.Sentence, `("")`) {
			t.Errorf("%s: %+v", ce, e)
		}
	}
	if len(KnownCorsErrors()) < 35 {
		t.Errorf("only %d corsErrors known", len(KnownCorsErrors()))
	}
	e := Explain(Observation{Outcome: Blocked, CorsError: "SomethingNew", FailedParameter: "x"})
	if !strings.Contains(e.Sentence, "SomethingNew (x)") {
		t.Errorf("unknown: %+v", e)
	}
}

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"a\x1b[31mred":     `a\x1b[31mred`,
		"(13 cases)\u202e": `(13 cases)\u202e`,
		"\u2066iso\u2069":  `\u2066iso\u2069`,
		"c1\u009b":         `c1\x9b`,
		"bad\xffutf8":      `bad\xffutf8`,
		"tab\tnl\n":        `tab\x09nl\x0a`,
		"ünïcode is fine":  "ünïcode is fine",
	} {
		if got := Visible(in); got != want {
			t.Errorf("Visible(%q) = %q, want %q", in, got, want)
		}
	}
	if got := VisibleLines("a\tb\nc\x1b"); got != "a\tb\nc\\x1b" {
		t.Errorf("VisibleLines: %q", got)
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"TOKEN": "s3cr3t"}
	get := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if v, err := ExpandEnv("Bearer ${TOKEN}", get); err != nil || v != "Bearer s3cr3t" {
		t.Errorf("%q %v", v, err)
	}
	if _, err := ExpandEnv("Bearer ${MISSING}", get); err == nil || !strings.Contains(err.Error(), "${MISSING}") || !strings.Contains(err.Error(), "export MISSING=") {
		t.Errorf("unset: %v", err)
	}
	a := &Auth{Headers: map[string]string{"Authorization": "Bearer ${TOKEN}"}, Cookies: []CookieDef{{Name: "s", Value: "${TOKEN}x"}}}
	r, secrets, err := a.Resolved(get)
	if err != nil || r.Headers["Authorization"] != "Bearer s3cr3t" || r.Cookies[0].Value != "s3cr3tx" || len(secrets) != 2 || secrets[0] != "s3cr3t" {
		t.Errorf("%+v %v %v", r, secrets, err)
	}
}

// Origins: every host Chrome accepts (special characters included), none
// it refuses.
func TestCheckOriginLikeChrome(t *testing.T) {
	for _, c := range []string{"_", `"`, "+", "!", "~", ";", "&", "'", "(", ")", ",", "$", "=", "`", "{", "}", "*", "-"} {
		o := "https://app.holdout.test" + c + ".evil.com"
		if err := CheckOrigin(o); err != nil {
			t.Errorf("Chrome sends %s: %v", o, err)
		}
	}
	for _, c := range []string{"^", "|", "%", " "} {
		if err := CheckOrigin("https://app.holdout.test" + c + ".evil.com"); err == nil {
			t.Errorf("Chrome refuses %q in a host, corscheck accepted it", c)
		}
	}
	if err := CheckOrigin("https://" + strings.Repeat("a", 64) + ".example"); err == nil || !strings.Contains(err.Error(), "at most 63") {
		t.Errorf("long label: %v", err)
	}
	if err := CheckOrigin("https://app.example.com\u202e"); err == nil || !strings.Contains(err.Error(), `\u202e`) {
		t.Errorf("bidi control: %v", err)
	}
}
