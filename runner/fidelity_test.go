package runner_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/chrome"
	"github.com/corscheck/corscheck/scenarios"
)

// echoOrigin answers like an API that echoes an allowed Origin with
// credentials, and records the Origin headers it saw.
type echoOrigin struct {
	mu   sync.Mutex
	seen []string
}

func (e *echoOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := r.Header.Get("Origin")
	e.mu.Lock()
	e.seen = append(e.seen, o)
	e.mu.Unlock()
	if o == "" {
		o = "*" // what a server does when no Origin came: the verdict then flips
	}
	w.Header().Set("Access-Control-Allow-Origin", o)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	w.Header().Set("Vary", "Origin")
	w.WriteHeader(200)
}

func (e *echoOrigin) origins() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

var _ = Describe("No observer effect: what Chrome sends is what it sends without DevTools interception", func() {
	It("keeps the Origin header on a same-origin request redirected to another origin (credentials, echoed origin: allowed)", func() {
		second := &echoOrigin{}
		cdn := httptest.NewServer(second)
		defer cdn.Close()
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, cdn.URL+"/asset", http.StatusFound)
		}))
		defer api.Close()
		// The page has the API's own origin: the first hop is same-origin.
		o := probe(api.URL, 5*time.Second, runner.Fetch{URL: api.URL + "/v1/download", Method: "GET", Credentials: include})[0]
		Expect(o.Outcome).To(Equal(scenarios.Allowed), "observation: %+v", o)
		Expect(second.origins()).To(Equal([]string{api.URL}), "the second server must see the page's Origin, as without DevTools")
		Expect(o.Redirects).To(HaveLen(1))
		Expect(o.Redirects[0].Status).To(Equal(http.StatusFound))
		Expect(o.Redirects[0].Location()).To(Equal(cdn.URL + "/asset"))
		Expect(o.Response.URL).To(Equal(cdn.URL + "/asset"))
		Expect(o.Response.RequestHeaders).To(HaveKeyWithValue("origin", api.URL))
		Expect(o.Response.Headers).To(HaveKeyWithValue("access-control-allow-origin", api.URL))
	})

	It("guard: no interception is active while a batch runs (a request to the page's own URL is not answered by corscheck)", func() {
		// If the Fetch domain were still on, corscheck would answer this
		// with the synthetic page (allowed); with it off the request goes to
		// the network, where the virtual origin's name does not resolve.
		o := probe(app, 5*time.Second, runner.Fetch{URL: app + "/__corscheck__/page.html", Method: "GET"})[0]
		Expect(o.Outcome).To(Equal(scenarios.Errored), "observation: %+v", o)
		Expect(o.ErrorKind).To(Equal(scenarios.ErrorDNS))
		Expect(o.NetError).To(Equal("net::ERR_NAME_NOT_RESOLVED"))
	})

	It("resolves no name but localhost when the target is on loopback, so nothing leaves the machine", func() {
		start := time.Now()
		o := probe(app, 5*time.Second, runner.Fetch{URL: "https://corscheck-must-not-resolve.example.com/x", Method: "GET"})[0]
		Expect(o.ErrorKind).To(Equal(scenarios.ErrorDNS))
		Expect(time.Since(start)).To(BeNumerically("<", 3*time.Second))
		Expect(chrome.HostResolverRules(runner.Options{LoopbackOnly: true, Resolve: map[string]string{"api.test": "127.0.0.1"}, AllowHosts: []string{"staging.example.com"}})).
			To(Equal("MAP api.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost, EXCLUDE 127.*, EXCLUDE ::1, EXCLUDE [::1], EXCLUDE staging.example.com"))
	})
})

var _ = Describe("Every fetch() option", func() {
	It("no-cors: an opaque response, allowed, nothing readable", func() {
		o := probe(app, 5*time.Second, runner.Fetch{URL: server.URL + "/none", Method: "GET", Mode: "no-cors", ReadHeaders: []string{"content-type"}})[0]
		Expect(o.Outcome).To(Equal(scenarios.Allowed))
		Expect(o.ResponseType).To(Equal("opaque"))
		Expect(o.ReadableNames).To(BeEmpty())
		Expect(o.Request.Mode).To(Equal("no-cors"))
	})

	It("same-origin mode to another origin: blocked by the mode, before any request", func() {
		o := probe(app, 5*time.Second, runner.Fetch{URL: server.URL + "/ok", Method: "GET", Mode: "same-origin"})[0]
		Expect(o.Outcome).To(Equal(scenarios.Blocked), "observation: %+v", o)
		Expect(o.CorsError).To(Equal(scenarios.CorsError("DisallowedByMode")))
	})

	It("redirect manual: an opaque redirect, not followed", func() {
		second := &echoOrigin{}
		dest := httptest.NewServer(second)
		defer dest.Close()
		red := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			http.Redirect(w, r, dest.URL+"/x", http.StatusFound)
		}))
		defer red.Close()
		o := probe(app, 5*time.Second, runner.Fetch{URL: red.URL + "/r", Method: "GET", Redirect: "manual"})[0]
		Expect(o.Outcome).To(Equal(scenarios.Allowed), "observation: %+v", o)
		Expect(o.ResponseType).To(Equal("opaqueredirect"))
		Expect(second.origins()).To(BeEmpty())
	})

	It("a body with its content type, and a referrer policy, as given", func() {
		var got struct {
			sync.Mutex
			body, ct, referer string
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			if r.Method == http.MethodPost {
				b := make([]byte, 100)
				n, _ := r.Body.Read(b)
				got.Lock()
				got.body, got.ct, got.referer = string(b[:n]), r.Header.Get("Content-Type"), r.Header.Get("Referer")
				got.Unlock()
			}
		}))
		defer srv.Close()
		o := probe(app, 5*time.Second, runner.Fetch{URL: srv.URL + "/items", Method: "POST", Body: "a=1&b=2",
			Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, ReferrerPolicy: "no-referrer"})[0]
		Expect(o.Outcome).To(Equal(scenarios.Allowed), "observation: %+v", o)
		got.Lock()
		defer got.Unlock()
		Expect(got.body).To(Equal("a=1&b=2"))
		Expect(got.ct).To(Equal("application/x-www-form-urlencoded"))
		Expect(got.referer).To(BeEmpty())
		Expect(o.Request.Body).To(Equal("a=1&b=2"))
	})

	It("repeats: counts the preflights the repeats caused", func() {
		options.Store(0)
		f := runner.Fetch{URL: server.URL + "/cached", Method: "PUT", Credentials: include, Headers: xrid}
		obs := probe(app, 5*time.Second, f, f, f)
		Expect(obs[0].Preflights).To(Equal(1))
		Expect(obs[1].Preflights).To(Equal(0))
		Expect(obs[2].Preflights).To(Equal(0))
	})
})

var _ = Describe("A runner batch is never run while interception is on", func() {
	It("the guard is in the code path every batch takes", func() {
		// The white-box half of the guard lives in guard_internal_test.go;
		// here: a whole batch of many origins passes through it.
		var probes []runner.Probe
		for _, origin := range []string{app, "http://localhost:3000", "null", strings.TrimPrefix(server.URL, "")} {
			probes = append(probes, runner.Probe{Origin: origin, Fetches: []runner.Fetch{{URL: server.URL + "/ok", Method: "GET"}}})
		}
		obs, err := browser.Run(context.Background(), probes, runner.RunOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, o := range obs {
			Expect(o[0].Outcome).NotTo(Equal(scenarios.Errored), "%+v", o[0])
		}
	})
})
