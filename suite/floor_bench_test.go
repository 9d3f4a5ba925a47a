package suite

import (
	"context"
	"testing"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// BenchmarkFloor measures, per engine, corscheck on the demo against the
// same browser doing the same fetches with no observation at all (the
// floor): the same binary and options, the same origin pages, the same
// page script, chunks and run options (cookies included), the same
// probes; no network events, console or inspector, no judging. The two
// are paired in each iteration (order alternating), each in a browser
// started for it, and only the probing is timed (from a started browser
// to the last observation; corscheck's also includes judging every case).
// ratio-x is corscheck's time over the floor's.
//
// WebKit's floor fetches through the same loopback proxy corscheck's
// WebKit uses: it serves the origin pages and is the browser's only way
// out, so it is part of that engine's floor.
func BenchmarkFloor(b *testing.B) {
	for _, engine := range []string{runner.EngineChrome, runner.EngineFirefox, runner.EngineWebKit} {
		b.Run(engine, func(b *testing.B) {
			var observed, floor time.Duration
			cells := 0
			i := 0
			for b.Loop() {
				s, err := Prepare(Config{Timeout: 10 * time.Second, Browser: runner.Options{Browsers: engine}})
				if err != nil {
					b.Fatal(err)
				}
				var probes []runner.Probe
				for _, c := range s.Cases {
					probes = append(probes, s.probesFor(c)...)
				}
				runCorscheck := func() {
					if err := s.StartBrowser(context.Background()); err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					failed := 0
					for _, c := range s.Cases {
						obs, err := s.Observe(context.Background(), c)
						if err != nil {
							b.Fatal(err)
						}
						if v := scenarios.Judge(c, obs).Verdict; v != scenarios.Pass {
							failed++
						}
					}
					observed += time.Since(start)
					if failed > 0 {
						b.Fatalf("%d demo cases did not pass in %s", failed, engine)
					}
				}
				runFloor := func() {
					opts := s.browserOptions()
					opts.Bare = true
					bare, err := runner.Start(context.Background(), opts)
					if err != nil {
						b.Fatal(err)
					}
					defer bare.Close()
					start := time.Now()
					obs, err := bare.Run(context.Background(), probes, s.runOptions())
					floor += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range obs {
						for _, x := range o {
							if x.Outcome == scenarios.Errored {
								b.Fatalf("floor: %s %s from %s errored: %s", x.Request.Method, x.Request.URL, x.Request.Origin, x.Error)
							}
						}
					}
				}
				if i%2 == 0 {
					runCorscheck()
					runFloor()
				} else {
					runFloor()
					runCorscheck()
				}
				i++
				cells += len(s.Cases)
				s.Close()
			}
			n := float64(b.N)
			b.ReportMetric(observed.Seconds()/n, "corscheck-s")
			b.ReportMetric(floor.Seconds()/n, "floor-s")
			b.ReportMetric(observed.Seconds()/floor.Seconds(), "ratio-x")
			b.ReportMetric(float64(cells)/n, "cases")
		})
	}
}
