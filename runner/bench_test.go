package runner_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// BenchmarkBrowserStart measures starting each engine until it answers
// (Firefox: until its WebDriver BiDi session is up and subscribed).
func BenchmarkBrowserStart(b *testing.B) {
	for _, engine := range []string{runner.EngineChrome, runner.EngineFirefox} {
		b.Run(engine, func(b *testing.B) {
			for b.Loop() {
				br, err := runner.Start(context.Background(), runner.Options{Browsers: engine, LoopbackOnly: true})
				if err != nil {
					b.Fatal(err)
				}
				br.Close()
			}
		})
	}
}

func corsServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "PUT")
		h.Set("Access-Control-Allow-Headers", "X-Request-ID")
		h.Set("Vary", "Origin")
		w.WriteHeader(204)
	}))
}

// BenchmarkPreflightedBatch200 runs 200 preflighted, credentialed PUTs
// through each browser and the same 400 exchanges (OPTIONS + PUT) through a
// raw Go HTTP client, in the same run, and reports both rates and their
// ratio.
func BenchmarkPreflightedBatch200(b *testing.B) {
	srv := corsServer()
	defer srv.Close()
	for _, engine := range []string{runner.EngineChrome, runner.EngineFirefox} {
		b.Run(engine, func(b *testing.B) {
			br, err := runner.Start(context.Background(), runner.Options{Browsers: engine, LoopbackOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			const n = 200
			probes := make([]runner.Probe, n)
			for i := range probes {
				probes[i] = runner.Probe{Origin: "https://app.example.com", Fetches: []runner.Fetch{{
					URL: srv.URL + "/items", Method: "PUT", Credentials: scenarios.CredentialsInclude, Headers: map[string]string{"X-Request-ID": "1"}}}}
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 6, MaxConnsPerHost: 6}}
			var browserDur, rawDur time.Duration
			for b.Loop() {
				start := time.Now()
				obs, err := br.Run(context.Background(), probes, runner.RunOptions{})
				if err != nil {
					b.Fatal(err)
				}
				browserDur += time.Since(start)
				for _, o := range obs {
					if o[0].Outcome != scenarios.Allowed || o[0].Preflight == nil {
						b.Fatalf("probe not allowed with a preflight: %+v", o[0])
					}
				}
				start = time.Now()
				if err := rawExchanges(client, srv.URL+"/items", n); err != nil {
					b.Fatal(err)
				}
				rawDur += time.Since(start)
			}
			iters := float64(b.N)
			browserRate := n * iters / browserDur.Seconds()
			rawRate := n * iters / rawDur.Seconds()
			b.ReportMetric(browserRate, "probes/s")
			b.ReportMetric(rawRate, "raw-go-probes/s")
			b.ReportMetric(rawRate/browserRate, "raw/browser")
		})
	}
}

// rawExchanges does n preflight+PUT pairs with 6 concurrent connections, as
// Chrome's per-host limit does.
func rawExchanges(c *http.Client, url string, n int) error {
	errs := make(chan error, n)
	sem := make(chan struct{}, 6)
	for range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			for _, m := range []string{http.MethodOptions, http.MethodPut} {
				req, _ := http.NewRequest(m, url, nil)
				req.Header.Set("Origin", "https://app.example.com")
				if m == http.MethodOptions {
					req.Header.Set("Access-Control-Request-Method", "PUT")
					req.Header.Set("Access-Control-Request-Headers", "x-request-id")
				} else {
					req.Header.Set("X-Request-ID", "1")
				}
				resp, err := c.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 204 {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}
