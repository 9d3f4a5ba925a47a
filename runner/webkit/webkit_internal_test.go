package webkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
)

// The relay passes to the target only a probe's requests (a token in the
// URL) and the redirects their answers name; the origin pages and the
// marks are answered by the proxy itself; anything else never leaves it.
func TestWebKitRelaySendsOnlyProbeRequests(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/final", http.StatusFound)
			return
		}
		w.Header().Add("Access-Control-Allow-Origin", "https://a.example")
		w.Header().Add("Access-Control-Allow-Origin", "https://b.example")
		io.WriteString(w, "ok")
	}))
	defer target.Close()
	wire := newWKWire()
	p, err := newWKProxy(runner.Options{LoopbackOnly: true}, wire)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	proxyURL, _ := url.Parse(p.URL())
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (int, string) {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, _ := get(target.URL + "/items"); st != 404 || hits.Load() != 0 {
		t.Fatalf("a request without a token: %d, %d reached the target", st, hits.Load())
	}
	if st, body := get("http://app.example.com" + core.PagePath); st != 200 || !strings.Contains(body, "__corscheckMark") || hits.Load() != 0 {
		t.Fatalf("origin page: %d %q", st, body)
	}
	if st, _ := get("http://app.example.com/favicon.ico"); st != 404 {
		t.Fatalf("favicon: %d", st)
	}
	if st, _ := get(target.URL + "/items?" + core.TokenParam + "=r.1"); st != 200 || hits.Load() != 1 {
		t.Fatalf("a probe request: %d, %d hits", st, hits.Load())
	}
	get("http://app.example.com" + wkPrefix + "mark?k=1&u=" + url.QueryEscape(target.URL+"/items?"+core.TokenParam+"=r.1"))
	if st, _ := get(target.URL + "/items?" + core.TokenParam + "=r.1"); st != 200 || hits.Load() != 2 {
		t.Fatalf("the probe's second fetch: %d, %d hits", st, hits.Load())
	}
	if st, _ := get(target.URL + "/moved?" + core.TokenParam + "=r.2"); st != 302 {
		t.Fatalf("redirect: %d", st)
	}
	if st, _ := get(target.URL + "/final?" + core.TokenParam + "=r.2"); st != 200 || hits.Load() != 4 {
		t.Fatalf("the redirect's next hop: %d, %d hits", st, hits.Load())
	}
	if st, _ := get(target.URL + "/final"); st != 200 || hits.Load() != 5 {
		// /moved answered Location: /final: the hop a probe's answer named.
		t.Fatalf("the hop named by a probe's redirect: %d, %d hits", st, hits.Load())
	}
	if st, _ := get(target.URL + "/elsewhere"); st != 404 || hits.Load() != 5 {
		t.Fatalf("a URL no answer named: %d, %d hits", st, hits.Load())
	}
	wire.Mu.Lock()
	defer wire.Mu.Unlock()
	first, second := wire.exchanges["r.1"][0], wire.exchanges["r.1"][1]
	if first.seq != 0 || second.seq != 1 {
		t.Errorf("the mark splits a probe's fetches: seq %d, %d", first.seq, second.seq)
	}
	if got := first.respHeaders["access-control-allow-origin"]; got != "https://a.example\nhttps://b.example" {
		t.Errorf("two header lines recorded as %q", got)
	}
	if first.reqHeaders["proxy-connection"] != "" {
		t.Errorf("the proxy's own header reached the record: %v", first.reqHeaders)
	}
}

// WebKit's target list, as WebKitGTK 2.50 sends it (a(tsssb), GVariant).
func TestWebKitTargetList(t *testing.T) {
	raw := "\x02\x00\x00\x00\x00\x00\x00\x00Automation\x00c3b062a3-d697-40e8-9980-1d5200a6f562\x00null\x00\x01=8\x13A"
	got := gvTargetList([]byte(raw))
	if len(got) != 1 || got[0].id != 2 || got[0].kind != "Automation" || got[0].name != "c3b062a3-d697-40e8-9980-1d5200a6f562" || got[0].url != "null" || !got[0].hasLocalDebugger {
		t.Fatalf("decoded %+v", got)
	}
	for n := range len(raw) {
		gvTargetList([]byte(raw[:n])) // truncated input never panics
	}
	if gvTTS(1, 2, "{}")[16] != '{' {
		t.Error("(tts): the string follows two uint64")
	}
}

// WebKit's reasons in Chrome's vocabulary: the origin family named from
// the refused answer, as Chrome names it.
func TestWebKitReason(t *testing.T) {
	acao := func(v string) map[string]string { return map[string]string{"access-control-allow-origin": v} }
	const notAllowed = "Origin https://a.example is not allowed by Access-Control-Allow-Origin. Status code: 200"
	for _, c := range []struct {
		text      string
		preflight bool
		include   bool
		h         map[string]string
		want      string
		param     string
	}{
		{notAllowed, false, false, nil, "MissingAllowOriginHeader", ""},
		{notAllowed, false, false, acao("https://b.example"), "AllowOriginMismatch", "https://b.example"},
		{notAllowed, true, false, nil, "PreflightMissingAllowOriginHeader", ""},
		{notAllowed, false, false, acao("a.example"), "InvalidAllowOriginValue", "a.example"},
		{notAllowed, false, false, acao("https://a.example/app"), "AllowOriginMismatch", "https://a.example/app"},
		{"Preflight response is not successful. Status code: 401", true, false, nil, "PreflightInvalidStatus", ""},
		{"Method PATCH is not allowed by Access-Control-Allow-Methods.", true, false, acao("https://a.example"), "MethodDisallowedByPreflightResponse", "PATCH"},
		{"Request header field X-Request-ID is not allowed by Access-Control-Allow-Headers.", true, false, acao("https://a.example"), "HeaderDisallowedByPreflightResponse", "x-request-id"},
		{"Header Access-Control-Allow-Headers has an invalid value: X-Request-ID;", true, false, acao("https://a.example"), "InvalidAllowHeadersPreflightResponse", ""},
		{"Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true.", true, true, acao("*"), "PreflightWildcardOriginNotAllowed", ""},
		{`Credentials flag is true, but Access-Control-Allow-Credentials is not "true".`, false, true, map[string]string{"access-control-allow-origin": "https://a.example", "access-control-allow-credentials": "TRUE"}, "InvalidAllowCredentials", "TRUE"},
		{"Access-Control-Allow-Origin cannot contain more than one origin.", false, false, acao("https://a.example\nhttps://b.example"), "MultipleAllowOriginValues", "https://a.example, https://b.example"},
		{"Cross-origin redirection to https://c.example/x denied by Cross-Origin Resource Sharing policy: " + notAllowed, false, false, nil, "MissingAllowOriginHeader", ""},
		{"Cross-origin redirection to http://c.example/x denied by Cross-Origin Resource Sharing policy: redirection URL http://u:p@c.example/x has credentials.", false, false, nil, "RedirectContainsCredentials", ""},
	} {
		ce, param, ok := Reason(c.text, c.preflight, "https://a.example", c.include, c.h)
		if !ok || string(ce) != c.want || param != c.param {
			t.Errorf("%q: %s %q %v, want %s %q", c.text, ce, param, ok, c.want, c.param)
		}
	}
	if _, _, ok := Reason("Could not connect to the server.", false, "https://a.example", false, nil); ok {
		t.Error("a network error read as a CORS reason")
	}
}
