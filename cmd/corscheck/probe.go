package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
	"github.com/corscheck/corscheck/suite"
)

func cmdProbe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	origin := fs.String("origin", "", "origin of the page that fetches, e.g. https://app.example.com, or null (required)")
	method := fs.String("method", "GET", "request method")
	var headers, read listFlag
	fs.Var(&headers, "header", "request header 'Name: value' (repeatable)")
	fs.Var(&read, "read-header", "response header whose script-visible value to report (repeatable)")
	creds := fs.String("credentials", "same-origin", "fetch() credentials mode: omit, same-origin or include")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for the fetch; longer is an error, never blocked")
	asJSON := fs.Bool("json", false, "print one JSON object")
	var browserOpts runner.Options
	browserOpts.RegisterFlags(fs)
	allowRemote := fs.Bool("allow-remote", false, "allow a target that is not on loopback")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: corscheck probe URL --origin ORIGIN [flags]\n\nRuns one fetch() in headless Chrome from ORIGIN and says what Chrome did and why.\nExit status: 0 allowed, 1 blocked, 2 error.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return &exitError{2, errors.New("")}
	}
	fetch, err := probeRequest(pos, *origin, *method, headers, *creds, *timeout)
	if err != nil {
		return &exitError{2, err}
	}
	if !*allowRemote {
		u, _ := url.Parse(fetch.URL)
		if !suite.IsLoopbackHost(u.Hostname()) {
			return usageErr("%s is not on loopback; corscheck only sends requests elsewhere with --allow-remote", fetch.URL)
		}
	}
	fetch.ReadHeaders = read

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := runner.Start(ctx, browserOpts)
	if err != nil {
		return &exitError{2, err}
	}
	defer b.Close()
	obs, err := b.Run(ctx, []runner.Probe{{Origin: *origin, Fetches: []runner.Fetch{fetch}}}, runner.RunOptions{Timeout: *timeout})
	if err != nil || obs[0] == nil {
		return &exitError{2, fmt.Errorf("interrupted: %v", err)}
	}
	o := obs[0][0]
	if *asJSON {
		// The observation's fields are the contract; the explanation is extra.
		out := struct {
			scenarios.Observation
			Explanation *scenarios.Explanation `json:"explanation,omitempty"`
		}{Observation: o}
		if o.Outcome != scenarios.Allowed {
			e := scenarios.Explain(o)
			out.Explanation = &e
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printObservation(stdout, o)
	}
	switch o.Outcome {
	case scenarios.Allowed:
		return nil
	case scenarios.Blocked:
		return &exitError{1, nil}
	}
	return &exitError{2, nil}
}

// probeRequest validates the probe's arguments; each error names the flag
// and shows a valid value.
func probeRequest(pos []string, origin, method string, headers []string, creds string, timeout time.Duration) (runner.Fetch, error) {
	var f runner.Fetch
	if len(pos) != 1 {
		return f, errors.New("probe takes one URL, e.g. corscheck probe http://127.0.0.1:8080/api --origin https://app.example.com")
	}
	if err := scenarios.CheckTargetURL(pos[0]); err != nil {
		return f, fmt.Errorf("URL: %v", err)
	}
	if origin == "" {
		return f, errors.New("--origin is required, e.g. --origin https://app.example.com (or --origin null)")
	}
	if err := scenarios.CheckOrigin(origin); err != nil {
		return f, fmt.Errorf("--origin: %v", err)
	}
	if method == "" || strings.ContainsAny(method, " \t,:/") {
		return f, fmt.Errorf("--method %q: give one method such as PUT", method)
	}
	c, err := scenarios.ParseCredentials(creds)
	if err != nil {
		return f, fmt.Errorf("--credentials: %v", err)
	}
	if timeout <= 0 {
		return f, fmt.Errorf("--timeout %s: give a positive duration such as 10s", timeout)
	}
	h := map[string]string{}
	for _, raw := range headers {
		name, value, ok := strings.Cut(raw, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return f, fmt.Errorf("--header %q: write 'Name: value', e.g. --header 'X-Request-ID: 42'", raw)
		}
		h[name] = value
	}
	return runner.Fetch{URL: pos[0], Method: method, Headers: h, Credentials: c}, nil
}

