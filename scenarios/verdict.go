package scenarios

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Verdict is a case's result: the server behaved as the policy says, did
// not, could not be judged, or was skipped on purpose.
type Verdict int

// Verdicts.
const (
	Pass Verdict = iota + 1
	Fail
	Error
	Skipped
)

var verdictNames = map[Verdict]string{Pass: "pass", Fail: "fail", Error: "error", Skipped: "skipped"}

// String returns the contract spelling: pass, fail, error, skipped.
func (v Verdict) String() string {
	if s, ok := verdictNames[v]; ok {
		return s
	}
	return "unknown"
}

// MarshalJSON writes the contract spelling.
func (v Verdict) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

// UnmarshalJSON reads the contract spelling.
func (v *Verdict) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for k, name := range verdictNames {
		if name == s {
			*v = k
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q (want pass, fail, error or skipped)", s)
}

// Judgement is the verdict on one case with the words for a person.
type Judgement struct {
	Verdict Verdict
	// Message says what was checked and what happened, in one sentence.
	Message string
	// Fix says what to change on the server; empty when passing.
	Fix string
	// Header is the response header at fault, when one is.
	Header string
	// Status is set when the answer was not about CORS: the actual request
	// was answered 401, 403, 407, 429 or 5xx (and the policy does not
	// expect it). The verdict covers the CORS headers of that answer only.
	Status int
	// Inconclusive is true when the verdict cannot be trusted because the
	// request never reached the CORS layer (Status says why).
	Inconclusive bool
	// Value is the value of Header the browser saw, as recorded, when the
	// verdict rests on it (a finding quotes it).
	Value string `json:"-"`
}

// Judge compares what the browser did (the observations of the case's
// fetches, then of its related requests) with what the case expects. It
// never looks at anything but the observations.
func Judge(c Case, obs []Observation) Judgement {
	if c.SkipReason != "" {
		return Judgement{Verdict: Skipped, Message: "skipped by the policy: " + c.SkipReason}
	}
	if len(obs) < c.Fetches() {
		return Judgement{Verdict: Error, Message: fmt.Sprintf("%s: no observation (%d of %d fetches observed)", describeRequest(c.Request), len(obs), c.Fetches())}
	}
	if r := obs[0].Resampled; r != "" {
		j := judge(c, obs)
		j.Message += " (timing-dependent: " + r + "; this second sample passed)"
		return j
	}
	return judge(c, obs)
}

func judge(c Case, obs []Observation) Judgement {
	main, related := obs[:c.Fetches()], obs[c.Fetches():]
	if c.Check != CheckCache {
		for _, o := range main {
			if o.Outcome == Errored {
				return Judgement{Verdict: Error, Message: fmt.Sprintf("%s: no CORS verdict: %s", describeRequest(c.Request), Visible(o.Error)), Fix: errorFix(o)}
			}
		}
	}
	o := main[0]
	var j Judgement
	switch c.Check {
	case CheckReadable:
		j = judgeReadable(c, o)
	case CheckUnexposed:
		j = judgeUnexposed(c, o)
	case CheckCache:
		return judgeCache(c, obs)
	case CheckVary:
		j = judgeVary(c, o, related)
	default:
		if c.Expected.Status != 0 {
			if skip, ok := statusPremise(c, o); ok {
				return skip
			}
		}
		j = judgeOutcome(c, o)
		j = withCookies(c, o, j)
	}
	return withStatus(c, o, j)
}

// CanaryCookie is the harmless cookie corscheck puts in the browser's jar
// for the target's site, so credentialed requests carry a Cookie header as
// a signed-in victim's do: some servers answer differently then (Starlette
// echoes any Origin with credentials only when a cookie is present).
const CanaryCookie = "corscheck_canary"

// withCookies fails a credentialed request the policy allows when CORS let
// it through but the browser refused to attach a cookie: the app breaks
// just the same, and no CORS error says why.
func withCookies(c Case, o Observation, j Judgement) Judgement {
	if j.Verdict != Pass || c.Hostile || o.Outcome != Allowed || c.Request.Credentials != CredentialsInclude {
		return j
	}
	for _, ck := range o.Cookies {
		if ck.Sent() || ck.Name == CanaryCookie {
			continue
		}
		why, fix := CookieReason(ck)
		return Judgement{Verdict: Fail, Header: "Set-Cookie",
			Message: fmt.Sprintf("%s: CORS allowed it, but %s sent no cookie %s: %s", describeRequest(c.Request), o.engineName(), Visible(ck.Name), why),
			Fix:     fix}
	}
	return j
}

// CookieReason says in words why the browser did not send a cookie, and
// what to change, from its blocked reasons.
func CookieReason(ck Cookie) (why, fix string) {
	name := Visible(ck.Name)
	reasons := strings.Join(ck.Blocked, ", ")
	for _, r := range ck.Blocked {
		switch {
		case strings.HasPrefix(r, "SameSite") || strings.HasPrefix(r, "SchemefulSameSite"):
			if r == "SameSiteNoneInsecure" {
				return fmt.Sprintf("SameSite=None on %s without Secure (%s)", name, reasons),
					fmt.Sprintf("Set the cookie %s with SameSite=None; Secure (browsers reject SameSite=None without Secure).", name)
			}
			return fmt.Sprintf("SameSite on %s blocks it on a cross-site fetch (%s)", name, reasons),
				fmt.Sprintf("Set the cookie %s with SameSite=None; Secure, so it travels on cross-site requests (or serve the app and the API from the same site).", name)
		case r == "SecureOnly":
			return fmt.Sprintf("%s is Secure and the request is not https (%s)", name, reasons), "Call the API over https, or drop Secure from the cookie on a development host."
		case r == "ThirdPartyPhaseout" || r == "UserPreferences" || strings.HasPrefix(r, "ThirdParty"):
			return fmt.Sprintf("the browser blocks third-party cookies and the page's site is not the API's (%s)", reasons),
				"Serve the app and the API from the same site (e.g. app.example.com and api.example.com), or use a partitioned cookie (CHIPS: Partitioned); do not rely on third-party cookies."
		case r == "DomainMismatch" || r == "NotOnPath" || r == "PortMismatch" || r == "SchemeMismatch":
			return fmt.Sprintf("the cookie %s does not cover this URL (%s)", name, reasons), fmt.Sprintf("Set the cookie %s with a Domain and Path that cover the API's URL.", name)
		}
	}
	return fmt.Sprintf("the browser refused to send %s (%s)", name, reasons), "Check the cookie's attributes (SameSite=None; Secure for cross-site requests)."
}

// nonCORSStatuses are answers that come from something other than the CORS
// layer: authentication, a proxy, a rate limiter, a crash.
func nonCORSStatus(status int, expected []int) bool {
	for _, s := range expected {
		if s == status {
			return false
		}
	}
	return status == 401 || status == 403 || status == 407 || status == 429 || status >= 500
}

// withStatus marks a judgement whose answer was not about CORS. A hostile
// origin that was refused only because the server answered 401, 407, 429
// or 5xx without CORS headers is inconclusive (an error, never a silent
// pass): with a valid session the CORS layer might have let it in. A 403
// counts as a refusal: CORS layers answer refused origins with 403
// (gin-contrib/cors, Spring's "Invalid CORS request").
func withStatus(c Case, o Observation, j Judgement) Judgement {
	status := 0
	if o.Response != nil && nonCORSStatus(o.Response.Status, c.ExpectStatus) && o.Response.Status != c.Expected.Status {
		status = o.Response.Status
	}
	if o.Preflight != nil && (o.Preflight.Status == 429 || o.Preflight.Status >= 500) && !contains(intsToStrings(c.ExpectStatus), fmt.Sprint(o.Preflight.Status)) {
		status = o.Preflight.Status
	}
	if status == 0 {
		return j
	}
	j.Status = status
	if c.Hostile && status != 403 && j.Verdict == Pass && o.Outcome == Blocked && (o.CorsError == "MissingAllowOriginHeader" || o.CorsError == "PreflightMissingAllowOriginHeader" || o.CorsError == "PreflightInvalidStatus") {
		return Judgement{Verdict: Error, Status: status, Inconclusive: true,
			Message: fmt.Sprintf("%s: inconclusive: the server answered %d without CORS headers, so the request never reached the CORS layer and whether it would refuse %s is unknown",
				describeRequest(c.Request), status, Visible(c.Request.Origin)),
			Fix: StatusFix(status)}
	}
	j.Message += fmt.Sprintf(" (the server answered %d: the verdict covers the CORS headers of that answer, not of your API)", status)
	return j
}

// StatusFix says what to do about an answer that was not about CORS.
func StatusFix(status int) string {
	switch {
	case status == 401 || status == 403 || status == 407:
		return "Give corscheck credentials (--header 'Authorization: Bearer ${TOKEN}', --cookie, or auth: in the policy), or list the status in expectStatus: if it is expected."
	case status == 429:
		return "A rate limiter answered: slow corscheck down with --rate N, or exempt its requests (they carry __corscheck=...)."
	}
	return "The server failed: check its logs for the requests marked __corscheck=..., or list the status in expectStatus: if it is expected."
}

func intsToStrings(ns []int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprint(n)
	}
	return out
}

