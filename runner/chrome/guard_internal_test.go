package chrome

import (
	"context"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/runner"
)

// The guard: a batch refuses to run in a tab whose Fetch domain is on,
// because interception changes what Chrome sends.
func TestBatchRefusesToRunWhileIntercepting(t *testing.T) {
	p := &originPage{origin: "https://app.example.com", intercepting: true, events: newCollector(), crashed: make(chan struct{})}
	_, err := p.runChunk(context.Background(), "x", []runner.Probe{{Origin: p.origin, Fetches: []runner.Fetch{{URL: "http://127.0.0.1:1/", Method: "GET"}}}}, []int{0}, runner.RunOptions{}.WithDefaults(), "", [2]int{})
	if err == nil || !strings.Contains(err.Error(), "Fetch domain intercepts") {
		t.Fatalf("runChunk with interception on: %v, want the guard's error", err)
	}
}
