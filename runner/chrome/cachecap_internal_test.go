package chrome

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// Chrome's preflight cache holds 1,024 entries per browser context and,
// once full, drops one at random for each new one. A tab of a long
// run sends many more preflights than that: a cache check late in the run
// must still see its preflight reused, or it fails on Chrome's cap and not
// on the server ("2 preflights, expected 1", in some runs only).
func TestPreflightCacheCapNeverDecides(t *testing.T) {
	var preflights atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		if r.Method == http.MethodOptions {
			preflights.Add(1)
			w.Header().Set("Access-Control-Allow-Methods", "PUT")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	// Each probe: a PUT, ten other preflighted PUTs (ten new cache
	// entries), the first PUT again; six probes at a time, 3,300
	// preflights from one tab. In Chromium 156 a context's cache holds
	// 1,024 entries and each new one past that evicts one at random: with
	// the other probes' entries, a PUT's entry meets about 65 evictions
	// before its second fetch, and is lost about 6% of the time. Measured
	// in one context: 6-20 of the 300 probes lost their entry.
	const n, fillers = 300, 10
	probes := make([]runner.Probe, n)
	for i := range probes {
		p := runner.Probe{Origin: "https://app.example.com"}
		p.Fetches = append(p.Fetches, runner.Fetch{URL: srv.URL + "/m/items", Method: "PUT"})
		for j := range fillers {
			p.Fetches = append(p.Fetches, runner.Fetch{URL: fmt.Sprintf("%s/%s/%d", srv.URL, []string{"a", "z"}[j%2], j), Method: "PUT"})
		}
		p.Fetches = append(p.Fetches, runner.Fetch{URL: srv.URL + "/m/items", Method: "PUT"})
		probes[i] = p
	}
	br, err := runner.Start(context.Background(), runner.Options{Browsers: runner.EngineChrome, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	obs, err := br.Run(context.Background(), probes, runner.RunOptions{Pages: 1, ChunkSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for i, o := range obs {
		if len(o) != fillers+2 {
			t.Fatalf("probe %d: %d observations, want %d", i, len(o), fillers+2)
		}
		for k, f := range o {
			if f.Outcome != scenarios.Allowed {
				t.Fatalf("probe %d fetch %d: %s %s", i, k, f.Outcome, f.Error)
			}
		}
		if o[0].Preflights != 1 {
			t.Fatalf("probe %d: the first PUT caused %d preflights, want 1", i, o[0].Preflights)
		}
		if o[fillers+1].Preflights != 0 {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d probes sent their PUT's preflight again: Chrome's cache had dropped it", lost, n)
	}
	if got, want := preflights.Load(), int64(n*(fillers+1)); got != want {
		t.Errorf("the server saw %d preflights, want %d (one per distinct URL of each probe)", got, want)
	}
}