// printObservation writes the human form: verdict, Chrome's words, the
// header at fault, the fix, then both exchanges.
func printObservation(w io.Writer, o scenarios.Observation) {
	r := o.Request
	verdict := strings.ToUpper(o.Outcome.String())
	if o.Outcome == scenarios.Errored {
		verdict = "ERROR"
	}
	fmt.Fprintf(w, "%s  %s %s from %s (credentials %s)\n", verdict, r.Method, r.URL, r.Origin, r.Credentials)
	e := scenarios.Explain(o)
	switch o.Outcome {
	case scenarios.Blocked:
		if o.ConsoleMessage != "" {
			fmt.Fprintf(w, "  Chrome:    %s\n", clean(o.ConsoleMessage))
		}
		fmt.Fprintf(w, "  reason:    %s", o.CorsError)
		if o.FailedParameter != "" {
			fmt.Fprintf(w, " (failed parameter: %s)", clean(o.FailedParameter))
		}
		fmt.Fprintf(w, "\n  why:       %s\n", clean(e.Sentence))
		if e.Header != "" {
			fmt.Fprintf(w, "  header:    %s\n", e.Header)
		}
		fmt.Fprintf(w, "  fix:       %s\n", clean(e.Fix))
	case scenarios.Errored:
		fmt.Fprintf(w, "  error:     %s\n", o.Error)
		if e.Fix != "" {
			fmt.Fprintf(w, "  fix:       %s\n", e.Fix)
		}
	}
	if len(o.ReadableHeaders) > 0 {
		names := make([]string, 0, len(o.ReadableHeaders))
		for n := range o.ReadableHeaders {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if v := o.ReadableHeaders[n]; v != nil {
				fmt.Fprintf(w, "  readable:  %s: %s\n", n, clean(*v))
			} else {
				fmt.Fprintf(w, "  readable:  %s: (not readable from script)\n", n)
			}
		}
	}
	if p := o.Preflight; p != nil {
		fmt.Fprintf(w, "\n  preflight  OPTIONS %s -> %d\n", r.URL, p.Status)
		printHeaders(w, "    > ", p.RequestHeaders, true)
		printHeaders(w, "    < ", p.ResponseHeaders, false)
	} else if scenarios.NeedsPreflight(r) && o.Outcome != scenarios.Errored {
		fmt.Fprintf(w, "\n  preflight  none sent (served from Chrome's preflight cache)\n")
	}
	if a := o.Response; a != nil {
		fmt.Fprintf(w, "\n  actual     %s %s -> %d\n", r.Method, r.URL, a.Status)
		printHeaders(w, "    > ", a.RequestHeaders, true)
		printHeaders(w, "    < ", a.Headers, false)
	} else if o.Outcome == scenarios.Blocked {
		fmt.Fprintf(w, "\n  actual     not sent: the preflight failed\n")
	}
	fmt.Fprintf(w, "\n  %s, %.1f ms\n", o.Browser, o.DurationMs)
}

// clean makes text from a target safe for a terminal: control characters
// (escape sequences a hostile server could send in a header) are shown as
// \xNN instead of being interpreted.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// printHeaders prints headers; request side shows only what matters to CORS.
func printHeaders(w io.Writer, prefix string, h map[string]string, corsOnly bool) {
	names := make([]string, 0, len(h))
	for n := range h {
		if corsOnly && !(n == "origin" || strings.HasPrefix(n, "access-control-") || n == "authorization" || n == "content-type" || strings.HasPrefix(n, "x-") || n == "cookie") {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range strings.Split(h[n], "\n") {
			fmt.Fprintf(w, "%s%s: %s\n", prefix, clean(n), clean(v))
		}
	}
}