// statusPremise checks that an errors-family answer had the status the case
// is about; a 404 case answered 200 proves nothing and says so.
func statusPremise(c Case, o Observation) (Judgement, bool) {
	if o.Response == nil {
		return Judgement{}, false // blocked at the preflight: judged as a block
	}
	if o.Response.Status == c.Expected.Status {
		return Judgement{}, false
	}
	return Judgement{Verdict: Skipped, Message: fmt.Sprintf("not checked: the target answered %d at %s, not %d; name a path that really answers %d with errorPaths: {%d: /path}",
		o.Response.Status, Visible(c.Request.URL), c.Expected.Status, c.Expected.Status, c.Expected.Status)}, true
}

func judgeOutcome(c Case, o Observation) Judgement {
	req := describeRequest(c.Request)
	if o.Outcome == c.Expected.Outcome {
		if o.Outcome == Allowed {
			return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: %s allowed it, as the policy requires", req, o.engineName())}
		}
		return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: %s blocked it (%s), as the policy requires", req, o.engineName(), reason(o))}
	}
	if o.Outcome == Allowed {
		acao, _ := o.Response.Header("access-control-allow-origin")
		msg := fmt.Sprintf("%s: %s allowed it, but the policy refuses it", req, o.engineName())
		if acao != "" {
			msg += fmt.Sprintf(" (the server answered Access-Control-Allow-Origin: %s)", Visible(acao))
		}
		return Judgement{Verdict: Fail, Message: msg, Header: "Access-Control-Allow-Origin", Fix: refuseFix(c)}
	}
	e := Explain(o)
	return Judgement{Verdict: Fail, Message: fmt.Sprintf("%s: %s blocked it (%s), but the policy allows it", req, o.engineName(), reason(o)), Fix: e.Fix, Header: e.Header}
}

