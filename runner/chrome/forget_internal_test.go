package chrome

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// A tab runs thousands of probes in a large run: once a chunk's
// observations are built, its events must be gone from the tab's
// collector, or memory grows with the run (it held every event of a
// 40,000-case run).
func TestTabsForgetObservedProbes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("Access-Control-Allow-Methods", "PUT")
		w.WriteHeader(204)
	}))
	defer srv.Close()
	probes := make([]runner.Probe, 40)
	for i := range probes {
		method := "GET"
		if i%2 == 1 {
			method = "PUT" // preflighted: a preflight request id as well
		}
		probes[i] = runner.Probe{Origin: "https://app.example.com", Fetches: []runner.Fetch{{URL: srv.URL + "/items", Method: method}}}
	}
	for _, engine := range []string{runner.EngineChrome} {
		t.Run(engine, func(t *testing.T) {
			br, err := runner.Start(context.Background(), runner.Options{Browsers: engine, LoopbackOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer br.Close()
			// What a tab holds of the probes it observed: Chrome's tabs are
			// kept idle after a run (the open ones are not listed while it
			// runs); Firefox's are listed while they run and closed after.
			var during, after func() int
			switch b := br.(type) {
			case *Chrome:
				after = func() int {
					b.idleMu.Lock()
					defer b.idleMu.Unlock()
					n := 0
					for _, p := range b.idle {
						c := p.events
						c.Mu.Lock()
						n += len(c.reqs) + len(c.actual) + len(c.preflights) + len(c.console) + len(c.barriers)
						c.Mu.Unlock()
					}
					return n
				}
			}
			chunks, held := 0, 0
			obs, err := br.Run(context.Background(), probes, runner.RunOptions{Pages: 1, ChunkSize: 8, OnChunk: func([]int, [][]scenarios.Observation) {
				// The next chunk has not started: what the tab holds is
				// what it kept of the chunks before.
				chunks++
				if during != nil {
					held = max(held, during())
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range obs {
				if o[0].Outcome != scenarios.Allowed || i%2 == 1 && o[0].Preflight == nil {
					t.Fatalf("probe %d: %+v", i, o[0])
				}
			}
			if chunks != 5 {
				t.Fatalf("%d chunks, want 5", chunks)
			}
			if after != nil {
				held = after()
			}
			if held != 0 {
				t.Errorf("a tab held %d entries of observed probes, want 0", held)
			}
		})
	}
}
