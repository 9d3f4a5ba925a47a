package runner_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/corscheck/corscheck/runner"
	_ "github.com/corscheck/corscheck/runner/engines"
	"github.com/corscheck/corscheck/scenarios"
)

func TestRunner(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "runner: the probe engine against real Chromium")
}

const app = "https://app.example.com"

var (
	browser    runner.Browser
	server     *httptest.Server
	options    atomic.Int64 // OPTIONS requests seen by /cached
	seenOrigin atomic.Value // Origin header seen by /echo
	hang       chan struct{}
)

// corsHandler answers like a correct server for app, with knobs per path.
func target() http.Handler {
	mux := http.NewServeMux()
	allow := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "GET, PUT")
		h.Set("Access-Control-Allow-Headers", "X-Request-ID")
		h.Set("Access-Control-Expose-Headers", "X-Total")
		h.Set("X-Total", "5")
		h.Set("X-Secret", "s3cret")
		h.Set("Vary", "Origin")
	}
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { allow(w, r); w.WriteHeader(200) })
	mux.HandleFunc("/none", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	mux.HandleFunc("/noheaders", func(w http.ResponseWriter, r *http.Request) {
		allow(w, r)
		w.Header().Del("Access-Control-Allow-Headers")
		w.WriteHeader(204)
	})
	mux.HandleFunc("/nomethods", func(w http.ResponseWriter, r *http.Request) {
		allow(w, r)
		w.Header().Set("Access-Control-Allow-Methods", "GET")
		w.WriteHeader(204)
	})
	mux.HandleFunc("/wildcard", func(w http.ResponseWriter, r *http.Request) {
		allow(w, r)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(200)
	})
	mux.HandleFunc("/acac", func(w http.ResponseWriter, r *http.Request) {
		allow(w, r)
		w.Header().Set("Access-Control-Allow-Credentials", "True")
		w.WriteHeader(200)
	})
	mux.HandleFunc("/preflight-401", func(w http.ResponseWriter, r *http.Request) {
		allow(w, r)
		if r.Method == http.MethodOptions {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(200)
	})
	mux.HandleFunc("/preflight-redirect", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
			return
		}
		allow(w, r)
		w.WriteHeader(200)
	})
	mux.HandleFunc("/double", func(w http.ResponseWriter, r *http.Request) {
		allow(w, r)
		w.Header().Add("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.WriteHeader(200)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		seenOrigin.Store(r.Header.Get("Origin"))
		allow(w, r)
		w.WriteHeader(200)
	})
	mux.HandleFunc("/cached", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			options.Add(1)
		}
		allow(w, r)
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(204)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	return mux
}

