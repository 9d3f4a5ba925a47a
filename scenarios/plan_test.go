package scenarios

import (
	"strings"
	"testing"
)

func TestParseNeverRule(t *testing.T) {
	for in, want := range map[string]string{
		"POST /logout":     "POST /logout",
		"delete /*":        "DELETE /*",
		"/admin/*":         "* /admin/*",
		"PUT,PATCH /items": "PUT,PATCH /items",
		"*   /x":           "* /x",
	} {
		r, err := ParseNeverRule(in)
		if err != nil || r.String() != want {
			t.Errorf("%q: %v %q, want %q", in, err, r, want)
		}
	}
	for _, in := range []string{"", "POST", "POST logout", "PO ST /x", "POST /a /b", "P\"T /x"} {
		if _, err := ParseNeverRule(in); err == nil {
			t.Errorf("%q accepted", in)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestNeverRuleMatches(t *testing.T) {
	req := func(m, u string, h map[string]string) Request {
		return Request{URL: u, Origin: "https://a.example", Method: m, Headers: h, Credentials: CredentialsOmit}
	}
	cases := []struct {
		rule, method, url, route string
		headers                  map[string]string
		want                     bool
	}{
		{"POST /logout", "POST", "http://127.0.0.1/logout", "", nil, true},
		{"POST /logout", "POST", "http://127.0.0.1/logout?__corscheck=1", "", nil, true},
		{"POST /logout", "GET", "http://127.0.0.1/logout", "", nil, false},
		{"POST /logout", "POST", "http://127.0.0.1/v1/logout", "/logout", nil, true}, // the declared path
		{"POST /logout", "POST", "http://127.0.0.1/v1/logout", "", nil, false},
		{"DELETE /*", "delete", "http://127.0.0.1/anything/at/all", "", nil, true},
		{"* /admin/*", "GET", "http://127.0.0.1/admin/users", "", nil, true},
		{"* /admin/*", "GET", "http://127.0.0.1/administrator", "", nil, false},
		{"DELETE /items/{id}", "DELETE", "http://127.0.0.1/v1/items/42", "/items/{id}", nil, true},
		{"OPTIONS /x", "GET", "http://127.0.0.1/x", "", map[string]string{"X-Custom": "1"}, true}, // preflighted
		{"OPTIONS /x", "GET", "http://127.0.0.1/x", "", nil, false},
		{"PUT,PATCH /x", "PATCH", "http://127.0.0.1/x", "", nil, true},
	}
	for _, c := range cases {
		r, err := ParseNeverRule(c.rule)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Matches(req(c.method, c.url, c.headers), c.route); got != c.want {
			t.Errorf("%s on %s %s (route %q): %v, want %v", c.rule, c.method, c.url, c.route, got, c.want)
		}
	}
}

// The plan permits only what selected cases send, never what a never:
// rule names, and a never: rule skips the cases that would send it.
func TestPlanPermitsSelectedOnly(t *testing.T) {
	p, err := ParsePolicy("p.yaml", []byte(sample+"never: [\"DELETE /*\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := Expand(p, "http://127.0.0.1:8080/v1/items")
	if err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, c := range cases {
		if NormalizeMethod(c.Request.Method) == "DELETE" {
			if !strings.HasPrefix(c.SkipReason, "never: DELETE /*") {
				t.Fatalf("%s sends DELETE, skip reason %q", c.ID, c.SkipReason)
			}
			skipped++
		}
	}
	if skipped == 0 {
		t.Fatal("the sample policy has DELETE cases: none skipped")
	}
	var gets []Case
	for _, c := range cases {
		if c.Request.Method == "GET" && !NeedsPreflight(c.Request) {
			gets = append(gets, c)
		}
	}
	plan := NewPlan(gets, p.Never)
	get := Request{URL: "http://127.0.0.1:8080/v1/items", Method: "GET"}
	if err := plan.Permits(get); err != nil {
		t.Errorf("a selected GET refused: %v", err)
	}
	put := Request{URL: "http://127.0.0.1:8080/v1/items?__corscheck=x", Method: "PUT"}
	if err := plan.Permits(put); err == nil || !strings.Contains(err.Error(), "not a request of the selected cases") {
		t.Errorf("an unselected PUT: %v", err)
	}
	del := Request{URL: "http://127.0.0.1:8080/v1/items", Method: "DELETE"}
	if err := NewPlan(cases, p.Never).Permits(del); err == nil || !strings.Contains(err.Error(), "never: DELETE /*") {
		t.Errorf("DELETE under never: %v", err)
	}
}

// On a route an API description declares, only its methods are sent
// (HEAD with GET); the header checks ride on a declared method.
func TestOpenAPIRoutesSendDeclaredMethodsOnly(t *testing.T) {
	p := samplePolicy(t)
	ops := []Operation{{Path: "/login", Methods: []string{"POST"}, Sample: "/login"}, {Path: "/items/{id}", Methods: []string{"DELETE", "GET"}, Sample: "/items/1"}}
	cases, err := ExpandWith(p, "http://127.0.0.1:8080/", Discovery{Operations: ops})
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string][]string{"/login": {"POST"}, "/items/{id}": {"DELETE", "GET"}}
	seen := map[string]bool{}
	for _, c := range cases {
		if c.Family == "errors" {
			continue // a missing path, not the operation's
		}
		for _, r := range append([]Request{c.Request}, c.Related...) {
			if !Serves(declared[c.Route], r.Method) {
				t.Errorf("%s sends %s to %s, which declares %v", c.ID, r.Method, c.Route, declared[c.Route])
			}
			seen[c.Route+" "+r.Method] = true
		}
	}
	for _, want := range []string{"/login POST", "/items/{id} GET", "/items/{id} HEAD", "/items/{id} DELETE"} {
		if !seen[want] {
			t.Errorf("no case sends %s", want)
		}
	}
}

func TestWrongTargets(t *testing.T) {
	p := samplePolicy(t)
	if err := TargetIsAllowedOrigin(p, "https://app.example.com/"); err == nil || !strings.Contains(err.Error(), "is one of the policy's allowed origins") {
		t.Errorf("the app as target: %v", err)
	}
	if err := TargetIsAllowedOrigin(p, "https://app.example.com:443/x"); err == nil {
		t.Error("the app with its default port as target: accepted")
	}
	if err := TargetIsAllowedOrigin(p, "https://api.example.com/v1/items"); err != nil {
		t.Errorf("the API as target: %v", err)
	}
	if err := TargetIsAllowedOrigin(&Policy{Origins: []string{"*"}}, "https://api.example.com/"); err != nil {
		t.Errorf("* allows every origin, the API's too: %v", err)
	}
	ops := []Operation{{Path: "/v1/items"}, {Path: "/v1/items/{id}"}}
	err := RepeatedBasePath("https://api.test/v1/items", ops)
	if err == nil || !strings.Contains(err.Error(), "would probe /v1/items/v1/items") || !strings.Contains(err.Error(), "--target https://api.test/") {
		t.Errorf("repeated path: %v", err)
	}
	if err := RepeatedBasePath("https://api.test/v1", []Operation{{Path: "/items"}}); err != nil {
		t.Errorf("a base path: %v", err)
	}
	if err := RepeatedBasePath("https://api.test/api/v1", []Operation{{Path: "/v1/health"}}); err == nil || !strings.Contains(err.Error(), "--target https://api.test/api/") {
		t.Errorf("overlap of one segment: %v", err)
	}
	resp := func(status int, ct string, n int64) Observation {
		return Observation{Request: Request{URL: "https://api.test/v1/items/v1/items"}, Response: &Response{Status: status, Headers: map[string]string{"Content-Type": ct}}, Body: &Body{Bytes: n, Complete: true}}
	}
	if err := NotTheAPI([]Observation{resp(404, "text/plain", 9), resp(404, "text/html", 150)}); err == nil || !strings.Contains(err.Error(), "answered 404") {
		t.Errorf("every route 404: %v", err)
	}
	if err := NotTheAPI([]Observation{resp(404, "text/plain", 9), resp(200, "application/json", 2)}); err != nil {
		t.Errorf("one route serves: %v", err)
	}
	if err := NotTheAPI([]Observation{resp(200, "text/html; charset=utf-8", 1520), resp(200, "text/html", 1520)}); err == nil || !strings.Contains(err.Error(), "same HTML page") {
		t.Errorf("the SPA's catch-all: %v", err)
	}
	if err := NotTheAPI([]Observation{resp(200, "text/html", 1520), resp(200, "text/html", 99)}); err != nil {
		t.Errorf("different HTML pages: %v", err)
	}
}

// A pathParams name no route has is an error that suggests the right one.
func TestCheckPathParams(t *testing.T) {
	p := &Policy{Origins: []string{"https://a.example"}, PathParams: map[string]string{"idd": "7"}, Paths: []RouteSpec{{Path: "/v1/items/{id}"}}}
	err := CheckPathParams(p, []Operation{{Path: "/v1/orders/{orderId}"}})
	if err == nil || !strings.Contains(err.Error(), `"idd" is not a parameter`) || !strings.Contains(err.Error(), `did you mean "id"`) || !strings.Contains(err.Error(), "id, orderId") {
		t.Fatalf("typo: %v", err)
	}
	p.PathParams = map[string]string{"id": "7", "orderId": "9"}
	if err := CheckPathParams(p, []Operation{{Path: "/v1/orders/{orderId}"}}); err != nil {
		t.Fatalf("known names: %v", err)
	}
}
