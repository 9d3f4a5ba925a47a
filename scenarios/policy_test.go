package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
)

const sample = `origins: [https://app.example.com]
methods: [GET, POST, PUT, DELETE]
headers: [Content-Type, Authorization, X-Request-ID]
credentials: true
maxAge: 600
exposeHeaders: [X-Total-Count]
target: https://staging.api.example.com/v1/items
`

func TestParseSamplePolicy(t *testing.T) {
	p, err := ParsePolicy("sample.yaml", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Origins) != 1 || p.Origins[0] != "https://app.example.com" || !p.Credentials || p.MaxAge == nil || *p.MaxAge != 600 ||
		len(p.Methods) != 4 || len(p.Headers) != 3 || p.ExposeHeaders[0] != "X-Total-Count" || p.Target != "https://staging.api.example.com/v1/items" {
		t.Fatalf("parsed wrong: %+v", p)
	}
}

func TestParseJSONPolicy(t *testing.T) {
	p, err := ParsePolicy("p.json", []byte(`{"origins": ["http://localhost:3000"], "methods": ["GET"], "credentials": false}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Origins[0] != "http://localhost:3000" || p.Credentials {
		t.Fatalf("parsed wrong: %+v", p)
	}
}

// Every bad input is an error naming file:line and what to write instead.
func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"typo key", "origins: [https://a.example]\ncredentails: true\n", `p.yaml:2: unknown key "credentails"; did you mean "credentials"?`},
		{"no scheme", "origins:\n  - app.example.com\n", `p.yaml:2: origins: "app.example.com" has no scheme; write https://app.example.com`},
		{"trailing slash", "origins: [https://app.example.com/]\n", `p.yaml:1: origins: "https://app.example.com/": an origin has no trailing slash; write https://app.example.com`},
		{"path", "origins: [https://app.example.com/app]\n", `an origin has no path; write https://app.example.com`},
		{"default port", "origins: [https://app.example.com:443]\n", `browsers omit the default port; write https://app.example.com`},
		{"upper case", "origins: [https://App.example.com]\n", `browsers send origins in lower case; write https://app.example.com`},
		{"wildcard with credentials", "origins: [\"*\"]\ncredentials: true\n", `p.yaml:1: origins: ["*"] with credentials: true contradicts itself: browsers never accept a wildcard`},
		{"credentials type", "origins: [https://a.example]\ncredentials: yes please\n", `p.yaml:2: credentials: want true or false`},
		{"maxAge type", "origins: [https://a.example]\nmaxAge: ten\n", `p.yaml:2: maxAge: want a whole number of seconds`},
		{"methods scalar", "origins: [https://a.example]\nmethods: GET\n", `p.yaml:2: methods: want a list, such as methods: [GET]`},
		{"lower-case method", "origins: [https://a.example]\nmethods: [get]\n", `write GET`},
		{"forbidden method", "origins: [https://a.example]\nmethods: [TRACE]\n", `forbidden method`},
		{"header with space", "origins: [https://a.example]\nheaders: [\"X Request\"]\n", `p.yaml:2: headers: "X Request" is not a valid header name`},
		{"comma list in one entry", "origins: [https://a.example]\nheaders: [\"A, B\"]\n", `one per entry`},
		{"forbidden header", "origins: [https://a.example]\nheaders: [Cookie]\n", `forbidden request header`},
		{"no origins", "methods: [GET]\n", `no origins`},
		{"not a mapping", "- a\n- b\n", `a policy is a mapping`},
		{"bad yaml", "origins: [https://a.example\n", `p.yaml:`},
		{"alias", "a: &x [https://a.example]\norigins: *x\n", `anchors and aliases`},
		{"duplicate key", "origins: [https://a.example]\norigins: [https://b.example]\n", `p.yaml:2: key "origins" appears twice`},
		{"duplicate origin", "origins: [https://a.example, https://a.example]\n", `listed twice`},
		{"bad pattern", "origins: [\"https://app.*.example.com\"]\n", `a pattern may only put * as the whole first label`},
		{"bad target", "origins: [https://a.example]\ntarget: staging.example.com\n", `p.yaml:2: target: "staging.example.com" is not an absolute URL`},
		{"skip without reason", "origins: [https://a.example]\nskip: [{id: simple.get.omit.null}]\n", `needs an id and a reason`},
		{"empty", "", "empty policy"},
		{"second document", "origins: [https://a.example]\n---\ncredentails: true\n", `p.yaml:2: a policy is one YAML document, but a second one follows (---)`},
		{"trailing JSON", "{\"origins\": [\"https://a.example\"]}}\n", `trailing data after the policy`},
		{"escape in a path", "origins: [https://a.example]\npaths: [\"/v1/\\e[31m\"]\n", `p.yaml:2: a control character (\x1b)`},
		{"bidi override", "origins: [\"https://a.example\u202e\"]\n", `\u202e`},
		{"over-long host", "origins: [https://" + strings.Repeat("a", 300) + ".example]\n", `at most 253`},
		{"skip past its limit", "origins: [https://a.example]\nskip:\n" + strings.Repeat("  - {id: x, reason: y}\n", 65), `p.yaml:3: skip: 65 entries; at most 64`},
		{"resolve to a name", "origins: [https://a.example]\nresolve: {api.test: localhost}\n", `must be an IP address`},
		{"auth unknown key", "origins: [https://a.example]\nauth: {header: {}}\n", `auth: unknown key "header" (keys: headers, cookies)`},
		{"bad cookie", "origins: [https://a.example]\nauth: {cookies: [\"session\"]}\n", `write name=value`},
		{"cookie SameSite", "origins: [https://a.example]\nauth: {cookies: [\"s=1; SameSite=Loose\"]}\n", `SameSite=Loose: want None, Lax or Strict`},
		{"expectStatus", "origins: [https://a.example]\nexpectStatus: [4011]\n", `not an HTTP status`},
		{"errorPaths", "origins: [https://a.example]\nerrorPaths: {200: /ok}\n", `not an error status`},
		{"route typo", "origins: [https://a.example]\npaths:\n  - {path: /a, method: [GET]}\n", `p.yaml:3: paths: unknown key "method" in a route; did you mean "methods"?`},
		{"route star in the middle", "origins: [https://a.example]\npaths: [\"/a/*/b\"]\n", `* may only end a path pattern`},
		{"route wildcard with credentials", "origins: [https://a.example]\ncredentials: true\npaths:\n  - {path: /a, headers: [\"*\"]}\n", `contradicts itself`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy("p.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error for %q", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestPolicyTooLarge(t *testing.T) {
	big := "origins: [https://a.example]\n# " + strings.Repeat("x", MaxPolicySize) + "\n"
	if _, err := ParsePolicy("big.yaml", []byte(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("want size error, got %v", err)
	}
}

func TestCheckOrigin(t *testing.T) {
	for _, ok := range []string{"https://app.example.com", "http://localhost:3000", "null", "http://127.0.0.1:8080"} {
		if err := CheckOrigin(ok); err != nil {
			t.Errorf("CheckOrigin(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"*", "app.example.com", "https://app.example.com/", "ftp://x.example", "https://", "https://a.example:99999"} {
		if err := CheckOrigin(bad); err == nil {
			t.Errorf("CheckOrigin(%q) accepted", bad)
		}
	}
}

func TestOriginPatterns(t *testing.T) {
	p := &Policy{Origins: []string{"https://*.example.com"}}
	for origin, want := range map[string]bool{
		"https://app.example.com":     true,
		"https://a.b.example.com":     true,
		"https://example.com":         false,
		"http://app.example.com":      false,
		"https://evilexample.com":     false,
		"https://app.example.com:444": false,
		"null":                        false,
	} {
		if got := p.OriginAllowed(origin); got != want {
			t.Errorf("OriginAllowed(%q) = %v, want %v", origin, got, want)
		}
	}
}

// FuzzParsePolicy: no panic and no hang on any input; errors always carry the file name.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"origins": ["*"], "credentials": true}`))
	f.Add([]byte("a: &a [x]\nb: [*a, *a]\n"))
	f.Add([]byte("origins:\n  - https://*.example.com\nskip: [{id: x*, reason: y}]\n"))
	f.Add([]byte("origins: [https://a.example]\nnever: [\"POST /logout\", \"DELETE /*\", \"/admin/*\", \"PUT,PATCH /x\"]\n"))
	f.Add([]byte("origins: [https://a.example]\nnever: [POST]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		if len(p.Origins) == 0 {
			t.Fatal("accepted a policy with no origins")
		}
		cases, err := Expand(p, "http://127.0.0.1:8080/api")
		if err != nil {
			t.Fatalf("valid policy, invalid matrix: %v", err)
		}
		// Whatever the never: rules, the plan refuses every request they name.
		plan := NewPlan(cases, p.Never)
		for _, c := range cases {
			for _, rule := range p.Never {
				if rule.Matches(c.Request, c.Route) && plan.Permits(c.Request) == nil {
					t.Fatalf("never: %s, yet the plan permits %s %s", rule, c.Request.Method, c.Request.URL)
				}
			}
		}
	})
}

// The keys the staging issue added, parsed and kept as written (secrets
// stay ${VAR} references in the policy results.json records).
func TestStagingKeys(t *testing.T) {
	p, err := ParsePolicy("p.yaml", []byte(`origins: [https://app.example.com]
headers: [Authorization]
credentials: true
resolve: {API.staging.example.test: 127.0.0.1}
auth:
  headers: {Authorization: "Bearer ${STAGING_TOKEN}"}
  cookies: ["session=${SESSION}; SameSite=None; Secure", {name: theme, value: dark, sameSite: Lax}]
expectStatus: [401]
errorPaths: {404: /missing, 500: /boom}
paths:
  - /v1/items
  - {path: /v1/admin/*, methods: [DELETE], credentials: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Resolve["api.staging.example.test"] != "127.0.0.1" || p.Auth.Headers["Authorization"] != "Bearer ${STAGING_TOKEN}" ||
		len(p.Auth.Cookies) != 2 || p.Auth.Cookies[0].SameSite != "None" || *p.Auth.Cookies[0].Secure != true || p.Auth.Cookies[1].SameSite != "Lax" ||
		p.ExpectStatus[0] != 401 || p.ErrorPaths[500] != "/boom" || len(p.Paths) != 2 || *p.Paths[1].Credentials {
		t.Fatalf("parsed wrong: %+v", p)
	}
	js, _ := json.Marshal(p.Paths)
	if string(js) != `["/v1/items",{"path":"/v1/admin/*","methods":["DELETE"],"credentials":false}]` {
		t.Errorf("paths JSON: %s", js)
	}
}
