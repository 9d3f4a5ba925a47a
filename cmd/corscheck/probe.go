package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
	"github.com/corscheck/corscheck/suite"
)

func cmdProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("probe", stderr)
	origin := fs.String("origin", "", "origin of the page that fetches, e.g. https://app.example.com, or null (required)")
	method := fs.String("method", "GET", "request method")
	var headers, read, cookies listFlag
	fs.Var(&headers, "header", "request header 'Name: value' (repeatable; ${VAR} reads the environment)")
	fs.Var(&read, "read-header", "response header whose script-visible value to report (repeatable)")
	fs.Var(&cookies, "cookie", "'name=value[; SameSite=None; Secure]' put in the browser's cookie jar for the URL's host (repeatable)")
	creds := fs.String("credentials", "same-origin", "fetch() credentials mode: omit, same-origin or include")
	mode := fs.String("mode", "cors", "fetch() mode: cors, no-cors or same-origin")
	redirect := fs.String("redirect", "follow", "fetch() redirect mode: follow, manual or error")
	referrer := fs.String("referrer-policy", "", "fetch() referrerPolicy, e.g. no-referrer")
	body := fs.String("body", "", "request body")
	contentType := fs.String("content-type", "", "Content-Type of the body (a shorthand for --header 'Content-Type: ...')")
	repeat := fs.Int("repeat", 1, "fetch the same URL this many times, to see the preflight cache answer")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for each fetch, body included; longer is an error, never blocked")
	asJSON := fs.Bool("json", false, "print one JSON object")
	var browserOpts runner.Options
	browserOpts.RegisterFlags(fs)
	allowRemote := fs.Bool("allow-remote", false, "allow a target that is not on loopback")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: corscheck probe URL --origin ORIGIN [flags]\n\nRuns one fetch() in a real browser from ORIGIN and says what the browser did and why.\nExit status: 0 allowed, 1 blocked, 2 error.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *contentType != "" {
		headers = append(headers, "Content-Type: "+*contentType)
	}
	fetch, secrets, err := probeRequest(pos, *origin, *method, headers, *creds, *timeout)
	if err != nil {
		return &exitError{2, err}
	}
	if fetch.Mode, err = oneOf("--mode", *mode, scenarios.Modes); err != nil {
		return &exitError{2, err}
	}
	if fetch.Redirect, err = oneOf("--redirect", *redirect, scenarios.RedirectModes); err != nil {
		return &exitError{2, err}
	}
	if *referrer != "" {
		if fetch.ReferrerPolicy, err = oneOf("--referrer-policy", *referrer, scenarios.ReferrerPolicies); err != nil {
			return &exitError{2, err}
		}
	}
	if fetch.Mode == "cors" {
		fetch.Mode = ""
	}
	if fetch.Redirect == "follow" {
		fetch.Redirect = ""
	}
	fetch.Body = *body
	if *repeat < 1 || *repeat > 20 {
		return usageErr("--repeat %d: give 1 to 20", *repeat)
	}
	if err := browserOpts.Validate(); err != nil {
		return &exitError{2, err}
	}
	u, _ := url.Parse(fetch.URL)
	host := u.Hostname()
	if a, ok := browserOpts.Resolve[strings.ToLower(host)]; ok {
		host = a
	}
	if !*allowRemote {
		if !suite.IsLoopbackHost(host) {
			return usageErr("%s is not on loopback; corscheck only sends requests elsewhere with --allow-remote (or map a local name with --resolve HOST:127.0.0.1)", scenarios.Visible(fetch.URL))
		}
		browserOpts.LoopbackOnly, browserOpts.AllowHosts = true, []string{u.Hostname()}
	}
	fetch.ReadHeaders = read
	var setup runner.PageSetup
	for _, raw := range cookies {
		c, err := scenarios.ParseCookie(raw)
		if err != nil {
			return usageErr("--cookie: %v", err)
		}
		if c.Value, err = scenarios.ExpandEnv(c.Value, os.LookupEnv); err != nil {
			return usageErr("--cookie %s: %v", c.Name, err)
		}
		secrets = append(secrets, c.Value)
		spec := runner.CookieSpec{Name: c.Name, Value: c.Value, URL: u.Scheme + "://" + u.Host + "/", Path: "/", SameSite: c.SameSite, Domain: c.Domain, HTTPOnly: c.HTTPOnly, Secure: u.Scheme == "https"}
		if c.Path != "" {
			spec.Path = c.Path
		}
		if c.Secure != nil {
			spec.Secure = *c.Secure
		}
		if spec.SameSite == "" && u.Scheme == "https" {
			spec.SameSite = "None"
		}
		setup.Cookies = append(setup.Cookies, spec)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(browserOpts.CACerts) > 0 && u.Scheme == "https" {
		cas, err := runner.LoadCAs(browserOpts.CACerts)
		if err != nil {
			return &exitError{2, err}
		}
		if browserOpts.TrustSPKI, err = runner.TrustChain(ctx, fetch.URL, cas, browserOpts.Resolve); err != nil {
			return &exitError{2, err}
		}
	}
	b, err := runner.Start(ctx, browserOpts)
	if err != nil {
		return &exitError{2, err}
	}
	defer b.Close()
	fetches := make([]runner.Fetch, *repeat)
	for i := range fetches {
		fetches[i] = fetch
	}
	obs, err := b.Run(ctx, []runner.Probe{{Origin: *origin, Fetches: fetches}}, runner.RunOptions{Timeout: *timeout, Setup: setup})
	if err != nil || obs[0] == nil {
		if ctx.Err() != nil {
			return &exitError{exitInterrupted, fmt.Errorf("interrupted: %v", err)}
		}
		return &exitError{2, fmt.Errorf("the probe did not finish: %v", err)}
	}
	o := obs[0][0]
	redact := func(s string) string { return reports.RedactText(s, secrets) }
	if *asJSON {
		// The observation's fields are the contract; the explanation, the
		// repeats and the preflight count are extra.
		out := struct {
			scenarios.Observation
			Explanation    *scenarios.Explanation  `json:"explanation,omitempty"`
			Repeats        []scenarios.Observation `json:"repeats,omitempty"`
			PreflightsSent *int                    `json:"preflightsSent,omitempty"`
		}{Observation: o}
		if o.Outcome != scenarios.Allowed {
			e := diagnosis.Explain(o)
			out.Explanation = &e
		}
		if *repeat > 1 {
			out.Repeats = obs[0][1:]
			n := preflightsSent(obs[0])
			out.PreflightsSent = &n
		}
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
		fmt.Fprint(stdout, redact(buf.String()))
	} else {
		var buf strings.Builder
		printObservation(&buf, o)
		if *repeat > 1 {
			printRepeats(&buf, obs[0])
		}
		fmt.Fprint(stdout, clean(redact(buf.String())))
	}
	switch o.Outcome {
	case scenarios.Allowed:
		return nil
	case scenarios.Blocked:
		return &exitError{1, nil}
	}
	if msg := suite.EnvironmentProblem(o, *timeout); msg != "" {
		return &exitError{2, errors.New(redact(msg))}
	}
	return &exitError{2, nil}
}

