package scenarios

import (
	"strings"
	"testing"
)

func samplePolicy(t *testing.T) *Policy {
	t.Helper()
	p, err := ParsePolicy("sample.yaml", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func byID(cases []Case) map[string]Case {
	m := map[string]Case{}
	for _, c := range cases {
		m[c.ID] = c
	}
	return m
}

func TestSampleMatrix(t *testing.T) {
	cases, err := Expand(samplePolicy(t), "http://127.0.0.1:8080/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	// The README states this size; hundreds, not tens of thousands.
	if n := len(cases); n != 299 {
		t.Fatalf("sample matrix has %d cases; update the README if this change is intended", n)
	}
	ids := byID(cases)
	if len(ids) != len(cases) {
		t.Fatal("duplicate IDs")
	}
	for id, want := range map[string]Outcome{
		"simple.get.omit.https-app.example.com":                        Allowed,
		"preflight.method.put.include.https-app.example.com":           Allowed,
		"preflight.header.authorization.include.https-app.example.com": Allowed,
		"disallowed.method.patch.include.https-app.example.com":        Blocked,
		"disallowed.header.omit.https-app.example.com":                 Blocked,
		"disallowed.lowercase-method.omit.https-app.example.com":       Blocked,
		"simple.get.include.null":                                      Blocked,
		"simple.get.include.https-evilapp.example.com":                 Blocked,
		"simple.get.include.https-evil-app.example.com":                Blocked,
		"simple.get.include.https-app.example.com.evil.test":           Blocked,
		"simple.get.include.https-x.app.example.com":                   Blocked,
		"simple.get.include.http-app.example.com":                      Blocked,
		"simple.get.include.https-app.example.com-8443":                Blocked,
		"simple.get.include.https-corscheck-attacker.test":             Blocked,
		"expose.x-total-count.include":                                 Allowed,
		"cache.repeat.include":                                         Allowed,
		"vary.origin.https-app.example.com":                            Allowed,
		"errors.not-found.include":                                     Allowed,
		"simple.get.include.https-appxexample.com":                     Blocked, // unescaped-dot
		"simple.get.include.https-app.example.com_.evil.test":          Blocked, // special-chars
		"simple.get.include.https-pp.example.com":                      Blocked, // substring
		"simple.get.include.https-codepen.io":                          Blocked, // third-party
		"simple.get.include.http-localhost.evil.test":                  Blocked, // localhost-prefix
		"preflight.method.put.include.http-localhost.evil.test":        Blocked, // compact classes get one preflighted request
	} {
		c, ok := ids[id]
		if !ok {
			t.Errorf("missing case %s", id)
			continue
		}
		if c.Expected.Outcome != want {
			t.Errorf("%s: expected %s, want %s", id, c.Expected.Outcome, want)
		}
		if c.Spec == "" || c.Title == "" || len(c.Labels) == 0 {
			t.Errorf("%s: missing spec, title or labels", id)
		}
		for _, l := range c.Labels {
			if strings.ContainsAny(l, "/,&|!()") {
				t.Errorf("%s: label %q has characters Ginkgo's label filter reserves", id, l)
			}
		}
	}
	if c := ids["cache.repeat.include"]; c.Repeat != 2 || *c.Expected.Preflights != 1 || *c.Expected.MaxAge != 600 {
		t.Errorf("cache case: %+v", c)
	}
}

func TestMatrixIDsAreStable(t *testing.T) {
	a, _ := Expand(samplePolicy(t), "http://127.0.0.1:8080/v1/items")
	p := samplePolicy(t)
	p.RefuseOrigins = []string{"https://partner.example.net"}
	b, _ := Expand(p, "http://127.0.0.1:9999/other")
	ids := byID(b)
	for _, c := range a {
		if _, ok := ids[c.ID]; !ok {
			t.Errorf("%s disappeared when an origin was added and the target changed", c.ID)
		}
	}
}

func TestMatrixWithoutCredentials(t *testing.T) {
	p, err := ParsePolicy("p", []byte("origins: [\"https://*.example.com\"]\nmethods: [PATCH]\nheaders: [\"*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := Expand(p, "http://127.0.0.1:1/x")
	if err != nil {
		t.Fatal(err)
	}
	ids := byID(cases)
	for id, want := range map[string]Outcome{
		"simple.get.omit.https-corscheck.example.com":              Allowed,
		"credentials.get.include.https-corscheck.example.com":      Blocked,
		"simple.get.omit.https-example.com":                        Blocked, // the apex is not *.example.com
		"preflight.method.patch.omit.https-corscheck.example.com":  Allowed,
		"disallowed.header.omit.https-corscheck.example.com":       Allowed, // ACAH * without credentials
		"preflight.authorization.omit.https-corscheck.example.com": Allowed, // Chrome: * covers Authorization without credentials
	} {
		if c, ok := ids[id]; !ok || c.Expected.Outcome != want {
			t.Errorf("%s: got %+v (present %v), want %s", id, c.Expected, ok, want)
		}
	}
}

func TestSkipList(t *testing.T) {
	p := samplePolicy(t)
	p.Skip = []Skip{{ID: "cache.*", Reason: "CDN strips Max-Age"}}
	cases, _ := Expand(p, "http://127.0.0.1:1/x")
	for _, c := range cases {
		if (c.Family == "cache") != (c.SkipReason != "") {
			t.Errorf("%s: skip reason %q", c.ID, c.SkipReason)
		}
	}
}

// Every hostile class real bypasses use is generated, labelled with its
// kind, and explained with the server bug it proves.
func TestHostileClasses(t *testing.T) {
	cases, err := Expand(samplePolicy(t), "http://127.0.0.1:8080/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, c := range cases {
		if c.Hostile {
			kinds[c.HostileKind]++
			if c.Expected.Outcome != Blocked {
				t.Errorf("%s: a hostile origin expected %s", c.ID, c.Expected.Outcome)
			}
			if !strings.Contains(strings.Join(c.Labels, " "), "hostile:"+c.HostileKind) {
				t.Errorf("%s: no hostile:%s label", c.ID, c.HostileKind)
			}
		}
	}
	for kind := range HostileKinds {
		if kind == "apex" || kind == "listed" {
			continue // from patterns and refuseOrigins only
		}
		if kinds[kind] == 0 {
			t.Errorf("no case for hostile kind %q", kind)
		}
	}
	for _, kind := range []string{"unescaped-dot", "special-chars", "substring", "localhost-prefix"} {
		if kinds[kind] != 6 {
			t.Errorf("compact kind %s has %d cases, want 6 (GET, POST, one preflighted, each with and without credentials)", kind, kinds[kind])
		}
	}
}

// Routes carry their own policy, every family runs on every route, and
// the target's IDs stay those of the first release.
func TestRoutesWithTheirOwnPolicy(t *testing.T) {
	p, err := ParsePolicy("p.yaml", []byte(sample+"paths:\n  - /v1/orders\n  - {path: /v1/admin/*, methods: [DELETE], credentials: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := Expand(p, "http://127.0.0.1:8080/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	ids := byID(cases)
	families := map[string]map[string]bool{}
	for _, c := range cases {
		if families[c.Route] == nil {
			families[c.Route] = map[string]bool{}
		}
		families[c.Route][c.Family] = true
	}
	for _, route := range []string{"", "/v1/orders"} {
		for _, f := range []string{"simple", "preflight", "disallowed", "origins", "expose", "cache", "vary", "errors"} {
			if !families[route][f] {
				t.Errorf("route %q has no %s cases", route, f)
			}
		}
	}
	for id, want := range map[string]Outcome{
		"simple.get.include.https-app.example.com":                              Allowed, // the target: unchanged ID
		"simple.get.include.path-v1-orders.https-app.example.com":               Allowed,
		"simple.get.include.path-v1-orders.https-evilapp.example.com":           Blocked, // hostile origins on every route
		"preflight.method.delete.omit.path-v1-admin-star.https-app.example.com": Allowed,
		"credentials.get.include.path-v1-admin-star.https-app.example.com":      Blocked, // the route's credentials: false
		"vary.origin.path-v1-orders.https-app.example.com":                      Allowed,
		"expose.x-total-count.include.path-v1-orders":                           Allowed,
		"errors.not-found.include.path-v1-orders":                               Allowed,
	} {
		if c, ok := ids[id]; !ok || c.Expected.Outcome != want {
			t.Errorf("%s: got %+v (present %v), want %s", id, c.Expected.Outcome, ok, want)
		}
	}
	if c := ids["simple.get.include.path-v1-orders.https-app.example.com"]; !strings.Contains(c.Title, "/v1/orders") || c.Request.URL != "http://127.0.0.1:8080/v1/orders" {
		t.Errorf("route case title/URL: %q %q", c.Title, c.Request.URL)
	}
	if _, ok := ids["preflight.method.put.omit.path-v1-admin-star.https-app.example.com"]; ok {
		t.Error("the admin route's methods override the policy's: no PUT there")
	}
}

// Auth headers go on every request from an allowed origin, with the
// ${VAR} reference the suite fills in; a hostile origin's requests never
// carry them (a hostile page knows none of the user's secrets), so its
// simple requests stay simple.
func TestAuthHeadersOnAllowedOriginsOnly(t *testing.T) {
	p, err := ParsePolicy("p.yaml", []byte(sample+"auth:\n  headers: {Authorization: \"Bearer ${TOKEN}\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases, _ := Expand(p, "http://127.0.0.1:8080/v1/items")
	hostileSimple := 0
	for _, c := range cases {
		for _, r := range append([]Request{c.Request}, c.Related...) {
			v, has := lookup(r.Headers, "authorization")
			switch {
			case p.OriginAllowed(r.Origin) && !has:
				t.Fatalf("%s: the request from the allowed origin %s carries no Authorization", c.ID, r.Origin)
			case !p.OriginAllowed(r.Origin) && v == "Bearer ${TOKEN}":
				t.Fatalf("%s: the request from the hostile origin %s carries the user's Authorization", c.ID, r.Origin)
			}
		}
		if c.Hostile && hasLabel(c.Labels, "simple") && (c.Request.Method == "GET" || c.Request.Method == "POST") {
			hostileSimple++
		}
	}
	if hostileSimple == 0 {
		t.Fatal("no simple GET/POST from a hostile origin: the attacker's own request is never probed")
	}
	if _, err := ParsePolicy("p.yaml", []byte("origins: [https://a.example]\nheaders: [X-A]\nauth:\n  headers: {X-Api-Key: \"${K}\"}\n")); err == nil || !strings.Contains(err.Error(), "X-Api-Key is sent with every request, but the policy's headers do not allow it (headers: [X-A])") {
		t.Fatalf("an auth header the policy does not allow: %v", err)
	}
}

// The cache case carries every allowed preflighted request as a candidate,
// so a refused first method does not hide a missing max-age.
func TestCacheCandidates(t *testing.T) {
	ids := byID(mustExpand(t, samplePolicy(t)))
	c := ids["cache.repeat.include"]
	if c.Request.Method != "PUT" || len(c.Related) < 2 || c.Related[0].Method != "DELETE" {
		t.Fatalf("cache candidates: %s then %+v", c.Request.Method, c.Related)
	}
	if c.Observations() != 2*(1+len(c.Related)) {
		t.Fatalf("observations %d", c.Observations())
	}
}

func mustExpand(t *testing.T, p *Policy) []Case {
	t.Helper()
	cases, err := Expand(p, "http://127.0.0.1:8080/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

func hasLabel(labels []string, l string) bool {
	for _, x := range labels {
		if x == l {
			return true
		}
	}
	return false
}
