package suite

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// CheckReachable dials the target once, through the --resolve mapping the
// browser uses, so a target that is down fails in seconds with one message
// instead of hundreds of errored cases. For an https target with --ca-cert
// it verifies the chain against those CAs, as the browser will, and hands
// the browser the chain's keys to trust for this run only.
func (s *Session) CheckReachable() error {
	target := s.Target
	resolve := s.Config.Browser.Resolve
	deadline := time.Now().Add(s.Config.Wait)
	dial := func() error {
		conn, err := runner.Dial(context.Background(), target, resolve, 3*time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	}
	err := dial()
	u, _ := url.Parse(target)
	if err != nil && s.Config.Wait > 0 && s.Config.Progress != nil {
		fmt.Fprintf(s.Config.Progress, "corscheck: waiting up to %s for %s to accept connections\n", s.Config.Wait, u.Host)
	}
	// With --wait, retry until the server listens: a connection attempt is
	// the only way to learn that, so this polls, with a short back-off.
	for backoff := 50 * time.Millisecond; err != nil && time.Now().Add(backoff).Before(deadline); backoff = min(2*backoff, time.Second) {
		time.Sleep(backoff)
		err = dial()
	}
	if err != nil {
		hint := "start the server or fix --target"
		if strings.Contains(err.Error(), "no such host") {
			hint = "map the name with --resolve " + u.Hostname() + ":127.0.0.1 (or resolve: in the policy)"
		}
		return &EnvError{fmt.Errorf("target %s is not reachable (%v): %s", scenarios.Visible(target), err, hint)}
	}
	if len(s.Config.Browser.CACerts) > 0 && u.Scheme == "https" {
		cas, err := runner.LoadCAs(s.Config.Browser.CACerts)
		if err != nil {
			return &EnvError{err}
		}
		spki, err := runner.TrustChain(context.Background(), target, cas, resolve)
		if err != nil {
			return &EnvError{err}
		}
		s.Config.Browser.TrustSPKI = spki
	}
	return nil
}

// Precheck makes one real fetch through the browser from the first allowed
// origin before any case runs. When the browser cannot reach the target at
// all (a certificate it refuses, a name that does not resolve, mixed
// content, Local Network Access, a port it refuses, a refused connection,
// no answer), the run stops with one line naming the cause in the user's
// words and the flag that fixes it, instead of hundreds of errored cases.
func (s *Session) Precheck(ctx context.Context) error {
	req, ok := s.precheckRequest()
	if !ok {
		return nil // every selected case is skipped: nothing will be sent
	}
	obs, err := s.send(ctx, s.browser, []runner.Probe{s.probeOf(req)}, s.runOptions())
	if err != nil {
		return err
	}
	if msg := EnvironmentProblem(obs[0][0], s.Config.Timeout); msg != "" {
		return &EnvError{fmt.Errorf("%s", msg)}
	}
	return nil
}

// firstOrigin is the concrete first allowed origin of a policy.
func firstOrigin(p *scenarios.Policy) string {
	o := p.Origins[0]
	switch {
	case o == "*":
		return "https://any.corscheck.test"
	case strings.Contains(o, "://*."):
		scheme, rest, _ := strings.Cut(o, "://*.")
		return scheme + "://corscheck." + rest
	}
	return o
}

// EnvironmentProblem says, in one line, why the browser could not reach
// the target at all and which flag fixes it; "" when it could (any HTTP
// answer, whatever its CORS headers, counts as reaching it).
func EnvironmentProblem(o scenarios.Observation, timeout time.Duration) string {
	if o.Outcome != scenarios.Errored {
		return ""
	}
	u, _ := url.Parse(o.Request.URL)
	host := scenarios.Visible(u.Host)
	from := scenarios.Visible(o.Request.Origin)
	switch o.ErrorKind {
	case scenarios.ErrorTLS:
		return fmt.Sprintf("the browser refused the certificate of %s (%s): pass the CA that signed it with --ca-cert FILE, or use --insecure", host, o.NetError)
	case scenarios.ErrorDNS:
		return fmt.Sprintf("the browser cannot resolve %s (%s): map it with --resolve %s:127.0.0.1 (or resolve: in the policy)", u.Hostname(), o.NetError, u.Hostname())
	case scenarios.ErrorMixedContent:
		if o.Engine == runner.EngineWebKit {
			return fmt.Sprintf("WebKit blocks http://%s from the https origin %s as mixed content (loopback included; Chrome and Firefox allow loopback): test WebKit against an https URL of the target (--ca-cert FILE for its certificate), or use http origins in the policy", host, from)
		}
		return fmt.Sprintf("the browser blocks http://%s from the https origin %s as mixed content: use an https target, or http origins in the policy", host, from)
	case scenarios.ErrorLocalNetworkAccess:
		return fmt.Sprintf("the browser's Local Network Access rules block %s from the origin %s (%s): run without --local-network-access", host, from, o.CorsError)
	case scenarios.ErrorUnsafePort:
		return fmt.Sprintf("browsers refuse to connect to port %s (%s): it belongs to another protocol; serve the target on another port", u.Port(), o.NetError)
	case scenarios.ErrorTimeout:
		return fmt.Sprintf("the target %s did not answer a GET within --timeout %s: check it is up, or raise --timeout", host, timeout)
	case scenarios.ErrorNetwork:
		if targetMisbehaved(o.NetError) {
			// It listens and answered (badly): the run records what it
			// does to every case, as evidence, and says so at the end.
			return ""
		}
		return fmt.Sprintf("the browser could not reach %s (%s): start the server or fix --target", host, o.NetError)
	case scenarios.ErrorBrowser:
		return "the browser failed before reaching the target: " + scenarios.Visible(o.Error)
	}
	return ""
}

// targetMisbehaved reports whether a network error comes from a target
// that accepted the connection and then answered badly (reset it, closed
// it, sent garbage or a truncated answer), rather than from one that is
// not there.
func targetMisbehaved(netError string) bool {
	switch netError {
	case "net::ERR_CONNECTION_RESET", "net::ERR_CONNECTION_CLOSED", "net::ERR_EMPTY_RESPONSE", "net::ERR_INVALID_HTTP_RESPONSE",
		"net::ERR_RESPONSE_HEADERS_TRUNCATED", "net::ERR_INVALID_CHUNKED_ENCODING", "net::ERR_INCOMPLETE_CHUNKED_ENCODING",
		"net::ERR_CONTENT_LENGTH_MISMATCH", "net::ERR_HTTP2_PROTOCOL_ERROR", "net::ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH",
		"net::ERR_INVALID_RESPONSE", "net::ERR_CONTENT_DECODING_FAILED", "net::ERR_HTTP_1_1_REQUIRED",
		"NS_ERROR_NET_RESET", "NS_ERROR_NET_INTERRUPT", "NS_ERROR_NET_PARTIAL_TRANSFER", "NS_ERROR_CORRUPTED_CONTENT",
		"NS_ERROR_INVALID_CONTENT_ENCODING", "NS_ERROR_NET_EMPTY_RESPONSE":
		return true
	}
	return false
}

// Discover learns what the matrix needs from the target before the specs
// are built: which routes redirect (their plain GET from the first allowed
// origin was redirected), adding the redirect family there.
func (s *Session) Discover(ctx context.Context) error {
	if s.browser == nil {
		return &EnvError{fmt.Errorf("no browser: StartBrowser was not called")}
	}
	reqs := s.discoveryRequests()
	var probes []runner.Probe
	var urls []string
	for _, r := range s.Routes {
		if req, ok := reqs[r.URL]; ok {
			probes = append(probes, s.probeOf(req))
			urls = append(urls, r.URL)
		}
	}
	obs, err := s.send(ctx, s.browser, probes, s.runOptions())
	if err != nil {
		return err
	}
	var answers []scenarios.Observation
	for i := range urls {
		answers = append(answers, obs[i][0])
	}
	if err := scenarios.NotTheAPI(answers); err != nil {
		return &EnvError{err}
	}
	redirecting := map[string]bool{}
	for i, u := range urls {
		o := obs[i][0]
		if len(o.Redirects) > 0 || o.Response != nil && o.Response.Status >= 300 && o.Response.Status < 400 {
			redirecting[u] = true
		}
	}
	if len(redirecting) > 0 {
		if err := s.expand(scenarios.Discovery{Redirecting: redirecting}); err != nil {
			return &EnvError{err}
		}
	}
	return s.adapt(ctx, redirecting)
}
