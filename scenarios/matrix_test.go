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
	if n := len(cases); n != 243 {
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
