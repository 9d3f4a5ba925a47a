package scenarios

import (
	"encoding/json"
	"fmt"
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
}

// Judge compares what Chrome did (one observation per fetch) with what the
// case expects. It never looks at anything but the observations.
func Judge(c Case, obs []Observation) Judgement {
	if c.SkipReason != "" {
		return Judgement{Verdict: Skipped, Message: "skipped by the policy: " + c.SkipReason}
	}
	if len(obs) < c.Fetches() {
		return Judgement{Verdict: Error, Message: fmt.Sprintf("%s: no observation (%d of %d fetches observed)", describeRequest(c.Request), len(obs), c.Fetches())}
	}
	for _, o := range obs {
		if o.Outcome == Errored {
			return Judgement{Verdict: Error, Message: fmt.Sprintf("%s: no CORS verdict: %s", describeRequest(c.Request), o.Error)}
		}
	}
	o := obs[0]
	switch c.Check {
	case CheckReadable:
		return judgeReadable(c, o)
	case CheckUnexposed:
		return judgeUnexposed(c, o)
	case CheckCache:
		return judgeCache(c, obs)
	case CheckVary:
		return judgeVary(c, o)
	}
	return judgeOutcome(c, o)
}

func judgeOutcome(c Case, o Observation) Judgement {
	req := describeRequest(c.Request)
	if o.Outcome == c.Expected.Outcome {
		if o.Outcome == Allowed {
			return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: Chrome allowed it, as the policy requires", req)}
		}
		return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: Chrome blocked it (%s), as the policy requires", req, reason(o))}
	}
	if o.Outcome == Allowed {
		acao, _ := o.Response.Header("access-control-allow-origin")
		msg := fmt.Sprintf("%s: Chrome allowed it, but the policy refuses it", req)
		if acao != "" {
			msg += fmt.Sprintf(" (the server answered Access-Control-Allow-Origin: %s)", acao)
		}
		return Judgement{Verdict: Fail, Message: msg, Header: "Access-Control-Allow-Origin", Fix: refuseFix(c)}
	}
	e := Explain(o)
	return Judgement{Verdict: Fail, Message: fmt.Sprintf("%s: Chrome blocked it (%s), but the policy allows it", req, reason(o)), Fix: e.Fix, Header: e.Header}
}

func refuseFix(c Case) string {
	switch {
	case strings.HasSuffix(string(c.Expected.CorsError), "InvalidAllowCredentials"):
		return "The policy does not allow credentials: do not send Access-Control-Allow-Credentials: true."
	case c.Hostile:
		return fmt.Sprintf("Do not allow %s: compare the Origin header with the exact allowed origins (a full-string match, not a prefix, suffix or unanchored regex) and send no Access-Control-Allow-Origin when it does not match.", c.Request.Origin)
	case c.Expected.CorsError == "MethodDisallowedByPreflightResponse":
		return fmt.Sprintf("Do not list %s in Access-Control-Allow-Methods, or add it to the policy's methods.", NormalizeMethod(c.Request.Method))
	case c.Expected.CorsError == "HeaderDisallowedByPreflightResponse":
		return "List only the policy's headers in Access-Control-Allow-Headers instead of echoing Access-Control-Request-Headers, or add the header to the policy."
	}
	return "Make the server refuse what the policy refuses, or update the policy."
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
				Message: fmt.Sprintf("%s: the response carries %s but script could not read it (Access-Control-Expose-Headers: %q)", describeRequest(c.Request), name, aceh),
				Fix:     fmt.Sprintf("Add %s to Access-Control-Expose-Headers on the actual response (not only on the preflight)%s.", name, credNote(c))}
		}
	}
	return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: script could read %s", describeRequest(c.Request), strings.Join(keys(c.Expected.Readable), ", "))}
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
			extra = append(extra, name)
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

func judgeCache(c Case, obs []Observation) Judgement {
	req := describeRequest(c.Request)
	for _, o := range obs {
		if o.Outcome != Allowed {
			return blockedFirst(c, o, "the preflight cache could not be checked")
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
				shown = "Access-Control-Max-Age: " + got
			}
			return Judgement{Verdict: Fail, Header: "Access-Control-Max-Age",
				Message: fmt.Sprintf("%s: the preflight carried %s, the policy says %d", req, shown, *want),
				Fix:     fmt.Sprintf("Send Access-Control-Max-Age: %d on preflight responses (Chrome caps it at %d).", *want, ChromeMaxAge)}
		}
	}
	preflights := 0
	for _, o := range obs {
		if o.Preflight != nil {
			preflights++
		}
	}
	if want := c.Expected.Preflights; want != nil && preflights != *want {
		return Judgement{Verdict: Fail, Header: "Access-Control-Max-Age",
			Message: fmt.Sprintf("%s twice: Chrome sent %d preflights, expected %d", req, preflights, *want),
			Fix:     "Send a valid Access-Control-Max-Age on the preflight response so browsers cache it."}
	}
	return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s twice: %d preflight(s), Access-Control-Max-Age as the policy says", req, preflights)}
}

func judgeVary(c Case, o Observation) Judgement {
	req := describeRequest(c.Request)
	if o.Outcome != Allowed {
		return blockedFirst(c, o, "Vary could not be checked")
	}
	acao, _ := o.Response.Header("access-control-allow-origin")
	if acao == "*" {
		return Judgement{Verdict: Pass, Message: req + ": Access-Control-Allow-Origin is *, the same for every origin, so no Vary: Origin is needed"}
	}
	vary, _ := o.Response.Header("vary")
	for _, t := range strings.FieldsFunc(vary, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		if strings.EqualFold(t, "origin") || t == "*" {
			return Judgement{Verdict: Pass, Message: fmt.Sprintf("%s: Access-Control-Allow-Origin: %s comes with Vary: %s", req, acao, vary)}
		}
	}
	return Judgement{Verdict: Fail, Header: "Vary",
		Message: fmt.Sprintf("%s: Access-Control-Allow-Origin: %s depends on the origin but the response has no Vary: Origin (Vary: %q), so a shared cache can serve it to another origin", req, acao, vary),
		Fix:     "Add Vary: Origin to every response whose Access-Control-Allow-Origin echoes the request's origin, including responses to refused origins."}
}

// blockedFirst fails a check that needs an allowed request when Chrome
// blocked the request itself, with the block's explanation.
func blockedFirst(c Case, o Observation, consequence string) Judgement {
	e := Explain(o)
	return Judgement{Verdict: Fail, Fix: e.Fix, Header: e.Header,
		Message: fmt.Sprintf("%s: Chrome blocked it (%s), so %s", describeRequest(c.Request), reason(o), consequence)}
}

func reason(o Observation) string {
	if o.FailedParameter != "" {
		return fmt.Sprintf("%s, %s", o.CorsError, o.FailedParameter)
	}
	return string(o.CorsError)
}

func describeRequest(r Request) string {
	s := fmt.Sprintf("%s %s from %s", r.Method, r.URL, r.Origin)
	if names := r.HeaderNames(); len(names) > 0 {
		s += " with " + strings.Join(names, ", ")
	}
	if r.Credentials == CredentialsInclude {
		s += " (credentials)"
	}
	return s
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
