package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/site"
)

// buildSite runs `compat --site DIR`: every stack fixture in every engine
// asked for, written as a static site. It prints the build's time.
func buildSite(dir, stackList string, bopts runner.Options, timeout time.Duration, stdout, stderr io.Writer) error {
	if err := bopts.Validate(); err != nil {
		return usageErr("%v", err)
	}
	engines, _ := bopts.Engines()
	var stacks []string
	for _, s := range strings.Split(stackList, ",") {
		if s = strings.TrimSpace(s); s != "" {
			stacks = append(stacks, s)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	data, err := site.Build(ctx, site.Options{Engines: engines, Stacks: stacks, Browser: bopts, Version: readBuildInfo().String(), Progress: stderr, Timeout: timeout})
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{exitInterrupted, fmt.Errorf("interrupted: %v", err)}
		}
		return &exitError{2, err}
	}
	data.Built = time.Now().UTC().Format(time.RFC3339)
	if err := reports.WriteSite(dir, data); err != nil {
		return &exitError{2, err}
	}
	verified, unexpected := 0, 0
	for _, r := range data.Rows {
		if r.Verified() {
			verified++
		}
		if r.Unexpected() {
			unexpected++
		}
	}
	fmt.Fprintf(stdout, "site: %d configurations of %d stacks in %d engines (%d verified as known), %d browser differences · %s/index.html · built in %.0f s\n",
		len(data.Rows), len(data.Stacks), len(data.Engines), verified, len(data.Differences), dir, time.Since(start).Seconds())
	if unexpected > 0 {
		return &exitError{1, fmt.Errorf("%d configurations did not behave as known (see their status on the site)", unexpected)}
	}
	return nil
}
