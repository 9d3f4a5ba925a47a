package suite

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/types"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
)

// ConformTo succeeds when what the browser did (one observation per fetch)
// is what the case's policy requires. Its failure message states the
// request, what the browser did and why, the header at fault and the fix;
// text from the target is shown with its control characters escaped, and
// the secrets given never appear in it.
func ConformTo(c scenarios.Case, secrets ...string) types.GomegaMatcher {
	return &conformMatcher{c: c, secrets: secrets}
}

type conformMatcher struct {
	c       scenarios.Case
	j       scenarios.Judgement
	per     []scenarios.EngineJudgement
	secrets []string
}

func (m *conformMatcher) Match(actual any) (bool, error) {
	switch a := actual.(type) {
	case []scenarios.Observation:
		m.j = scenarios.Judge(m.c, a)
	case EngineObservations:
		m.j, m.per, _ = scenarios.JudgeEngines(m.c, a.Engines, a.Obs)
	default:
		return false, fmt.Errorf("ConformTo expects []scenarios.Observation or EngineObservations, got %T", actual)
	}
	return m.j.Verdict == scenarios.Pass || m.j.Verdict == scenarios.Skipped, nil
}

func (m *conformMatcher) FailureMessage(actual any) string {
	switch a := actual.(type) {
	case EngineObservations:
		if len(m.per) == 1 {
			return reports.RedactText(Evidence(m.c, m.per[0].Obs, m.per[0].Judgement), m.secrets)
		}
		var parts []string
		for _, p := range m.per {
			if p.Verdict == scenarios.Fail || p.Verdict == scenarios.Error {
				parts = append(parts, "in "+p.Engine+": "+Evidence(m.c, p.Obs, p.Judgement))
			}
		}
		_ = a
		return reports.RedactText(m.j.Message+"\n"+strings.Join(parts, "\n"), m.secrets)
	}
	obs, _ := actual.([]scenarios.Observation)
	return reports.RedactText(Evidence(m.c, obs, m.j), m.secrets)
}

func (m *conformMatcher) NegatedFailureMessage(any) string {
	return fmt.Sprintf("expected %s not to conform, but it did: %s", m.c.ID, m.j.Message)
}

// Evidence renders a case's evidence for a person: the request, expected
// and observed outcome, the browser's reason, the exchanges, the header at
// fault and the fix. Everything from the target is shown through
// scenarios.Visible, so escape sequences and bidi controls cannot act.
func Evidence(c scenarios.Case, obs []scenarios.Observation, j scenarios.Judgement) string {
	return scenarios.VisibleLines(evidence(c, obs, j))
}

func evidence(c scenarios.Case, obs []scenarios.Observation, j scenarios.Judgement) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s]\n  %s\n", c.ID, j.Verdict, j.Message)
	r := c.Request
	fmt.Fprintf(&b, "  request:   %s %s from %s, credentials %s\n", r.Method, r.URL, r.Origin, r.Credentials)
	if len(obs) > 0 {
		o := obs[0]
		fmt.Fprintf(&b, "  expected:  %s   %s: %s\n", c.Expected.Outcome, scenarios.EngineTitle(o.Engine), o.Outcome)
		if o.CorsError != "" {
			fmt.Fprintf(&b, "  corsError: %s", o.CorsError)
			if o.FailedParameter != "" {
				fmt.Fprintf(&b, " (failedParameter %q)", o.FailedParameter)
			}
			b.WriteString("\n")
		}
		if o.ConsoleMessage != "" {
			fmt.Fprintf(&b, "  console:   %s\n", o.ConsoleMessage)
		}
		if o.Preflight != nil {
			fmt.Fprintf(&b, "  preflight: %d %s\n", o.Preflight.Status, corsHeaders(o.Preflight.ResponseHeaders))
		}
		if o.Response != nil {
			fmt.Fprintf(&b, "  response:  %d %s\n", o.Response.Status, corsHeaders(o.Response.Headers))
		}
	}
	if j.Header != "" {
		fmt.Fprintf(&b, "  header:    %s\n", j.Header)
	}
	if j.Fix != "" {
		fmt.Fprintf(&b, "  fix:       %s\n", j.Fix)
	}
	return b.String()
}

// corsHeaders shows the response headers that decide CORS, in one line.
func corsHeaders(h map[string]string) string {
	var parts []string
	for _, name := range []string{"access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods",
		"access-control-allow-headers", "access-control-expose-headers", "access-control-max-age", "vary", "location"} {
		if v, ok := h[name]; ok {
			parts = append(parts, name+": "+strings.ReplaceAll(v, "\n", ", "))
		}
	}
	if len(parts) == 0 {
		return "(no CORS headers)"
	}
	return strings.Join(parts, "; ")
}