var _ = BeforeSuite(func() {
	var err error
	// As corscheck runs against a loopback target: no name resolves but localhost.
	browser, err = runner.Start(context.Background(), runner.Options{LoopbackOnly: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(browser.Close)
	hang = make(chan struct{})
	server = httptest.NewServer(target())
	DeferCleanup(func() { close(hang); server.Close() })
})

func probe(origin string, timeout time.Duration, fetches ...runner.Fetch) []scenarios.Observation {
	GinkgoHelper()
	obs, err := browser.Run(context.Background(), []runner.Probe{{Origin: origin, Fetches: fetches}}, runner.RunOptions{Timeout: timeout})
	Expect(err).NotTo(HaveOccurred())
	Expect(obs).To(HaveLen(1))
	return obs[0]
}

func one(origin, path, method string, creds scenarios.Credentials, headers map[string]string) scenarios.Observation {
	GinkgoHelper()
	return probe(origin, 5*time.Second, runner.Fetch{URL: server.URL + path, Method: method, Credentials: creds, Headers: headers})[0]
}

var include = scenarios.CredentialsInclude
var xrid = map[string]string{"X-Request-ID": "42"}

var _ = Describe("Observing one fetch", func() {
	It("reports the browser version", func() {
		Expect(browser.Version()).To(MatchRegexp(`Chrome/\d+\.`))
		Expect(one(app, "/ok", "GET", "omit", nil).Browser).To(Equal(browser.Version()))
	})

	It("allows a simple GET with no preflight", func() {
		o := one(app, "/ok", "GET", "omit", nil)
		Expect(o.Outcome).To(Equal(scenarios.Allowed), "observation: %+v", o)
		Expect(o.Preflight).To(BeNil())
		Expect(o.Response.Status).To(Equal(200))
		Expect(o.Response.Headers).To(HaveKeyWithValue("access-control-allow-origin", app))
		Expect(o.CorsError).To(BeEmpty())
	})

	It("allows a preflighted PUT with a custom header and credentials, recording both exchanges", func() {
		o := one(app, "/ok", "PUT", include, xrid)
		Expect(o.Outcome).To(Equal(scenarios.Allowed))
		Expect(o.Preflight).NotTo(BeNil())
		Expect(o.Preflight.Status).To(Equal(200))
		Expect(o.Preflight.RequestHeaders).To(HaveKeyWithValue("access-control-request-method", "PUT"))
		Expect(o.Preflight.RequestHeaders).To(HaveKeyWithValue("access-control-request-headers", "x-request-id"))
		Expect(o.Preflight.RequestHeaders).To(HaveKeyWithValue("origin", app))
		Expect(o.Response.RequestHeaders).To(HaveKeyWithValue("x-request-id", "42"))
	})

	DescribeTable("blocks with Chrome's own reason",
		func(path, method string, creds scenarios.Credentials, headers map[string]string, corsError, param string) {
			o := one(app, path, method, creds, headers)
			Expect(o.Outcome).To(Equal(scenarios.Blocked), "observation: %+v", o)
			Expect(o.CorsError).To(Equal(scenarios.CorsError(corsError)))
			Expect(o.FailedParameter).To(Equal(param))
			Expect(o.ConsoleMessage).To(HavePrefix("Access to fetch at '" + server.URL + path + "' from origin '" + app + "' has been blocked by CORS policy"))
			Expect(o.ConsoleMessage).NotTo(ContainSubstring("__corscheck"))
		},
		Entry("missing ACAO", "/none", "GET", scenarios.CredentialsOmit, nil, "MissingAllowOriginHeader", ""),
		Entry("ACAH lacks the header", "/noheaders", "PUT", include, xrid, "HeaderDisallowedByPreflightResponse", "x-request-id"),
		Entry("ACAM lacks the method", "/nomethods", "PUT", include, nil, "MethodDisallowedByPreflightResponse", "PUT"),
		Entry("* origin with credentials", "/wildcard", "GET", include, nil, "WildcardOriginNotAllowed", ""),
		Entry("ACAC not exactly true", "/acac", "GET", include, nil, "InvalidAllowCredentials", "True"),
		Entry("non-2xx preflight", "/preflight-401", "PUT", include, nil, "PreflightInvalidStatus", ""),
		Entry("redirected preflight", "/preflight-redirect", "PUT", include, nil, "PreflightDisallowedRedirect", ""),
		Entry("two ACAO values", "/double", "GET", include, nil, "MultipleAllowOriginValues", app+", "+app),
	)

	It("keeps the raw headers of a response Chrome blocked", func() {
		o := one(app, "/acac", "GET", include, nil)
		Expect(o.Response).NotTo(BeNil())
		Expect(o.Response.Headers).To(HaveKeyWithValue("access-control-allow-credentials", "True"))
		Expect(o.ReadableHeaders).To(BeEmpty())
	})

	It("probes from the opaque origin: the request carries Origin: null", func() {
		o := one("null", "/echo", "GET", "omit", nil)
		Expect(seenOrigin.Load()).To(Equal("null"))
		Expect(o.Request.Origin).To(Equal("null"))
		Expect(o.Outcome).To(Equal(scenarios.Allowed)) // /echo reflects "null"
	})

	It("gives any http origin with a port", func() {
		Expect(one("http://localhost:3000", "/echo", "GET", "omit", nil).Outcome).To(Equal(scenarios.Allowed))
		Expect(seenOrigin.Load()).To(Equal("http://localhost:3000"))
	})

	It("reads an exposed header and not a non-exposed one", func() {
		o := probe(app, 5*time.Second, runner.Fetch{URL: server.URL + "/ok", Method: "GET", Credentials: include, ReadHeaders: []string{"X-Total", "X-Secret"}})[0]
		Expect(o.ReadableHeaders).To(HaveKeyWithValue("x-total", HaveValue(Equal("5"))))
		Expect(o.ReadableHeaders).To(HaveKeyWithValue("x-secret", BeNil()))
		Expect(o.Response.Headers).To(HaveKeyWithValue("x-secret", "s3cret"), "the header was sent, script just could not read it")
		Expect(o.ReadableNames).To(ContainElement("x-total"))
		Expect(o.ReadableNames).NotTo(ContainElement("x-secret"))
	})

	It("sends no second preflight for an identical request within max-age", func() {
		options.Store(0)
		f := runner.Fetch{URL: server.URL + "/cached", Method: "PUT", Credentials: include, Headers: xrid}
		obs := probe(app, 5*time.Second, f, f)
		Expect(obs).To(HaveLen(2))
		Expect(obs[0].Preflight).NotTo(BeNil())
		Expect(obs[1].Outcome).To(Equal(scenarios.Allowed))
		Expect(obs[1].Preflight).To(BeNil())
		Expect(options.Load()).To(BeEquivalentTo(1))
	})

	It("keeps probes' preflight caches apart", func() {
		options.Store(0)
		f := runner.Fetch{URL: server.URL + "/cached", Method: "PUT", Credentials: include, Headers: xrid}
		obs, err := browser.Run(context.Background(), []runner.Probe{{Origin: app, Fetches: []runner.Fetch{f}}, {Origin: app, Fetches: []runner.Fetch{f}}}, runner.RunOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(obs[0][0].Preflight).NotTo(BeNil())
		Expect(obs[1][0].Preflight).NotTo(BeNil())
		Expect(options.Load()).To(BeEquivalentTo(2))
	})

	It("reports a refused connection as an error, never blocked", func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		addr := ln.Addr().String()
		ln.Close()
		o := probe(app, 5*time.Second, runner.Fetch{URL: "http://" + addr + "/x", Method: "PUT", Credentials: include})[0]
		Expect(o.Outcome).To(Equal(scenarios.Errored))
		Expect(o.ErrorKind).To(Equal(scenarios.ErrorNetwork))
		Expect(o.Error).To(ContainSubstring("ERR_CONNECTION_REFUSED"))
		Expect(o.CorsError).To(BeEmpty())
	})

	It("reports a target that never answers as a timeout error within the timeout", func() {
		o := probe(app, time.Second, runner.Fetch{URL: server.URL + "/hang", Method: "GET"})[0]
		Expect(o.Outcome).To(Equal(scenarios.Errored))
		Expect(o.ErrorKind).To(Equal(scenarios.ErrorTimeout))
		Expect(o.DurationMs).To(BeNumerically("<", 2500))
	})

	It("stops a batch early when the target stops answering", func() {
		var probes []runner.Probe
		for range 40 {
			probes = append(probes, runner.Probe{Origin: app, Fetches: []runner.Fetch{{URL: server.URL + "/hang", Method: "GET"}}})
		}
		start := time.Now()
		obs, err := browser.Run(context.Background(), probes, runner.RunOptions{Timeout: 500 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		notRun := 0
		for _, o := range obs {
			Expect(o[0].Outcome).To(Equal(scenarios.Errored))
			if o[0].ErrorKind == scenarios.ErrorNotRun {
				notRun++
			}
		}
		Expect(notRun).To(BeNumerically(">=", 20), "most probes are not run once the target is known to hang")
		Expect(time.Since(start)).To(BeNumerically("<", 8*time.Second))
	})
})

var _ = Describe("Local Network Access", func() {
	It("is off by default, so a public origin reaches a loopback target", func() {
		Expect(one(app, "/ok", "GET", "omit", nil).Outcome).To(Equal(scenarios.Allowed))
	})

	It("when kept on, blocks a public origin from loopback as an error, never as the server's CORS failure", func() {
		lna, err := runner.Start(context.Background(), runner.Options{LocalNetworkAccess: true})
		Expect(err).NotTo(HaveOccurred())
		defer lna.Close()
		obs, err := lna.Run(context.Background(), []runner.Probe{{Origin: app, Fetches: []runner.Fetch{{URL: server.URL + "/ok", Method: "GET"}}}}, runner.RunOptions{Timeout: 5 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		o := obs[0][0]
		Expect(o.Outcome).To(Equal(scenarios.Errored), "observation: %+v", o)
		Expect(o.ErrorKind).To(Equal(scenarios.ErrorLocalNetworkAccess))
		Expect(string(o.CorsError)).To(ContainSubstring("LocalNetwork"))
	})
})

var _ = Describe("Finding Chrome", func() {
	It("fails with the install command when the binary is missing", func() {
		_, err := runner.Locate(runner.EngineChrome, "/nonexistent/chrome")
		Expect(err).To(MatchError(runner.ErrNoBrowser))
		Expect(err.Error()).To(ContainSubstring("apt-get install"))
	})
})

var _ = Describe("A browser that crashes mid-batch", func() {
	It("turns every unfinished probe into an error with the reason, never a pass or a block", func() {
		crashy, err := runner.Start(context.Background(), runner.Options{})
		Expect(err).NotTo(HaveOccurred())
		defer crashy.Close()
		arrived := make(chan struct{}, 1)
		release := make(chan struct{})
		defer close(release)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case arrived <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		var probes []runner.Probe
		for _, origin := range []string{app, "http://localhost:3000"} {
			for range 10 {
				probes = append(probes, runner.Probe{Origin: origin, Fetches: []runner.Fetch{{URL: srv.URL + "/x", Method: "GET"}}})
			}
		}
		done := make(chan [][]scenarios.Observation, 1)
		go func() {
			defer GinkgoRecover()
			obs, err := crashy.Run(context.Background(), probes, runner.RunOptions{Timeout: 30 * time.Second})
			Expect(err).NotTo(HaveOccurred())
			done <- obs
		}()
		Eventually(arrived).WithTimeout(10 * time.Second).Should(Receive())
		pid := crashy.(interface{ PID() int }).PID()
		Expect(pid).To(BeNumerically(">", 0))
		Expect(syscall.Kill(pid, syscall.SIGKILL)).To(Succeed())
		var obs [][]scenarios.Observation
		Eventually(done).WithTimeout(20 * time.Second).Should(Receive(&obs))
		for _, o := range obs {
			Expect(o[0].Outcome).To(Equal(scenarios.Errored))
			Expect(o[0].ErrorKind).To(Equal(scenarios.ErrorBrowser))
			Expect(o[0].Error).NotTo(BeEmpty())
		}
	})
})

var _ = Describe("Attaching to a running browser (--browser-url)", func() {
	It("probes through a browser started elsewhere, as in docker-compose", func() {
		path, err := runner.Locate(runner.EngineChrome, "")
		Expect(err).NotTo(HaveOccurred())
		cmd := exec.Command(path, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
			"--user-data-dir="+GinkgoT().TempDir(), "--disable-features=LocalNetworkAccessChecks", "about:blank")
		stderr, err := cmd.StderrPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.Start()).To(Succeed())
		DeferCleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		// Chrome announces its DevTools endpoint on stderr once it listens.
		var endpoint string
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			if _, ws, ok := strings.Cut(scanner.Text(), "DevTools listening on "); ok {
				endpoint = ws
				break
			}
		}
		go io.Copy(io.Discard, stderr)
		Expect(endpoint).To(HavePrefix("ws://127.0.0.1:"))
		hostPort := strings.SplitN(strings.TrimPrefix(endpoint, "ws://"), "/", 2)[0]

		remote, err := runner.Start(context.Background(), runner.Options{BrowserURLs: []string{"http://" + hostPort}})
		Expect(err).NotTo(HaveOccurred())
		defer remote.Close()
		Expect(remote.Version()).To(ContainSubstring("Chrome/"))
		Expect(remote.(interface{ PID() int }).PID()).To(BeZero())
		obs, err := remote.Run(context.Background(), []runner.Probe{{Origin: app, Fetches: []runner.Fetch{{URL: server.URL + "/noheaders", Method: "PUT", Credentials: include, Headers: xrid}}}}, runner.RunOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(obs[0][0].Outcome).To(Equal(scenarios.Blocked))
		Expect(obs[0][0].FailedParameter).To(Equal("x-request-id"))
	})

	It("says what is wrong with a malformed --browser-url", func() {
		_, err := runner.Start(context.Background(), runner.Options{BrowserURLs: []string{"chrome:9222"}})
		Expect(err).To(MatchError(ContainSubstring("want http://HOST:PORT")))
	})
})