// engineName is the browser's name for messages.
func (o Observation) engineName() string { return EngineTitle(o.Engine) }

func refuseFix(c Case) string {
	switch {
	case strings.HasSuffix(string(c.Expected.CorsError), "InvalidAllowCredentials"):
		return "The policy does not allow credentials: do not send Access-Control-Allow-Credentials: true."
	case c.Hostile && c.HostileKind != "":
		why := HostileKinds[c.HostileKind]
		return fmt.Sprintf("Do not allow %s: %s. Compare the Origin header with the exact allowed origins (a full-string match against a list) and send no Access-Control-Allow-Origin when it does not match.", Visible(c.Request.Origin), why)
	case c.Hostile:
		return fmt.Sprintf("Do not allow %s: compare the Origin header with the exact allowed origins (a full-string match, not a prefix, suffix or unanchored regex) and send no Access-Control-Allow-Origin when it does not match.", Visible(c.Request.Origin))
	case c.Expected.CorsError == "MethodDisallowedByPreflightResponse":
		return fmt.Sprintf("Do not list %s in Access-Control-Allow-Methods, or add it to the policy's methods.", NormalizeMethod(c.Request.Method))
	case c.Expected.CorsError == "HeaderDisallowedByPreflightResponse":
		return fmt.Sprintf("Do not allow %s in Access-Control-Allow-Headers (list only the policy's headers, never echo Access-Control-Request-Headers), or add it to the policy's headers.", strings.Join(UnsafeAsWritten(c.Request.Headers), ", "))
	}
	return "Make the server refuse what the policy refuses, or update the policy."
}

