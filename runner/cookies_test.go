package runner_test

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// A staging API on https with a certificate from a CA made for the test,
// for a name that resolves nowhere: the browser reaches it through
// --resolve and trusts the chain through the CA's keys, for this run only.
var _ = Describe("A staging API: a name only --resolve knows, a private CA, cookies", Ordered, func() {
	var (
		staging *fixtures.Staging
		br      runner.Browser
		opts    runner.Options
	)
	BeforeAll(func() {
		var err error
		staging, err = fixtures.StartStaging(fixtures.StagingOptions{TLS: true, Token: "t0ken", Session: "s3ssion"})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(staging.Close)
		opts = runner.Options{LoopbackOnly: true, Resolve: map[string]string{"api.staging.example.test": "127.0.0.1"}}
		cas, err := runner.LoadCAs([]string{staging.CAFile})
		Expect(err).NotTo(HaveOccurred())
		opts.TrustSPKI, err = runner.TrustChain(context.Background(), staging.URL, cas, opts.Resolve)
		Expect(err).NotTo(HaveOccurred())
		br, err = runner.Start(context.Background(), opts)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(br.Close)
	})

	run := func(b runner.Browser, setup runner.PageSetup, f runner.Fetch) scenarios.Observation {
		GinkgoHelper()
		obs, err := b.Run(context.Background(), []runner.Probe{{Origin: app, Fetches: []runner.Fetch{f}}}, runner.RunOptions{Timeout: 5 * time.Second, Setup: setup})
		Expect(err).NotTo(HaveOccurred())
		return obs[0][0]
	}

	It("reaches the name through --resolve and trusts the CA's chain (HTTP/2, TLS)", func() {
		o := run(br, runner.PageSetup{}, runner.Fetch{URL: staging.URL + "/v1/public/health", Method: "GET"})
		Expect(o.Outcome).To(Equal(scenarios.Allowed), "%+v", o)
	})

	It("without the CA, the certificate is an error of kind tls, never blocked", func() {
		plain, err := runner.Start(context.Background(), runner.Options{LoopbackOnly: true, Resolve: opts.Resolve})
		Expect(err).NotTo(HaveOccurred())
		defer plain.Close()
		o := run(plain, runner.PageSetup{}, runner.Fetch{URL: staging.URL + "/v1/public/health", Method: "GET"})
		Expect(o.Outcome).To(Equal(scenarios.Errored))
		Expect(o.ErrorKind).To(Equal(scenarios.ErrorTLS))
		Expect(o.NetError).To(Equal("net::ERR_CERT_AUTHORITY_INVALID"))
	})

	It("reports a SameSite=Lax cookie as not sent on a cross-site credentialed fetch, with the browser's reason, and a SameSite=None; Secure one as sent", func() {
		jar := runner.PageSetup{Cookies: []runner.CookieSpec{
			{Name: "lax", Value: "1", URL: staging.URL + "/", Path: "/", Secure: true, SameSite: "Lax"},
			{Name: "session", Value: "s3ssion", URL: staging.URL + "/", Path: "/", Secure: true, SameSite: "None"},
		}}
		o := run(br, jar, runner.Fetch{URL: staging.URL + "/v1/account", Method: "GET", Credentials: scenarios.CredentialsInclude})
		Expect(o.Outcome).To(Equal(scenarios.Allowed), "%+v", o)
		Expect(o.Cookies).To(ContainElement(scenarios.Cookie{Name: "session"}))
		Expect(o.Cookies).To(ContainElement(HaveField("Name", "lax")))
		for _, c := range o.Cookies {
			if c.Name == "lax" {
				Expect(c.Sent()).To(BeFalse())
				Expect(c.Blocked).To(ContainElement(ContainSubstring("SameSiteLax")))
			}
		}
		Expect(o.Response.Status).To(Equal(http.StatusOK), "the session cookie travelled: the route let the request in")
	})

	It("with --cookie-mode block-third-party, Chrome withholds the same SameSite=None; Secure session cookie from the cross-site fetch and says why", func() {
		o2 := opts
		o2.CookieMode = runner.CookieModeBlock
		blocking, err := runner.Start(context.Background(), o2)
		Expect(err).NotTo(HaveOccurred())
		defer blocking.Close()
		jar := runner.PageSetup{Cookies: []runner.CookieSpec{{Name: "session", Value: "s3ssion", URL: staging.URL + "/", Path: "/", Secure: true, SameSite: "None"}}}
		o := run(blocking, jar, runner.Fetch{URL: staging.URL + "/v1/account", Method: "GET", Credentials: scenarios.CredentialsInclude})
		Expect(o.Cookies).To(ContainElement(HaveField("Name", "session")), "%+v", o)
		for _, c := range o.Cookies {
			Expect(c.Sent()).To(BeFalse(), "%+v", c)
			Expect(c.Blocked).NotTo(BeEmpty())
		}
		Expect(o.Response.Status).To(Equal(http.StatusUnauthorized), "the route saw no session")
	})
})
