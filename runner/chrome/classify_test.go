package chrome

import (
	"encoding/json"
	"testing"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// A corsError the pinned cdproto does not know (a newer Chrome) is kept
// verbatim: decoding uses our own string-typed structs.
func TestUnknownCorsErrorIsKeptVerbatim(t *testing.T) {
	raw := `{"requestId":"1.2","errorText":"net::ERR_FAILED","canceled":false,
	  "corsErrorStatus":{"corsError":"SomeFutureCorsError","failedParameter":"x-new"}}`
	var ev evLoadingFailed
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatalf("decode: %v", err)
	}
	r := &netRequest{id: "1.2", terminal: terminalFailed, errorText: ev.ErrorText,
		corsError: ev.CorsErrorStatus.CorsError, failedParam: ev.CorsErrorStatus.FailedParameter}
	var ob scenarios.Observation
	classifyFailure(&ob, r, nil)
	if ob.Outcome != scenarios.Blocked || ob.CorsError != "SomeFutureCorsError" || ob.FailedParameter != "x-new" {
		t.Fatalf("got %v %q %q, want blocked SomeFutureCorsError x-new", ob.Outcome, ob.CorsError, ob.FailedParameter)
	}
	if e := diagnosis.Explain(ob); e.Sentence == "" || e.Fix == "" {
		t.Fatalf("unknown corsError must still be explained: %+v", e)
	}
}