// UnsafeAsWritten is the request's non-safelisted header names, spelled
// as the request wrote them.
func UnsafeAsWritten(headers map[string]string) []string {
	var out []string
	for _, n := range UnsafeHeaderNames(headers) {
		for k := range headers {
			if strings.EqualFold(k, n) {
				n = k
			}
		}
		out = append(out, n)
	}
	return out
}

func judgeReadable(c Case, o Observation) Judgement {
	if o.Outcome != Allowed {
		return blockedFirst(c, o, "no header could be read")
	}
	for name, want := range c.Expected.Readable {
		v := o.ReadableHeaders[name]
		_, sent := o.Response.Header(name)
		switch {
		case want && v == nil && !sent:
			return Judgement{Verdict: Skipped, Message: fmt.Sprintf("the response to %s carries no %s header, so its exposure cannot be checked here; probe a path that sends it (policy paths:)", describeRequest(c.Request), name)}
		case want && v == nil:
			aceh, _ := o.Response.Header("access-control-expose-headers")
			return Judgement{Verdict: Fail, Header: "Access-Control-Expose-Headers",
				Message: fmt.Sprintf("%s: the response carries %s but script could not read it (Access-Control-Expose-Headers: %q)", describeRequest(c.Request), name, Visible(aceh)),
				Fix:     fmt.Sprintf("Add %s to Access-Control-Expose-Headers on the actual response (not only on the preflight)%s.", name, credNote(c))}
		}
	}
	return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: script could read %s", describeRequest(c.Request), strings.Join(slices.Sorted(maps.Keys(c.Expected.Readable)), ", "))}
}

func credNote(c Case) string {
	if c.Request.Credentials == CredentialsInclude {
		return "; with credentials a wildcard * is not enough, list the name"
	}
	return ""
}

