package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/runner"
)

var implName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func cmdCompat(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compat", stderr)
	policy := fs.String("policy", "", "policy file every target is tested against (required)")
	out := fs.String("out", "corscheck-compat", "directory for compat.html, compat.json and one folder per target")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for each fetch")
	var browserOpts runner.Options
	browserOpts.RegisterFlags(fs)
	allowRemote := fs.Bool("allow-remote", false, "allow targets that are not on loopback")
	wait := fs.Duration("wait", 0, "wait up to this long for each target to accept connections")
	labelFilter := fs.String("label-filter", "", "run only the cases matching this Ginkgo label filter, e.g. 'family:origins'")
	siteDir := fs.String("site", "", "build the compatibility site into DIR instead: every stack fixture (recommended, default and misconfigured) in every engine of --browser")
	siteStacks := fs.String("stacks", "", "with --site: only these stack fixtures (comma-separated; default all: "+strings.Join(fixtures.StackFixtures, ", ")+")")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: corscheck compat --policy FILE NAME=URL... [--out DIR]\n       corscheck compat --site DIR [--browser chrome,firefox,webkit|all] [--stacks nginx,express,...]\n\nRuns the suite against several targets (URL, or fixture:NAME for a built-in fixture)\nand writes a compatibility matrix. A target that is down becomes a column marked\nunreachable with its reason. Exit 0 when every target ran, 1 when the matrix was\nwritten with unreachable targets, 2 on bad input or when nothing could be written.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *siteDir != "" {
		if *policy != "" || len(pos) > 0 {
			return usageErr("--site builds the site from the stack fixtures and the reference policy: drop --policy and the NAME=URL targets")
		}
		return buildSite(*siteDir, *siteStacks, browserOpts, *timeout, stdout, stderr)
	}
	if *policy == "" {
		return usageErr("compat needs --policy FILE: every target is judged against the same policy")
	}
	if len(pos) == 0 {
		return usageErr("compat needs at least one NAME=URL, e.g. rs-cors=fixture:rs-cors or staging=http://127.0.0.1:8080/api")
	}
	type target struct{ name, where string }
	var targets []target
	seen := map[string]bool{}
	for _, a := range pos {
		name, where, ok := strings.Cut(a, "=")
		if !ok || !implName.MatchString(name) || where == "" {
			return usageErr("%q: write NAME=URL (NAME of letters, digits, . _ -), e.g. nginx=http://127.0.0.1:8080/api", a)
		}
		if seen[name] {
			return usageErr("name %q is given twice", name)
		}
		seen[name] = true
		targets = append(targets, target{name, where})
	}
	self, err := os.Executable()
	if err != nil {
		return &exitError{2, err}
	}
	var names []string
	var results []*reports.Results
	unreachable := map[string][2]string{}
	for _, t := range targets {
		dir := filepath.Join(*out, t.name)
		runArgs := []string{"run", "--policy", *policy, "--out", dir, "--timeout", timeout.String(), "--wait", wait.String()}
		if f, ok := strings.CutPrefix(t.where, "fixture:"); ok {
			runArgs = append(runArgs, "--fixture", f)
		} else {
			runArgs = append(runArgs, "--target", t.where)
		}
		runArgs = append(runArgs, browserOpts.Args()...)
		if *allowRemote {
			runArgs = append(runArgs, "--allow-remote")
		}
		if *labelFilter != "" {
			runArgs = append(runArgs, "--label-filter", *labelFilter)
		}
		fmt.Fprintf(stderr, "compat: %s (%s)\n", t.name, t.where)
		cmd := exec.Command(self, runArgs...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
			reason := strings.TrimPrefix(strings.TrimSpace(lastLine(errb.String())), "corscheck: ")
			if reason == "" {
				reason = err.Error()
			}
			fmt.Fprintf(stderr, "compat: %s: unreachable: %s\n", t.name, reason)
			names = append(names, t.name)
			results = append(results, nil)
			unreachable[t.name] = [2]string{t.where, reason}
			continue
		}
		r, err := reports.ReadResults(filepath.Join(dir, "results.json"))
		if err != nil {
			return &exitError{2, fmt.Errorf("%s: %w", t.name, err)}
		}
		fmt.Fprintf(stderr, "compat: %s: %d passed, %d failed, %d errored\n", t.name, r.Summary.Passed, r.Summary.Failed, r.Summary.Errored)
		names = append(names, t.name)
		results = append(results, r)
	}
	c := reports.NewCompat(names, results)
	for name, u := range unreachable {
		c.SetUnreachable(name, u[0], u[1])
	}
	js, err := c.JSON()
	if err != nil {
		return err
	}
	page, err := c.HTML()
	if err != nil {
		return err
	}
	if err := reports.WriteFileAtomic(filepath.Join(*out, "compat.json"), js); err != nil {
		return &exitError{2, err}
	}
	if err := reports.WriteFileAtomic(filepath.Join(*out, "compat.html"), page); err != nil {
		return &exitError{2, err}
	}
	fmt.Fprintln(stdout, filepath.Join(*out, "compat.html"))
	if n := c.Unreachable(); n > 0 {
		return &exitError{1, fmt.Errorf("%d of %d targets unreachable; the matrix marks their columns", n, len(targets))}
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
