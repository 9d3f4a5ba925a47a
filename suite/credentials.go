package suite

import (
	"context"
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// A run with the user's credentials proves they work before it trusts a
// verdict, and stops when they stop working: a green run on an expired
// session says nothing about the API.

// sessionDeath is where the user's credentials stopped working.
type sessionDeath struct {
	n      int // the case's position in the run (1-based)
	caseID string
	engine string
	method string
	route  string
	status int
	cookie string // why the browser withheld the session cookie, when it did
}

func (d *sessionDeath) Error() string {
	msg := fmt.Sprintf("the session/token was rejected from case %d on (%d on %s %s in %s, case %s)", d.n, d.status, d.method, scenarios.Visible(d.route), engineTitle(d.engine), scenarios.Visible(d.caseID))
	if d.cookie != "" {
		msg += ": " + d.cookie
	} else {
		msg += ": it expired or was revoked (a logout, a password change, a short-lived token)"
	}
	return msg + ". The results up to there are written; renew the credentials (--cookie, --header, auth:) and run again, and exclude requests that end the session with never: [\"POST /logout\"]"
}

func engineTitle(e string) string { return scenarios.EngineTitle(e) }

// carriesCredentials reports whether a request carries the user's
// credentials: one of their auth headers, or (credentials include) their
// cookies.
func (s *Session) carriesCredentials(r scenarios.Request) bool {
	if s.Auth == nil {
		return false
	}
	if len(s.Auth.Cookies) > 0 && r.Credentials == scenarios.CredentialsInclude {
		return true
	}
	for name := range s.Auth.Headers {
		for h := range r.Headers {
			if strings.EqualFold(h, name) {
				return true
			}
		}
	}
	return false
}

// carriesAll reports whether a request carries every credential the user
// gave (each auth header, and the cookies when given): the requests the
// session check sends and watches, since an API may need all of them.
func (s *Session) carriesAll(r scenarios.Request) bool {
	if s.Auth == nil {
		return false
	}
	if len(s.Auth.Cookies) > 0 && r.Credentials != scenarios.CredentialsInclude {
		return false
	}
	for name := range s.Auth.Headers {
		found := false
		for h := range r.Headers {
			if strings.EqualFold(h, name) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// sessionRequests are, per route, the request that proves the user's
// credentials work there: a selected request from the first allowed
// origin that carries them (a simple GET when there is one).
func (s *Session) sessionRequests() map[string]scenarios.Request {
	out := map[string]scenarios.Request{}
	if s.Auth == nil {
		return out
	}
	score := map[string]int{}
	ids := map[string]string{}
	allowed := firstOrigin(s.Policy)
	for _, c := range s.Plan().Cases() {
		r := c.Request
		// Safe methods only: the check must not change anything (a POST
		// /logout would end the very session it checks).
		safe := r.Method == "GET" || r.Method == "HEAD"
		if !safe || c.Hostile || r.Origin != allowed || len(c.Related) > 0 || c.Check != scenarios.CheckOutcome || c.Expected.Outcome != scenarios.Allowed || !s.carriesAll(r) {
			continue
		}
		sc := 0
		if r.Method == "GET" {
			sc += 2
		}
		if c.Family == "simple" {
			sc++
		}
		u := bareURL(r.URL)
		if prev, ok := score[u]; ok && (prev > sc || prev == sc && ids[u] <= c.ID) {
			continue
		}
		out[u], score[u], ids[u] = r, sc, c.ID
	}
	return out
}

func bareURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

// CheckSession sends each route's session request in every browser before
// the matrix: the routes where the credentials work are watched for the
// rest of the run. When they work on none (every answer 401/403), the run
// stops here: the session expired, the token is wrong, or the browser
// withholds the cookie.
func (s *Session) CheckSession(ctx context.Context) error {
	reqs := s.sessionRequests()
	if len(reqs) == 0 {
		return nil
	}
	var urls []string
	var probes []runner.Probe
	for _, r := range s.Routes {
		if req, ok := reqs[r.URL]; ok {
			urls = append(urls, r.URL)
			probes = append(probes, s.probeOf(req))
		}
	}
	s.live = map[string]map[string]bool{}
	for _, b := range s.browsers {
		obs, err := s.send(ctx, b, probes, s.runOptions())
		if err != nil {
			return err
		}
		live := map[string]bool{}
		var unauthenticated, forbidden *sessionDeath
		rejected, withheld, withheldWhy := 0, 0, ""
		for i, u := range urls {
			o := obs[i][0]
			if why := s.withheld(o); why != "" && o.Outcome != scenarios.Errored {
				withheld++
				withheldWhy = why
			}
			st := answerStatus(o)
			d := &sessionDeath{engine: b.Engine(), method: scenarios.NormalizeMethod(o.Request.Method), route: pathOnly(u), status: st, cookie: s.withheld(o)}
			switch {
			case st == 0:
				continue // no answer: the precheck and the run report it
			case st == 401:
				rejected++
				if unauthenticated == nil {
					unauthenticated = d
				}
			case st == 403:
				rejected++
				if forbidden == nil {
					forbidden = d
				}
			default:
				live[u] = true
			}
		}
		s.live[b.Engine()] = live
		if withheld > 0 && withheld == len(urls) {
			// The cookie never left the browser: the session cannot work in
			// it, whatever the public routes answered.
			return &EnvError{fmt.Errorf("the session never worked in %s: %s (on all %d routes asked). Serve the app and the API from one site, or run this browser without the session", engineTitle(b.Engine()), withheldWhy, len(urls))}
		}
		// A 401 to a request with every credential the user gave means
		// they authenticate nobody (a 403 may be a route the account may
		// not use; 403 everywhere is a rejection too).
		first := unauthenticated
		if first == nil && len(live) == 0 {
			first = forbidden
		}
		if first != nil {
			why := first.cookie
			if why == "" {
				why = "it expired, is for another environment, or lacks a scope (check it with curl)"
			}
			more := ""
			if rejected > 1 {
				more = fmt.Sprintf(", and on %d more route%s", rejected-1, plural(rejected-1))
			}
			return &EnvError{fmt.Errorf("the session/token was rejected before any case ran (%d on %s %s in %s%s): %s. Renew the credentials (--cookie, --header, auth:) and run again",
				first.status, first.method, scenarios.Visible(first.route), engineTitle(first.engine), more, why)}
		}
	}
	return nil
}

// answerStatus is the status of the actual response (0 when none came):
// a preflight never carries credentials, so its 401 says nothing about
// the session (it is the auth-before-CORS finding).
func answerStatus(o scenarios.Observation) int {
	if o.Response != nil {
		return o.Response.Status
	}
	return 0
}

// withheld says why the browser did not send the user's session cookie on
// a credentialed request ("" when it sent one, or when none was given).
func (s *Session) withheld(o scenarios.Observation) string {
	if s.Auth == nil || len(s.Auth.Cookies) == 0 || o.Request.Credentials != scenarios.CredentialsInclude {
		return ""
	}
	sent := map[string]bool{}
	var blocked []scenarios.Cookie
	for _, ck := range o.Cookies {
		if ck.Sent() {
			sent[ck.Name] = true
		} else {
			blocked = append(blocked, ck)
		}
	}
	for _, c := range s.Auth.Cookies {
		if sent[c.Name] {
			return ""
		}
	}
	for _, ck := range blocked {
		if ck.Name != scenarios.CanaryCookie {
			why, _ := scenarios.CookieReason(ck)
			return fmt.Sprintf("%s withheld the session cookie: %s", engineTitle(o.Engine), why)
		}
	}
	if o.Engine == runner.EngineFirefox {
		return fmt.Sprintf("Firefox withheld the session cookie %s: Total Cookie Protection keeps cookies per top-level site, so a cross-site page's fetch carries none (your Firefox users are signed out of a cross-site API too)", scenarios.Visible(s.Auth.Cookies[0].Name))
	}
	return fmt.Sprintf("%s sent no session cookie %s", engineTitle(o.Engine), scenarios.Visible(s.Auth.Cookies[0].Name))
}

// watch checks a finished case: a request with the user's credentials,
// on a route where they worked at the start, answered 401/403 means the
// session died. The first such case is recorded.
func (s *Session) watch(engine string, c scenarios.Case, obs []scenarios.Observation) {
	if s.died != nil || c.Hostile || len(obs) == 0 || s.live == nil || !s.live[engine][bareURL(c.Request.URL)] || !s.carriesAll(c.Request) {
		return
	}
	o := obs[0]
	if st := answerStatus(o); st == 401 || st == 403 {
		s.died = &sessionDeath{n: s.judged + 1, caseID: c.ID, engine: engine, method: scenarios.NormalizeMethod(c.Request.Method), route: pathOnly(c.Request.URL), status: st, cookie: s.withheld(o)}
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// credentialUse counts, per browser, the requests with the user's
// credentials that got an answer and those that carried the session cookie.
func (s *Session) credentialUse(res *reports.Results) []reports.CredentialUse {
	if s.Auth == nil {
		return nil
	}
	cookies := len(s.Auth.Cookies) > 0
	use := map[string]*reports.CredentialUse{}
	var order []string
	add := func(engine string, o scenarios.Observation) {
		if o.Response == nil || !s.carriesCredentials(o.Request) {
			return
		}
		if engine == "" {
			engine = runner.EngineChrome
		}
		u := use[engine]
		if u == nil {
			u = &reports.CredentialUse{Engine: engine, CookieSent: -1}
			if cookies {
				u.CookieSent = 0
			}
			use[engine] = u
			order = append(order, engine)
		}
		u.Requests++
		if !cookies {
			return
		}
		if why := s.withheld(o); why == "" {
			u.CookieSent++
		} else if u.Withheld == "" {
			u.Withheld = why
		}
	}
	for _, c := range res.Cases {
		if len(c.Browsers) > 0 {
			for _, b := range c.Browsers {
				for _, o := range append(append([]scenarios.Observation{b.Observed}, b.Repeats...), b.Related...) {
					add(b.Engine, o)
				}
			}
			continue
		}
		for _, o := range append(append([]scenarios.Observation{c.Observed}, c.Repeats...), c.Related...) {
			add(o.Engine, o)
		}
	}
	var out []reports.CredentialUse
	for _, e := range order {
		out = append(out, *use[e])
	}
	return out
}

// CredentialSummary says in one line per browser whether the credentials
// were used, for the terminal.
func CredentialSummary(res *reports.Results) []string {
	var out []string
	for _, u := range res.Credentials {
		switch {
		case u.CookieSent < 0:
			out = append(out, fmt.Sprintf("credentials: %s sent your auth headers on %d answered requests", engineTitle(u.Engine), u.Requests))
		case u.CookieSent == u.Requests:
			out = append(out, fmt.Sprintf("credentials: %s sent the session cookie on %d of %d credentialed requests", engineTitle(u.Engine), u.CookieSent, u.Requests))
		default:
			out = append(out, fmt.Sprintf("credentials: %s sent the session cookie on only %d of %d credentialed requests (%s)", engineTitle(u.Engine), u.CookieSent, u.Requests, u.Withheld))
		}
	}
	return out
}