// judgeUnexposed allows the safelisted names and the case's Read list (the
// policy's exposeHeaders) and fails on any other name script could read.
func judgeUnexposed(c Case, o Observation) Judgement {
	if o.Outcome != Allowed {
		return blockedFirst(c, o, "exposure could not be checked")
	}
	allowed := map[string]bool{}
	for _, h := range safelistedResponseHeaders {
		allowed[h] = true
	}
	for _, h := range c.Read {
		allowed[strings.ToLower(h)] = true
	}
	var extra []string
	for _, name := range o.ReadableNames {
		if !allowed[name] {
			extra = append(extra, Visible(name))
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return Judgement{Verdict: Fail, Header: "Access-Control-Expose-Headers",
			Message: fmt.Sprintf("%s: script could read %s, which the policy does not expose", describeRequest(c.Request), strings.Join(extra, ", ")),
			Fix:     "Expose only the policy's exposeHeaders: remove " + strings.Join(extra, ", ") + " from Access-Control-Expose-Headers (and do not send * there)."}
	}
	return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: script could read only safelisted and exposed headers (%d readable)", describeRequest(c.Request), len(o.ReadableNames))}
}

// judgeCache uses the first candidate request whose first fetch was
// allowed (a refused method must not hide a missing max-age); when none
// was, it says the cache was not checked and why.
func judgeCache(c Case, obs []Observation) Judgement {
	n := c.Fetches()
	cands := append([]Request{c.Request}, c.Related...)
	var refused []string
	for i, r := range cands {
		if (i+1)*n > len(obs) {
			break
		}
		group := obs[i*n : (i+1)*n]
		first := group[0]
		if first.Outcome != Allowed {
			why := reason(first)
			if first.Outcome == Errored {
				why = "error: " + Visible(first.Error)
			}
			refused = append(refused, fmt.Sprintf("%s (%s)", describeMethod(r), why))
			continue
		}
		return judgeCacheOf(c, r, group)
	}
	if len(refused) == 0 {
		return Judgement{Verdict: Error, Message: describeRequest(c.Request) + ": no observation"}
	}
	return Judgement{Verdict: Skipped, Message: "not checked: no preflighted request passed, so nothing could be cached: " + strings.Join(refused, "; ")}
}

func judgeCacheOf(c Case, r Request, obs []Observation) Judgement {
	req := describeRequest(r)
	for _, o := range obs {
		if o.Outcome != Allowed {
			return blockedFirst(Case{Request: r}, o, "the preflight cache could not be checked")
		}
	}
	if obs[0].Preflight == nil {
		return Judgement{Verdict: Error, Message: req + ": the first request sent no preflight, so nothing could be cached; corscheck expected one"}
	}
	if want := c.Expected.MaxAge; want != nil {
		got, ok := obs[0].Preflight.ResponseHeader("access-control-max-age")
		if !ok || strings.TrimSpace(got) != fmt.Sprint(*want) {
			shown := "no Access-Control-Max-Age"
			if ok {
				shown = "Access-Control-Max-Age: " + Visible(got)
			}
			return Judgement{Verdict: Fail, Header: "Access-Control-Max-Age", Value: strings.TrimSpace(got),
				Message: fmt.Sprintf("%s: the preflight carried %s, the policy says %d", req, shown, *want),
				Fix:     fmt.Sprintf("Send Access-Control-Max-Age: %d on preflight responses (Chrome caps it at %d s, Firefox at %d s, WebKit at %d s).", *want, ChromeMaxAge, FirefoxMaxAge, WebKitMaxAge)}
		}
	}
	preflights := 0
	for _, o := range obs {
		if o.Preflight != nil {
			preflights++
		}
	}
	if want := c.Expected.Preflights; want != nil && preflights >= *want && preflights <= len(obs) && !PreflightCacheReliable(obs[0].Engine, r.URL) {
		// How many preflights this engine sends varies between runs of the
		// same server: neither judged nor quoted, so two runs say the same.
		return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s repeated: Access-Control-Max-Age as the policy says; %s's preflight count is not judged (browser difference: %s)",
			req, obs[0].engineName(), FirefoxDeviations["preflight-cache-dns-check"])}
	}
	if want := c.Expected.Preflights; want != nil && preflights != *want {
		got, _ := obs[0].Preflight.ResponseHeader("access-control-max-age")
		return Judgement{Verdict: Fail, Header: "Access-Control-Max-Age", Value: strings.TrimSpace(got),
			Message: fmt.Sprintf("%s twice: the browser sent %d preflights, expected %d", req, preflights, *want),
			Fix:     "Send a valid Access-Control-Max-Age on the preflight response so browsers cache it."}
	}
	return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s twice: %d preflight(s), Access-Control-Max-Age as the policy says", req, preflights)}
}