// preflightsSent counts the preflights a probe's fetches caused.
func preflightsSent(obs []scenarios.Observation) int {
	n := 0
	for _, o := range obs {
		if o.Preflight != nil {
			n += max(1, o.Preflights)
		}
	}
	return n
}

// printRepeats says, for each repeat, whether the preflight cache answered.
func printRepeats(w io.Writer, obs []scenarios.Observation) {
	fmt.Fprintf(w, "\n  repeats: %d fetches caused %d preflight(s)\n", len(obs), preflightsSent(obs))
	for i, o := range obs[1:] {
		cache := "a preflight was sent"
		if o.Preflight == nil && scenarios.NeedsPreflight(o.Request) {
			cache = "no preflight: the preflight cache answered"
		} else if o.Preflight == nil {
			cache = "no preflight needed"
		}
		fmt.Fprintf(w, "    #%d %s, %s\n", i+2, strings.ToUpper(o.Outcome.String()), cache)
	}
}

func oneOf(flag, v string, allowed []string) (string, error) {
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s %q: want one of %s", flag, v, strings.Join(allowed, ", "))
}

// probeRequest validates the probe's arguments; each error names the flag
// and shows a valid value. It returns the secrets among the header values.
func probeRequest(pos []string, origin, method string, headers []string, creds string, timeout time.Duration) (runner.Fetch, []string, error) {
	var f runner.Fetch
	if len(pos) != 1 {
		return f, nil, errors.New("probe takes one URL, e.g. corscheck probe http://127.0.0.1:8080/api --origin https://app.example.com")
	}
	if err := scenarios.CheckTargetURL(pos[0]); err != nil {
		return f, nil, fmt.Errorf("URL: %v", err)
	}
	if origin == "" {
		return f, nil, errors.New("--origin is required, e.g. --origin https://app.example.com (or --origin null)")
	}
	if err := scenarios.CheckOrigin(origin); err != nil {
		return f, nil, fmt.Errorf("--origin: %v", err)
	}
	if method == "" || strings.ContainsAny(method, " \t,:/") {
		return f, nil, fmt.Errorf("--method %q: give one method such as PUT", scenarios.Visible(method))
	}
	c, err := scenarios.ParseCredentials(creds)
	if err != nil {
		return f, nil, fmt.Errorf("--credentials: %v", err)
	}
	if timeout <= 0 {
		return f, nil, fmt.Errorf("--timeout %s: give a positive duration such as 10s", timeout)
	}
	h := map[string]string{}
	var secrets []string
	for _, raw := range headers {
		name, value, err := suite.ParseHeader(raw)
		if err != nil {
			return f, nil, err
		}
		if value, err = scenarios.ExpandEnv(value, os.LookupEnv); err != nil {
			return f, nil, fmt.Errorf("--header %s: %v", name, err)
		}
		if strings.Contains(raw, "${") {
			secrets = append(secrets, value)
		}
		h[name] = value
	}
	return runner.Fetch{URL: pos[0], Method: method, Headers: h, Credentials: c}, secrets, nil
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
	e := diagnosis.Explain(o)
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
// (escape sequences a hostile server could send in a header) and bidi
// controls are shown as \xNN or \uNNNN instead of acting.
func clean(s string) string { return scenarios.VisibleLines(s) }

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
