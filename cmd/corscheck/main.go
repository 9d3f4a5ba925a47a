// Command corscheck asks a real browser whether a server's CORS behaviour
// matches the policy its team declared.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// version is set with -ldflags "-X main.version=..."; else the module version.
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `corscheck: CORS conformance, decided by a real browser.

Usage:
  corscheck run     [--policy FILE] [--target URL] [--out DIR] [--label-filter EXPR] [--focus REGEX] ...
  corscheck probe   URL --origin ORIGIN [--method M] [--header 'Name: value']... [--credentials MODE] [--json]
  corscheck fixtures list
  corscheck fixtures serve NAME [--addr HOST:PORT]
  corscheck report  RESULTS.json [-o report.html]
  corscheck diff    OLD.json NEW.json [--html FILE] [--markdown FILE]
  corscheck compat  --policy FILE NAME=URL... [--out DIR]   (URL may be fixture:NAME)
  corscheck version

Exit status: 0 success (allowed / every case passed), 1 blocked / a case failed,
2 usage, policy or environment error. Run "corscheck COMMAND -h" for flags.
`

// exitError carries an exit status up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, a ...any) error {
	return &exitError{2, fmt.Errorf(format, a...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stdout, stderr)
	case "probe":
		err = cmdProbe(args[1:], stdout, stderr)
	case "fixtures":
		err = cmdFixtures(args[1:], stdout, stderr)
	case "report":
		err = cmdReport(args[1:], stdout, stderr)
	case "diff":
		err = cmdDiff(args[1:], stdout, stderr)
	case "compat":
		err = cmdCompat(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "corscheck", toolVersion())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageErr("unknown command %q; commands: run, probe, fixtures, report, diff, compat, version", args[0])
	}
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "corscheck:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "corscheck:", err)
	return 2
}

// parseInterleaved parses flags that may come before or after positional
// arguments (`probe URL --origin O` and `probe --origin O URL` both work).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return positional, nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