// judgeVary fires only when the answer really depends on the origin: the
// Access-Control-Allow-Origin another origin got differs (present or not),
// or the value echoes the request's origin while the policy allows several.
// A fixed value sent to everyone needs no Vary.
func judgeVary(c Case, o Observation, related []Observation) Judgement {
	req := describeRequest(c.Request)
	if o.Outcome != Allowed {
		return blockedFirst(c, o, "Vary could not be checked")
	}
	acao, _ := o.Response.Header("access-control-allow-origin")
	depends, evidence := false, ""
	if len(related) > 0 && related[0].Outcome != Errored {
		other := related[0]
		otherACAO, has := other.Response.Header("access-control-allow-origin")
		if otherACAO != acao {
			depends = true
			if has {
				evidence = fmt.Sprintf("%s got Access-Control-Allow-Origin: %s", Visible(other.Request.Origin), Visible(otherACAO))
			} else {
				evidence = fmt.Sprintf("%s got no Access-Control-Allow-Origin", Visible(other.Request.Origin))
			}
		}
	}
	if !depends && acao == c.Request.Origin && (len(related) == 0 || related[0].Outcome == Errored) {
		// Nothing to compare with: a value that echoes the origin depends on it.
		depends, evidence = true, "it echoes the request's origin"
	}
	if !depends {
		return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: Access-Control-Allow-Origin: %s is the same for another origin, so no Vary: Origin is needed", req, Visible(acao))}
	}
	vary, _ := o.Response.Header("vary")
	for _, t := range strings.FieldsFunc(vary, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		if strings.EqualFold(t, "origin") || t == "*" {
			return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: Access-Control-Allow-Origin: %s depends on the origin and comes with Vary: %s", req, Visible(acao), Visible(vary))}
		}
	}
	return Judgement{Verdict: Fail, Header: "Vary",
		Message: fmt.Sprintf("%s: Access-Control-Allow-Origin: %s depends on the origin (%s) but the response has no Vary: Origin (Vary: %q), so a shared cache can serve it to another origin",
			req, Visible(acao), evidence, Visible(vary)),
		Fix: "Add Vary: Origin to every response whose Access-Control-Allow-Origin depends on the request's origin, including responses to refused origins."}
}

// blockedFirst fails a check that needs an allowed request when the browser
// blocked the request itself, with the block's explanation.
func blockedFirst(c Case, o Observation, consequence string) Judgement {
	e := Explain(o)
	return Judgement{Verdict: Fail, Fix: e.Fix, Header: e.Header,
		Message: fmt.Sprintf("%s: %s blocked it (%s), so %s", describeRequest(c.Request), o.engineName(), reason(o), consequence)}
}

func reason(o Observation) string {
	if o.FailedParameter != "" {
		return fmt.Sprintf("%s, %s", o.CorsError, Visible(o.FailedParameter))
	}
	return string(o.CorsError)
}

func describeRequest(r Request) string {
	s := fmt.Sprintf("%s %s from %s", Visible(r.Method), Visible(r.URL), Visible(r.Origin))
	if names := r.HeaderNames(); len(names) > 0 {
		s += " with " + Visible(strings.Join(names, ", "))
	}
	if r.Credentials == CredentialsInclude {
		s += " (credentials)"
	}
	return s
}

func describeMethod(r Request) string {
	if names := r.HeaderNames(); len(names) > 0 && r.Method == "GET" {
		return "GET with " + strings.Join(names, ", ")
	}
	return r.Method
}

// CorroboratesRefusal reports whether an inconclusive hostile observation
// (answered with a non-CORS status and no CORS headers) is a refusal after
// all: the same request from an allowed origin got the same status with
// Access-Control-Allow-Origin, so the CORS layer runs on those answers,
// and it gave this origin nothing.
func CorroboratesRefusal(hostile, allowed Observation) bool {
	if hostile.Response == nil || allowed.Response == nil || hostile.Response.Status != allowed.Response.Status {
		return false
	}
	acao, ok := allowed.Response.Header("access-control-allow-origin")
	return ok && acao != "" && acao != "*"
}

// Corroborated is the judgement of a hostile case that CorroboratesRefusal
// settled: a pass, with the evidence in its message.
func Corroborated(c Case, o Observation, allowedOrigin string) Judgement {
	return Judgement{Verdict: Pass, Status: o.Response.Status,
		Message: fmt.Sprintf("%s: %s blocked it (%s), as the policy requires: the server answered %d without CORS headers, while the same request from %s got %d with them, so the CORS layer runs on these answers and refused this origin",
			describeRequest(c.Request), o.engineName(), reason(o), o.Response.Status, Visible(allowedOrigin), o.Response.Status)}
}
