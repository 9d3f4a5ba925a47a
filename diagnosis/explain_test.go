package diagnosis_test

import (
	"testing"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
	_ "github.com/corscheck/corscheck/stacks"
)

// Every corsError whose fix is a CORS configuration gets every stack's
// snippet for the one blocked request.
func TestExplainHasEveryStacksSnippet(t *testing.T) {
	withSnippets := 0
	for _, ce := range scenarios.KnownCorsErrors() {
		e := diagnosis.Explain(scenarios.Observation{Outcome: scenarios.Blocked, CorsError: ce, FailedParameter: "p",
			Request: scenarios.Request{Origin: "https://app.example.com", Method: "PUT"}})
		if e.Snippets == nil {
			continue
		}
		withSnippets++
		for _, s := range diagnosis.Stacks {
			if s.Fix != nil && e.Snippets[s.Name] == "" {
				t.Errorf("%s: no %s snippet", ce, s.Name)
			}
		}
	}
	if withSnippets < 10 {
		t.Fatalf("only %d corsErrors have snippets", withSnippets)
	}
}
