package suite_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/corscheck/corscheck/scenarios"
	"github.com/corscheck/corscheck/suite"
)

// BenchmarkDemoRun measures the default demo run as `corscheck run` does
// it: demo target up, browser start, every case probed and judged. It also
// reports cells/s once the browser is up, a raw Go HTTP client doing the
// same exchanges (preflight when needed, then the request) in the same run
// and the ratio, and where the probing time went (the browser's CPU and
// this process's).
func BenchmarkDemoRun(b *testing.B) {
	var wall, probe, raw, goCPU, browserCPU time.Duration
	cells := 0
	for b.Loop() {
		start := time.Now()
		s, err := suite.Prepare(suite.Config{Timeout: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.StartBrowser(context.Background()); err != nil {
			b.Skip(err)
		}
		up := time.Now()
		self0, browser0 := cpuSplit()
		failed := 0
		for _, c := range s.Cases {
			obs, err := s.Observe(context.Background(), c)
			if err != nil {
				b.Fatal(err)
			}
			if scenarios.Judge(c, obs).Verdict != scenarios.Pass {
				failed++
			}
		}
		end := time.Now()
		self1, browser1 := cpuSplit()
		goCPU += self1 - self0
		browserCPU += browser1 - browser0
		if failed > 0 {
			b.Fatalf("%d demo cases did not pass", failed)
		}
		wall += end.Sub(start)
		probe += end.Sub(up)
		cells += len(s.Cases)
		rawStart := time.Now()
		if err := rawCells(s.Cases); err != nil {
			b.Fatal(err)
		}
		raw += time.Since(rawStart)
		s.Close()
	}
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "demo-wall-s")
	b.ReportMetric(float64(cells)/probe.Seconds(), "chrome-cells/s")
	b.ReportMetric(float64(cells)/raw.Seconds(), "raw-go-cells/s")
	// The raw client is this many times faster, and it decides nothing.
	b.ReportMetric(probe.Seconds()/raw.Seconds(), "raw-ratio-x")
	// Where the probing time goes: CPU per second of probing (200% is both
	// cores), in the browser's processes and in this one.
	b.ReportMetric(100*browserCPU.Seconds()/probe.Seconds(), "browser-cpu-%")
	b.ReportMetric(100*goCPU.Seconds()/probe.Seconds(), "go-cpu-%")
	b.ReportMetric(float64(cells)/n, "cells")
}

// rawCells sends each case's exchanges with a plain client, 6 at a time.
func rawCells(cases []scenarios.Case) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 6, MaxConnsPerHost: 6}}
	sem := make(chan struct{}, 6)
	errs := make(chan error, len(cases))
	for _, c := range cases {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			for range c.Fetches() {
				if scenarios.NeedsPreflight(c.Request) {
					req, _ := http.NewRequest(http.MethodOptions, c.Request.URL, nil)
					req.Header.Set("Origin", c.Request.Origin)
					req.Header.Set("Access-Control-Request-Method", scenarios.NormalizeMethod(c.Request.Method))
					if names := scenarios.UnsafeHeaderNames(c.Request.Headers); len(names) > 0 {
						req.Header.Set("Access-Control-Request-Headers", strings.Join(names, ","))
					}
					if err := do(client, req); err != nil {
						errs <- err
						return
					}
				}
				req, _ := http.NewRequest(scenarios.NormalizeMethod(c.Request.Method), c.Request.URL, nil)
				req.Header.Set("Origin", c.Request.Origin)
				for k, v := range c.Request.Headers {
					req.Header.Set(k, v)
				}
				if err := do(client, req); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range cases {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

func do(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	return resp.Body.Close()
}
