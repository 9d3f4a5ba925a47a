package suite

import (
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// cookieTravel says, per browser, whether a cookie set first-party on the
// API's site travelled on the credentialed requests cross-site pages
// made: the user's session cookie when one was given, else corscheck's
// canary. Nil when there is no cookie to follow (--no-canary, no session).
func (s *Session) cookieTravel(res *reports.Results) []reports.CookieTravel {
	name := scenarios.CanaryCookie
	if s.Auth != nil && len(s.Auth.Cookies) > 0 {
		name = s.Auth.Cookies[0].Name
	} else if s.Config.NoCanary {
		return nil
	}
	mode := s.Config.Browser.CookieMode
	if mode == "" {
		mode = runner.CookieModeDefault
	}
	travel := map[string]*reports.CookieTravel{}
	var order []string
	add := func(engine string, o scenarios.Observation) {
		if o.Response == nil || o.Request.Credentials != scenarios.CredentialsInclude || runner.SameSite(o.Request.Origin, o.Request.URL) {
			return
		}
		if engine == "" {
			engine = runner.EngineChrome
		}
		t := travel[engine]
		if t == nil {
			t = &reports.CookieTravel{Engine: engine, Mode: mode, Cookie: name}
			travel[engine] = t
			order = append(order, engine)
		}
		t.CrossSite++
		for _, ck := range o.Cookies {
			if ck.Name != name {
				continue
			}
			if ck.Sent() {
				t.Sent++
				return
			}
			if t.Withheld == "" {
				t.Withheld = withheldWhy(engine, mode, ck)
			}
			return
		}
		if t.Withheld == "" {
			// The browser kept the cookie back without a word (Firefox
			// reports the cookies it sent, not those it did not).
			t.Withheld = withheldWhy(engine, mode, scenarios.Cookie{Name: name})
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
	var out []reports.CookieTravel
	for _, e := range order {
		t := travel[e]
		t.Works = t.Sent == t.CrossSite
		if t.Works {
			t.Withheld = ""
		}
		out = append(out, *t)
	}
	return out
}

// withheldWhy names the browser's privacy rule that kept a first-party
// cookie off a cross-site fetch, from the browser's own reasons where it
// gives them.
func withheldWhy(engine, mode string, ck scenarios.Cookie) string {
	if len(ck.Blocked) > 0 {
		why, _ := scenarios.CookieReason(ck)
		// Where the rule is named, the browser's reason adds only its code.
		codes := "the page's site is not the API's (" + strings.Join(ck.Blocked, ", ") + ")"
		switch {
		case engine == runner.EngineWebKit && mode != runner.CookieModeAllow && hasPrefix(ck.Blocked, "ThirdParty"):
			return "Intelligent Tracking Prevention blocks third-party cookies (Safari's default); " + codes
		case engine == runner.EngineChrome && mode == runner.CookieModeBlock && hasPrefix(ck.Blocked, "ThirdParty", "UserPreferences"):
			return "third-party cookies are blocked (--cookie-mode block-third-party: Incognito's and many enterprises' setting); " + codes
		}
		return why
	}
	if engine == runner.EngineFirefox {
		switch mode {
		case runner.CookieModeBlock:
			return "Firefox blocks third-party cookies (network.cookie.cookieBehavior 1, --cookie-mode block-third-party)"
		case runner.CookieModeAllow:
			return "Firefox sent no cookie although third-party cookies are allowed (check the cookie's SameSite and Secure)"
		}
		return "Total Cookie Protection (Firefox's default) keeps cookies per top-level site, so a cross-site page's fetch carries none"
	}
	return fmt.Sprintf("%s sent no cookie %s", engineTitle(engine), scenarios.Visible(ck.Name))
}

func hasPrefix(reasons []string, prefixes ...string) bool {
	for _, r := range reasons {
		for _, p := range prefixes {
			if len(r) >= len(p) && r[:len(p)] == p {
				return true
			}
		}
	}
	return false
}

// CookieSummary says per browser, in one line, whether signed-in
// cross-site requests work: whether the cookie set on the API's site
// travelled on cross-site pages' credentialed requests.
func CookieSummary(res *reports.Results) []string {
	var out []string
	for _, t := range res.Cookies {
		out = append(out, "cookies: "+t.Sentence())
	}
	return out
}
