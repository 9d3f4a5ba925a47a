package scenarios

import "testing"

const o = "https://app.example.com"

func hdrs(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Each row cites the Fetch Standard step (or Chrome behaviour) it rests on.
func TestDecide(t *testing.T) {
	put := Request{Origin: o, Method: "PUT", Headers: hdrs("X-Request-ID", "1"), Credentials: CredentialsInclude}
	get := Request{Origin: o, Method: "GET", Headers: map[string]string{}, Credentials: CredentialsOmit}
	getCred := get
	getCred.Credentials = CredentialsInclude
	good := hdrs("access-control-allow-origin", o, "access-control-allow-credentials", "true",
		"access-control-allow-methods", "GET, PUT", "access-control-allow-headers", "x-request-id")
	with := func(h map[string]string, kv ...string) map[string]string {
		m := copyHeaders(h)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "-" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	for _, tc := range []struct {
		name      string
		spec      string
		req       Request
		preflight *Exchange
		actual    *Response
		want      OracleResult
	}{
		{"simple GET allowed", "#cors-check", get, nil, &Response{Status: 200, Headers: hdrs("access-control-allow-origin", o)}, OracleResult{Allowed, "", ""}},
		{"status does not matter to CORS", "#cors-check", get, nil, &Response{Status: 500, Headers: hdrs("access-control-allow-origin", "*")}, OracleResult{Allowed, "", ""}},
		{"no ACAO", "#cors-check step 2", get, nil, &Response{Status: 200, Headers: hdrs()}, OracleResult{Blocked, "MissingAllowOriginHeader", ""}},
		{"ACAO other origin", "#cors-check step 4", get, nil, &Response{Headers: hdrs("access-control-allow-origin", "https://other.example")}, OracleResult{Blocked, "AllowOriginMismatch", "https://other.example"}},
		{"ACAO trailing slash", "#cors-check step 4 (byte equality)", get, nil, &Response{Headers: hdrs("access-control-allow-origin", o+"/")}, OracleResult{Blocked, "AllowOriginMismatch", o + "/"}},
		{"two ACAO lines", "#cors-check (single value)", get, nil, &Response{Headers: hdrs("access-control-allow-origin", o+"\n"+o)}, OracleResult{Blocked, "MultipleAllowOriginValues", o + ", " + o}},
		{"* with credentials", "#cors-check step 3", getCred, nil, &Response{Headers: hdrs("access-control-allow-origin", "*", "access-control-allow-credentials", "true")}, OracleResult{Blocked, "WildcardOriginNotAllowed", ""}},
		{"ACAC True", "#cors-check step 6", getCred, nil, &Response{Headers: hdrs("access-control-allow-origin", o, "access-control-allow-credentials", "True")}, OracleResult{Blocked, "InvalidAllowCredentials", "True"}},
		{"preflighted PUT allowed", "#cors-preflight-fetch", put, &Exchange{Status: 204, ResponseHeaders: good}, &Response{Status: 200, Headers: good}, OracleResult{Allowed, "", ""}},
		{"preflight cached", "#cors-preflight-cache", put, nil, &Response{Status: 200, Headers: good}, OracleResult{Allowed, "", ""}},
		{"preflight redirect", "#cors-preflight-fetch step 7 (Chrome checks first)", put, &Exchange{Status: 301, ResponseHeaders: hdrs("location", "/x")}, nil, OracleResult{Blocked, "PreflightDisallowedRedirect", ""}},
		{"preflight 404 without CORS: origin first", "Chrome order: CORS check before status", put, &Exchange{Status: 404, ResponseHeaders: hdrs()}, nil, OracleResult{Blocked, "PreflightMissingAllowOriginHeader", ""}},
		{"preflight 401 with CORS", "#cors-preflight-fetch step 7 (ok status)", put, &Exchange{Status: 401, ResponseHeaders: good}, nil, OracleResult{Blocked, "PreflightInvalidStatus", ""}},
		{"method not in ACAM", "#cors-preflight-fetch step 7.5", put, &Exchange{Status: 204, ResponseHeaders: with(good, "access-control-allow-methods", "GET")}, nil, OracleResult{Blocked, "MethodDisallowedByPreflightResponse", "PUT"}},
		{"ACAM case-sensitive", "#cors-preflight-fetch step 7.5 (byte-case-sensitive)", put, &Exchange{Status: 204, ResponseHeaders: with(good, "access-control-allow-methods", "get, put")}, nil, OracleResult{Blocked, "MethodDisallowedByPreflightResponse", "PUT"}},
		{"ACAM * does not count with credentials", "#cors-preflight-fetch step 7.5", put, &Exchange{Status: 204, ResponseHeaders: with(good, "access-control-allow-methods", "*")}, nil, OracleResult{Blocked, "MethodDisallowedByPreflightResponse", "PUT"}},
		{"header not in ACAH", "#cors-preflight-fetch step 7.7", put, &Exchange{Status: 204, ResponseHeaders: with(good, "access-control-allow-headers", "-")}, nil, OracleResult{Blocked, "HeaderDisallowedByPreflightResponse", "x-request-id"}},
		{"ACAH case-insensitive", "#cors-preflight-fetch step 7.7", put, &Exchange{Status: 204, ResponseHeaders: with(good, "access-control-allow-headers", "X-REQUEST-ID")}, &Response{Headers: good}, OracleResult{Allowed, "", ""}},
		{"ACAH not a token list", "#cors-preflight-fetch step 7.3", put, &Exchange{Status: 204, ResponseHeaders: with(good, "access-control-allow-headers", "x-request-id, (bad)")}, nil, OracleResult{Blocked, "InvalidAllowHeadersPreflightResponse", ""}},
		{"preflight ACAC missing", "#cors-check on preflight", put, &Exchange{Status: 204, ResponseHeaders: with(good, "access-control-allow-credentials", "-")}, nil, OracleResult{Blocked, "PreflightInvalidAllowCredentials", ""}},
		{"Chrome: ACAH * covers Authorization without credentials", "Chrome deviation (spec: never)",
			Request{Origin: o, Method: "GET", Headers: hdrs("Authorization", "x"), Credentials: CredentialsOmit},
			&Exchange{Status: 204, ResponseHeaders: hdrs("access-control-allow-origin", o, "access-control-allow-headers", "*")}, &Response{Headers: hdrs("access-control-allow-origin", o)}, OracleResult{Allowed, "", ""}},
		{"ACAH * is literal with credentials", "#cors-preflight-fetch step 7.7",
			Request{Origin: o, Method: "GET", Headers: hdrs("Authorization", "x"), Credentials: CredentialsInclude},
			&Exchange{Status: 204, ResponseHeaders: hdrs("access-control-allow-origin", o, "access-control-allow-credentials", "true", "access-control-allow-headers", "*")}, nil, OracleResult{Blocked, "HeaderDisallowedByPreflightResponse", "authorization"}},
		{"null origin echoed", "#cors-check (null for opaque origins)", Request{Origin: "null", Method: "GET", Credentials: CredentialsOmit}, nil, &Response{Headers: hdrs("access-control-allow-origin", "null")}, OracleResult{Allowed, "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.req, tc.preflight, tc.actual)
			if got != tc.want {
				t.Fatalf("%s: got %+v, want %+v", tc.spec, got, tc.want)
			}
		})
	}
}

func TestNeedsPreflight(t *testing.T) {
	for _, tc := range []struct {
		r    Request
		want bool
	}{
		{Request{Method: "GET"}, false},
		{Request{Method: "post", Headers: hdrs("Content-Type", "text/plain;charset=utf-8")}, false},
		{Request{Method: "POST", Headers: hdrs("Content-Type", "application/json")}, true},
		{Request{Method: "GET", Headers: hdrs("Accept-Language", "en-US,en;q=0.9")}, false},
		{Request{Method: "GET", Headers: hdrs("Range", "bytes=0-")}, false},
		{Request{Method: "GET", Headers: hdrs("Range", "bytes=0-1,3-4")}, true},
		{Request{Method: "GET", Headers: hdrs("Accept", string(make([]byte, 129)))}, true},
		{Request{Method: "PUT"}, true},
		{Request{Method: "patch"}, true},
	} {
		if got := NeedsPreflight(tc.r); got != tc.want {
			t.Errorf("NeedsPreflight(%+v) = %v, want %v", tc.r, got, tc.want)
		}
	}
	if NormalizeMethod("patch") != "patch" || NormalizeMethod("delete") != "DELETE" {
		t.Error("fetch() upper-cases only DELETE GET HEAD OPTIONS POST PUT")
	}
}

func TestExplainEveryKnownError(t *testing.T) {
	for ce := range explanations {
		for _, name := range []CorsError{ce, "Preflight" + ce} {
			e := Explain(Observation{Outcome: Blocked, CorsError: name, FailedParameter: "p", Request: Request{Origin: o, Method: "PUT"}})
			if e.Sentence == "" || e.Fix == "" {
				t.Errorf("%s: empty explanation", name)
			}
		}
	}
}
